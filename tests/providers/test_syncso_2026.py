"""sync.so as its 2026 documentation describes it (shared/reference/updates-2026-12.md, S1-S8),
over HTTP: the download and count endpoints, the healthcheck, ``projectId``/``source`` list
filters, image inputs for sync-3, ``outputFileName`` sanitizing, delete, and the GET body's
``null`` fields."""

from __future__ import annotations

from typing import Any

import pytest
import requests

KEY = {"x-api-key": "sk-2026"}
VIDEO = {"type": "video", "url": "https://e.x/v.mp4?duration=8"}
AUDIO = {"type": "audio", "url": "https://e.x/a.wav?duration=6"}
IMAGE = {"type": "image", "url": "https://e.x/face.png"}
VALID = {"model": "lipsync-2", "input": [VIDEO, AUDIO]}
PROJECT = "0b7e5f6c-2f7d-4c39-9b3e-6a1f0e2d9c11"


def create(emu: Any, body: dict[str, Any] | None = None, **headers: str) -> requests.Response:
    return requests.post(f"{emu.url}/v2/generate", json=body or VALID, headers={**KEY, **headers}, timeout=10)


def get(emu: Any, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{emu.url}{path}", headers=KEY if headers is None else headers, timeout=10)


def error(resp: requests.Response, status: int, message: str, code: str | None) -> None:
    assert resp.status_code == status, resp.text
    body = {"message": message, "statusCode": status, "error": resp.json()["error"]}
    if code:
        body["errorCode"] = code
    assert resp.json() == body


# -- S1 download -------------------------------------------------------------------------------

def test_s1_download_is_the_output_url_as_plain_text(emulator):
    gen = create(emulator).json()
    early = get(emulator, f"/v2/generations/{gen['id']}/download")
    error(early, 400, f"Generation not completed: generation {gen['id']} is PENDING",
          "generation_input_validation_failed")
    emulator.advance(30)
    resp = get(emulator, f"/v2/generations/{gen['id']}/download")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    output = get(emulator, f"/v2/generate/{gen['id']}").json()["outputUrl"]
    assert resp.text == output == f"{emulator.url}/_emulator/media/syncso/{gen['id']}/{gen['id']}.mp4"
    video = requests.get(resp.text, timeout=10)  # without the key
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    error(get(emulator, "/v2/generations/6533643b-aceb-4c40-967e-d9ba9baac39e/download"), 404,
          "Generation 6533643b-aceb-4c40-967e-d9ba9baac39e not found", "generation_not_found")
    assert get(emulator, f"/v2/generations/{gen['id']}/download", headers={}).status_code == 401


# -- S2 outputFileName -------------------------------------------------------------------------

@pytest.mark.parametrize("name, kept", [("my file.v2", "my_filev2"), ("naïve-cut_01", "nave-cut_01"),
                                        ("final_cut", "final_cut"), ("a b/c\\d", "a_bcd")])
def test_s2_output_file_name_is_sanitized_not_rejected(emulator, name, kept):
    gen = create(emulator, {**VALID, "outputFileName": name})
    assert gen.status_code == 201 and gen.json()["outputFileName"] == kept
    emulator.advance(30)
    assert get(emulator, f"/v2/generate/{gen.json()['id']}").json()["outputUrl"].endswith(f"/{kept}.mp4")


def test_s2_output_file_name_is_null_when_none_is_given_and_checked_as_sanitized(emulator):
    assert create(emulator).json()["outputFileName"] is None
    for name in ("...", ""):
        error(create(emulator, {**VALID, "outputFileName": name}), 400, "outputFileName must not be empty",
              "generation_input_validation_failed")
    error(create(emulator, {**VALID, "outputFileName": "x" * 256}), 400,
          "outputFileName must be at most 255 characters long", "generation_input_validation_failed")
    assert create(emulator, {**VALID, "outputFileName": "x" * 255 + "."}).json()["outputFileName"] == "x" * 255


# -- S3 delete ---------------------------------------------------------------------------------

def test_s3_delete_terminal_only_with_the_errorcode_spelling(emulator):
    gen = create(emulator).json()
    resp = requests.delete(f"{emulator.url}/v2/generations/{gen['id']}", headers=KEY, timeout=10)
    error(resp, 409, f"Generation {gen['id']} is PENDING and cannot be deleted while processing; only COMPLETED, "
          "FAILED or REJECTED generations can be deleted", "generation_not_deletable_while_processing")
    emulator.advance(30)
    deleted = requests.delete(f"{emulator.url}/v2/generations/{gen['id']}", headers=KEY, timeout=10)
    assert deleted.status_code == 200 and deleted.json()["status"] == "COMPLETED"
    assert get(emulator, f"/v2/generate/{gen['id']}").status_code == 404

    failed = create(emulator, {**VALID, "input": [{**VIDEO, "url": VIDEO["url"] + "&emulator_scenario=failed"},
                                                   AUDIO]}).json()
    emulator.advance(30)
    body = get(emulator, f"/v2/generate/{failed['id']}").json()
    assert (body["errorCode"], body["error"]) == ("generation_pipeline_failed",
                                                  "An error occurred in the generation pipeline.")


# -- S4 list filters ---------------------------------------------------------------------------

def test_s4_list_filters_by_project_and_source(emulator):
    mine = create(emulator, {**VALID, "projectId": PROJECT}).json()["id"]
    mcp = create(emulator, **{"x-sync-source": "mcp"}).json()["id"]
    plain = create(emulator).json()["id"]
    assert [g["id"] for g in get(emulator, f"/v2/generations?projectId={PROJECT}").json()] == [mine]
    assert get(emulator, "/v2/generations?projectId=6533643b-aceb-4c40-967e-d9ba9baac39e").json() == []
    error(get(emulator, "/v2/generations?projectId=proj_1"), 400, "projectId: must be a UUID",
          "generation_input_validation_failed")
    assert [g["id"] for g in get(emulator, "/v2/generations?source=mcp").json()] == [mcp]
    assert get(emulator, "/v2/generations?source=chatgpt").json() == []
    assert [g["id"] for g in get(emulator, f"/v2/generations?status=PENDING,COMPLETED&ids={plain},{mcp}").json()] \
        == [plain, mcp]


# -- S5 count ----------------------------------------------------------------------------------

def test_s5_count_with_its_filters(emulator):
    create(emulator)
    emulator.advance(30)
    create(emulator, **{"x-sync-source": "mcp"})
    create(emulator)
    counts = {query: get(emulator, f"/v2/generations/count{query}").json() for query in (
        "", "?status=COMPLETED", "?status=PENDING,COMPLETED", '?status=["PENDING"]', "?type=api",
        "?type=playground", "?source=mcp", "?generationSource=mcp", "?currentUserOnly=true")}
    assert counts == {"": {"count": 3}, "?status=COMPLETED": {"count": 1}, "?status=PENDING,COMPLETED": {"count": 3},
                      '?status=["PENDING"]': {"count": 2}, "?type=api": {"count": 3},
                      "?type=playground": {"count": 0}, "?source=mcp": {"count": 1},
                      "?generationSource=mcp": {"count": 1}, "?currentUserOnly=true": {"count": 3}}
    error(get(emulator, "/v2/generations/count?type=studio"), 400,
          "type must be one of: playground, api (got 'studio')", "generation_input_validation_failed")
    error(get(emulator, "/v2/generations/count?status=DONE"), 400, "status[0] must be one of: PENDING, PROCESSING, "
          "COMPLETED, FAILED, REJECTED, CANCELED (got 'DONE')", "generation_input_validation_failed")
    assert get(emulator, "/v2/generations/count?currentUserOnly=maybe").status_code == 400
    missing = get(emulator, "/v2/generations/count", headers={})
    assert missing.status_code == 401 and missing.json()["message"] == "Either Cookie or x-api-key header must be provided"
    assert get(emulator, "/v2/generations/count", headers={"x-api-key": "other"}).json() == {"count": 0}


# -- S6 image inputs ---------------------------------------------------------------------------

def test_s6_sync3_takes_an_image_as_its_visual_input(emulator):
    gen = create(emulator, {"model": "sync-3", "input": [IMAGE, AUDIO]})
    assert gen.status_code == 201 and gen.json()["input"] == [IMAGE, AUDIO]
    emulator.advance(30)
    done = get(emulator, f"/v2/generate/{gen.json()['id']}").json()
    assert done["status"] == "COMPLETED" and done["outputDuration"] == 6.0  # the voice's length
    [asset] = get(emulator, "/v2/assets?types=IMAGE").json()["items"]
    assert asset["url"] == IMAGE["url"]
    for name in ("face.jpg", "face.JPEG", "face.webp", "face"):
        assert create(emulator, {"model": "sync-3", "input": [{**IMAGE, "url": f"https://e.x/{name}"}, AUDIO]}) \
            .status_code == 201
    estimate = requests.post(f"{emulator.url}/v2/analyze/cost", json={"model": "sync-3", "input": [IMAGE, AUDIO]},
                             headers=KEY, timeout=10)
    assert estimate.json() == [{"estimatedFrameCount": 150, "estimatedGenerationCost": 0.6}]


@pytest.mark.parametrize("model", ["lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1"])
def test_s6_another_model_with_an_image_is_unsupported(emulator, model):
    error(create(emulator, {"model": model, "input": [IMAGE, AUDIO]}), 400,
          f"The requested model is not supported for this operation. {model} does not take image inputs (input[0]); "
          "only sync-3 does", "generation_unsupported_model")


def test_s6_image_rules(emulator):
    error(create(emulator, {"model": "sync-3", "input": [IMAGE, VIDEO, AUDIO]}), 400,
          "input must contain exactly one visual (video or image) item, found 2 (input[1])",
          "generation_input_too_many_visual")
    error(create(emulator, {"model": "sync-3", "input": [{**IMAGE, "url": "https://e.x/face.gif"}, AUDIO]}), 400,
          "input[0].url: an image input must be JPEG, PNG or WebP (got .gif)", "generation_input_validation_failed")
    error(create(emulator, {"model": "sync-3", "input": [{"type": "image"}, AUDIO]}), 400,
          "input[0]: an image input needs a url or an assetId", "generation_input_validation_failed")


# -- S7 healthcheck ----------------------------------------------------------------------------

def test_s7_healthcheck_needs_no_key(emulator):
    resp = get(emulator, "/v2/healthcheck", headers={})
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


# -- S8 null fields ----------------------------------------------------------------------------

def test_s8_get_shows_null_fields_and_the_default_sync_mode(emulator):
    gen = create(emulator).json()
    body = get(emulator, f"/v2/generate/{gen['id']}").json()
    assert body == {"id": gen["id"], "createdAt": gen["createdAt"], "status": "PENDING", "model": "lipsync-2",
                    "input": [VIDEO, AUDIO], "options": {"sync_mode": "loop"}, "segments": None,
                    "webhookUrl": None, "outputFileName": None, "outputUrl": None, "outputDuration": None,
                    "segmentOutputUrl": None, "error": None, "error_code": None, "errorCode": None}
    given = create(emulator, {**VALID, "options": {"sync_mode": "bounce"}}).json()
    assert given["options"] == {"sync_mode": "bounce"}
