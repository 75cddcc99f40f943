"""lipsync.studio behaviour checklist (shared/reference/lipsyncstudio.md §12), one test per
item, over HTTP against a live emulator. Items the reference marks [inferred] test the
emulator's documented choice (README fidelity table) and, where it is configurable, the switch.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

KEY = "sk_test_0001"
AUTH = {"Authorization": f"Bearer {KEY}"}
VIDEO = {"video": "https://e.x/v.mp4", "audio": "https://e.x/a.mp3"}
IMAGE = {"image": "https://e.x/f.png", "audio": "https://e.x/a.mp3"}
MULTI = {"image": "https://e.x/f.png", "left_audio": "https://e.x/l.mp3", "right_audio": "https://e.x/r.mp3",
         "order": "meanwhile"}
ENDPOINTS = {"lipsync-video": VIDEO, "lipsync-image": IMAGE, "lipsync-image-multi": MULTI}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PROCESSING_SECONDS = 12.345  # the default; makes executionTime 12345 like the seed's example
ULP = 0.001  # spare time: advancing in two steps may land one float ulp short of the planned instant
JOB_KEYS = ["id", "model", "status", "output", "error", "executionTime", "timings"]


def post(emu: Any, endpoint: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{emu.url}/api/v1/{endpoint}", json=body, headers=AUTH if headers is None else headers,
                         timeout=10)


def submit(emu: Any, endpoint: str = "lipsync-video", form: dict[str, Any] | None = None,
           headers: dict[str, str] | None = None, **top: Any) -> str:
    resp = post(emu, endpoint, {**top, "formState": ENDPOINTS[endpoint] if form is None else form}, headers)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def get_job(emu: Any, job_id: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{emu.url}/api/v1/jobs/{job_id}", headers=AUTH if headers is None else headers, timeout=10)


def job(emu: Any, job_id: str) -> dict[str, Any]:
    resp = get_job(emu, job_id)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def assert_error(resp: requests.Response, status: int, message: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == {"error": message}


def charge(emu: Any, job_id: str) -> dict[str, Any]:
    rows = requests.get(f"{emu.url}/_emulator/lipsyncstudio/charges", params={"job_id": job_id}, timeout=10).json()
    assert len(rows) == 1, rows
    return dict(rows[0])


def balance(emu: Any, key: str = KEY) -> float:
    return float(requests.get(f"{emu.url}/_emulator/lipsyncstudio/credits/{key}", timeout=10).json()["balance"])


# -- Authentication ------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("POST", "lipsync-video"), ("POST", "lipsync-image"),
                                         ("POST", "lipsync-image-multi"), ("GET", "jobs/x")])
def test_item_01_no_authorization_is_401_unauthorized(emulator, method, path):
    """[inferred] status and body."""
    resp = requests.request(method, f"{emulator.url}/api/v1/{path}", json={"formState": VIDEO}, timeout=10)
    assert_error(resp, 401, "Unauthorized")
    # a scheme other than Bearer, or an empty token, is no key either
    for header in ("Basic c2tfdGVzdA==", f"Token {KEY}", "Bearer ", KEY):
        resp = requests.request(method, f"{emulator.url}/api/v1/{path}", json={"formState": VIDEO},
                                headers={"Authorization": header}, timeout=10)
        assert_error(resp, 401, "Unauthorized")


def test_item_02_unregistered_key_is_401_unauthorized(make_emulator):
    """[inferred] with keys configured, any other key is 401 with the same body."""
    emu = make_emulator({"lipsyncstudio": {"api_keys": [KEY]}})
    assert_error(post(emu, "lipsync-video", {"formState": VIDEO}, {"Authorization": "Bearer sk_XXXX_YYYY"}),
                 401, "Unauthorized")
    assert_error(get_job(emu, "550e8400-e29b-41d4-a716-446655440000", {"Authorization": "Bearer sk_nope"}),
                 401, "Unauthorized")
    assert post(emu, "lipsync-video", {"formState": VIDEO}).status_code == 200


def test_item_03_registered_keys_of_any_shape_are_accepted(make_emulator, emulator):
    """[inferred] the sk_XXXX_YYYY pattern is not enforced."""
    emu = make_emulator({"lipsyncstudio": {"api_keys": ["not-an-sk-key", "sk_a"]}})
    for key in ("not-an-sk-key", "sk_a"):
        assert post(emu, "lipsync-video", {"formState": VIDEO}, {"Authorization": f"Bearer {key}"}).status_code == 200
    # default: no keys configured, any non-empty Bearer key is accepted
    assert post(emulator, "lipsync-video", {"formState": VIDEO}, {"Authorization": "bearer 12345"}).status_code == 200


# -- Submit --------------------------------------------------------------------------------------

def test_item_04_video_submit_answers_id_and_processing_only(emulator):
    resp = post(emulator, "lipsync-video", {"formState": {"video": "https://e.x/v.mp4", "audio": "https://e.x/a.mp3"}})
    assert resp.status_code == 200  # [inferred] status
    body = resp.json()
    assert list(body) == ["id", "status"]
    assert UUID4.match(body["id"]) and body["status"] == "processing"


def test_item_05_image_submit_with_webhook_has_the_same_shape(emulator):
    resp = post(emulator, "lipsync-image", {"webhook": "https://hook", "formState": {
        "image": "https://e.x/f.png", "audio": "https://e.x/a.mp3", "resolution": "720p", "seed": 42}})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["id", "status"] and UUID4.match(body["id"]) and body["status"] == "processing"


def test_item_06_multi_submit_has_the_same_shape(emulator):
    """[inferred] `image` name and required set."""
    resp = post(emulator, "lipsync-image-multi", {"formState": {
        "image": "https://e.x/f.png", "left_audio": "https://e.x/l.mp3", "right_audio": "https://e.x/r.mp3",
        "order": "meanwhile"}})
    assert resp.status_code == 200
    body = resp.json()
    assert list(body) == ["id", "status"] and UUID4.match(body["id"]) and body["status"] == "processing"
    for missing in ("image", "left_audio", "right_audio"):
        form = {k: v for k, v in MULTI.items() if k != missing}
        assert_error(post(emulator, "lipsync-image-multi", {"formState": form}), 400, f"{missing} is required")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_item_07_missing_form_state_is_400(emulator, endpoint):
    """[inferred] status and body."""
    for body in ({}, {"webhook": "https://hook"}, {"formState": None}, None):
        assert_error(post(emulator, endpoint, body), 400, "formState is required")
    assert_error(post(emulator, endpoint, {"formState": "x"}), 400, "formState must be of type object (got 'x')")


def test_item_08_video_without_video_or_audio_is_400_naming_the_field(emulator, make_emulator):
    """[inferred] status and body; field names as in the reference, or dotted if configured."""
    assert_error(post(emulator, "lipsync-video", {"formState": {"audio": "https://e.x/a.mp3"}}), 400,
                 "video is required")
    assert_error(post(emulator, "lipsync-video", {"formState": {"video": "https://e.x/v.mp4"}}), 400,
                 "audio is required")
    assert_error(post(emulator, "lipsync-video", {"formState": {"video": "", "audio": "https://e.x/a.mp3"}}), 400,
                 "video must be a public http(s) URL")
    dotted = make_emulator({"lipsyncstudio": {"error_field_names": "dotted"}})
    assert_error(post(dotted, "lipsync-video", {"formState": {"video": "https://e.x/v.mp4"}}), 400,
                 "formState.audio is required")


def test_item_09_image_without_image_or_audio_is_400(emulator):
    """[inferred] required set and status."""
    assert_error(post(emulator, "lipsync-image", {"formState": {"audio": "https://e.x/a.mp3"}}), 400,
                 "image is required")
    assert_error(post(emulator, "lipsync-image", {"formState": {"image": "https://e.x/f.png"}}), 400,
                 "audio is required")
    assert_error(post(emulator, "lipsync-image", {"formState": {"image": 7, "audio": "https://e.x/a.mp3"}}), 400,
                 "image must be of type string (got 7)")


def test_item_10_resolution_outside_the_enum_is_400_and_360p_only_when_permissive(emulator, make_emulator):
    """[seed] enum; [inferred] status; "360p" [3p] only with extra_resolutions."""
    for value in ("1080p", "360p", "720", 720):
        resp = post(emulator, "lipsync-video", {"formState": {**VIDEO, "resolution": value}})
        assert resp.status_code == 400, value
        assert resp.json()["error"].startswith("resolution must be ")
    assert post(emulator, "lipsync-video", {"formState": {**VIDEO, "resolution": "1080p"}}).json() == {
        "error": "resolution must be one of: 480p, 720p (got '1080p')"}
    permissive = make_emulator({"lipsyncstudio": {"extra_resolutions": ["360p"]}})
    job_id = submit(permissive, form={**VIDEO, "resolution": "360p"})
    assert charge(permissive, job_id)["resolution"] == "360p"
    assert post(permissive, "lipsync-video", {"formState": {**VIDEO, "resolution": "1080p"}}).status_code == 400


def test_item_11_resolution_omitted_is_480p(emulator):
    job_id = submit(emulator, form={"video": "https://e.x/v.mp4?duration=10", "audio": "https://e.x/a.mp3?duration=10"})
    billed = charge(emulator, job_id)
    assert (billed["resolution"], billed["credits_per_second"], billed["credits"]) == ("480p", 2, 20)


def test_item_12_seed_not_an_integer_is_400(emulator):
    """[seed] integer; [inferred] status."""
    for value, shown in (("42", "'42'"), (4.5, "4.5"), (True, "True"), ([1], "[1]")):
        assert_error(post(emulator, "lipsync-image", {"formState": {**IMAGE, "seed": value}}), 400,
                     f"seed must be of type integer (got {shown})")
    assert post(emulator, "lipsync-image", {"formState": {**IMAGE, "seed": -1}}).status_code == 200


def test_item_13_unknown_form_state_keys_are_accepted_and_ignored(emulator):
    """[inferred] (§10 analogue): mask_image and prompt on lipsync-image, and any other key."""
    form = {**IMAGE, "mask_image": "https://e.x/m.png", "prompt": "smile", "guidance": 3, "x": {"y": 1}}
    job_id = submit(emulator, "lipsync-image", form=form, extra_top_level="ignored")
    emulator.advance(PROCESSING_SECONDS)
    assert job(emulator, job_id)["status"] == "completed"


def test_item_14_http_webhook_policy(emulator, make_emulator, webhook_receiver):
    """[inferred] default: http:// only for loopback hosts (so local receivers work), any other
    http:// is 400 (the docs ask for HTTPS); `allow` and `reject` are the alternatives."""
    assert webhook_receiver.url.startswith("http://127.0.0.1:")
    assert post(emulator, "lipsync-video", {"webhook": webhook_receiver.url, "formState": VIDEO}).status_code == 200
    assert post(emulator, "lipsync-video", {"webhook": "http://localhost:3000/webhooks/lipsync",
                                            "formState": VIDEO}).status_code == 200
    assert_error(post(emulator, "lipsync-video", {"webhook": "http://your-app.example.com/hook", "formState": VIDEO}),
                 400, "webhook must be an HTTPS URL")
    assert_error(post(emulator, "lipsync-video", {"webhook": "ftp://x/y", "formState": VIDEO}), 400,
                 "webhook must be an http(s) URL")
    allow = make_emulator({"lipsyncstudio": {"webhook_http": "allow"}})
    assert post(allow, "lipsync-video", {"webhook": "http://your-app.example.com/hook",
                                         "formState": VIDEO}).status_code == 200
    reject = make_emulator({"lipsyncstudio": {"webhook_http": "reject"}})
    assert_error(post(reject, "lipsync-video", {"webhook": webhook_receiver.url, "formState": VIDEO}), 400,
                 "webhook must be an HTTPS URL")
    assert post(reject, "lipsync-video", {"webhook": "https://hook", "formState": VIDEO}).status_code == 200


def test_item_15_no_request_id_by_default_compat_option_adds_it(emulator, make_emulator):
    """[inferred] option request_id_field."""
    assert "requestId" not in post(emulator, "lipsync-image", {"formState": IMAGE}).json()
    compat = make_emulator({"lipsyncstudio": {"request_id_field": True}})
    body = post(compat, "lipsync-image", {"formState": IMAGE}).json()
    assert body == {"id": body["id"], "status": "processing", "requestId": body["id"]}


# -- Jobs and lifecycle ----------------------------------------------------------------------------

def test_item_16_job_right_after_submit_is_the_processing_object(emulator, make_emulator):
    job_id = submit(emulator, "lipsync-image")
    resp = get_job(emulator, job_id)
    assert resp.status_code == 200
    assert list(resp.json()) == JOB_KEYS
    assert resp.json() == {"id": job_id, "model": "lipsync", "status": "processing", "output": None, "error": "",
                           "executionTime": None, "timings": None}
    named = make_emulator({"lipsyncstudio": {"processing_model": "endpoint"}})
    assert job(named, submit(named, "lipsync-image"))["model"] == "lipsync-image"


def test_item_17_completed_job_has_endpoint_model_mp4_and_ms_execution_time(emulator):
    ids = {endpoint: submit(emulator, endpoint) for endpoint in ENDPOINTS}
    emulator.advance(PROCESSING_SECONDS - 0.05)
    assert {job(emulator, i)["status"] for i in ids.values()} == {"processing"}
    emulator.advance(0.05 + ULP)
    for endpoint, job_id in ids.items():
        body = job(emulator, job_id)
        assert list(body) == JOB_KEYS
        assert {k: v for k, v in body.items() if k != "output"} == {
            "id": job_id, "model": endpoint, "status": "completed", "error": "", "executionTime": 12345,
            "timings": None}
        assert body["output"].endswith(".mp4")
        media = requests.get(body["output"], timeout=10)
        assert media.status_code == 200 and media.headers["Content-Type"] == "video/mp4"
        assert media.content[4:8] == b"ftyp"


def test_item_18_failed_scenario_gives_the_failed_object(emulator, make_emulator):
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-image", json={"formState": IMAGE},
                         headers={**AUTH, "X-Emulator-Scenario": "failed"}, timeout=10)
    job_id = resp.json()["id"]
    emulator.advance(PROCESSING_SECONDS)
    assert job(emulator, job_id) == {"id": job_id, "model": "lipsync-image", "status": "failed", "output": None,
                                     "error": "Invalid audio format", "executionTime": None, "timings": None}
    custom = make_emulator({"lipsyncstudio": {"failure_message": "No face detected"}})
    job_id = submit(custom, "lipsync-image", form={**IMAGE, "audio": "https://e.x/a.mp3?emulator_scenario=failed"})
    custom.advance(PROCESSING_SECONDS)
    assert job(custom, job_id)["error"] == "No face detected"


def test_item_19_only_processing_completed_failed_are_ever_returned(emulator):
    ids = [submit(emulator, endpoint) for endpoint in ENDPOINTS]
    for scenario in ("failed", "stuck", "slow"):
        resp = requests.post(f"{emulator.url}/api/v1/lipsync-video", json={"formState": VIDEO},
                             headers={**AUTH, "X-Emulator-Scenario": scenario}, timeout=10)
        ids.append(resp.json()["id"])
    seen: set[str] = set()
    for step in (0, 5, 7.345, 0.001, 100, 1000):
        emulator.advance(step)
        seen |= {job(emulator, i)["status"] for i in ids}
    assert seen == {"processing", "completed", "failed"}


def test_item_20_terminal_jobs_never_change(emulator):
    """[inferred]"""
    done = submit(emulator)
    failed = requests.post(f"{emulator.url}/api/v1/lipsync-video", json={"formState": VIDEO},
                           headers={**AUTH, "X-Emulator-Scenario": "failed"}, timeout=10).json()["id"]
    emulator.advance(PROCESSING_SECONDS)
    first = [job(emulator, done), job(emulator, failed)]
    assert [j["status"] for j in first] == ["completed", "failed"]
    emulator.advance(86400)
    assert [job(emulator, done), job(emulator, failed)] == first


def test_item_21_unknown_job_is_404_job_not_found(emulator):
    """[inferred]"""
    assert_error(get_job(emulator, "550e8400-e29b-41d4-a716-446655440000"), 404, "Job not found")
    assert_error(get_job(emulator, "not-a-uuid"), 404, "Job not found")


def test_item_22_another_keys_job_is_404(emulator):
    """[inferred]"""
    job_id = submit(emulator)
    assert_error(get_job(emulator, job_id, {"Authorization": "Bearer sk_test_0002"}), 404, "Job not found")
    assert get_job(emulator, job_id).status_code == 200


def test_item_23_video_output_lasts_as_long_as_the_audio(emulator):
    """[doc: L2] a longer video is trimmed to the audio, a longer audio extends the video."""
    trimmed = submit(emulator, form={"video": "https://e.x/v.mp4?duration=20", "audio": "https://e.x/a.mp3?duration=8"})
    extended = submit(emulator, form={"video": "https://e.x/v.mp4?duration=6", "audio": "https://e.x/a.mp3?duration=12"})
    assert (charge(emulator, trimmed)["output_seconds"], charge(emulator, trimmed)["adjustment"]) == (8, "trimmed")
    assert (charge(emulator, extended)["output_seconds"], charge(emulator, extended)["adjustment"]) == (12, "extended")


# -- Billing ---------------------------------------------------------------------------------------

def test_item_24_credits_are_max_5s_times_the_resolution_rate(emulator):
    """[doc: L2] examples: 3 s at 720p = 20 credits; 10 s at 480p = 20 credits."""
    start = balance(emulator)
    short = submit(emulator, "lipsync-image", form={**IMAGE, "audio": "https://e.x/a.mp3?duration=3",
                                                    "resolution": "720p"})
    ten = submit(emulator, "lipsync-image", form={**IMAGE, "audio": "https://e.x/a.mp3?duration=10",
                                                  "resolution": "480p"})
    assert {k: charge(emulator, short)[k] for k in ("billed_seconds", "credits_per_second", "credits")} == {
        "billed_seconds": 5, "credits_per_second": 4, "credits": 20}
    assert {k: charge(emulator, ten)[k] for k in ("billed_seconds", "credits_per_second", "credits")} == {
        "billed_seconds": 10, "credits_per_second": 2, "credits": 20}
    assert balance(emulator) == start - 40
    # fractional seconds are billed as whole seconds ([inferred] billing_rounding "ceil")
    odd = submit(emulator, "lipsync-image", form={**IMAGE, "audio": "https://e.x/a.mp3?duration=7.2"})
    assert charge(emulator, odd)["credits"] == 16


def test_item_25_video_billing_uses_audio_when_trimmed_video_when_extended(emulator, make_emulator):
    """[doc: L2]; reading "video length" in the extend case as the source video is `extend_billing`."""
    trimmed = submit(emulator, form={"video": "https://e.x/v.mp4?duration=20", "audio": "https://e.x/a.mp3?duration=8"})
    extended = submit(emulator, form={"video": "https://e.x/v.mp4?duration=6", "audio": "https://e.x/a.mp3?duration=12"})
    assert (charge(emulator, trimmed)["billed_seconds"], charge(emulator, trimmed)["credits"]) == (8, 16)
    assert (charge(emulator, extended)["billed_seconds"], charge(emulator, extended)["credits"]) == (6, 12)
    output = make_emulator({"lipsyncstudio": {"extend_billing": "audio"}})
    extended = submit(output, form={"video": "https://e.x/v.mp4?duration=6", "audio": "https://e.x/a.mp3?duration=12"})
    assert charge(output, extended)["billed_seconds"] == 12


def test_item_26_multi_bills_the_longer_audio_when_meanwhile_else_the_sum(emulator):
    """[doc: L2]; order omitted counts as meanwhile ([inferred] default)."""
    audios = {"left_audio": "https://e.x/l.mp3?duration=7", "right_audio": "https://e.x/r.mp3?duration=4"}
    cases = {"meanwhile": 7, "left_right": 11, "right_left": 11, None: 7}
    for order, seconds in cases.items():
        form = {"image": "https://e.x/f.png", **audios, **({"order": order} if order else {})}
        billed = charge(emulator, submit(emulator, "lipsync-image-multi", form={**form, "resolution": "720p"}))
        assert (billed["billed_seconds"], billed["credits"], billed["output_seconds"]) == (seconds, seconds * 4, seconds)


def test_item_27_no_api_credits_is_402(emulator):
    """[inferred] status and body: the scenario, and a balance really running out."""
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-video", json={"formState": VIDEO},
                         headers={**AUTH, "X-Emulator-Scenario": "insufficient_credits"}, timeout=10)
    assert_error(resp, 402, "Insufficient API credits")
    requests.post(f"{emulator.url}/_emulator/lipsyncstudio/credits/{KEY}", json={"balance": 25}, timeout=10)
    submit(emulator, form={"video": "https://e.x/v.mp4?duration=5", "audio": "https://e.x/a.mp3?duration=5"})
    assert balance(emulator) == 15
    assert_error(post(emulator, "lipsync-video", {"formState": VIDEO}), 402, "Insufficient API credits")
    assert balance(emulator) == 15
    assert len(emulator.control.jobs(provider="lipsyncstudio")) == 1


def test_item_28_rate_limited_scenario_is_429(emulator):
    """[inferred] status and body."""
    emulator.control.scenario("lipsyncstudio", "rate_limited", count=2)
    resp = post(emulator, "lipsync-image", {"formState": IMAGE})
    assert_error(resp, 429, "Too many requests")
    assert resp.headers["Retry-After"] == "10"
    assert_error(get_job(emulator, "x"), 429, "Too many requests")
    assert post(emulator, "lipsync-image", {"formState": IMAGE}).status_code == 200


# -- Webhooks ---------------------------------------------------------------------------------------

def test_item_29_completed_job_posts_its_job_object_once(emulator, webhook_receiver):
    job_id = submit(emulator, "lipsync-image", webhook=webhook_receiver.url)
    emulator.advance(PROCESSING_SECONDS)
    received = webhook_receiver.wait_for(1)
    emulator.advance(3600)
    assert len(webhook_receiver.received) == 1
    hook = received[0]
    assert hook.method == "POST" and hook.path == "/webhook"
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.json() == job(emulator, job_id)
    assert list(hook.json()) == JOB_KEYS and hook.json()["status"] == "completed"


def test_item_30_failed_job_posts_the_failed_object(emulator, webhook_receiver):
    """[inferred] that failures are sent (the seed's example receiver handles them)."""
    job_id = submit(emulator, "lipsync-image", form={**IMAGE, "audio": "https://e.x/a.mp3?emulator_scenario=failed"},
                    webhook=webhook_receiver.url)
    emulator.advance(PROCESSING_SECONDS)
    received = webhook_receiver.wait_for(1)
    assert len(received) == 1
    assert received[0].json() == job(emulator, job_id)
    assert received[0].json()["status"] == "failed" and received[0].json()["error"] == "Invalid audio format"


def test_item_31_no_webhook_while_processing(emulator, webhook_receiver):
    """[inferred]"""
    submit(emulator, webhook=webhook_receiver.url)
    emulator.advance(PROCESSING_SECONDS - 1)
    assert webhook_receiver.received == []
    assert emulator.control.webhooks(provider="lipsyncstudio") == []
    emulator.advance(1 + ULP)
    assert [h.json()["status"] for h in webhook_receiver.wait_for(1)] == ["completed"]


def test_item_32_deliveries_are_unsigned(emulator, webhook_receiver):
    """[inferred] none documented: only transport headers."""
    submit(emulator, webhook=webhook_receiver.url)
    emulator.advance(PROCESSING_SECONDS)
    headers = {k.lower() for k in webhook_receiver.wait_for(1)[0].headers}
    assert not {h for h in headers if "signature" in h or h in ("authorization", "x-api-key")}
    assert headers <= {"host", "user-agent", "accept-encoding", "accept", "connection", "content-type",
                       "content-length"}


def test_item_33_non_2xx_is_not_redelivered_unless_configured(emulator, make_emulator, webhook_receiver):
    """[inferred] one attempt, journalled as failed; retries only with webhook_retry."""
    webhook_receiver.respond_with(500, 500)
    job_id = submit(emulator, webhook=webhook_receiver.url)
    emulator.advance(PROCESSING_SECONDS)
    webhook_receiver.wait_for(1)
    emulator.advance(3600)
    assert len(webhook_receiver.received) == 1
    [delivery] = emulator.control.webhooks(job_id=job_id)
    assert delivery["status"] == "failed" and [a["status_code"] for a in delivery["attempts"]] == [500]

    webhook_receiver.clear()
    webhook_receiver.respond_with(500, 500)
    retrying = make_emulator({"lipsyncstudio": {"webhook_retry": {"max_attempts": 3, "backoff": 10, "factor": 2}}})
    job_id = submit(retrying, webhook=webhook_receiver.url)
    retrying.advance(PROCESSING_SECONDS + 30)
    assert len(webhook_receiver.wait_for(3)) == 3
    [delivery] = retrying.control.webhooks(job_id=job_id)
    assert delivery["status"] == "delivered" and [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
