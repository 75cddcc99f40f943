"""sync.so behaviour checklist (shared/reference/syncso.md §13), one test per item, over HTTP.

Items for batch, assets, idempotency, long-poll and delete live in test_syncso_*.py modules of
their own (issue 9).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest
import requests

KEY = {"x-api-key": "sk-test"}
VIDEO = {"type": "video", "url": "https://e.x/v.mp4"}
AUDIO = {"type": "audio", "url": "https://e.x/a.wav"}
VALID = {"model": "lipsync-2", "input": [VIDEO, AUDIO]}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def create(emulator: Any, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
    return requests.post(f"{emulator.url}/v2/generate", json=VALID if body is None else body,
                         headers=KEY if headers is None else headers, timeout=10, **kw)


def get(emulator: Any, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
    return requests.get(f"{emulator.url}{path}", headers=KEY if headers is None else headers, timeout=10, **kw)


def with_input(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "lipsync-2", "input": list(items), **extra}


def assert_error(resp: requests.Response, status: int, code: str | None, fragment: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and fragment in body["message"], body
    if code is not None:
        assert body["errorCode"] == code
    return body


# -- Authentication and headers ------------------------------------------------------------

def test_item_01_missing_key_is_401_with_documented_body(emulator):
    resp = create(emulator, headers={})
    assert resp.status_code == 401
    assert resp.json() == {"message": "Either Cookie or x-api-key header must be provided",
                           "statusCode": 401, "error": "Unauthorized"}


def test_item_02_unknown_key_is_401_unauthorized(make_emulator):
    emu = make_emulator({"syncso": {"api_keys": ["sk-only"]}})
    resp = create(emu, headers={"x-api-key": "sk-other"})
    assert resp.status_code == 401
    assert resp.json() == {"message": "Unauthorized", "statusCode": 401}
    assert create(emu, headers={"x-api-key": "sk-only"}).status_code == 201


def test_item_03_bearer_without_x_api_key_is_401(emulator):
    resp = create(emulator, headers={"Authorization": "Bearer sk-test"})
    assert resp.status_code == 401
    assert resp.json()["message"] == "Either Cookie or x-api-key header must be provided"


def test_item_04_sdk_headers_are_accepted_and_change_nothing(emulator):
    headers = {**KEY, "User-Agent": "syncsdk/0.3.0", "X-Fern-Language": "Python", "X-Fern-SDK-Name": "syncsdk",
               "X-Fern-SDK-Version": "0.3.0", "x-sync-source": "mcp"}
    resp = create(emulator, headers=headers)
    assert resp.status_code == 201
    assert resp.json()["status"] == "PENDING"


# -- Create ------------------------------------------------------------------------------------

def test_item_05_create_returns_201_pending_generation(emulator):
    resp = create(emulator)
    assert resp.status_code == 201
    body = resp.json()
    assert UUID.match(body["id"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["createdAt"])
    assert body["status"] == "PENDING"
    assert body["model"] == "lipsync-2"
    assert body["input"] == VALID["input"]


def test_item_06_create_response_has_no_output_or_error(emulator):
    body = create(emulator).json()
    for key in ("outputUrl", "outputDuration", "error", "error_code"):
        assert body.get(key) is None


def test_item_07_nulls_are_treated_as_absent(emulator):
    resp = create(emulator, {**VALID, "segments": None, "webhookUrl": None, "options": {}})
    assert resp.status_code == 201
    body = resp.json()
    # shown as null, and empty options as the default sync_mode (updates S8 supersedes
    # "segments" being left out and options echoed as {})
    assert body["segments"] is None
    assert body["webhookUrl"] is None
    assert body["options"] == {"sync_mode": "loop"}


@pytest.mark.parametrize("model", ["lipsync-2", "lipsync-1.9.0-beta", "lipsync-2-pro", "react-1", "sync-3"])
def test_item_08_every_sdk_model_is_accepted(emulator, model):
    resp = create(emulator, {**VALID, "model": model})
    assert resp.status_code == 201
    assert resp.json()["model"] == model


def test_item_09_unsupported_model_is_400_naming_it(emulator):
    body = assert_error(create(emulator, {**VALID, "model": "bogus-model"}), 400, "generation_unsupported_model",
                        "The requested model is not supported for this operation.")
    assert "bogus-model" in body["message"] and "model" in body["message"]
    assert body["error"] == "Bad Request"


def test_item_09_error_body_style_is_configurable(make_emulator):
    coded = make_emulator({"syncso": {"error_body": "coded"}})
    body = create(coded, {**VALID, "model": "x"}).json()
    assert "error" not in body and body["errorCode"] == "generation_unsupported_model"
    nestjs = make_emulator({"syncso": {"error_body": "nestjs"}})
    body = create(nestjs, {**VALID, "model": "x"}).json()
    assert body["error"] == "Bad Request" and "errorCode" not in body


def test_item_10_missing_video_is_generation_video_missing(emulator):
    assert_error(create(emulator, with_input(AUDIO)), 400, "generation_video_missing",
                 "No video file was provided in the request.")


def test_item_11_missing_audio_is_generation_audio_missing(emulator):
    assert_error(create(emulator, with_input(VIDEO)), 400, "generation_audio_missing",
                 "No audio file was provided in the request.")


def test_item_12_two_videos_is_too_many_visual(emulator):
    body = assert_error(create(emulator, with_input(VIDEO, VIDEO, AUDIO)), 400, "generation_input_too_many_visual",
                        "exactly one video")
    assert "input[1]" in body["message"]


TEXT = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "Hello"}}


@pytest.mark.parametrize("voices", [[AUDIO, TEXT], [TEXT, TEXT], [AUDIO, AUDIO]], ids=["audio+text", "2text", "2audio"])
def test_item_13_several_voices_without_segments_is_400(emulator, voices):
    assert_error(create(emulator, with_input(VIDEO, *voices)), 400, "generation_input_validation_failed",
                 "Provide a top-level segments array when using multiple audio or text inputs")


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_item_14_media_item_needs_url_or_asset_id(emulator, kind):
    items = [{"type": "video"}, AUDIO] if kind == "video" else [VIDEO, {"type": "audio"}]
    index = 0 if kind == "video" else 1
    article = "a" if kind == "video" else "an"
    body = assert_error(create(emulator, with_input(*items)), 400, "generation_input_validation_failed",
                        f"input[{index}]: {article} {kind} input needs a url or an assetId")
    assert body["message"].startswith(f"input[{index}]")


def test_item_14_media_item_with_both_url_and_asset_id_is_accepted(emulator):
    resp = create(emulator, with_input({**VIDEO, "assetId": "asset-1"}, AUDIO))
    assert resp.status_code == 201


def test_item_15_tts_script_of_5000_chars_is_rejected(emulator):
    tts = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "a" * 5000}}
    assert_error(create(emulator, with_input(VIDEO, tts)), 400, "generation_text_length_exceeded",
                 "Text must be less than 5000 characters in one generation.")
    ok = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "a" * 4999}}
    assert create(emulator, with_input(VIDEO, ok)).status_code == 201


def test_item_16_output_file_name_is_sanitized_not_rejected(emulator):
    """updates S2 supersedes item 16 (reject by default): the name is sanitized; only a name
    with nothing left, or over 255 characters, is still a 400 (tests/providers/test_syncso_2026.py)."""
    resp = create(emulator, {**VALID, "outputFileName": "my file.v2"})
    assert resp.status_code == 201
    assert resp.json()["outputFileName"] == "my_filev2"
    assert_error(create(emulator, {**VALID, "outputFileName": "x" * 256}), 400, "generation_input_validation_failed",
                 "outputFileName must be at most 255 characters long")


def test_item_17_dub_params_with_audio_is_422(emulator):
    resp = create(emulator, {**VALID, "dubParams": {"providerName": "elevenlabs", "targetLang": "es"}})
    assert_error(resp, 422, "generation_input_dub_audio_conflict", "dubParams")


def test_item_18_unresolvable_media_duration_is_422(emulator):
    resp = create(emulator, with_input(VIDEO, {"type": "audio", "url": "https://e.x/a.wav?duration=0"}))
    body = assert_error(resp, 422, "generation_input_audio_invalid", "finite positive duration")
    assert "input[1]" in body["message"]


def test_item_19_long_audio_fails_the_generation_not_the_create(emulator):
    long_audio = {"type": "audio", "url": "https://e.x/a.wav?duration=301"}
    resp = create(emulator, with_input(VIDEO, long_audio))
    assert resp.status_code == 201
    emulator.advance(60)
    body = get(emulator, f"/v2/generate/{resp.json()['id']}").json()
    assert body["status"] == "FAILED"
    assert body["error_code"] == "generation_audio_length_exceeded"
    assert body["error"] == "The provided audio exceeds the maximum allowed length."


def test_item_19_media_checks_can_reject_at_create(make_emulator):
    emu = make_emulator({"syncso": {"media_checks": "reject"}})
    video_8k = {"type": "video", "url": "https://e.x/v.mp4?width=7680&height=4320"}
    assert_error(create(emu, with_input(video_8k, AUDIO)), 400, "generation_input_resolution_unsupported", "")


def test_item_20_free_tier_after_three_generations_is_402(make_emulator):
    emu = make_emulator({"syncso": {"plan": "free", "durations": {"PENDING": 0, "PROCESSING": 0}}})
    for _ in range(3):
        assert create(emu, with_input({"type": "video", "url": "https://e.x/v.mp4?duration=5"}, AUDIO)).status_code == 201
        emu.advance(1)
    resp = create(emu, with_input({"type": "video", "url": "https://e.x/v.mp4?duration=5"}, AUDIO))
    assert_error(resp, 402, "free_tier_generations_exhausted", "3 generations per month")


def test_item_20_free_tier_generation_longer_than_20s_is_402(make_emulator):
    emu = make_emulator({"syncso": {"plan": "free"}})
    resp = create(emu, with_input({"type": "video", "url": "https://e.x/v.mp4?duration=25"}, AUDIO))
    assert_error(resp, 402, "generation_plan_duration_exceeded", "20 s")


def test_item_21_concurrency_limit_is_429_with_details(make_emulator):
    emu = make_emulator({"syncso": {"plan": "creator"}})
    for _ in range(3):
        assert create(emu).status_code == 201
    resp = create(emu)
    body = assert_error(resp, 429, "concurrency_limit_reached", "Concurrency limit reached")
    assert body["activeGenerations"] == 3
    assert body["concurrencyLimit"] == 3
    assert body["retryAfterSeconds"] == 10
    assert body["upgradeUrl"].startswith("https://")
    emu.advance(60)  # the three complete, freeing the slots
    assert create(emu).status_code == 201


def test_item_22_rate_limit_is_429_with_documented_body(make_emulator):
    emu = make_emulator({"syncso": {"rate_limit_per_minute": 2}})
    assert create(emu).status_code == 201
    assert create(emu).status_code == 201
    resp = create(emu)
    assert resp.status_code == 429
    assert resp.json() == {"statusCode": 429, "errorCode": "rate_limit_exceeded",
                           "message": "Rate limit exceeded. Please try again later.", "error": "Too Many Requests"}
    assert int(resp.headers["Retry-After"]) >= 1
    emu.advance(61)
    assert create(emu).status_code == 201


MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100


def test_item_23_multipart_create_with_files(emulator, webhook_receiver):
    files = {"video": ("v.mp4", MP4, "video/mp4"), "audio": ("a.wav", b"RIFF0000WAVE", "audio/wav")}
    resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10, files=files,
                         data={"model": "lipsync-2", "webhookUrl": webhook_receiver.url})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "PENDING"
    assert body["webhookUrl"] == webhook_receiver.url
    video_url = body["input"][0]["url"]
    assert body["input"][0]["type"] == "video" and video_url.startswith(emulator.url + "/_emulator/files/")
    assert requests.get(video_url, timeout=10).content == MP4


def test_item_23_multipart_file_of_20mb_is_413(emulator):
    big = b"\x00" * (20 * 1024 * 1024)
    resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=30, data={"model": "lipsync-2"},
                         files={"video": ("v.mp4", big, "video/mp4"), "audio": ("a.wav", b"RIFF", "audio/wav")})
    assert_error(resp, 413, None, "smaller than")


def test_item_24_multipart_file_takes_precedence_over_url(emulator):
    resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10,
                         data={"model": "lipsync-2", "input": json.dumps([VIDEO, AUDIO])},
                         files={"video": ("v.mp4", MP4, "video/mp4")})
    assert resp.status_code == 201, resp.text
    inputs = resp.json()["input"]
    assert [i["type"] for i in inputs] == ["video", "audio"]
    assert inputs[0]["url"].startswith(emulator.url + "/_emulator/files/")
    assert inputs[1]["url"] == AUDIO["url"]


@pytest.mark.parametrize("sent, shown", [("7", "input must be of type array (got 7)"),
                                         ('[{"type": "video"}, 7]', "input[1] must be of type object (got 7)"),
                                         ("{}", "input[0].type is required")])
def test_item_23_multipart_input_that_is_not_an_item_list_is_a_400_beside_files(emulator, sent, shown):
    """It once crashed (``7``: 500) or was dropped for the files (``{}``: 201); found by Schemathesis.
    One JSON object is one item (the TypeScript SDK sends a part per item, updates S9), so ``{}``
    is now an item without a ``type``."""
    resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10,
                         data={"model": "lipsync-2", "input": sent},
                         files={"video": ("v.mp4", MP4, "video/mp4"), "audio": ("a.wav", b"RIFF0000WAVE", "audio/wav")})
    assert_error(resp, 400, "generation_input_validation_failed", shown)


def test_multipart_input_parts_are_items_as_the_typescript_sdk_sends_them(emulator):
    """One ``input`` part per item, each a JSON object [sdk: updates S9]: a video file with an
    audio URL, and a lone item whose URL the file of its kind fills (as in the array encoding)."""
    text = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "Hi"}, "refId": "t"}
    parts = [("model", (None, "lipsync-2")), ("input", (None, json.dumps(AUDIO))),
             ("video", ("v.mp4", MP4, "video/mp4"))]
    resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10, files=parts)
    assert resp.status_code == 201, resp.text
    assert [i["type"] for i in resp.json()["input"]] == ["audio", "video"]
    assert resp.json()["input"][0] == AUDIO
    lone = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10,
                         data={"model": "lipsync-2", "input": '{"type": "video"}'},
                         files={"video": ("v.mp4", MP4, "video/mp4"), "audio": ("a.wav", b"RIFF0000WAVE", "audio/wav")})
    assert lone.status_code == 201 and lone.json()["input"][0]["url"].endswith("/v.mp4")
    # two parts: two items, checked like a JSON body's (two voices need segments)
    two = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10,
                        files=[*parts, ("input", (None, json.dumps(text)))])
    assert_error(two, 400, "generation_input_validation_failed",
                 "Provide a top-level segments array when using multiple audio or text inputs")


# -- Segments ----------------------------------------------------------------------------------

A1 = {"type": "audio", "url": "https://e.x/a1.wav", "refId": "a1"}
A2 = {"type": "audio", "url": "https://e.x/a2.wav", "refId": "a2"}


def seg(start: float, end: float, ref: str = "a1", **audio: Any) -> dict[str, Any]:
    return {"startTime": start, "endTime": end, "audioInput": {"refId": ref, **audio}}


@pytest.mark.parametrize("audio_input", [{}, {"refId": ""}], ids=["missing", "empty"])
def test_item_26_segment_ref_id_missing_or_empty(emulator, audio_input):
    body = {**with_input(VIDEO, A1), "segments": [{"startTime": 0, "endTime": 5, "audioInput": audio_input}]}
    resp = assert_error(create(emulator, body), 400, "generation_input_segments_invalid", "segments[0].audioInput.refId")
    assert resp["message"] in ("segments[0].audioInput.refId is required",
                               "segments[0].audioInput.refId must not be empty")


def test_item_27_segment_ref_id_must_match_exactly(emulator):
    body = {**with_input(VIDEO, A1), "segments": [seg(0, 5, "A1")]}
    assert_error(create(emulator, body), 400, "generation_input_segments_invalid",
                 "segments[0].audioInput.refId 'A1' does not match the refId of any audio or text input")


@pytest.mark.parametrize("given,missing", [("startTime", "endTime"), ("endTime", "startTime")])
def test_item_28_crop_times_come_in_pairs(emulator, given, missing):
    body = {**with_input(VIDEO, A1), "segments": [seg(0, 5, **{given: 1})]}
    assert_error(create(emulator, body), 400, "generation_input_segments_invalid",
                 f"segments[0].audioInput.{given} was given without segments[0].audioInput.{missing}")


@pytest.mark.parametrize("start,end", [(3, 3), (4, 2)])
def test_item_29_crop_start_must_be_before_end(emulator, start, end):
    body = {**with_input(VIDEO, A1), "segments": [seg(0, 5, startTime=start, endTime=end)]}
    assert_error(create(emulator, body), 400, "generation_input_segments_invalid",
                 f"segments[0].audioInput.startTime ({start}) must be less than segments[0].audioInput.endTime ({end})")


def test_item_30_segment_start_after_end_is_400_equal_is_accepted(emulator):
    bad = {**with_input(VIDEO, A1), "segments": [seg(6, 5)]}
    assert_error(create(emulator, bad), 400, "generation_input_segments_invalid",
                 "segments[0].startTime (6) must be less than or equal to segments[0].endTime (5)")
    zero = {**with_input(VIDEO, A1), "segments": [seg(5, 5)]}
    assert create(emulator, zero).status_code == 201


def test_item_30_zero_length_segments_can_be_rejected(make_emulator):
    emu = make_emulator({"syncso": {"zero_length_segments": "reject"}})
    zero = {**with_input(VIDEO, A1), "segments": [seg(5, 5)]}
    assert_error(create(emu, zero), 400, "generation_input_segments_invalid", "must be less than segments[0].endTime")


def test_item_31_segments_without_any_ref_id_input(emulator):
    body = {**with_input(VIDEO, AUDIO), "segments": [seg(0, 5)]}
    assert_error(create(emulator, body), 400, "generation_input_segments_invalid",
                 "segments require at least one audio or text input with a refId")


def test_item_32_duplicate_ref_ids_rejected_by_default(emulator, make_emulator):
    body = {**with_input(VIDEO, A1, {**A2, "refId": "a1"}), "segments": [seg(0, 5)]}
    assert_error(create(emulator, body), 400, "generation_input_validation_failed",
                 "input[2].refId 'a1' is used by more than one input")
    lenient = make_emulator({"syncso": {"duplicate_ref_ids": "allow"}})
    assert create(lenient, body).status_code == 201


def test_item_33_overlap_accepted_by_default_configurable(emulator, make_emulator):
    body = {**with_input(VIDEO, A1, A2), "segments": [seg(0, 6, "a1"), seg(5, 9, "a2")]}
    assert create(emulator, body).status_code == 201
    strict = make_emulator({"syncso": {"segment_overlap": "reject"}})
    assert_error(create(strict, body), 400, "generation_input_segments_invalid", "segments[1] (5-9) overlaps segments[0]")
    beyond = {**with_input({"type": "video", "url": "https://e.x/v.mp4?duration=8"}, A1), "segments": [seg(0, 9)]}
    assert_error(create(strict, beyond), 400, "generation_input_segments_invalid", "beyond the video's duration (8.0)")


def test_item_34_snake_case_segment_keys_read_as_camel_case(emulator, make_emulator):
    body = {"model": "lipsync-2", "input": [VIDEO, {"type": "audio", "url": "https://e.x/a.wav", "ref_id": "a1"}],
            "segments": [{"start_time": 0, "end_time": 5, "audio_input": {"ref_id": "a1"}}]}
    resp = create(emulator, body)
    assert resp.status_code == 201
    assert resp.json()["segments"] == [{"startTime": 0, "endTime": 5, "audioInput": {"refId": "a1"}}]
    strict = make_emulator({"syncso": {"snake_case_keys": "reject"}})
    assert_error(create(strict, body), 400, "generation_input_segments_invalid", "segments[0].startTime is required")


def test_item_35_valid_two_segment_request_is_echoed(emulator):
    segments = [seg(0, 10, "a1"), seg(10, 20, "a2")]
    resp = create(emulator, {**with_input(VIDEO, A1, A2), "segments": segments})
    assert resp.status_code == 201
    assert resp.json()["segments"] == segments
    assert get(emulator, f"/v2/generate/{resp.json()['id']}").json()["segments"] == segments


# -- Read and list ------------------------------------------------------------------------------

def test_item_36_get_existing_generation(emulator):
    created = create(emulator).json()
    resp = get(emulator, f"/v2/generate/{created['id']}")
    assert resp.status_code == 200
    assert resp.json() == created


def test_item_37_get_unknown_uuid_is_404(emulator):
    resp = get(emulator, "/v2/generate/6533643b-aceb-4c40-967e-d9ba9baac39e")
    assert_error(resp, 404, "generation_not_found", "6533643b-aceb-4c40-967e-d9ba9baac39e")


def test_item_37_other_keys_generations_are_not_visible(emulator):
    created = create(emulator).json()
    assert get(emulator, f"/v2/generate/{created['id']}", headers={"x-api-key": "sk-someone-else"}).status_code == 404


def test_item_38_get_malformed_id_is_400(emulator):
    assert_error(get(emulator, "/v2/generate/not-a-uuid"), 400, "invalid_generation_id", "'not-a-uuid'")


def test_item_41_include_progress(emulator):
    gid = create(emulator).json()["id"]
    assert get(emulator, f"/v2/generate/{gid}?include=progress").json()["progress_percent"] == 0.0
    emulator.advance(5 + 12.5)  # half-way through the 25 s PROCESSING state
    assert get(emulator, f"/v2/generate/{gid}?include=progress").json()["progress_percent"] == 50.0
    emulator.advance(20)
    body = get(emulator, f"/v2/generate/{gid}?include=progress").json()
    assert body["status"] == "COMPLETED" and body["progress_percent"] == 100.0
    assert "progress_percent" not in get(emulator, f"/v2/generate/{gid}").json()


def test_item_42_list_is_bare_array_with_repeated_or_comma_filters(emulator):
    first = create(emulator).json()["id"]
    emulator.advance(31)
    second = create(emulator).json()["id"]
    third = create(emulator, {**VALID, "model": "bogus"})
    assert third.status_code == 400
    everything = get(emulator, "/v2/generations")
    assert everything.status_code == 200
    assert [g["id"] for g in everything.json()] == [second, first]
    repeated = get(emulator, "/v2/generations?status=PENDING&status=COMPLETED").json()
    comma = get(emulator, "/v2/generations?status=PENDING,COMPLETED").json()
    assert repeated == comma and len(comma) == 2
    assert [g["id"] for g in get(emulator, "/v2/generations?status=COMPLETED").json()] == [first]
    assert [g["id"] for g in get(emulator, f"/v2/generations?ids={first}").json()] == [first]
    assert get(emulator, f"/v2/generations?ids={first},{second}").json() == \
        get(emulator, f"/v2/generations?ids={first}&ids={second}").json()
    assert_error(get(emulator, "/v2/generations?status=DONE"), 400, "generation_input_validation_failed", "'DONE'")


def test_item_42_an_empty_filter_value_is_a_value_not_the_absence_of_a_filter(emulator):
    """``status=`` is ``[""]`` (not a GenerationStatus), ``ids=`` asks for the id "" (none)."""
    create(emulator)
    for query, position in (("status=", "status[0]"), ("status=PENDING,", "status[1]"),
                            ("status=PENDING&status=", "status[1]")):
        assert_error(get(emulator, f"/v2/generations?{query}"), 400, "generation_input_validation_failed",
                     f"{position} must be one of: PENDING, PROCESSING, COMPLETED, FAILED, REJECTED, CANCELED (got '')")
    assert get(emulator, "/v2/generations?ids=").json() == []


def test_list_filters_also_take_one_json_encoded_array(emulator):
    """The TypeScript SDK's encoding [sdk: updates S9]; a value that is not a JSON array of
    strings is a 400 naming the filter, never an empty list."""
    first = create(emulator).json()["id"]
    emulator.advance(30)
    second = create(emulator).json()["id"]
    assert [g["id"] for g in get(emulator, '/v2/generations?status=["COMPLETED"]').json()] == [first]
    assert [g["id"] for g in get(emulator, '/v2/generations?status=["COMPLETED","PENDING"]').json()] == [second, first]
    assert [g["id"] for g in get(emulator, f'/v2/generations?ids=["{first}","{second}"]').json()] == [second, first]
    assert len(get(emulator, "/v2/generations?status=[]").json()) == 2
    assert_error(get(emulator, '/v2/generations?status=["COMPLETED"'), 400, "generation_input_validation_failed",
                 "status[0] must be one of: PENDING, PROCESSING, COMPLETED, FAILED, REJECTED, CANCELED "
                 """(got '["COMPLETED"')""")
    for ids in (f'["{first}"', f'["{first}",1]', '{"id":1}'):
        assert_error(get(emulator, f"/v2/generations?ids={ids}"), 400, "generation_input_validation_failed",
                     "ids[0]: must be a generation id, a comma-separated list of them or a JSON array of them")
    assert [a["type"] for a in get(emulator, '/v2/assets?types=["AUDIO"]').json()["items"]] == ["AUDIO"]  # one URL, one asset
    assert_error(get(emulator, '/v2/assets?types=["AUDIO",'), 400, "generation_input_validation_failed",
                 "types[0] must be one of: AUDIO, VIDEO, IMAGE")


def test_item_43_list_limit_and_cursor(emulator):
    ids = [create(emulator).json()["id"] for _ in range(3)]
    page = get(emulator, "/v2/generations?limit=2").json()
    assert [g["id"] for g in page] == [ids[2], ids[1]]
    rest = get(emulator, f"/v2/generations?limit=2&cursor={ids[1]}").json()
    assert [g["id"] for g in rest] == [ids[0]]
    assert_error(get(emulator, "/v2/generations?limit=0"), 400, None, "limit must be greater than or equal to 1")
    assert_error(get(emulator, "/v2/generations?limit=101"), 400, None, "limit must be less than or equal to 100")
    assert_error(get(emulator, f"/v2/generations?cursor={ids[1]}"), 400, None, "cursor requires limit")


def test_item_44_cost_estimate(emulator):
    body = {**VALID, "input": [{"type": "video", "url": "https://e.x/v.mp4?duration=12"}, AUDIO]}
    resp = requests.post(f"{emulator.url}/v2/analyze/cost", json=body, headers=KEY, timeout=10)
    assert resp.status_code == 200
    assert resp.json() == [{"estimatedFrameCount": 300, "estimatedGenerationCost": 0.48}]


def test_item_45_models_lists_only_active_models(emulator):
    resp = get(emulator, "/v2/models")
    assert resp.status_code == 200
    models = resp.json()
    assert {m["id"] for m in models} == {"lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1", "sync-3"}
    for model in models:
        assert set(model) >= {"id", "name", "type", "version"}
        assert model["type"] in ("lipsync", "react")
        assert "deprecatedAt" not in model


def test_item_47_error_catalogue_needs_no_key(emulator):
    resp = get(emulator, "/v2/errors", headers={})
    assert resp.status_code == 200
    rows = resp.json()
    assert len(rows) == 71  # 62 runtime codes [3p] + 9 officially documented ones missing from it
    assert len({r["code"] for r in rows}) == 71
    by_code = {r["code"]: r for r in rows}
    assert by_code["generation_video_missing"]["message"] == "No video file was provided in the request."
    assert all(set(r) == {"code", "message", "suggestion"} for r in rows)


# -- Lifecycle ----------------------------------------------------------------------------------

def status_of(emulator: Any, gid: str) -> str:
    return get(emulator, f"/v2/generate/{gid}").json()["status"]


def test_item_48_lifecycle_follows_the_virtual_clock(emulator):
    gid = create(emulator).json()["id"]
    assert status_of(emulator, gid) == "PENDING"
    emulator.advance(4.9)
    assert status_of(emulator, gid) == "PENDING"
    emulator.advance(0.1)
    assert status_of(emulator, gid) == "PROCESSING"
    emulator.advance(24.9)
    assert status_of(emulator, gid) == "PROCESSING"
    emulator.advance(0.1)
    assert status_of(emulator, gid) == "COMPLETED"


def test_item_48_durations_are_configurable(make_emulator):
    emu = make_emulator({"syncso": {"durations": {"PENDING": 1, "PROCESSING": 2}}})
    gid = create(emu).json()["id"]
    emu.advance(3)
    assert status_of(emu, gid) == "COMPLETED"


def test_item_49_completed_has_playable_output(emulator):
    body = {**VALID, "input": [{"type": "video", "url": "https://e.x/v.mp4?duration=7.5"}, AUDIO],
            "outputFileName": "final_cut"}
    gid = create(emulator, body).json()["id"]
    emulator.advance(30)
    done = get(emulator, f"/v2/generate/{gid}").json()
    assert done["status"] == "COMPLETED"
    assert done["outputDuration"] == 7.5
    assert done["outputUrl"] == f"{emulator.url}/_emulator/media/syncso/{gid}/final_cut.mp4"
    video = requests.get(done["outputUrl"], timeout=10)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert done["error"] is None and done["error_code"] is None


def test_item_50_failed_scenario(emulator):
    gid = create(emulator, headers={**KEY, "X-Emulator-Scenario": "failed"}).json()["id"]
    emulator.advance(30)
    body = get(emulator, f"/v2/generate/{gid}").json()
    assert body["status"] == "FAILED"
    assert body["error"] == "An error occurred in the generation pipeline."
    assert body["error_code"] == "generation_pipeline_failed"
    assert body["errorCode"] == "generation_pipeline_failed"
    assert body["outputUrl"] is None


def test_item_50_failed_reachable_through_the_control_plane(emulator):
    emulator.control.scenario("syncso", "failed", operation="createGeneration", count=1)
    failing = create(emulator).json()["id"]
    fine = create(emulator).json()["id"]
    emulator.advance(30)
    assert status_of(emulator, failing) == "FAILED"
    assert status_of(emulator, fine) == "COMPLETED"


def test_item_51_rejected_scenario_from_pending(emulator):
    gid = create(emulator).json()["id"]
    emulator.control.finish("syncso", gid, "rejected")
    body = get(emulator, f"/v2/generate/{gid}").json()
    assert body["status"] == "REJECTED"
    assert body["outputUrl"] is None
    assert body["error"] and body["errorCode"] == body["error_code"] == "generation_rejected"
    history = [h["status"] for h in emulator.control.jobs(provider="syncso")[0]["history"]]
    assert history == ["PENDING", "REJECTED"]


def test_item_52_terminal_states_are_final(emulator):
    done = create(emulator).json()["id"]
    failed = create(emulator, {**VALID, "input": [VIDEO, {"type": "audio",
                                "url": "https://e.x/a.wav?emulator_scenario=failed"}]}).json()["id"]
    rejected = create(emulator, headers={**KEY, "X-Emulator-Scenario": "rejected"}).json()["id"]
    emulator.advance(30)
    expected = {done: "COMPLETED", failed: "FAILED", rejected: "REJECTED"}
    for _ in range(3):
        emulator.advance(3600)
        assert {gid: status_of(emulator, gid) for gid in expected} == expected


# -- Webhooks -----------------------------------------------------------------------------------

def test_item_54_exactly_one_webhook_on_completion(emulator, webhook_receiver):
    gid = create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}).json()["id"]
    emulator.advance(5)
    emulator.advance(10)
    assert webhook_receiver.received == []
    emulator.advance(3600)
    received = webhook_receiver.wait_for(1)
    assert len(received) == 1
    assert received[0].method == "POST"
    assert received[0].json()["id"] == gid and received[0].json()["status"] == "COMPLETED"


def test_item_54_webhook_on_failure(emulator, webhook_receiver):
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}, headers={**KEY, "X-Emulator-Scenario": "failed"})
    emulator.advance(30)
    body = webhook_receiver.wait_for(1)[0].json()
    assert body["status"] == "FAILED"
    assert body["error_code"] == "generation_pipeline_failed"
    assert body["error"] == "An error occurred in the generation pipeline."
    assert "outputUrl" not in body


def test_item_55_webhook_body_is_a_generation_notification(emulator, webhook_receiver):
    request = {**with_input(VIDEO, A1), "segments": [seg(0, 5)], "webhookUrl": webhook_receiver.url,
               "options": {"sync_mode": "loop"}}
    created = create(emulator, request).json()
    emulator.advance(30)
    body = webhook_receiver.wait_for(1)[0].json()
    assert body["id"] == created["id"] and body["createdAt"] == created["createdAt"]
    assert body["status"] == "COMPLETED" and body["model"] == "lipsync-2"
    assert body["input"] == request["input"]
    assert body["outputUrl"].endswith(f"/{created['id']}.mp4") and body["outputDuration"] == 10.0
    assert "segments" not in body


def test_item_56_webhook_body_is_compact_json(emulator, webhook_receiver):
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url})
    emulator.advance(30)
    hook = webhook_receiver.wait_for(1)[0]
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.text == json.dumps(json.loads(hook.text), separators=(",", ":"))


def test_item_57_sync_signature_verifies_with_the_official_sample(emulator, webhook_receiver):
    secret = emulator.control.config()["syncso"]["webhook_secret"]
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url})
    sent_after = int(time.time())
    emulator.advance(30)
    hook = webhook_receiver.wait_for(1)[0]
    sent_before = int(time.time())
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", hook.headers["Sync-Signature"])
    assert match
    timestamp, signature = match.groups()
    # the official Python sample re-serializes the parsed payload compactly
    payload = json.dumps(json.loads(hook.body), separators=(",", ":"))
    expected = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, signature)
    # t is the wall-clock time it was sent at, what a receiver's replay check compares with its own clock
    assert sent_after <= int(timestamp) <= sent_before


def test_item_57_no_secret_means_no_signature(make_emulator, webhook_receiver):
    emu = make_emulator({"syncso": {"webhook_secret": ""}})
    create(emu, {**VALID, "webhookUrl": webhook_receiver.url})
    emu.advance(30)
    assert "Sync-Signature" not in webhook_receiver.wait_for(1)[0].headers


def test_item_58_rejected_sends_no_webhook_by_default(emulator, make_emulator, webhook_receiver):
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}, headers={**KEY, "X-Emulator-Scenario": "rejected"})
    emulator.advance(60)
    assert emulator.control.webhooks() == []
    assert webhook_receiver.received == []
    emu = make_emulator({"syncso": {"webhook_on_rejected": True}})
    create(emu, {**VALID, "webhookUrl": webhook_receiver.url}, headers={**KEY, "X-Emulator-Scenario": "rejected"})
    emu.advance(60)
    assert webhook_receiver.wait_for(1)[0].json()["status"] == "REJECTED"


def test_item_59_failed_delivery_is_not_retried_by_default(emulator, webhook_receiver):
    webhook_receiver.respond_with(500)
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url})
    emulator.advance(3600 * 24)
    assert len(webhook_receiver.received) == 1
    [delivery] = emulator.control.webhooks(provider="syncso")
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500]


def test_item_59_retries_are_configurable_with_backoff(make_emulator, webhook_receiver):
    emu = make_emulator({"syncso": {"webhook_retry": {"max_attempts": 3, "backoff": 10, "factor": 3}}})
    webhook_receiver.respond_with(500, 503)
    create(emu, {**VALID, "webhookUrl": webhook_receiver.url})
    emu.advance(30)
    assert len(webhook_receiver.received) == 1
    emu.advance(9.9)
    assert len(webhook_receiver.received) == 1
    emu.advance(0.1)
    assert len(webhook_receiver.received) == 2
    emu.advance(30)
    [delivery] = emu.control.webhooks(provider="syncso")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    times = [a["timestamp"] for a in delivery["attempts"]]
    assert [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)] == [10.0, 30.0]
    assert delivery["status"] == "delivered"


def test_item_59_unreachable_receiver_is_journalled(emulator):
    create(emulator, {**VALID, "webhookUrl": "http://127.0.0.1:9/unreachable"})
    emulator.advance(30)
    [delivery] = emulator.control.webhooks(provider="syncso")
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["status_code"] is None
    assert "Connection refused" in delivery["attempts"][0]["error"]


def test_non_loopback_webhook_is_never_called(emulator):
    create(emulator, {**VALID, "webhookUrl": "https://hooks.example.com/sync"})
    emulator.advance(30)
    [delivery] = emulator.control.webhooks(provider="syncso")
    assert delivery["status"] == "skipped"
    assert delivery["attempts"] == []
    assert "loopback" in delivery["note"]


# -- Error bodies and SDK interplay ---------------------------------------------------------------

@pytest.mark.parametrize("method,path,kwargs,status", [
    ("POST", "/v2/generate", {"data": "{not json", "headers": {**KEY, "Content-Type": "application/json"}}, 400),
    ("POST", "/v2/generate", {"data": "[]", "headers": {**KEY, "Content-Type": "application/json"}}, 400),
    ("POST", "/v2/generate", {"data": "\"text\"", "headers": {**KEY, "Content-Type": "application/json"}}, 400),
    ("POST", "/v2/generate", {"data": b"\xff\xfe{", "headers": {**KEY, "Content-Type": "application/json"}}, 400),
    ("POST", "/v2/generate", {"data": "model=lipsync-2", "headers": {**KEY, "Content-Type": "text/plain"}}, 400),
    ("POST", "/v2/generate", {"json": {"model": 5, "input": "x"}, "headers": KEY}, 400),
    ("POST", "/v2/generate", {"json": {"input": [VIDEO, AUDIO]}, "headers": KEY}, 400),
    ("GET", "/v2/unknown", {"headers": KEY}, 404),
    ("DELETE", "/v2/models", {"headers": KEY}, 405),
    ("PUT", "/v2/generations", {"headers": KEY}, 405),
    ("POST", "/v2/generate", {"data": b"x" * (26 * 1024 * 1024), "headers": {**KEY, "Content-Type": "application/json"}}, 413),
])
def test_item_68_every_error_is_sync_shaped_json(emulator, method, path, kwargs, status):
    resp = requests.request(method, f"{emulator.url}{path}", timeout=30, **kwargs)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["statusCode"] == status
    assert isinstance(body["message"], str) and body["message"]


def test_item_68_messages_name_the_field(emulator):
    cases = {
        json.dumps({"input": [VIDEO, AUDIO]}): "model is required",
        json.dumps({"model": "lipsync-2", "input": "x"}): "input must be of type array",
        json.dumps({**VALID, "options": {"sync_mode": "weird"}}): "options.sync_mode must be one of",
        json.dumps({**VALID, "options": {"temperature": 7}}): "options.temperature must be less than or equal to 1",
        json.dumps({**VALID, "webhookUrl": 3}): "webhookUrl must be of type string",
    }
    for raw, fragment in cases.items():
        resp = requests.post(f"{emulator.url}/v2/generate", data=raw, timeout=10,
                             headers={**KEY, "Content-Type": "application/json"})
        assert resp.status_code == 400
        assert fragment in resp.json()["message"], resp.json()


def test_item_69_500_has_internal_error_and_request_id(emulator):
    resp = create(emulator, headers={**KEY, "X-Emulator-Scenario": "internal_error"})
    assert resp.status_code == 500
    body = resp.json()
    assert body["errorCode"] == "internal_error"
    assert UUID.match(body["requestId"])
    assert body["statusCode"] == 500


def test_item_70_injected_429_carries_retry_after(emulator):
    gid = create(emulator).json()["id"]
    emulator.control.scenario("syncso", "rate_limited", operation="getGeneration", count=1)
    limited = get(emulator, f"/v2/generate/{gid}")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.json()["errorCode"] == "rate_limit_exceeded"
    assert get(emulator, f"/v2/generate/{gid}").status_code == 200


def test_unknown_scenario_is_reported_not_ignored(emulator):
    resp = create(emulator, headers={**KEY, "X-Emulator-Scenario": "no_such_thing"})
    body = assert_error(resp, 400, None, "unknown emulator scenario 'no_such_thing'")
    assert "failed" in body["message"]


def test_journal_records_operation_status_and_scenario(emulator):
    gid = create(emulator, headers={**KEY, "X-Emulator-Scenario": "failed"}).json()["id"]
    create(emulator, {**VALID, "model": "nope"})
    rows = emulator.control.requests(provider="syncso")
    assert [(r["operation"], r["status"]) for r in rows] == [("createGeneration", 201), ("createGeneration", 400)]
    assert rows[0]["job_id"] == gid and rows[0]["scenario"] == ["failed"]
    assert rows[0]["account"] == "<redacted>"  # an API key is never shown by the control plane
    assert "generation_unsupported_model" in rows[1]["response_body"]
