"""WaveSpeed behaviour checklist (shared/reference/wavespeed.md §14), one test per item, over
HTTP against a live emulator (virtual clock). The official SDK's flows are in
test_wavespeed_sdk.py (item 23 too, since it is about the SDK's retries).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEY = "ws-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
VALID = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}
LATENTSYNC = "bytedance/latentsync"
A2V = "bytedance/lipsync/audio-to-video"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
ISO_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
DONE = 22  # default durations: created 2 s + processing 20 s


def submit(emu: Any, body: Any = None, model: str = LATENTSYNC, headers: dict[str, str] | None = None,
           **kw: Any) -> requests.Response:
    return requests.post(f"{emu.url}/api/v3/{model}", json=VALID if body is None else body,
                         headers=AUTH if headers is None else headers, timeout=10, **kw)


def call(emu: Any, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
    return requests.request(method, f"{emu.url}{path}", headers=AUTH if headers is None else headers,
                            timeout=10, **kw)


def result(emu: Any, pid: str, headers: dict[str, str] | None = None) -> requests.Response:
    return call(emu, "GET", f"/api/v3/predictions/{pid}/result", headers)


def data_of(resp: requests.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 200 and body["message"] == "success"
    return body["data"]


def new_id(emu: Any, body: Any = None, **kw: Any) -> str:
    return data_of(submit(emu, body, **kw))["id"]


def assert_error(resp: requests.Response, status: int, message: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"code": status, "message": message, "data": None}


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = secret.removeprefix("whsec_").encode()
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v3," + hmac.new(key, msg, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["webhook-signature"])


# -- Authentication and headers ------------------------------------------------------------

def test_item_01_missing_authorization_is_401(emulator):
    assert_error(submit(emulator, headers={}), 401, "Unauthorized")
    assert_error(result(emulator, "0" * 32, headers={}), 401, "Unauthorized")


def test_item_02_x_api_key_instead_of_bearer_is_401(emulator):
    assert_error(submit(emulator, headers={"X-API-Key": KEY}), 401, "Unauthorized")


def test_item_03_unknown_bearer_key_is_401(make_emulator):
    emu = make_emulator({"wavespeed": {"api_keys": ["wsk_known"]}})
    assert_error(submit(emu, headers={"Authorization": "Bearer wsk_other"}), 401, "Unauthorized")
    assert submit(emu, headers={"Authorization": "Bearer wsk_known"}).status_code == 200


def test_item_04_keys_of_any_format_are_accepted_if_registered(make_emulator):
    emu = make_emulator({"wavespeed": {"api_keys": ["not-a-wsk-key_123", "x"]}})
    for key in ("not-a-wsk-key_123", "x"):
        assert submit(emu, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_item_05_sdk_client_headers_are_accepted_and_ignored(emulator):
    headers = {**AUTH, "X-Client-Name": "wavespeed-python", "X-Client-Version": "2.0.5", "X-Client-OS": "linux"}
    data = data_of(submit(emulator, headers=headers))
    assert data["status"] == "created"
    assert data_of(result(emulator, data["id"], headers))["status"] == "created"


# -- Submit ------------------------------------------------------------------------------------

def test_item_06_latentsync_submit_returns_created_prediction(emulator):
    resp = submit(emulator)
    data = data_of(resp)
    assert HEX32.match(data["id"])
    assert data["status"] == "created"
    assert data["model"] == LATENTSYNC
    assert data["urls"] == {"get": f"{emulator.url}/api/v3/predictions/{data['id']}/result"}
    assert ISO_NS.match(data["created_at"])
    assert data["outputs"] == [] and data["has_nsfw_contents"] == [] and data["error"] == ""
    assert data["timings"] == {"inference": 0} and data["executionTime"] == 0
    assert "code" not in data


def test_item_07_audio_to_video_submit_returns_created_prediction(emulator):
    data = data_of(submit(emulator, model=A2V))
    assert data["model"] == A2V
    assert data["status"] == "created" and HEX32.match(data["id"])
    assert data["urls"]["get"] == f"{emulator.url}/api/v3/predictions/{data['id']}/result"


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=3), max_leaves=6)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSONISH, st.fixed_dictionaries({"audio": JSONISH, "video": JSONISH})))
def test_item_08_http_status_always_equals_envelope_code(emulator, body):
    resp = submit(emulator, body)
    assert resp.status_code in (200, 400), resp.text
    assert resp.json()["code"] == resp.status_code
    assert set(resp.json()) == {"code", "message", "data"}


@pytest.mark.parametrize("missing", ["audio", "video"])
def test_item_09_missing_field_is_400_by_default(emulator, missing):
    body = {k: v for k, v in VALID.items() if k != missing}
    assert_error(submit(emulator, body), 400, f"{missing} is required")


def test_item_09_missing_field_can_fail_the_task_with_1400(make_emulator):
    emu = make_emulator({"wavespeed": {"validation": "fail_task"}})
    pid = new_id(emu, {"video": VALID["video"]})
    emu.advance(DONE)
    data = data_of(result(emu, pid))
    assert data["status"] == "failed" and data["code"] == 1400
    assert data["error"] == "A required parameter is missing: audio."
    assert data["outputs"] == []


def test_item_10_wrong_type_is_400_by_default(emulator):
    assert_error(submit(emulator, {**VALID, "audio": 123}), 400, "audio must be of type string (got 123)")


def test_item_10_wrong_type_can_fail_the_task_with_1401(make_emulator):
    emu = make_emulator({"wavespeed": {"validation": "fail_task"}})
    pid = new_id(emu, {**VALID, "audio": 123})
    emu.advance(DONE)
    data = data_of(result(emu, pid))
    assert data["status"] == "failed" and data["code"] == 1401
    assert data["error"].startswith("The parameter value is invalid: audio must be of type string")


def test_item_11_input_wrapper_is_treated_as_missing_fields(emulator):
    resp = submit(emulator, {"input": VALID})
    assert resp.status_code == 400
    assert resp.json()["message"] in ("audio is required", "video is required")
    assert resp.json()["code"] == 400 and resp.json()["data"] is None


@pytest.mark.parametrize("field", ["video", "audio"])
def test_item_12_unreachable_media_fails_the_task_with_1402(emulator, field):
    body = {**VALID, field: f"https://media.invalid/x.{'mp4' if field == 'video' else 'mp3'}"}
    pid = new_id(emulator, body)
    emulator.advance(DONE)
    resp = result(emulator, pid)
    data = data_of(resp)
    assert data["status"] == "failed" and data["code"] == 1402
    assert data["error"] == f"Failed to download {field} from the provided URL."
    assert data["outputs"] == [] and data["has_nsfw_contents"] == []


def test_item_12_missing_emulator_upload_is_unreachable(emulator):
    pid = new_id(emulator, {**VALID, "audio": f"{emulator.url}/_emulator/files/nope/a.mp3"})
    emulator.advance(DONE)
    assert data_of(result(emulator, pid))["code"] == 1402


def test_item_13_unknown_model_path_is_404(emulator):
    assert_error(call(emulator, "POST", "/api/v3/no/such-model", json=VALID), 404, "model not found")
    assert_error(call(emulator, "GET", "/api/v3/nothing/here"), 404, "Cannot GET /api/v3/nothing/here")
    resp = call(emulator, "GET", "/api/v3/bytedance/latentsync")
    assert resp.status_code == 405 and resp.json()["code"] == 405


@pytest.mark.parametrize("where", ["query", "body"])
def test_item_14_webhook_from_query_or_body(emulator, webhook_receiver, where):
    if where == "query":
        pid = new_id(emulator, params={"webhook": webhook_receiver.url})
    else:
        pid = new_id(emulator, {**VALID, "webhook_url": webhook_receiver.url})
    emulator.advance(DONE)
    assert webhook_receiver.wait_for(1)[0].json()["id"] == pid
    assert [d["job_id"] for d in emulator.control.webhooks(provider="wavespeed")] == [pid]


def test_item_14_query_webhook_wins_over_body(emulator, webhook_receiver):
    new_id(emulator, {**VALID, "webhook_url": "http://127.0.0.1:9/never"}, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE)
    assert [d["url"] for d in emulator.control.webhooks(provider="wavespeed")] == [webhook_receiver.url]


def test_documented_formats_are_enforced_for_latentsync(emulator):
    assert_error(submit(emulator, {**VALID, "video": "https://e.x/v.mov"}), 400,
                 "video must be one of the supported formats: mp4 (got mov)")
    assert_error(submit(emulator, {**VALID, "audio": "https://e.x/a.flac"}), 400,
                 "audio must be one of the supported formats: mp3, aac, wav, m4a (got flac)")
    for audio in ("https://e.x/a.aac", "https://e.x/a.m4a", "https://e.x/a.wav", "https://e.x/signed?sig=1"):
        assert submit(emulator, {**VALID, "audio": audio}).status_code == 200
    assert submit(emulator, {**VALID, "video": "https://e.x/v.mov"}, model=A2V).status_code == 200
    assert submit(emulator, {**VALID, "video": "https://e.x/v.png"}, model=A2V).status_code == 400


# -- Result and lifecycle -----------------------------------------------------------------------

def test_item_15_status_goes_created_processing_completed(emulator):
    pid = new_id(emulator)
    assert data_of(result(emulator, pid))["status"] == "created"
    emulator.advance(2)
    assert data_of(result(emulator, pid))["status"] == "processing"
    emulator.advance(19.9)
    assert data_of(result(emulator, pid))["status"] == "processing"
    emulator.advance(0.1)
    assert data_of(result(emulator, pid))["status"] == "completed"


def test_item_16_outputs_empty_until_completed(emulator):
    pid = new_id(emulator)
    for step in (0, 2, 10):
        emulator.advance(step)
        data = data_of(result(emulator, pid))
        assert data["status"] != "completed"
        assert data["outputs"] == [] and data["has_nsfw_contents"] == []


def test_item_17_completed_has_playable_output_and_timings(emulator):
    pid = new_id(emulator)
    emulator.advance(DONE)
    data = data_of(result(emulator, pid))
    assert data["status"] == "completed"
    assert data["outputs"] == [f"{emulator.url}/_emulator/media/wavespeed/{pid}.mp4"]
    assert data["has_nsfw_contents"] == [False]
    assert data["error"] == ""
    assert data["timings"] == {"inference": 20000} and data["executionTime"] == 20000
    video = requests.get(data["outputs"][0], timeout=10)
    assert video.status_code == 200 and video.headers["Content-Type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


def test_item_18_get_prediction_without_result_suffix_is_the_same(emulator):
    pid = new_id(emulator)
    emulator.advance(DONE)
    assert call(emulator, "GET", f"/api/v3/predictions/{pid}").json() == result(emulator, pid).json()


@pytest.mark.parametrize("scenario,code", [("failed", 1403), ("failed_content_moderation", 1200),
                                           ("failed_task", 1405), ("failed_internal_error", 5000),
                                           ("failed_service_unavailable", 5003)])
def test_item_19_failure_scenarios_fail_the_task_with_documented_codes(emulator, scenario, code):
    pid = new_id(emulator, headers={**AUTH, "X-Emulator-Scenario": scenario})
    emulator.advance(DONE)
    resp = result(emulator, pid)
    assert resp.status_code == 200 and resp.json()["code"] == 200
    data = resp.json()["data"]
    assert data["status"] == "failed" and data["code"] == code
    assert data["error"] and data["outputs"] == []


def test_item_20_every_prediction_reaches_a_terminal_status_in_configured_time(make_emulator):
    emu = make_emulator({"wavespeed": {"durations": {"created": 1, "processing": 3}}})
    ids = [new_id(emu), new_id(emu, model=A2V), new_id(emu, {**VALID, "video": "https://bad.invalid/v.mp4"})]
    emu.advance(4)
    assert [data_of(result(emu, i))["status"] for i in ids] == ["completed", "completed", "failed"]


@pytest.mark.parametrize("scenario", ["cancelled", "timeout", "deleted"])
def test_item_21_forced_terminal_statuses_do_not_change(emulator, scenario):
    pid = new_id(emulator, headers={**AUTH, "X-Emulator-Scenario": scenario})
    emulator.advance(DONE)
    assert data_of(result(emulator, pid))["status"] == scenario
    emulator.advance(3600)
    data = data_of(result(emulator, pid))
    assert data["status"] == scenario and data["outputs"] == [] and data["error"]


def test_item_21_pending_is_a_non_terminal_status(emulator):
    pid = new_id(emulator, {**VALID, "video": "https://e.x/v.mp4?emulator_scenario=pending"})
    for step in (0, DONE, 3600):
        emulator.advance(step)
        assert data_of(result(emulator, pid))["status"] == "pending"


def test_item_22_unknown_prediction_id_is_404(emulator):
    assert_error(result(emulator, "f" * 32), 404, "prediction not found")
    assert_error(call(emulator, "GET", "/api/v3/predictions/nope"), 404, "prediction not found")


def test_item_22_another_keys_prediction_is_404(emulator):
    pid = new_id(emulator)
    assert_error(result(emulator, pid, {"Authorization": "Bearer someone-else"}), 404, "prediction not found")


def test_item_24_predictions_older_than_7_days_disappear(emulator):
    pid = new_id(emulator)
    emulator.advance(7 * 86400 - 1)
    assert data_of(result(emulator, pid))["status"] == "completed"
    assert data_of(call(emulator, "POST", "/api/v3/predictions", json={}))["total"] == 1
    emulator.advance(2)
    assert_error(result(emulator, pid), 404, "prediction not found")
    assert data_of(call(emulator, "POST", "/api/v3/predictions", json={}))["items"] == []


# -- Sync mode ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [LATENTSYNC, A2V])
def test_item_25_sync_mode_answers_the_completed_prediction(emulator, model):
    resp = submit(emulator, {**VALID, "enable_sync_mode": True}, model=model)
    data = data_of(resp)
    assert data["status"] == "completed" and data["model"] == model
    assert data["outputs"] == [f"{emulator.url}/_emulator/media/wavespeed/{data['id']}.mp4"]
    assert data["timings"] == {"inference": 20000}
    assert data_of(result(emulator, data["id"]))["status"] == "completed"
    assert len(emulator.control.requests(provider="wavespeed", operation="getPredictionResult")) == 1


def test_item_25_sync_mode_failure_is_answered_failed(emulator):
    data = data_of(submit(emulator, {**VALID, "enable_sync_mode": True, "video": "https://x.invalid/v.mp4"}))
    assert data["status"] == "failed" and data["code"] == 1402


@pytest.mark.parametrize("how", ["scenario", "slower_than_timeout"])
def test_item_26_sync_timeout_shape_then_the_task_completes(emulator, how):
    headers = {**AUTH, "X-Emulator-Scenario": "sync_timeout" if how == "scenario" else "slow"}
    data = data_of(submit(emulator, {**VALID, "enable_sync_mode": True}, headers=headers))
    assert data["status"] == "processing" and data["code"] == 5004
    assert data["error"] == ("Sync mode timed out after 90 seconds. "
                             "The prediction is still processing asynchronously.")
    assert data["urls"]["get"] == f"{emulator.url}/api/v3/predictions/{data['id']}/result"
    emulator.advance(DONE if how == "scenario" else DONE * 10)  # "slow" stretches every state 10x
    assert data_of(result(emulator, data["id"]))["status"] == "completed"


def test_item_26_sync_mode_beyond_concurrency_is_a_sync_timeout(make_emulator):
    emu = make_emulator({"wavespeed": {"level": "bronze", "durations": {"created": 2, "processing": 60}}})
    new_id(emu)
    new_id(emu)
    emu.advance(60)  # both still processing; the per-minute window has passed
    data = data_of(submit(emu, {**VALID, "enable_sync_mode": True}))
    assert data["code"] == 5004 and data["status"] == "processing"


def test_item_27_gateway_timeout_is_504_and_the_task_still_completes(emulator):
    resp = submit(emulator, {**VALID, "enable_sync_mode": True},
                  headers={**AUTH, "X-Emulator-Scenario": "gateway_timeout"})
    assert_error(resp, 504, "Gateway Timeout")
    [job] = emulator.control.jobs(provider="wavespeed")
    emulator.advance(DONE)
    data = data_of(call(emulator, "GET", f"/api/v3/predictions/{job['id']}"))
    assert data["status"] == "completed" and data["outputs"]


# -- Predictions list and other endpoints --------------------------------------------------------

def test_item_28_list_is_newest_first_with_timings(emulator):
    first = new_id(emulator)
    emulator.advance(DONE)
    second = new_id(emulator, model=A2V)
    data = data_of(call(emulator, "POST", "/api/v3/predictions", json={"page": 1, "page_size": 20}))
    assert data["page"] == 1 and data["total"] == 2
    assert [i["id"] for i in data["items"]] == [second, first]
    assert [i["executionTime"] for i in data["items"]] == [0, 20000]
    assert [i["timings"] for i in data["items"]] == [{"inference": 0}, {"inference": 20000}]
    page2 = data_of(call(emulator, "POST", "/api/v3/predictions", json={"page": 2, "page_size": 1}))
    assert page2["page"] == 2 and page2["total"] == 2 and [i["id"] for i in page2["items"]] == [first]


def test_item_29_list_filters(emulator):
    old = new_id(emulator)
    emulator.advance(DONE)
    middle = emulator.control.now()
    emulator.advance(1)  # strictly after the boundary: the filter's edge semantics are not the point here
    a2v = new_id(emulator, model=A2V)

    def ids(**filters: Any) -> list[str]:
        return [i["id"] for i in data_of(call(emulator, "POST", "/api/v3/predictions", json=filters))["items"]]

    assert ids(status="completed") == [old]
    assert ids(status="created") == [a2v]
    assert ids(status="failed") == []
    assert ids(model=A2V) == [a2v]
    from lipsync_emulator.core.clock import iso
    assert ids(created_after=iso(middle)) == [a2v]
    assert ids(created_before=iso(middle)) == [old]


def test_item_29_an_empty_list_body_is_no_filter_and_whitespace_alone_is_malformed_json(emulator):
    """Whitespace alone is not a JSON text (RFC 8259); only a body of no bytes is no body (found
    by Schemathesis: a newline, then a form feed, were read as no filter)."""
    json_type = {**AUTH, "Content-Type": "application/json"}
    listing = call(emulator, "POST", "/api/v3/predictions", data=b"", headers=json_type)
    assert (listing.status_code, data_of(listing)["items"]) == (200, [])
    for body, where in ((b"\n", "line 2 column 1"), (b" \t", "line 1 column 3"), (b"\x0c", "line 1 column 1")):
        resp = call(emulator, "POST", "/api/v3/predictions", data=body, headers=json_type)
        assert (resp.status_code, resp.json()["message"]) == (400, "Malformed JSON in request body: Expecting value "
                                                                   f"at {where}")


@pytest.mark.parametrize("size", [0, 101])
def test_item_29_page_size_out_of_range_is_400(emulator, size):
    resp = call(emulator, "POST", "/api/v3/predictions", json={"page_size": size})
    assert resp.status_code == 400 and resp.json()["code"] == 400
    assert resp.json()["message"].startswith("page_size must be")


def test_item_30_deleted_prediction_shows_deleted(emulator):
    pid = new_id(emulator)
    emulator.advance(DONE)
    resp = call(emulator, "POST", "/api/v3/predictions/delete", json={"ids": [pid, "unknown"]})
    assert resp.status_code == 200 and resp.json() == {"code": 200, "message": "success", "data": None}
    data = data_of(result(emulator, pid))
    assert data["status"] == "deleted" and data["outputs"] == []
    assert data_of(call(emulator, "POST", "/api/v3/predictions", json={}))["items"] == []


def test_item_31_balance_is_a_number_charged_on_completion(emulator):
    assert data_of(call(emulator, "GET", "/api/v3/balance")) == {"balance": 100.0}
    new_id(emulator, {**VALID, "video": "https://e.x/v.mp4?duration=12"})
    failing = {**VALID, "video": "https://x.invalid/v.mp4"}
    new_id(emulator, failing)
    assert data_of(call(emulator, "GET", "/api/v3/balance")) == {"balance": 100.0}
    emulator.advance(DONE)
    # 12 s of video = three started 5-second blocks at $0.15; the failed task is free.
    assert data_of(call(emulator, "GET", "/api/v3/balance")) == {"balance": 99.55}


def test_item_32_models_lists_both_lip_sync_models_with_request_schema(emulator):
    models = data_of(call(emulator, "GET", "/api/v3/models"))
    assert [m["model_id"] for m in models] == [LATENTSYNC, A2V]
    for m in models:
        schema = m["api_schema"]["api_schemas"][0]["request_schema"]
        assert schema["required"] == ["audio", "video"]
        assert m["api_schema"]["api_schemas"][0]["api_path"] == f"/api/v3/{m['model_id']}"


def test_item_33_model_price(emulator):
    body = {"model_id": LATENTSYNC, "inputs": {**VALID, "video": "https://e.x/v.mp4?duration=5"}}
    data = data_of(call(emulator, "POST", "/api/v3/model/price", json=body))
    assert data == {"model_id": LATENTSYNC, "price": 0.15, "discounted_price": 0.15, "currency": "USD"}
    body["inputs"]["video"] = "https://e.x/v.mp4?duration=5.5"
    assert data_of(call(emulator, "POST", "/api/v3/model/price", json=body))["price"] == 0.3
    assert_error(call(emulator, "POST", "/api/v3/model/price", json={"model_id": "x/y"}), 404, "model not found")


# -- Uploads -----------------------------------------------------------------------------------

def ticket(emu: Any, **body: Any) -> requests.Response:
    return call(emu, "POST", "/api/v3/media/uploads",
                json={"filename": "a.mp3", "size": 4, "content_type": "audio/mpeg", **body})


def test_item_34_upload_ticket(emulator):
    data = data_of(ticket(emulator))
    upload = data["upload"]
    assert upload["method"] == "PUT"
    assert upload["url"].startswith(f"{emulator.url}/api/v3/media/uploads/")
    assert upload["headers"] == {"Content-Type": "audio/mpeg"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", upload["expires_at"])
    assert data["download_url"].startswith(f"{emulator.url}/_emulator/files/")
    assert data["download_url"].endswith("/a.mp3")
    assert (data["type"], data["filename"], data["size"]) == ("audio", "a.mp3", 4)


def test_item_35_put_without_authorization_then_download(emulator):
    data = data_of(ticket(emulator))
    assert requests.get(data["download_url"], timeout=10).status_code == 404
    put = requests.put(data["upload"]["url"], headers=data["upload"]["headers"], data=b"ID3x", timeout=10)
    assert 200 <= put.status_code < 300
    got = requests.get(data["download_url"], timeout=10)
    assert got.status_code == 200 and got.content == b"ID3x"
    bad = requests.put(data["upload"]["url"].split("?")[0] + "?signature=wrong", data=b"x", timeout=10)
    assert_error(bad, 403, "Upload URL signature does not match")


def test_item_36_upload_rejected_scenario_is_200_with_code_500(emulator):
    resp = ticket(emulator, filename="a.mp3?emulator_scenario=upload_rejected")
    assert resp.status_code == 200
    assert resp.json() == {"code": 500, "message": "Upload failed: invalid file type", "data": None}


def test_item_37_binary_upload(emulator):
    resp = call(emulator, "POST", "/api/v3/media/upload/binary", files={"file": ("clip.mp4", b"\0\0\0\x18ftypmp42")})
    data = data_of(resp)
    assert (data["type"], data["filename"], data["size"]) == ("video", "clip.mp4", 12)
    assert requests.get(data["download_url"], timeout=10).content == b"\0\0\0\x18ftypmp42"
    assert_error(call(emulator, "POST", "/api/v3/media/upload/binary", files={"other": ("a.mp4", b"x")}), 400,
                 "file is required")


def test_item_38_upload_over_the_per_type_limit_is_413(emulator, make_emulator):
    assert_error(ticket(emulator, size=50 * 1024 * 1024 + 1), 413,
                 "File too large: audio files are limited to 50 MB (got 52428801 bytes)")
    assert ticket(emulator, size=50 * 1024 * 1024).status_code == 200
    small = make_emulator({"wavespeed": {"upload_limits": {"image": 10, "video": 10, "audio": 10}}})
    resp = call(small, "POST", "/api/v3/media/upload/binary", files={"file": ("a.wav", b"x" * 11)})
    assert_error(resp, 413, "File too large: audio files are limited to 0 MB (got 11 bytes)")


# -- Webhooks ----------------------------------------------------------------------------------

def test_item_39_completed_webhook_is_the_bare_prediction(emulator, webhook_receiver):
    pid = new_id(emulator, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE)
    [hook] = webhook_receiver.wait_for(1)
    assert hook.method == "POST" and hook.headers["Content-Type"] == "application/json"
    body = hook.json()
    assert list(body) == ["id", "model", "outputs", "urls", "has_nsfw_contents", "status", "created_at", "error",
                          "executionTime", "timings"]
    assert body == data_of(result(emulator, pid))
    assert body["status"] == "completed" and body["error"] == ""
    [delivery] = emulator.control.webhooks(provider="wavespeed")
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 1


def test_item_39_input_is_included_only_when_configured(make_emulator, webhook_receiver):
    emu = make_emulator({"wavespeed": {"webhook_include_input": True}})
    new_id(emu, params={"webhook": webhook_receiver.url})
    emu.advance(DONE)
    assert webhook_receiver.wait_for(1)[0].json()["input"] == VALID


def test_item_40_failed_webhook(emulator, webhook_receiver):
    new_id(emulator, {**VALID, "video": "https://x.invalid/v.mp4"}, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE)
    body = webhook_receiver.wait_for(1)[0].json()
    # no outputs key at all: updates W5 ("outputs only when completed") supersedes item 40's []
    assert body["status"] == "failed" and "outputs" not in body and body["code"] == 1402
    assert body["error"] == "Failed to download video from the provided URL."


def test_item_41_no_webhook_for_created_or_processing(emulator, webhook_receiver):
    new_id(emulator, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE - 0.5)
    assert emulator.control.webhooks(provider="wavespeed") == [] and webhook_receiver.received == []
    emulator.advance(0.5)
    assert [h.json()["status"] for h in webhook_receiver.wait_for(1)] == ["completed"]


def test_item_42_webhook_signature(emulator, webhook_receiver):
    new_id(emulator, params={"webhook": webhook_receiver.url})
    sent_after = int(time.time())
    emulator.advance(DONE)
    hook = webhook_receiver.wait_for(1)[0]
    sent_before = int(time.time())
    secret = data_of(call(emulator, "GET", "/api/v3/webhook/secret"))["secret"]
    assert verify(secret, hook.headers, hook.body)
    assert re.match(r"^v3,[0-9a-f]{64}$", hook.headers["webhook-signature"])
    # the wall-clock time it was sent at: receivers reject one more than 300 s from their own clock
    assert sent_after <= int(hook.headers["webhook-timestamp"]) <= sent_before
    assert not verify("whsec_other", hook.headers, hook.body)
    new_id(emulator, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE)
    assert webhook_receiver.wait_for(2)[1].headers["webhook-id"] != hook.headers["webhook-id"]


def test_item_43_webhook_secret_is_stable_per_key(emulator):
    first = call(emulator, "GET", "/api/v3/webhook/secret")
    assert first.status_code == 200 and first.json()["code"] == 200 and first.json()["message"] == "success"
    secret = first.json()["data"]["secret"]
    assert secret.startswith("whsec_") and len(secret) > 20
    assert data_of(call(emulator, "GET", "/api/v3/webhook/secret"))["secret"] == secret
    other = data_of(call(emulator, "GET", "/api/v3/webhook/secret", {"Authorization": "Bearer k2"}))["secret"]
    assert other != secret


def test_item_44_webhook_retries_with_backoff_and_the_same_id(emulator, webhook_receiver):
    webhook_receiver.respond_with(500, 500, 200)
    new_id(emulator, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE)
    assert len(webhook_receiver.wait_for(1)) == 1
    emulator.advance(0.9)
    assert len(webhook_receiver.received) == 1
    emulator.advance(0.1)
    assert len(webhook_receiver.wait_for(2)) == 2
    emulator.advance(2)
    hooks = webhook_receiver.wait_for(3)
    assert [h.status for h in hooks] == [500, 500, 200]
    assert len({h.headers["webhook-id"] for h in hooks}) == 1
    secret = data_of(call(emulator, "GET", "/api/v3/webhook/secret"))["secret"]
    assert all(verify(secret, h.headers, h.body) for h in hooks)
    emulator.advance(60)
    assert len(webhook_receiver.received) == 3


def test_item_44_at_most_four_attempts(emulator, webhook_receiver):
    webhook_receiver.respond_with(500, 500, 500, 500, 500)
    new_id(emulator, params={"webhook": webhook_receiver.url})
    emulator.advance(DONE + 60)
    [delivery] = emulator.control.webhooks(provider="wavespeed")
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 500]
    assert [a["timestamp"] - delivery["attempts"][0]["timestamp"] for a in delivery["attempts"]] == [0, 1, 3, 7]


# -- Limits and account errors -------------------------------------------------------------------

def test_item_45_beyond_concurrency_the_task_waits_in_created(make_emulator):
    emu = make_emulator({"wavespeed": {"level": "bronze", "durations": {"created": 2, "processing": 120}}})
    a, b = new_id(emu), new_id(emu)
    emu.advance(61)  # past the per-minute window, both tasks processing
    c = new_id(emu)
    emu.advance(30)
    assert [data_of(result(emu, i))["status"] for i in (a, b, c)] == ["processing", "processing", "created"]
    emu.advance(31)  # a and b complete at 122 s: c starts
    assert [data_of(result(emu, i))["status"] for i in (a, b, c)] == ["completed", "completed", "created"]
    emu.advance(2)
    assert data_of(result(emu, c))["status"] == "processing"


def test_item_46_beyond_videos_per_minute_is_429(make_emulator):
    emu = make_emulator({"wavespeed": {"key_levels": {KEY: "bronze"}}})
    new_id(emu)
    new_id(emu)
    assert_error(submit(emu), 429, "Too many requests: your account level (bronze) allows 2 video tasks per "
                                   "minute. Please retry later.")
    assert submit(emu, headers={"Authorization": "Bearer another"}).status_code == 200
    emu.advance(60)
    assert submit(emu).status_code == 200


def test_item_47_insufficient_balance_is_402(emulator, make_emulator):
    assert_error(submit(emulator, headers={**AUTH, "X-Emulator-Scenario": "no_balance"}), 402, "insufficient balance")
    poor = make_emulator({"wavespeed": {"key_balances": {KEY: 0.2}}})
    assert_error(submit(poor, {**VALID, "video": "https://e.x/v.mp4?duration=6"}), 402, "insufficient balance")
    pid = new_id(poor, {**VALID, "video": "https://e.x/v.mp4?duration=5"})
    poor.advance(DONE)
    assert data_of(result(poor, pid))["status"] == "completed"
    assert data_of(call(poor, "GET", "/api/v3/balance"))["balance"] == 0.05


def test_item_48_forbidden_scenario_names_roles(emulator):
    resp = submit(emulator, headers={**AUTH, "X-Emulator-Scenario": "forbidden"})
    assert_error(resp, 403, "Permission denied: this API key was created by role 'viewer'; use an API key "
                            "created by role 'owner' or 'developer'.")


@pytest.mark.parametrize("scenario,status", [("rate_limited", 429), ("internal_error", 500), ("bad_gateway", 502),
                                             ("service_unavailable", 503), ("invalid_key", 401)])
def test_item_49_injected_errors_are_enveloped(emulator, scenario, status):
    resp = submit(emulator, headers={**AUTH, "X-Emulator-Scenario": scenario})
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == status and isinstance(body["message"], str) and body["data"] is None


def test_item_49_every_error_is_a_json_envelope(emulator):
    cases = [
        call(emulator, "POST", "/api/v3/bytedance/latentsync", data=b"{nope", headers={**AUTH}),
        call(emulator, "POST", "/api/v3/bytedance/latentsync", json=[1, 2]),
        call(emulator, "DELETE", "/api/v3/balance"),
        call(emulator, "PUT", "/api/v3/media/uploads/unknown", data=b"x"),
        call(emulator, "POST", "/api/v3/predictions/delete", json={"ids": "x"}),
        call(emulator, "POST", "/api/v3/predictions", json={"created_after": "yesterday"}),
        call(emulator, "POST", "/api/v3/media/uploads", json={"filename": "a.exe", "size": 1}),
        call(emulator, "GET", "/api/v3/balance", headers={"Authorization": "Basic abc"}),
    ]
    assert [r.status_code for r in cases] == [400, 400, 405, 404, 400, 400, 400, 401]
    for resp in cases:
        assert resp.headers["Content-Type"].startswith("application/json")
        body = resp.json()
        assert body["code"] == resp.status_code and body["message"] and body["data"] is None
    assert cases[0].json()["message"].startswith("Malformed JSON in request body")
    assert cases[1].json()["message"] == "request body must be a JSON object"
    assert cases[4].json()["message"] == "ids must be of type array (got 'x')"
    assert cases[5].json()["message"].startswith("created_after must be")


# -- Scenario catalogue (declared for the cross-provider tooling) --------------------------------

def test_scenarios_are_declared_in_the_catalogue(emulator):
    catalog = {s["name"]: s for s in requests.get(f"{emulator.url}/_emulator/scenarios",
                                                  params={"provider": "wavespeed"}, timeout=10).json()["catalog"]}
    for code in ("content_moderation", "missing_parameter", "invalid_parameter", "media_access", "task_execution",
                 "task", "internal_error", "service_unavailable", "timeout"):
        assert catalog[f"failed_{code}"]["kind"] == "outcome"
    for name in ("invalid_key", "forbidden", "no_balance", "rate_limited", "internal_error", "service_unavailable"):
        assert catalog[name]["kind"] == "response"
