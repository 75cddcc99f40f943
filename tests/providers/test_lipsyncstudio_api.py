"""lipsync.studio beyond the checklist: answers conform to the schema, bad input of any shape
gets the one error shape (never a 5xx), the declared scenarios, and the credit introspection
under /_emulator/lipsyncstudio/.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.core.auth import redact
from openapi_schema_validator import OAS30Validator

KEY = "sk_test_0001"
AUTH = {"Authorization": f"Bearer {KEY}"}
VIDEO = {"video": "https://e.x/v.mp4", "audio": "https://e.x/a.mp3"}
IMAGE = {"image": "https://e.x/f.png", "audio": "https://e.x/a.mp3"}
MULTI = {"image": "https://e.x/f.png", "left_audio": "https://e.x/l.mp3", "right_audio": "https://e.x/r.mp3"}
FORMS = {"lipsync-video": VIDEO, "lipsync-image": IMAGE, "lipsync-image-multi": MULTI}
SPEC = schemas.load("lipsyncstudio")
CONTROL = "/_emulator/lipsyncstudio"


def conforms(name: str, body: Any) -> None:
    validator = OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]})
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, (name, body, errors)


def post(emu: Any, endpoint: str, body: Any, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{emu.url}/api/v1/{endpoint}", json=body, headers={**AUTH, **(headers or {})}, timeout=10)


def submit(emu: Any, endpoint: str = "lipsync-video", headers: dict[str, str] | None = None, **top: Any) -> str:
    resp = post(emu, endpoint, {"formState": FORMS[endpoint], **top}, headers)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def job(emu: Any, job_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{emu.url}/api/v1/jobs/{job_id}", headers=AUTH, timeout=10).json())


def control(emu: Any, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{emu.url}{CONTROL}{path}", timeout=10, **kw)


# -- schema conformance -------------------------------------------------------------------------

def test_every_answer_conforms_to_the_schema(emulator):
    ids = [submit(emulator, endpoint) for endpoint in FORMS]
    failed = submit(emulator, headers={"X-Emulator-Scenario": "failed"})
    conforms("SubmitResponse", post(emulator, "lipsync-image", {"formState": IMAGE}).json())
    for state_after in (0, 20):
        emulator.advance(state_after)
        for job_id in ids + [failed]:
            conforms("Job", job(emulator, job_id))
    conforms("Error", post(emulator, "lipsync-image", {}).json())


# -- bad input never escapes the error shape ---------------------------------------------------------

@pytest.mark.parametrize("data,content_type,message", [
    ("{", "application/json",
     "Malformed JSON in request body: Expecting property name enclosed in double quotes at line 1 column 2"),
    ("[1, 2]", "application/json", "Request body must be a JSON object"),
    ('"text"', "application/json", "Request body must be a JSON object"),
    ("", "application/json", "formState is required"),
    ("formState=x", "application/x-www-form-urlencoded", "Content-Type must be application/json"),
    (b'{"formState": "\xc3\x28"}', "application/json", "Request body is not valid UTF-8: invalid continuation byte"),
])
def test_malformed_bodies_are_400_in_the_error_shape(emulator, data, content_type, message):
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-video", data=data,
                         headers={**AUTH, "Content-Type": content_type}, timeout=10)
    assert resp.status_code == 400
    assert resp.json() == {"error": message}


def test_unknown_paths_wrong_methods_and_huge_bodies_use_the_error_shape(emulator, make_emulator):
    resp = requests.get(f"{emulator.url}/api/v1/lipsync-audio", headers=AUTH, timeout=10)
    assert (resp.status_code, resp.json()) == (404, {"error": "Cannot GET /api/v1/lipsync-audio"})
    resp = requests.delete(f"{emulator.url}/api/v1/jobs/x", headers=AUTH, timeout=10)
    assert (resp.status_code, resp.json()) == (405, {"error": "Method DELETE is not allowed for /api/v1/jobs/x"})
    assert resp.headers["Allow"]
    small = make_emulator({"max_body_bytes": 1000})
    resp = post(small, "lipsync-video", {"formState": {**VIDEO, "prompt": "x" * 2000}})
    assert resp.status_code == 413 and list(resp.json()) == ["error"]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=6)
FIELDS = st.sampled_from(["video", "audio", "image", "left_audio", "right_audio", "order", "resolution", "seed",
                          "prompt", "mask_image", "webhook"])
URLS = st.sampled_from(["https://e.x/a.mp3", "http://127.0.0.1/h", "http://e.x/h", "data:audio/wav;base64,UklG", ""])


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(sorted(FORMS)), changes=st.dictionaries(FIELDS, URLS | JSON_VALUES, max_size=4),
       webhook=st.none() | URLS | JSON_VALUES)
def test_any_form_state_gets_a_submit_or_one_error_never_a_5xx(emulator, endpoint, changes, webhook):
    body: dict[str, Any] = {"formState": {**FORMS[endpoint], **changes}}
    if webhook is not None:
        body["webhook"] = webhook
    resp = post(emulator, endpoint, body)
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        conforms("SubmitResponse", resp.json())
    else:
        assert list(resp.json()) == ["error"] and resp.json()["error"], resp.text


def test_null_and_empty_webhook_mean_no_webhook_and_data_uris_are_accepted(emulator, webhook_receiver):
    """[inferred] leniencies: null = absent; "" webhook = absent; data: URIs as media ([3p])."""
    form = {"image": "data:image/png;base64,iVBORw0KGgo=", "audio": "data:audio/wav;base64,UklGRg==", "seed": None}
    for webhook in (None, ""):
        resp = post(emulator, "lipsync-image", {"webhook": webhook, "formState": form})
        assert resp.status_code == 200, resp.text
    emulator.advance(20)
    assert emulator.control.webhooks(provider="lipsyncstudio") == []


REQUESTS = {"lipsync-video": "LipsyncVideoRequest", "lipsync-image": "LipsyncImageRequest",
            "lipsync-image-multi": "LipsyncImageMultiRequest"}


@pytest.mark.parametrize("endpoint", FORMS)
def test_the_schema_says_what_null_means_optional_fields_accept_it_required_ones_do_not(emulator, endpoint):
    """The null-means-absent leniency is in the served schema too (nullable), so a schema-driven
    fuzzer does not call an accepted null "a schema-violating request accepted"."""
    form_schema = SPEC["components"]["schemas"][REQUESTS[endpoint].replace("Request", "Form")]
    optional = sorted(set(form_schema["properties"]) - set(form_schema["required"]))
    body = {"webhook": None, "formState": {**FORMS[endpoint], **dict.fromkeys(optional)}}
    conforms(REQUESTS[endpoint], body)
    assert post(emulator, endpoint, body).status_code == 200
    for field in form_schema["required"]:
        broken = {"formState": {**FORMS[endpoint], field: None}}
        validator = OAS30Validator({"$ref": f"#/components/schemas/{REQUESTS[endpoint]}", "components": SPEC["components"]})
        assert not validator.is_valid(broken)
        resp = post(emulator, endpoint, broken)
        assert (resp.status_code, resp.json()) == (400, {"error": f"{field} is required"})


# -- scenarios ----------------------------------------------------------------------------------

def test_declared_scenarios(emulator):
    catalog = {s["name"]: s for s in emulator.control._call("GET", "/scenarios?provider=lipsyncstudio")["catalog"]}
    declared = {name: (s["kind"], s["evidence"]) for name, s in catalog.items() if s["evidence"] != "generic"}
    assert declared == {
        "failed": ("outcome", "documented"), "stuck": ("outcome", "inferred"), "slow": ("outcome", "inferred"),
        "unauthorized": ("response", "inferred"), "insufficient_credits": ("response", "inferred"),
        "rate_limited": ("response", "inferred"), "internal_error": ("response", "inferred"),
        "service_unavailable": ("response", "inferred")}
    assert catalog["failed"]["operations"] == ["createLipsyncVideo", "createLipsyncImage", "createLipsyncImageMulti"]
    assert all("expect" in s for name, s in catalog.items() if name in declared)
    assert "webhook_bad_signature" not in catalog  # deliveries are unsigned


@pytest.mark.parametrize("scenario,status,message", [
    ("unauthorized", 401, "Unauthorized"),
    ("internal_error", 500, "Internal server error"),
    ("service_unavailable", 503, "Service temporarily unavailable"),
])
def test_response_scenarios_answer_in_the_error_shape(emulator, scenario, status, message):
    for resp in (post(emulator, "lipsync-video", {"formState": VIDEO}, {"X-Emulator-Scenario": scenario}),
                 requests.get(f"{emulator.url}/api/v1/jobs/x?emulator_scenario={scenario}", headers=AUTH, timeout=10)):
        assert (resp.status_code, resp.json()) == (status, {"error": message})


def test_stuck_and_slow_outcomes(emulator):
    stuck = submit(emulator, headers={"X-Emulator-Scenario": "stuck"})
    slow = submit(emulator, headers={"X-Emulator-Scenario": "slow"})
    emulator.advance(123.44)
    assert (job(emulator, stuck)["status"], job(emulator, slow)["status"]) == ("processing", "processing")
    emulator.advance(0.011)  # 1 ms spare: a split advance may land one float ulp short
    assert job(emulator, slow)["executionTime"] == 123450
    emulator.advance(86400)
    assert job(emulator, stuck)["status"] == "processing"


def test_control_plane_rule_and_finish_drive_outcomes(emulator, webhook_receiver):
    emulator.control.scenario("lipsyncstudio", "failed", operation="createLipsyncImage", count=1)
    video = submit(emulator)
    image = submit(emulator, "lipsync-image")
    emulator.advance(20)
    assert (job(emulator, video)["status"], job(emulator, image)["status"]) == ("completed", "failed")
    pending = submit(emulator, webhook=webhook_receiver.url)
    emulator.control.finish("lipsyncstudio", pending, "failed")
    assert job(emulator, pending)["status"] == "failed"
    assert webhook_receiver.wait_for(1)[0].json()["status"] == "failed"


# -- credits introspection ---------------------------------------------------------------------------

def test_credit_accounts_can_be_read_set_and_topped_up(emulator):
    account = control(emulator, "GET", f"/credits/{KEY}").json()
    assert account == {"api_key": redact(KEY), "initial": 10000, "balance": 10000, "spent": 0, "refunded": 0}
    job_id = submit(emulator)  # 10 s (default duration) at 480p = 20 credits
    account = control(emulator, "GET", f"/credits/{KEY}").json()
    charges = control(emulator, "GET", "/charges", params={"api_key": KEY})
    assert (account["balance"], account["spent"], [c["job_id"] for c in charges.json()]) == (9980, 20, [job_id])
    assert charges.headers["X-Total-Count"] == "1"
    assert control(emulator, "POST", f"/credits/{KEY}", json={"balance": 5}).json()["balance"] == 5
    assert control(emulator, "POST", f"/credits/{KEY}", json={"add": 15}).json()["balance"] == 20
    bad = control(emulator, "POST", f"/credits/{KEY}", json={"balance": "lots"})
    assert bad.status_code == 400 and bad.json()["field"] == "balance"
    assert control(emulator, "POST", f"/credits/{KEY}", json={}).status_code == 400
    assert [a["api_key"] for a in control(emulator, "GET", "/credits").json()["accounts"]] == [redact(KEY)]
    emulator.reset()
    assert control(emulator, "GET", f"/credits/{KEY}").json()["balance"] == 10000


def test_configured_balances_and_refunds(make_emulator):
    emu = make_emulator({"lipsyncstudio": {"balances": {KEY: 40}}})
    assert control(emu, "GET", "/credits").json()["accounts"][0]["balance"] == 40
    failed = submit(emu, headers={"X-Emulator-Scenario": "failed"})
    assert control(emu, "GET", f"/credits/{KEY}").json()["balance"] == 20
    emu.advance(20)
    account = control(emu, "GET", f"/credits/{KEY}").json()
    assert (account["balance"], account["refunded"]) == (40, 20)  # [inferred] refund_failed
    assert control(emu, "GET", "/charges", params={"job_id": failed}).json()[0]["refunded"] is True

    keep = make_emulator({"lipsyncstudio": {"refund_failed": False, "initial_credits": 100}})
    submit(keep, headers={"X-Emulator-Scenario": "failed"})
    keep.advance(20)
    assert control(keep, "GET", f"/credits/{KEY}").json()["balance"] == 80


def test_config_exposes_the_provider_settings(emulator):
    config = emulator.control.config()["providers"]["lipsyncstudio"]
    assert config["webhook_http"] == "loopback" and config["credits_per_second"]["720p"] == 4
    assert json.dumps(config)  # plain JSON
