"""Kling behaviour checklist (shared/reference/kling.md §12), part 2: advanced-lip-sync create
(items 16–35, checks C10–C32), query and list (items 38, 43–47, C34–C36) and the relay paths
(items 58–61). Each numbered check has its test; where a checklist item and a check are the
same behaviour, one test names both.
"""

from __future__ import annotations

import base64
import io
import re
import time
import wave
from typing import Any

import jwt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AK, SK = "kling_emulator_access_key", "kling_emulator_secret_key_change_me"
VIDEO = "https://e.x/v.mp4"
AUDIO = "https://e.x/a.mp3"
CREATE = "/v1/videos/advanced-lip-sync"
RELAY = {"Authorization": "Bearer sk-relay-user"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def bearer() -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": "Bearer " + jwt.encode({"iss": AK, "exp": now + 1800, "nbf": now - 5}, SK,
                                                     algorithm="HS256")}


def session(emu: Any, video_url: str = VIDEO, prefix: str = "", headers: dict[str, str] | None = None) -> str:
    resp = requests.post(f"{emu.url}{prefix}/v1/videos/identify-face", json={"video_url": video_url},
                         headers=headers or bearer(), timeout=10)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["data"]["session_id"])


def choice(**over: Any) -> dict[str, Any]:
    base = {"face_id": "0", "sound_file": AUDIO, "sound_start_time": 0, "sound_end_time": 3000,
            "sound_insert_time": 1000}
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def create(emu: Any, body: Any, prefix: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{emu.url}{prefix}{CREATE}", json=body, headers=headers or bearer(), timeout=30)


def valid(emu: Any, video_url: str = VIDEO, **over: Any) -> dict[str, Any]:
    return {"session_id": session(emu, video_url), "face_choose": [choice()], **over}


def with_choice(emu: Any, video_url: str = VIDEO, **over: Any) -> requests.Response:
    return create(emu, {"session_id": session(emu, video_url), "face_choose": [choice(**over)]})


def get(emu: Any, task_id: str, prefix: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{emu.url}{prefix}{CREATE}/{task_id}", headers=headers or bearer(), timeout=10)


def assert_error(resp: requests.Response, status: int, code: int, fragment: str = "",
                 field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert fragment in body["message"], body
    if field is not None:
        assert body["message"].startswith(field), body
    return body


def wav(seconds: float, rate: int = 8000, channels: int = 1, width: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x00" * int(seconds * rate) * channels * width)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- create (items 16–35, C10–C32) ---------------------------------------------------------------

def test_item_16_valid_create_is_submitted(emulator):
    resp = create(emulator, valid(emulator))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED" and body["request_id"]
    data = body["data"]
    assert set(data) == {"task_id", "task_info", "task_status", "created_at", "updated_at"}
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": ""}
    assert isinstance(data["created_at"], int) and data["created_at"] == data["updated_at"]
    assert abs(data["created_at"] - emulator.control.now() * 1000) < 1000
    resp = create(emulator, valid(emulator, external_task_id="order-16"))
    assert resp.json()["data"]["task_info"] == {"external_task_id": "order-16"}


def test_item_16_official_example_body_shape(emulator):
    """The documented example (sound_volume 2, original_audio_volume 2, empty ids)."""
    body = {"session_id": session(emulator), "face_choose": [choice(sound_volume=2, original_audio_volume=2)],
            "external_task_id": "", "callback_url": ""}
    assert create(emulator, body).status_code == 200


def test_item_17_c10_unknown_session(emulator):
    body = {"session_id": "850508686686064678", "face_choose": [choice()]}
    assert_error(create(emulator, body), 400, 1201, "does not exist", field="session_id")
    assert_error(create(emulator, {**body, "session_id": ""}), 400, 1201, field="session_id")


def test_c10_session_id_required_and_a_string(emulator):
    assert_error(create(emulator, {"face_choose": [choice()]}), 400, 1201, "session_id can not be null")
    assert_error(create(emulator, {"session_id": 850508686686064678, "face_choose": [choice()]}), 400, 1201,
                 "is invalid", field="session_id")


def test_c10_fixture_session_exists_for_every_account(emulator):
    """Emulator-only: ``fixture_sessions`` ids need no identify-face call and never expire."""
    body = {"session_id": "emulator-fixture-session", "face_choose": [choice()]}
    assert create(emulator, body).status_code == 200
    relay_body = {"session_id": "emulator-fixture-session", "face_choose": [SEED_CHOICE]}
    assert create(emulator, relay_body, prefix="/kling", headers=RELAY).status_code == 200
    emulator.advance(30 * 86400)
    assert create(emulator, body).status_code == 200
    assert_error(create(emulator, {**body, "face_choose": [choice(face_id="1")]}), 400, 1201,
                 field="face_choose[0].face_id")


def test_c10_fixture_sessions_can_be_switched_off(make_emulator):
    emu = make_emulator({"kling": {"fixture_sessions": None}})
    body = {"session_id": "emulator-fixture-session", "face_choose": [choice()]}
    assert_error(create(emu, body), 400, 1201, "does not exist", field="session_id")


def test_item_18_c11_session_expires_after_24_hours(emulator):
    body = valid(emulator)
    emulator.advance(86399)
    assert create(emulator, body).status_code == 200
    emulator.advance(1)
    assert_error(create(emulator, body), 400, 1201, "has expired", field="session_id")


def test_item_18_c11_expiry_can_be_switched_off(make_emulator):
    emu = make_emulator({"kling": {"session_ttl_seconds": None}})
    body = valid(emu)
    emu.advance(30 * 86400)
    assert create(emu, body).status_code == 200


def test_item_19_c12_face_choose_missing_or_not_an_array(emulator):
    sid = session(emulator)
    assert_error(create(emulator, {"session_id": sid}), 400, 1201, "face_choose can not be null")
    assert_error(create(emulator, {"session_id": sid, "face_choose": choice()}), 400, 1201, "must be of type array",
                 field="face_choose")
    assert_error(create(emulator, {"session_id": sid, "face_choose": ["0"]}), 400, 1201, field="face_choose[0]")


def test_item_20_c13_exactly_one_face_choose_entry(emulator):
    sid = session(emulator, f"{VIDEO}?faces=2")
    two = {"session_id": sid, "face_choose": [choice(), choice(face_id="1")]}
    assert_error(create(emulator, two), 400, 1201, "only one person", field="face_choose")
    assert_error(create(emulator, {"session_id": sid, "face_choose": []}), 400, 1201, "exactly one",
                 field="face_choose")


def test_item_20_c13_extra_entries_ignored_when_configured(make_emulator):
    emu = make_emulator({"kling": {"face_choose_extra": "ignore"}})
    sid = session(emu, f"{VIDEO}?faces=2")
    assert create(emu, {"session_id": sid, "face_choose": [choice(), choice(face_id="1")]}).status_code == 200


def test_item_21_c14_face_id_must_belong_to_the_session(emulator):
    sid = session(emulator, f"{VIDEO}?faces=2")
    assert_error(create(emulator, {"session_id": sid, "face_choose": [choice(face_id="2")]}), 400, 1201,
                 "is not a face of session", field="face_choose[0].face_id")
    assert_error(create(emulator, {"session_id": sid, "face_choose": [choice(face_id="-1")]}), 400, 1201,
                 field="face_choose[0].face_id")
    assert_error(create(emulator, {"session_id": sid, "face_choose": [choice(face_id=None)]}), 400, 1201,
                 "face_choose[0].face_id can not be null")
    assert create(emulator, {"session_id": sid, "face_choose": [choice(face_id="1")]}).status_code == 200


def test_item_22_c15_audio_id_xor_sound_file(emulator):
    for over in ({"audio_id": "825451760499568680"}, {"sound_file": ""}, {"sound_file": None},
                 {"sound_file": "", "audio_id": ""}):
        assert_error(with_choice(emulator, **over), 400, 1201, "mutually exclusive",
                     field="face_choose[0].audio_id")
    assert with_choice(emulator, sound_file="", audio_id="825451760499568680").status_code == 200


def test_c16_audio_id_rules(make_emulator):
    """Kling TTS audio ids: configured facts (duration, age) are checked; unknown ids are
    accepted as 10 s audio unless ``unknown_audio_id: reject``."""
    emu = make_emulator({"kling": {"unknown_audio_id": "reject", "audio_ids": {
        "tts-ok": {"duration": 5}, "tts-short": {"duration": 1.5}, "tts-long": 61,
        "tts-old": {"duration": 5, "age_days": 31}}}})
    assert with_choice(emu, sound_file=None, audio_id="tts-ok").status_code == 200
    for audio_id, fragment in (("tts-short", "out of range"), ("tts-long", "out of range"),
                               ("tts-old", "within 30 days"), ("tts-unknown", "does not exist")):
        assert_error(with_choice(emu, sound_file=None, audio_id=audio_id), 400, 1201, fragment,
                     field="face_choose[0].audio_id")


def test_item_23_c18_audio_formats(emulator):
    assert_error(with_choice(emulator, sound_file="https://e.x/a.ogg"), 400, 1201, "format '.ogg'",
                 field="face_choose[0].sound_file")
    for ext in ("mp3", "wav", "m4a", "aac"):
        assert with_choice(emulator, sound_file=f"https://e.x/a.{ext}").status_code == 200


def test_c18_base64_content_must_be_a_supported_audio_format(emulator):
    ogg = b"OggS" + b"\x00" * 64
    assert_error(with_choice(emulator, sound_file=b64(ogg)), 400, 1201, "'.ogg' is not supported")
    assert_error(with_choice(emulator, sound_file=b64(b"hello world, not audio")), 400, 1201, "unrecognised")
    mp3 = b"ID3\x03\x00" + b"\x00" * 200
    assert with_choice(emulator, sound_file=b64(mp3)).status_code == 200


def test_item_24_c17_sound_file_neither_url_nor_base64(emulator):
    body = assert_error(with_choice(emulator, sound_file="not base64 at all!"), 400, 1201,
                        field="face_choose[0].sound_file")
    assert body["message"].endswith("File is not in a valid base64 format")
    assert_error(with_choice(emulator, sound_file="data:audio/wav;base64," + b64(wav(3))), 400, 1201,
                 "File is not in a valid base64 format")


def test_c17_base64_wav_is_probed_for_its_real_duration(emulator):
    """A Base64 WAV's duration comes from its header: 3 s of audio allows end 3000, not 3001."""
    audio = b64(wav(3))
    assert with_choice(emulator, sound_file=audio, sound_end_time=3000).status_code == 200
    assert_error(with_choice(emulator, sound_file=audio, sound_end_time=3001), 400, 1201, "audio's duration (3000 ms)")
    wrapped = "\n".join(audio[i:i + 76] for i in range(0, len(audio), 76))  # MIME line breaks are tolerated
    assert with_choice(emulator, sound_file=wrapped).status_code == 200


def test_item_25_c19_audio_larger_than_5mb(emulator):
    assert_error(with_choice(emulator, sound_file=f"{AUDIO}?size={5 * 1024 * 1024 + 1}"), 400, 1201,
                 "exceeds the 5MB limit", field="face_choose[0].sound_file")
    big = wav(28, rate=48000, channels=2, width=2)  # 28 s, ~5.4 MB
    assert len(big) > 5 * 1024 * 1024
    assert_error(with_choice(emulator, sound_file=b64(big)), 400, 1201, "exceeds the 5MB limit")


def test_item_25_c20_audio_duration_2_to_60_seconds(emulator):
    assert_error(with_choice(emulator, sound_file=f"{AUDIO}?duration=1.9"), 400, 1201, "out of range",
                 field="face_choose[0].sound_file")
    assert_error(with_choice(emulator, sound_file=f"{AUDIO}?duration=60.5"), 400, 1201, "out of range")
    assert_error(with_choice(emulator, sound_file=b64(wav(1.5))), 400, 1201, "duration 1.5s")
    assert with_choice(emulator, sound_file=f"{AUDIO}?duration=60").status_code == 200


def test_c21_audio_content_check_scenario(emulator):
    """C21: the content check, on demand: 1301 "Failure to pass the risk control system"."""
    body = valid(emulator)
    resp = requests.post(f"{emulator.url}{CREATE}", json=body, timeout=10,
                         headers={**bearer(), "X-Emulator-Scenario": "content_rejected"})
    assert assert_error(resp, 400, 1301)["message"] == "Failure to pass the risk control system"


@pytest.mark.parametrize("field", ["sound_start_time", "sound_end_time", "sound_insert_time"])
def test_item_26_c22_trim_and_insert_times_are_required(emulator, field):
    body = assert_error(with_choice(emulator, **{field: None}), 400, 1201)
    assert body["message"] == f"face_choose[0].{field} can not be null"


def test_c22_times_must_be_integers(emulator):
    assert_error(with_choice(emulator, sound_end_time=3000.5), 400, 1201, "must be of type integer",
                 field="face_choose[0].sound_end_time")
    assert_error(with_choice(emulator, sound_insert_time="1000"), 400, 1201, field="face_choose[0].sound_insert_time")
    assert with_choice(emulator, sound_end_time=3000.0).status_code == 200  # integral floats read as integers


def test_item_27_c24_trimmed_audio_at_least_2000_ms(emulator):
    assert_error(with_choice(emulator, sound_start_time=1000, sound_end_time=2999), 400, 1201,
                 "= 1999 ms", field="face_choose[0].sound_end_time")
    assert with_choice(emulator, sound_start_time=1000, sound_end_time=3000).status_code == 200


def test_item_28_c23_end_time_within_the_audio(emulator):
    assert_error(with_choice(emulator, sound_file=f"{AUDIO}?duration=4", sound_end_time=4001), 400, 1201,
                 "must not be later than the audio's duration (4000 ms)", field="face_choose[0].sound_end_time")
    assert with_choice(emulator, sound_file=f"{AUDIO}?duration=4", sound_end_time=4000).status_code == 200


def test_item_29_c25_start_not_negative_and_before_end(emulator):
    assert_error(with_choice(emulator, sound_start_time=-1), 400, 1201, "greater than or equal to 0",
                 field="face_choose[0].sound_start_time")
    assert_error(with_choice(emulator, sound_start_time=3000, sound_end_time=3000), 400, 1201, "must be less than",
                 field="face_choose[0].sound_start_time")
    assert_error(with_choice(emulator, sound_start_time=5000, sound_end_time=3000), 400, 1201, "must be less than")


def test_item_30_c26_inserted_clip_inside_the_video(emulator):
    video = f"{VIDEO}?duration=8"
    assert_error(with_choice(emulator, video, sound_insert_time=5001), 400, 1201, "after the end of the video",
                 field="face_choose[0].sound_insert_time")
    assert with_choice(emulator, video, sound_insert_time=5000).status_code == 200
    assert_error(with_choice(emulator, video, sound_insert_time=-1), 400, 1201, "greater than or equal to 0",
                 field="face_choose[0].sound_insert_time")


def test_item_31_c27_overlap_with_the_face_at_least_2000_ms(emulator):
    video = f"{VIDEO}?duration=12&face_ms=4000-9000"  # 3000 ms clips against the face [4000, 9000]
    assert_error(with_choice(emulator, video, sound_insert_time=2001), 400, 1201, "by 1001 ms",
                 field="face_choose[0].sound_insert_time")
    assert_error(with_choice(emulator, video, sound_insert_time=7001), 400, 1201, "by 1999 ms")
    assert with_choice(emulator, video, sound_insert_time=3000).status_code == 200
    assert with_choice(emulator, video, sound_insert_time=7000).status_code == 200
    short = f"{VIDEO}?face_ms=0-1500"  # a face too short to lip-sync at all
    assert_error(with_choice(emulator, short, sound_insert_time=0), 400, 1201, "by 1500 ms")


def test_item_32_c28_c29_volumes_in_0_to_2(emulator):
    assert_error(with_choice(emulator, sound_volume=2.5), 400, 1201, "less than or equal to 2",
                 field="face_choose[0].sound_volume")
    assert_error(with_choice(emulator, original_audio_volume=-0.1), 400, 1201, "greater than or equal to 0",
                 field="face_choose[0].original_audio_volume")
    assert_error(with_choice(emulator, sound_volume="1"), 400, 1201, field="face_choose[0].sound_volume")
    assert with_choice(emulator).status_code == 200  # omitted: default 1
    assert with_choice(emulator, sound_volume=1, original_audio_volume=1.0).status_code == 200
    assert with_choice(emulator, sound_volume=0, original_audio_volume=2).status_code == 200


def test_item_33_c30_watermark_info(emulator):
    assert_error(create(emulator, valid(emulator, watermark_info=[])), 400, 1201, "must be of type object",
                 field="watermark_info")
    assert_error(create(emulator, valid(emulator, watermark_info={"enabled": "yes"})), 400, 1201,
                 field="watermark_info.enabled")
    task_id = create(emulator, valid(emulator, watermark_info={"enabled": True})).json()["data"]["task_id"]
    assert get(emulator, task_id).json()["data"]["watermark_info"] == {"enabled": True}
    emulator.advance(60)
    video = get(emulator, task_id).json()["data"]["task_result"]["videos"][0]
    assert requests.get(video["watermark_url"], timeout=10).status_code == 200
    plain = create(emulator, valid(emulator)).json()["data"]["task_id"]
    assert get(emulator, plain).json()["data"]["watermark_info"] == {"enabled": False}


def test_item_34_c31_external_task_id_unique_per_account(make_emulator):
    emu = make_emulator({"kling": {"credentials": {"ak_two": "sk_two_is_a_32_byte_secret_key!!"}}})
    assert create(emu, valid(emu, external_task_id="order-34")).status_code == 200
    assert_error(create(emu, valid(emu, external_task_id="order-34")), 400, 1201, "already used",
                 field="external_task_id")
    assert create(emu, valid(emu, external_task_id="")).status_code == 200
    assert create(emu, valid(emu, external_task_id="")).status_code == 200
    now = int(time.time())
    other = {"Authorization": "Bearer " + jwt.encode({"iss": "ak_two", "exp": now + 1800, "nbf": now - 5},
                                                      "sk_two_is_a_32_byte_secret_key!!", algorithm="HS256")}
    body = {"session_id": session(emu, headers=other), "face_choose": [choice()], "external_task_id": "order-34"}
    assert create(emu, body, headers=other).status_code == 200


def test_item_35_c32_concurrency_limit_is_1303(make_emulator):
    emu = make_emulator({"kling": {"concurrency_limit": 2}})
    first = create(emu, valid(emu)).json()["data"]["task_id"]
    assert create(emu, valid(emu)).status_code == 200
    body = valid(emu)
    resp = create(emu, body)
    assert resp.status_code == 429
    payload = resp.json()
    assert payload == {"code": 1303, "message": "parallel task over resource pack limit",
                       "request_id": payload["request_id"]}
    assert UUID.match(payload["request_id"])
    for _ in range(5):  # queries never answer 1303 and hold no slot
        assert get(emu, first).status_code == 200
    emu.advance(60)  # both finish and free their slots
    assert create(emu, body).status_code == 200


def test_item_35_concurrency_scenario(emulator):
    resp = requests.post(f"{emulator.url}{CREATE}", json=valid(emulator), timeout=10,
                         headers={**bearer(), "X-Emulator-Scenario": "concurrency_limit"})
    assert assert_error(resp, 429, 1303)["message"] == "parallel task over resource pack limit"


# -- query and list (items 38, 43–47, C34–C36) ------------------------------------------------------

def test_item_38_query_returns_the_documented_task_object(emulator):
    task_id = create(emulator, valid(emulator, f"{VIDEO}?duration=12.5", external_task_id="x-38")
                     ).json()["data"]["task_id"]
    resp = get(emulator, task_id)
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    data = body["data"]
    assert set(data) == {"task_id", "task_status", "task_status_msg", "task_info", "task_result", "watermark_info",
                         "final_unit_deduction", "final_balance_deduction", "created_at", "updated_at"}
    assert data["task_id"] == task_id and data["task_status"] == "submitted" and data["task_status_msg"] == ""
    parent = data["task_info"]["parent_video"]
    assert set(data["task_info"]) == {"parent_video"}  # no external_task_id in query responses
    assert parent["url"] == f"{VIDEO}?duration=12.5" and parent["duration"] == "12.5" and parent["id"].isdigit()
    assert data["task_result"] == {"videos": []}
    assert data["final_unit_deduction"] == "0"
    assert data["final_balance_deduction"] == {"quota": "0", "list_price": "0"}


def test_item_43_c36_unknown_task_is_404_1203(emulator):
    assert_error(get(emulator, "123456789012345678"), 404, 1203, "does not exist", field="task_id")


def test_item_43_c36_unknown_task_can_answer_400_1201(make_emulator):
    emu = make_emulator({"kling": {"unknown_task": 1201}})
    assert_error(get(emu, "123456789012345678"), 400, 1201, field="task_id")


def test_item_44_lookup_by_external_task_id(emulator):
    task_id = create(emulator, valid(emulator, external_task_id="my-order-44")).json()["data"]["task_id"]
    resp = get(emulator, "my-order-44")
    assert resp.status_code == 200 and resp.json()["data"]["task_id"] == task_id


def test_item_45_list_newest_first_with_pages(emulator):
    ids = [create(emulator, valid(emulator)).json()["data"]["task_id"] for _ in range(3)]
    resp = requests.get(f"{emulator.url}{CREATE}", headers=bearer(), timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 0 and isinstance(body["data"], list)
    assert set(body) == {"code", "message", "request_id", "data"}  # no total, no cursor
    assert [t["task_id"] for t in body["data"]] == ids[::-1]
    page = requests.get(f"{emulator.url}{CREATE}", params={"pageNum": 2, "pageSize": 2}, headers=bearer(),
                        timeout=10).json()["data"]
    assert [t["task_id"] for t in page] == [ids[0]]
    assert requests.get(f"{emulator.url}{CREATE}", params={"pageNum": 1000, "pageSize": 500}, headers=bearer(),
                        timeout=10).json()["data"] == []


@pytest.mark.parametrize(("param", "value", "rule"), [
    ("pageSize", 501, "C35"), ("pageSize", 0, "C35"), ("pageSize", "many", "C35"),
    ("pageNum", 0, "C34"), ("pageNum", 1001, "C34")])
def test_item_46_c34_c35_page_ranges(emulator, param, value, rule):
    resp = requests.get(f"{emulator.url}{CREATE}", params={param: value}, headers=bearer(), timeout=10)
    assert_error(resp, 400, 1201, "is invalid", field=param)


def test_item_47_result_urls_expire_after_30_days(emulator):
    task_id = create(emulator, valid(emulator)).json()["data"]["task_id"]
    emulator.advance(60)
    url = get(emulator, task_id).json()["data"]["task_result"]["videos"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    emulator.advance(30 * 86400 - 120)
    assert requests.get(url, timeout=10).status_code == 200
    emulator.advance(200)
    assert requests.get(url, timeout=10).status_code == 404


# -- relay paths (items 58–61) -------------------------------------------------------------------

SEED_CHOICE = {"face_id": "0", "audio_id": "825451760499568680", "sound_file": "", "sound_start_time": 0,
               "sound_end_time": 5000, "sound_insert_time": 1000, "sound_volume": 1, "original_audio_volume": 1}


def test_item_58_relay_create_with_the_seed_body(emulator):
    sid = session(emulator, prefix="/kling", headers=RELAY)
    body = {"session_id": sid, "face_choose": [SEED_CHOICE], "external_task_id": "", "callback_url": ""}
    resp = create(emulator, body, prefix="/kling", headers=RELAY)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["task_status"] == "submitted" and data["task_info"] == {"external_task_id": ""}
    assert data["created_at"] == data["updated_at"]


def test_item_58_relay_auth_is_a_plain_bearer_key(make_emulator):
    emu = make_emulator({"kling": {"relay_keys": ["sk-relay-user"]}})
    url = f"{emu.url}/kling/v1/videos/identify-face"
    assert_error(requests.post(url, json={"video_url": VIDEO}, timeout=10), 401, 1001)
    assert_error(requests.post(url, json={"video_url": VIDEO}, headers={"Authorization": "Bearer sk-other"},
                               timeout=10), 401, 1002)
    assert requests.post(url, json={"video_url": VIDEO}, headers=RELAY, timeout=10).status_code == 200


def test_item_59_relay_seed_schema_requires_integer_volumes(emulator):
    sid = session(emulator, prefix="/kling", headers=RELAY)

    def relay(**over: Any) -> requests.Response:
        item = {k: v for k, v in {**SEED_CHOICE, **over}.items() if v is not None}
        return create(emulator, {"session_id": sid, "face_choose": [item]}, prefix="/kling", headers=RELAY)

    assert_error(relay(sound_volume=None), 400, 1201, "face_choose[0].sound_volume can not be null")
    assert_error(relay(original_audio_volume=None), 400, 1201, "face_choose[0].original_audio_volume can not be null")
    assert_error(relay(sound_volume=1.5), 400, 1201, "must be of type integer", field="face_choose[0].sound_volume")
    assert_error(relay(sound_volume=3), 400, 1201, "less than or equal to 2")
    assert relay(sound_volume=1.0, original_audio_volume=2.0).status_code == 200  # qingyuntop sends 1.0
    # the official path defaults them (item 32) and takes floats
    official = {"session_id": session(emulator), "face_choose": [choice(sound_volume=1.5)]}
    assert create(emulator, official).status_code == 200


def test_item_23_relay_rejects_aac(emulator):
    """Seed-strict mode: .mp3/.wav/.m4a only."""
    sid = session(emulator, prefix="/kling", headers=RELAY)
    item = {**SEED_CHOICE, "audio_id": "", "sound_file": "https://e.x/a.aac"}
    assert_error(create(emulator, {"session_id": sid, "face_choose": [item]}, prefix="/kling", headers=RELAY),
                 400, 1201, "format '.aac' is not supported; supported formats: .mp3/.wav/.m4a")


def test_item_60_relay_identify_and_query_behave_like_the_official_ones(emulator):
    resp = requests.post(f"{emulator.url}/kling/v1/videos/identify-face", json={"video_url": f"{VIDEO}?faces=2"},
                         headers=RELAY, timeout=10)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert [f["face_id"] for f in data["face_data"]] == ["0", "1"]
    body = {"session_id": data["session_id"], "face_choose": [SEED_CHOICE]}
    task_id = create(emulator, body, prefix="/kling", headers=RELAY).json()["data"]["task_id"]
    emulator.advance(60)
    resp = get(emulator, task_id, prefix="/kling", headers=RELAY)
    assert resp.status_code == 200
    assert resp.json()["data"]["task_status"] == "succeed"
    listed = requests.get(f"{emulator.url}/kling{CREATE}", headers=RELAY, timeout=10).json()["data"]
    assert [t["task_id"] for t in listed] == [task_id]
    # relay users and official accounts do not see each other's tasks and sessions
    assert_error(get(emulator, task_id), 404, 1203)
    assert_error(create(emulator, body), 400, 1201, field="session_id")


def test_item_61_relay_query_new_api_wrapper(make_emulator):
    emu = make_emulator({"kling": {"relay_query_wrapper": "new-api"}})
    sid = session(emu, prefix="/kling", headers=RELAY)
    task_id = create(emu, {"session_id": sid, "face_choose": [SEED_CHOICE]}, prefix="/kling",
                     headers=RELAY).json()["data"]["task_id"]
    body = get(emu, task_id, prefix="/kling", headers=RELAY).json()
    assert body["code"] == "success"
    assert body["data"]["status"] == "SUBMITTED"
    assert body["data"]["data"]["code"] == 0 and body["data"]["data"]["data"]["task_id"] == task_id
    emu.advance(60)
    body = get(emu, task_id, prefix="/kling", headers=RELAY).json()
    assert (body["data"]["status"], body["data"]["progress"]) == ("SUCCESS", "100%")
    assert get(emu, task_id, prefix="/kling", headers=RELAY).json()["data"]["data"]["data"]["task_status"] == "succeed"
    # the official path is never wrapped
    assert "task_id" in create(emu, valid(emu)).json()["data"]


# -- property: the trim and placement rules match the reference's formulas -----------------------

def expected_fields(start: int, end: int, insert: int, audio_ms: int, video_ms: int, face: tuple[int, int]
                    ) -> set[str]:
    """The fields a request may be reported on, per reference §8: the schema's bounds first
    (start >= 0, insert >= 0; either when both fail), then C25, C24, C23, C26, C27. Empty: valid."""
    schema = {name for name, value in (("sound_start_time", start), ("sound_insert_time", insert)) if value < 0}
    if schema:
        return schema
    if start >= end:
        return {"sound_start_time"}
    if end - start < 2000 or end > audio_ms:
        return {"sound_end_time"}
    if insert + (end - start) > video_ms:
        return {"sound_insert_time"}
    if min(insert + end - start, face[1]) - max(insert, face[0]) < 2000:
        return {"sound_insert_time"}
    return set()


@given(data=st.data())
@settings(derandomize=True, max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_c23_c27_trim_and_placement_property(emulator, data):
    video_ms = data.draw(st.integers(3000, 20000), label="video_ms")
    face_start = data.draw(st.integers(0, video_ms - 2000), label="face_start")
    face_end = data.draw(st.one_of(st.just(video_ms), st.integers(face_start + 1, video_ms)), label="face_end")
    audio_ms = data.draw(st.integers(2000, 20000), label="audio_ms")
    # biased towards valid requests and the 2000 ms boundaries, with some of everything else
    start = data.draw(st.one_of(st.integers(0, audio_ms - 2000), st.integers(-300, audio_ms)), label="start")
    length = data.draw(st.one_of(st.integers(1990, 2010), st.integers(2000, 5000), st.integers(-100, 8000)),
                       label="length")
    end = start + length
    insert = data.draw(st.one_of(st.integers(face_start - 500, face_start + 500), st.integers(-200, video_ms)),
                       label="insert")
    video = f"{VIDEO}?duration={video_ms / 1000}&face_ms={face_start}-{face_end}"
    body = {"session_id": session(emulator, video),
            "face_choose": [choice(sound_file=f"{AUDIO}?duration={audio_ms / 1000}", sound_start_time=start,
                                   sound_end_time=end, sound_insert_time=insert)]}
    resp = create(emulator, body)
    fields = expected_fields(start, end, insert, audio_ms, video_ms, (face_start, face_end))
    if not fields:
        assert resp.status_code == 200, resp.text
    else:
        message = assert_error(resp, 400, 1201)["message"]
        assert any(message.startswith(f"face_choose[0].{f}") for f in fields), (fields, message)
