"""Kling behaviour checklist (shared/reference/kling.md §12), part 1: authentication (items 1–8,
checks C1–C2), identify-face (items 9–15, C3–C9), the envelope and HTTP mapping (items 55–57),
account and rate scenarios (items 36, 37, C33), declared scenarios and settings.

Every token is made with PyJWT, as Kling's documented Python sample does. Tokens are judged on
the wall clock by default (``jwt_clock``), so ``time.time()`` tokens stay current however far
other tests advance the virtual clock.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

AK, SK = "kling_emulator_access_key", "kling_emulator_secret_key_change_me"
API_KEY = "kling_emulator_api_key"
VIDEO = "https://e.x/v.mp4"
IDENTIFY = "/v1/videos/identify-face"


def token(iss: str = AK, secret: str = SK, *, exp: float | None = 1800, nbf: float | None = -5,
          algorithm: str = "HS256", headers: dict[str, Any] | None = None, now: float | None = None,
          **claims: Any) -> str:
    """Kling's documented token: iss = AK, exp = now + 1800, nbf = now - 5, HS256 with the SK."""
    now = time.time() if now is None else now
    payload: dict[str, Any] = {"iss": iss, **claims}
    if exp is not None:
        payload["exp"] = int(now + exp)
    if nbf is not None:
        payload["nbf"] = int(now + nbf)
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


def bearer(tok: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok or token()}"}


def identify(emu: Any, body: Any = None, headers: dict[str, str] | None = None, path: str = IDENTIFY
             ) -> requests.Response:
    return requests.post(f"{emu.url}{path}", json={"video_url": VIDEO, "video_id": ""} if body is None else body,
                         headers=bearer() if headers is None else headers, timeout=10)


def assert_error(resp: requests.Response, status: int, code: int, fragment: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code, body
    assert fragment in body["message"], body
    return body


def faces_of(url: str, emu: Any) -> list[dict[str, Any]]:
    resp = identify(emu, {"video_url": url})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["face_data"]


# -- Authentication (items 1–8, C1, C2) ------------------------------------------------------------

def test_item_01_c1_no_authorization_header_is_1001(emulator):
    body = assert_error(identify(emulator, headers={}), 401, 1001)
    assert body["message"] == "Authorization is empty"


def test_item_01_c1_empty_header_or_bare_bearer_is_1001(emulator):
    for value in ("", "Bearer", "Bearer "):
        assert_error(identify(emulator, headers={"Authorization": value}), 401, 1001, "Authorization is empty")


def test_item_02_c2_garbage_token_is_1002(emulator):
    for tok in ("not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", token() + "x"):
        body = assert_error(identify(emulator, headers=bearer(tok)), 401, 1002)
        assert body["message"] == "Authorization is invalid"


def test_item_02_c2_wrong_secret_is_1002(emulator):
    assert_error(identify(emulator, headers=bearer(token(secret="another_secret_key_of_32_bytes!!"))), 401, 1002)


def test_item_02_c2_unknown_issuer_is_1002(emulator):
    assert_error(identify(emulator, headers=bearer(token(iss="ak_nobody"))), 401, 1002)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_item_02_c2_wrong_algorithm_is_1002(emulator):
    """HS512 with the right secret, and an unsigned ``alg: none`` token, are refused."""
    assert_error(identify(emulator, headers=bearer(token(algorithm="HS512"))), 401, 1002)
    unsigned = jwt.encode({"iss": AK, "exp": int(time.time()) + 1800}, None, algorithm="none")
    assert_error(identify(emulator, headers=bearer(unsigned)), 401, 1002)


def test_item_02_c2_missing_exp_claim_is_1002(emulator):
    """``iss`` and ``exp`` are required (``jwt_required_claims``, inferred)."""
    assert_error(identify(emulator, headers=bearer(token(exp=None))), 401, 1002)


def test_item_03_c2_nbf_in_the_future_is_1003(emulator):
    body = assert_error(identify(emulator, headers=bearer(token(nbf=60))), 401, 1003)
    assert body["message"] == "Authorization is not yet valid"
    assert_error(identify(emulator, headers=bearer(token(nbf=10 * 365 * 86400, exp=11 * 365 * 86400))), 401, 1003)


def test_item_04_c2_expired_token_is_1004(emulator):
    body = assert_error(identify(emulator, headers=bearer(token(exp=-1, nbf=-3600))), 401, 1004)
    assert body["message"] == "Authorization has expired"
    assert_error(identify(emulator, headers=bearer(token(exp=-10 * 365 * 86400, nbf=-11 * 365 * 86400))),
                 401, 1004)


def test_item_04_c2_expiry_on_the_emulator_clock_when_configured(make_emulator):
    """``jwt_clock: emulator``: advancing the virtual clock past ``exp`` expires a token."""
    emu = make_emulator({"kling": {"jwt_clock": "emulator"}})
    tok = token(now=emu.control.now())
    assert identify(emu, headers=bearer(tok)).status_code == 200
    emu.advance(1801)
    assert_error(identify(emu, headers=bearer(tok)), 401, 1004)


def test_item_05_c1_no_space_or_other_scheme_is_1002(emulator):
    """The code for a malformed header is inferred (the docs only require the space)."""
    for value in (f"Bearer{token()}", f"Basic {token()}", f"Token {token()}", token()):
        assert_error(identify(emulator, headers={"Authorization": value}), 401, 1002, "Authorization is invalid")


def test_item_06_static_api_key_is_accepted(emulator):
    """[doc: S4] a console API key as ``Bearer <key>`` (applicability to lip-sync inferred)."""
    assert identify(emulator, headers=bearer(API_KEY)).status_code == 200
    assert_error(identify(emulator, headers=bearer("kling_other_api_key")), 401, 1002)


def test_item_07_lenient_token_shapes_are_accepted(emulator):
    """No ``typ``, extra claims, ``exp`` a day ahead: accepted (inferred)."""
    no_typ = jwt.encode({"iss": AK, "exp": int(time.time()) + 1800, "nbf": int(time.time()) - 5}, SK,
                        algorithm="HS256", headers={"typ": None})
    assert "typ" not in jwt.get_unverified_header(no_typ)
    assert identify(emulator, headers=bearer(no_typ)).status_code == 200
    assert identify(emulator, headers=bearer(token(sub="user", iat=int(time.time()), jti="x"))).status_code == 200
    assert identify(emulator, headers=bearer(token(exp=86400))).status_code == 200
    assert identify(emulator, headers=bearer(token(nbf=None))).status_code == 200


def test_item_07_lowercase_bearer_scheme_is_accepted(emulator):
    assert identify(emulator, headers={"Authorization": f"bearer {token()}"}).status_code == 200


def test_c2_more_credentials_and_a_disabled_key_answer_1000(make_emulator):
    """Extra AK/SK pairs are accounts of their own; a correctly signed token of a disabled
    access key is the table's "otherwise" case, 1000."""
    emu = make_emulator({"kling": {"credentials": {"ak_two": "sk_two_is_a_32_byte_secret_key!!"},
                                   "disabled_access_keys": ["ak_two"]}})
    body = assert_error(identify(emu, headers=bearer(token("ak_two", "sk_two_is_a_32_byte_secret_key!!"))), 401,
                        1000)
    assert body["message"] == "Authentication failed"


def test_c2_extra_credentials_are_separate_accounts(make_emulator):
    emu = make_emulator({"kling": {"credentials": {"ak_two": "sk_two_is_a_32_byte_secret_key!!"}}})
    other = bearer(token("ak_two", "sk_two_is_a_32_byte_secret_key!!"))
    session = identify(emu, headers=other).json()["data"]["session_id"]
    body = {"session_id": session, "face_choose": [{"face_id": "0", "sound_file": "https://e.x/a.mp3",
                                                    "sound_start_time": 0, "sound_end_time": 3000,
                                                    "sound_insert_time": 0}]}
    resp = requests.post(f"{emu.url}/v1/videos/advanced-lip-sync", json=body, headers=bearer(), timeout=10)
    assert_error(resp, 400, 1201, "session_id")  # another account's session does not exist for us
    resp = requests.post(f"{emu.url}/v1/videos/advanced-lip-sync", json=body, headers=other, timeout=10)
    assert resp.status_code == 200


def test_auth_failed_scenario_answers_1000(emulator):
    resp = identify(emulator, headers={**bearer(), "X-Emulator-Scenario": "auth_failed"})
    assert_error(resp, 401, 1000, "Authentication failed")


def test_item_08_every_response_has_a_request_id_and_errors_have_no_data(emulator):
    ok = identify(emulator).json()
    assert isinstance(ok["request_id"], str) and ok["request_id"]
    for resp in (identify(emulator, headers={}), identify(emulator, {"video_url": "x.avi"}),
                 requests.get(f"{emulator.url}/v1/nope", timeout=10),
                 requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync/123", headers=bearer(), timeout=10)):
        body = resp.json()
        assert isinstance(body["request_id"], str) and body["request_id"]
        assert "data" not in body


# -- identify-face (items 9–15, C3–C9) ------------------------------------------------------------

def test_item_09_identify_face_returns_a_session_and_faces(emulator):
    resp = identify(emulator)
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    data = body["data"]
    assert set(data) == {"session_id", "final_unit_deduction", "final_balance_deduction", "face_data"}
    assert data["session_id"].isdigit()
    assert data["final_unit_deduction"] == "0"
    assert data["final_balance_deduction"] == {"quota": "0", "list_price": "0"}
    assert data["face_data"] == [{"face_id": "0", "face_image": data["face_data"][0]["face_image"],
                                  "start_time": 0, "end_time": 10000}]
    image = requests.get(data["face_data"][0]["face_image"], timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def test_item_10_c3_video_id_xor_video_url(emulator):
    for body in ({"video_url": VIDEO, "video_id": "123"}, {}, {"video_url": "", "video_id": ""},
                 {"video_url": None}):
        resp = assert_error(identify(emulator, body), 400, 1201, "video_id and video_url are mutually exclusive")
        assert resp["message"].startswith("video_id")


def test_item_11_c5_video_format_must_be_mp4_or_mov(emulator):
    assert_error(identify(emulator, {"video_url": "https://e.x/v.avi"}), 400, 1201, "video_url format '.avi'")
    assert_error(identify(emulator, {"video_url": "ftp://e.x/v.mp4"}), 400, 1201, "video_url")
    assert identify(emulator, {"video_url": "https://e.x/v.MOV"}).status_code == 200
    assert identify(emulator, {"video_url": "https://cdn.e.x/object?sig=abc"}).status_code == 200


def test_item_12_c6_video_larger_than_100mb(emulator):
    assert_error(identify(emulator, {"video_url": f"{VIDEO}?size={100 * 1024 * 1024 + 1}"}), 400, 1201,
                 "video_url file size")
    assert identify(emulator, {"video_url": f"{VIDEO}?size={100 * 1024 * 1024}"}).status_code == 200


def test_item_12_c7_video_duration_2_to_60_seconds(emulator):
    for seconds in (1.999, 60.001):
        assert_error(identify(emulator, {"video_url": f"{VIDEO}?duration={seconds}"}), 400, 1201,
                     "video_url duration")
    for seconds in (2, 60):
        assert identify(emulator, {"video_url": f"{VIDEO}?duration={seconds}"}).status_code == 200


def test_item_13_c8_video_edges_512_to_2160_px(emulator):
    body = assert_error(identify(emulator, {"video_url": f"{VIDEO}?width=1280&height=400"}), 400, 1201)
    assert body["message"] == "The video height should not be less than 512px and larger than 2160px."
    body = assert_error(identify(emulator, {"video_url": f"{VIDEO}?width=3840&height=1080"}), 400, 1201)
    assert body["message"] == "The video width should not be less than 512px and larger than 2160px."
    assert identify(emulator, {"video_url": f"{VIDEO}?width=1920&height=1080"}).status_code == 200


def test_item_14_c9_no_face_scenario_and_hint(emulator):
    """The scenario, and the ``faces=0`` hint, answer 1201 "The model did not detect a human"."""
    resp = identify(emulator, headers={**bearer(), "X-Emulator-Scenario": "no_face"})
    assert assert_error(resp, 400, 1201)["message"] == "The model did not detect a human"
    resp = identify(emulator, {"video_url": f"{VIDEO}?faces=0"})
    assert assert_error(resp, 400, 1201)["message"] == "The model did not detect a human"


def test_item_14_c9_zero_faces_as_an_empty_list_when_configured(make_emulator):
    emu = make_emulator({"kling": {"no_face": "empty"}})
    assert faces_of(f"{VIDEO}?faces=0", emu) == []


def test_item_15_capital_i_path_behaves_like_identify_face(emulator):
    resp = identify(emulator, path="/v1/videos/Identify-face")
    assert resp.status_code == 200
    assert resp.json()["data"]["face_data"][0]["face_id"] == "0"


def test_item_15_capital_i_path_can_be_switched_off(make_emulator):
    emu = make_emulator({"kling": {"legacy_identify_path": False}})
    assert_error(identify(emu, path="/v1/videos/Identify-face"), 404, 1202)


def test_c4_video_id_of_a_kling_generated_video(emulator):
    """C4: a video_id names a video Kling generated (here: a task's output), <= 30 days old."""
    session = identify(emulator, {"video_url": f"{VIDEO}?faces=2&duration=8"}).json()["data"]["session_id"]
    body = {"session_id": session, "face_choose": [{"face_id": "1", "sound_file": "https://e.x/a.mp3",
                                                    "sound_start_time": 0, "sound_end_time": 3000,
                                                    "sound_insert_time": 0}]}
    task_id = requests.post(f"{emulator.url}/v1/videos/advanced-lip-sync", json=body, headers=bearer(),
                            timeout=10).json()["data"]["task_id"]
    emulator.advance(60)
    task = requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync/{task_id}", headers=bearer(),
                        timeout=10).json()["data"]
    video_id = task["task_result"]["videos"][0]["id"]
    resp = identify(emulator, {"video_id": video_id, "video_url": ""})
    assert resp.status_code == 200
    assert [(f["face_id"], f["end_time"]) for f in resp.json()["data"]["face_data"]] == [("0", 8000), ("1", 8000)]
    assert_error(identify(emulator, {"video_id": "999999999999999999"}), 400, 1201, "video_id '999999999999999999'")
    emulator.advance(31 * 86400)
    assert_error(identify(emulator, {"video_id": video_id}), 400, 1201, "within 30 days")


def test_faces_are_deterministic_and_hinted(emulator):
    """The same video gives the same faces; ``faces=N`` and ``face_ms`` shape them."""
    assert faces_of(f"{VIDEO}?faces=3", emulator) == faces_of(f"{VIDEO}?faces=3", emulator)
    three = faces_of(f"{VIDEO}?faces=3&duration=12", emulator)
    assert [(f["face_id"], f["start_time"], f["end_time"]) for f in three] == [
        ("0", 0, 12000), ("1", 0, 12000), ("2", 0, 12000)]
    short = faces_of(f"{VIDEO}?face_ms=0-1500,3000-99000", emulator)
    assert [(f["face_id"], f["start_time"], f["end_time"]) for f in short] == [("0", 0, 1500), ("1", 3000, 10000)]
    assert_error(identify(emulator, {"video_url": f"{VIDEO}?face_ms=soon"}), 400, 1201, "face_ms")


def test_identify_sessions_are_new_per_call(emulator):
    first, second = (identify(emulator).json()["data"]["session_id"] for _ in range(2))
    assert first != second


# -- Envelope, HTTP mapping, unknown routes (items 55–57) --------------------------------------

SCENARIO_STATUS = {
    "auth_failed": (401, 1000), "account_exception": (429, 1100), "arrears": (429, 1101),
    "pack_depleted": (429, 1102), "no_permission": (403, 1103), "rate_limited": (429, 1302),
    "ip_whitelist": (429, 1304), "internal_error": (500, 5000), "service_unavailable": (503, 5001),
    "server_timeout": (504, 5002),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_STATUS))
def test_item_55_http_status_follows_the_table(emulator, scenario):
    status, code = SCENARIO_STATUS[scenario]
    assert_error(identify(emulator, headers={**bearer(), "X-Emulator-Scenario": scenario}), status, code)


def test_item_55_table_statuses_for_parameter_and_lookup_codes(emulator):
    assert_error(identify(emulator, {"video_url": "x.avi"}), 400, 1201)
    assert_error(requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync/1", headers=bearer(), timeout=10),
                 404, 1203)
    # with a valid token: auth comes before routing (updates K2), so without one this is a 401
    assert_error(requests.get(f"{emulator.url}/v1/unknown", headers=bearer(), timeout=10), 404, 1202)


def test_item_55_always_200_option(make_emulator):
    emu = make_emulator({"kling": {"error_http_status": "always_200"}})
    resp = identify(emu, headers={})
    assert resp.status_code == 200 and resp.json()["code"] == 1001
    resp = identify(emu, headers={**bearer(), "X-Emulator-Scenario": "internal_error"})
    assert resp.status_code == 200 and resp.json()["code"] == 5000


def test_item_56_internal_error_scenario(emulator):
    body = assert_error(identify(emulator, headers={**bearer(), "X-Emulator-Scenario": "internal_error"}), 500,
                        5000)
    assert body["message"] == "Server internal error"


def test_item_57_unknown_path_and_wrong_method_are_1202(emulator):
    assert_error(requests.get(f"{emulator.url}/v1/videos/text2lips", headers=bearer(), timeout=10), 404, 1202,
                 "/v1/videos/text2lips")
    assert_error(requests.delete(f"{emulator.url}/v1/videos/identify-face", headers=bearer(), timeout=10), 404,
                 1202)
    assert_error(requests.put(f"{emulator.url}/kling/v1/videos/advanced-lip-sync", headers=bearer(), timeout=10),
                 404, 1202)


def test_items_62_65_c37_c40_legacy_lip_sync_is_not_emulated(emulator):
    """The legacy ``/v1/videos/lip-sync`` is "if emulated" in the reference and outside this
    provider's scope (absent from the current official pages): it is an unknown path."""
    resp = requests.post(f"{emulator.url}/v1/videos/lip-sync", headers=bearer(), timeout=10,
                         json={"input": {"video_url": VIDEO, "mode": "audio2video", "audio_type": "url",
                                         "audio_url": "https://e.x/a.mp3"}})
    assert_error(resp, 404, 1202, "/v1/videos/lip-sync")


def test_malformed_or_non_object_body_is_1200(emulator):
    resp = requests.post(f"{emulator.url}{IDENTIFY}", data="{oops", timeout=10,
                         headers={**bearer(), "Content-Type": "application/json"})
    assert_error(resp, 400, 1200, "Malformed JSON")
    assert_error(identify(emulator, ["video_url"]), 400, 1200, "JSON object")
    resp = requests.post(f"{emulator.url}{IDENTIFY}", data="video_url=x", timeout=10,
                         headers={**bearer(), "Content-Type": "application/x-www-form-urlencoded"})
    assert_error(resp, 400, 1200, "Content-Type")
    assert_error(identify(emulator, {"video_url": 5}), 400, 1201, "video_url value '5' is invalid")


# -- Account and rate scenarios (items 36, 37, C33) -------------------------------------------

def test_item_36_c33_account_scenarios(emulator):
    for scenario, status, code in (("arrears", 429, 1101), ("pack_depleted", 429, 1102),
                                   ("no_permission", 403, 1103)):
        assert_error(identify(emulator, headers={**bearer(), "X-Emulator-Scenario": scenario}), status, code)


def test_item_37_no_rate_limit_unless_a_scenario_says_so(emulator):
    for _ in range(25):
        assert requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync", headers=bearer(),
                            timeout=10).status_code == 200
    emulator.control.scenario("kling", "rate_limited", count=1)
    assert_error(requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync", headers=bearer(), timeout=10), 429,
                 1302)
    assert requests.get(f"{emulator.url}/v1/videos/advanced-lip-sync", headers=bearer(), timeout=10).status_code == 200


# -- Scenarios and settings --------------------------------------------------------------------

def test_scenarios_are_declared_in_the_catalogue(emulator):
    catalog = requests.get(f"{emulator.url}/_emulator/scenarios", params={"provider": "kling"},
                           timeout=10).json()["catalog"]
    by_name = {s["name"]: s for s in catalog}
    kinds = {name: s["kind"] for name, s in by_name.items()}
    assert {"failed", "failed_risk_control", "failed_internal", "stuck", "slow"} == {
        n for n, k in kinds.items() if k == "outcome"}
    assert set(SCENARIO_STATUS) | {"no_face", "concurrency_limit", "content_rejected"} == {
        n for n, k in kinds.items() if k == "response"}
    # the webhook faults are the generic ones, applied to Kling's callbacks
    assert {"webhook_drop", "webhook_duplicate", "webhook_delay", "webhook_bad_signature"} <= {
        n for n, k in kinds.items() if k == "webhook"}
    for name, s in by_name.items():
        if s["kind"] in ("outcome", "response"):
            assert s["expect"], name  # the effect on the wire, for the catalogue tooling
    assert by_name["concurrency_limit"]["expect"]["body"]["message"] == "parallel task over resource pack limit"


def test_probes_reach_every_operation(emulator):
    """The probes the catalogue tooling uses make valid requests on both surfaces, the create
    probe with the fixture session (no identify-face call needed)."""
    from lipsync_emulator.core.scenarios import ProbeContext

    catalog, cfg = emulator.runtime.catalog, emulator.runtime.cfg("kling")
    submit = catalog.probe("kling")
    assert submit.operation == "createAdvancedLipSync" and submit.poll == "getAdvancedLipSync"
    ops = ("identifyFace", "identifyFaceLegacyPath", "createAdvancedLipSync", "getAdvancedLipSync",
           "listAdvancedLipSync", "relayIdentifyFace", "relayCreateAdvancedLipSync", "relayGetAdvancedLipSync",
           "relayListAdvancedLipSync")
    job_ids: dict[str, str] = {}
    for op in ops:
        probe = catalog.probe("kling", op)
        surface = "relay" if op.startswith("relay") else "official"
        kwargs = probe.build(ProbeContext(cfg=cfg, job_id=job_ids.get(surface)))
        method, path = kwargs.pop("method"), kwargs.pop("path")
        resp = requests.request(method, f"{emulator.url}{path}", timeout=10, **kwargs)
        assert resp.status_code == 200 and resp.json()["code"] == 0, (op, resp.text)
        if probe.job_id is not None:
            job_ids[surface] = probe.job_id(resp.json())


def test_the_public_config_names_the_access_key_and_masks_the_secret_and_api_keys(emulator):
    config = emulator.control.config()["kling"]
    assert config["access_key"] == AK and config["secret_key"] == "<redacted ..." + SK[-4:] + ">"
    assert config["api_keys"] == ["<redacted ..." + API_KEY[-4:] + ">"]
    assert SK not in str(config) and API_KEY not in str(config)
