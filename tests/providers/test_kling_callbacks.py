"""Kling behaviour checklist (shared/reference/kling.md §12), part 3: the task lifecycle (items
39–42), callbacks and their Standard Webhooks signature (items 48–54, with the official test
vector), the documented flow end to end on the official and the relay paths, the outcome and
webhook scenarios, and responses conforming to schemas/kling.yaml.

Signatures are verified here independently of the emulator's code, the way the docs tell a
receiver to: base64(HMAC-SHA256(base64decode(secret minus "whsec_"), "{id}.{timestamp}.{body}")).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from lipsync_emulator import schemas
from lipsync_emulator.providers.kling.models import sign
from lipsync_emulator.testing import EmulatorServer
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

AK, SK = "kling_emulator_access_key", "kling_emulator_secret_key_change_me"
SECRET = "whsec_" + base64.b64encode(b"kling-emulator-webhook-secret-32").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"an-older-webhook-secret-32-bytes").decode()
VIDEO = "https://e.x/v.mp4"
CREATE = "/v1/videos/advanced-lip-sync"
RELAY = {"Authorization": "Bearer sk-relay-user"}
# no final_balance_deduction: the English callback page's payload (updates K4)
CALLBACK_KEYS = {"task_id", "task_status", "task_status_msg", "created_at", "updated_at", "final_unit_deduction",
                 "task_info", "task_result"}

# [doc: S5] the official test vector
VECTOR_SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
VECTOR_ID, VECTOR_TS = "9876543210", "1781080794"
VECTOR_BODY = (b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
               b'"update_time":1781080794151}')
VECTOR_SIGNATURE = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="


def bearer() -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": "Bearer " + jwt.encode({"iss": AK, "exp": now + 1800, "nbf": now - 5}, SK,
                                                     algorithm="HS256")}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check (what the ``standardwebhooks`` library does)."""
    h = lower(headers)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in h["webhook-signature"].split(" "))


def start(emu: Any, prefix: str = "", headers: dict[str, str] | None = None, video_url: str = VIDEO,
          scenario: str | None = None, **extra: Any) -> str:
    """identify-face, then advanced-lip-sync with the first face it found; the task id."""
    headers = headers or bearer()
    data = requests.post(f"{emu.url}{prefix}/v1/videos/identify-face", json={"video_url": video_url},
                         headers=headers, timeout=10).json()["data"]
    face = data["face_data"][0]
    item = {"face_id": face["face_id"], "sound_file": "https://e.x/a.wav", "sound_start_time": 0,
            "sound_end_time": 3000, "sound_insert_time": face["start_time"], "sound_volume": 1,
            "original_audio_volume": 1}
    more = {"X-Emulator-Scenario": scenario} if scenario else {}
    resp = requests.post(f"{emu.url}{prefix}{CREATE}", json={"session_id": data["session_id"],
                                                             "face_choose": [item], **extra},
                         headers={**headers, **more}, timeout=10)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["data"]["task_id"])


def get(emu: Any, task_id: str, prefix: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = requests.get(f"{emu.url}{prefix}{CREATE}/{task_id}", headers=headers or bearer(), timeout=10)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["data"])


@pytest.fixture(scope="module")
def _signed_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer({"kling": {"webhook_secret": SECRET}}).start()
    yield server
    server.stop()


@pytest.fixture
def signed(_signed_server: EmulatorServer) -> EmulatorServer:
    """An emulator with a Kling webhook secret configured, reset for the test."""
    _signed_server.reset()
    return _signed_server


# -- lifecycle (items 39–42) -------------------------------------------------------------------

def test_item_39_status_progresses_with_the_clock(emulator):
    task_id = start(emulator)
    first = get(emulator, task_id)
    assert first["task_status"] == "submitted"
    emulator.advance(5)
    second = get(emulator, task_id)
    assert second["task_status"] == "processing"
    assert second["updated_at"] == first["created_at"] + 5000 and second["created_at"] == first["created_at"]
    emulator.advance(30)
    third = get(emulator, task_id)
    assert third["task_status"] == "succeed"
    assert third["updated_at"] == first["created_at"] + 35000


def test_item_40_succeed_has_one_playable_video(emulator):
    task_id = start(emulator, video_url=f"{VIDEO}?duration=12")
    emulator.advance(60)
    data = get(emulator, task_id)
    assert data["task_status_msg"] == ""
    [video] = data["task_result"]["videos"]
    assert set(video) == {"id", "url", "watermark_url", "duration"}
    assert video["id"].isdigit() and video["duration"] == "12" and video["watermark_url"] == ""
    mp4 = requests.get(video["url"], timeout=10)
    assert mp4.status_code == 200 and mp4.headers["Content-Type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp"
    part = requests.get(video["url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 100
    assert data["final_unit_deduction"] == "3"  # 12 s: three started 5 s units (inferred pricing)
    assert data["final_balance_deduction"] == {"quota": "3", "list_price": "3"}


def test_item_41_failed_scenario(emulator):
    task_id = start(emulator, scenario="failed")
    emulator.advance(60)
    data = get(emulator, task_id)
    assert data["task_status"] == "failed"
    assert data["task_status_msg"] == "The model did not detect a human"
    assert data["task_result"] == {"videos": []}
    assert data["final_unit_deduction"] == "0"


def test_item_41_other_failure_outcomes_and_magic_token(emulator):
    risk = start(emulator, scenario="failed_risk_control")
    # a magic token in the identify-face video URL applies to the tasks of that session
    magic = start(emulator, video_url=f"{VIDEO}?emulator_scenario=failed_internal")
    emulator.advance(60)
    assert get(emulator, risk)["task_status_msg"] == "Failure to pass the risk control system"
    assert get(emulator, magic)["task_status"] == "failed"
    assert get(emulator, magic)["task_status_msg"]
    [entry] = emulator.control.requests(job_id=magic, operation="createAdvancedLipSync")
    assert entry["scenario"] == ["failed_internal"] and entry["scenario_source"] == {"failed_internal": "session"}


def test_stuck_and_slow_outcomes(emulator):
    stuck, slow = start(emulator, scenario="stuck"), start(emulator, scenario="slow")
    emulator.advance(300)
    assert get(emulator, stuck)["task_status"] == "processing"
    assert get(emulator, slow)["task_status"] == "processing"
    emulator.advance(100)
    assert get(emulator, slow)["task_status"] == "succeed"
    emulator.control.finish("kling", stuck)
    assert get(emulator, stuck)["task_status"] == "succeed"


def test_item_42_status_is_spelled_succeed(emulator, webhook_receiver):
    task_id = start(emulator, callback_url=webhook_receiver.url)
    emulator.advance(60)
    raw = requests.get(f"{emulator.url}{CREATE}/{task_id}", headers=bearer(), timeout=10).text
    assert '"task_status":"succeed"' in raw and "succeeded" not in raw
    received = webhook_receiver.wait_for(3)
    assert [r.json()["task_status"] for r in received] == ["submitted", "processing", "succeed"]
    assert all(b"succeeded" not in r.body for r in received)


# -- callbacks (items 48–54) -------------------------------------------------------------------

def test_item_48_one_callback_per_status_change(emulator, webhook_receiver):
    task_id = start(emulator, callback_url=webhook_receiver.url)
    emulator.advance(0)
    assert [r.json()["task_status"] for r in webhook_receiver.wait_for(1)] == ["submitted"]
    emulator.advance(5)
    assert [r.json()["task_status"] for r in webhook_receiver.wait_for(2)] == ["submitted", "processing"]
    emulator.advance(30)
    received = webhook_receiver.wait_for(3)
    assert [r.json()["task_status"] for r in received] == ["submitted", "processing", "succeed"]
    assert {r.json()["task_id"] for r in received} == {task_id}
    emulator.advance(3600)
    assert len(webhook_receiver.received) == 3


def test_item_48_failure_also_calls_back(emulator, webhook_receiver):
    start(emulator, scenario="failed", callback_url=webhook_receiver.url)
    emulator.advance(60)
    last = webhook_receiver.wait_for(3)[-1].json()
    assert last["task_status"] == "failed" and last["task_status_msg"] == "The model did not detect a human"


def test_item_49_callback_payload_is_the_flat_legacy_shape(emulator, webhook_receiver):
    task_id = start(emulator, callback_url=webhook_receiver.url, external_task_id="order-49",
                    video_url=f"{VIDEO}?duration=8")
    emulator.advance(60)
    received = webhook_receiver.wait_for(3)
    assert all(r.method == "POST" for r in received)
    assert all(lower(r.headers)["content-type"] == "application/json; charset=utf-8" for r in received)
    final = received[-1].json()
    assert set(final) == CALLBACK_KEYS  # flat: no code/message/data wrapper
    assert final["task_id"] == task_id
    assert final["task_info"]["external_task_id"] == "order-49"
    assert final["task_info"]["parent_video"]["duration"] == "8"
    [video] = final["task_result"]["videos"]
    assert set(video) == {"id", "url", "duration"} and video["duration"] == "8"
    assert final["final_unit_deduction"] == "2" and "final_balance_deduction" not in final
    assert final["updated_at"] == get(emulator, task_id)["updated_at"]


def test_item_50_signature_headers_with_a_secret(signed, webhook_receiver):
    start(signed, callback_url=webhook_receiver.url)
    signed.advance(60)
    received = webhook_receiver.wait_for(3)
    ids = set()
    for r in received:
        h = lower(r.headers)
        assert h["webhook-signature"].startswith("v1,") and " " not in h["webhook-signature"]
        assert h["webhook-timestamp"].isdigit()
        assert abs(int(h["webhook-timestamp"]) - signed.control.now()) < 120
        assert verify(SECRET, r.headers, r.body)
        assert not verify(OLD_SECRET, r.headers, r.body)
        ids.add(h["webhook-id"])
    assert len(ids) == 3  # unique per callback
    tampered = received[0].body.replace(b"submitted", b"succeed")
    assert not verify(SECRET, received[0].headers, tampered)


def test_item_51_official_signature_test_vector():
    """[doc: S5] the documented vector, with the emulator's signer and with a receiver's check."""
    assert sign(VECTOR_SECRET, VECTOR_ID, int(VECTOR_TS), VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": VECTOR_TS, "webhook-signature": VECTOR_SIGNATURE}
    assert verify(VECTOR_SECRET, headers, VECTOR_BODY)


def test_item_52_no_secret_no_signature_headers(emulator, webhook_receiver):
    start(emulator, callback_url=webhook_receiver.url)
    emulator.advance(60)
    for r in webhook_receiver.wait_for(3):
        assert not {"webhook-id", "webhook-timestamp", "webhook-signature"} & set(lower(r.headers))


def test_item_53_rotation_signs_with_both_secrets_for_7_days(make_emulator, webhook_receiver):
    emu = make_emulator({"kling": {"webhook_secret": SECRET, "webhook_previous_secret": OLD_SECRET}})
    start(emu, callback_url=webhook_receiver.url)
    emu.advance(0)
    first = webhook_receiver.wait_for(1)[0]
    signatures = lower(first.headers)["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verify(SECRET, first.headers, first.body) and verify(OLD_SECRET, first.headers, first.body)
    emu.advance(7 * 86400)
    webhook_receiver.clear()
    start(emu, callback_url=webhook_receiver.url)
    emu.advance(0)
    late = webhook_receiver.wait_for(1)[0]
    assert " " not in lower(late.headers)["webhook-signature"]
    assert verify(SECRET, late.headers, late.body) and not verify(OLD_SECRET, late.headers, late.body)


def test_item_54_no_redelivery_by_default(emulator, webhook_receiver):
    webhook_receiver.respond_with(500)
    task_id = start(emulator, callback_url=webhook_receiver.url)
    emulator.advance(3)
    deliveries = emulator.control.webhooks(provider="kling", job_id=task_id)
    assert [(d["status"], len(d["attempts"])) for d in deliveries] == [("failed", 1)]
    assert deliveries[0]["attempts"][0]["status_code"] == 500


def test_item_54_retries_when_configured(make_emulator, webhook_receiver):
    emu = make_emulator({"kling": {"webhook_retry": {"max_attempts": 3, "backoff": 10, "factor": 2},
                                   "callback_states": ["succeed", "failed"]}})
    webhook_receiver.respond_with(500, 503, 200)
    task_id = start(emu, callback_url=webhook_receiver.url)
    emu.advance(35)
    assert len(webhook_receiver.wait_for(1)) == 1
    emu.advance(10)
    emu.advance(20)
    received = webhook_receiver.wait_for(3)
    assert [r.status for r in received] == [500, 503, 200]
    assert len({lower(r.headers).get("webhook-id") for r in received}) == 1  # no secret: no id header at all
    [delivery] = emu.control.webhooks(provider="kling", job_id=task_id)
    assert delivery["status"] == "delivered" and len(delivery["attempts"]) == 3


def test_callbacks_only_to_loopback_and_only_when_asked(emulator, webhook_receiver):
    start(emulator)  # no callback_url
    external = start(emulator, callback_url="https://hooks.example.com/kling")
    emulator.advance(60)
    assert webhook_receiver.received == []
    assert {d["status"] for d in emulator.control.webhooks(job_id=external)} == {"skipped"}


# -- webhook scenarios -------------------------------------------------------------------------

def test_webhook_scenarios(signed, webhook_receiver):
    """The generic webhook faults apply to Kling's callbacks (chosen at create)."""
    dropped = start(signed, callback_url=webhook_receiver.url, scenario="webhook_drop")
    signed.advance(60)
    assert webhook_receiver.received == []
    assert {d["status"] for d in signed.control.webhooks(job_id=dropped)} == {"skipped"}
    start(signed, callback_url=webhook_receiver.url, scenario="webhook_bad_signature")
    signed.advance(60)
    assert [verify(SECRET, r.headers, r.body) for r in webhook_receiver.wait_for(3)] == [False] * 3
    webhook_receiver.clear()
    start(signed, callback_url=webhook_receiver.url, scenario="webhook_duplicate")
    signed.advance(0)
    copies = webhook_receiver.wait_for(2)
    assert [r.json()["task_status"] for r in copies] == ["submitted", "submitted"]
    assert copies[0].body == copies[1].body
    assert lower(copies[0].headers)["webhook-id"] == lower(copies[1].headers)["webhook-id"]  # one message
    assert all(verify(SECRET, r.headers, r.body) for r in copies)
    signed.advance(60)
    assert len(webhook_receiver.wait_for(6)) == 6
    webhook_receiver.clear()
    start(signed, callback_url=webhook_receiver.url, scenario="webhook_delay,stuck")
    signed.advance(299)
    assert webhook_receiver.received == []
    signed.advance(1)
    assert webhook_receiver.wait_for(1)[0].json()["task_status"] == "submitted"


# -- the documented flow, end to end ---------------------------------------------------------------

@pytest.mark.parametrize(("prefix", "headers"), [("", None), ("/kling", RELAY)], ids=["official", "relay"])
def test_flow_identify_create_poll_and_verified_callbacks(signed, webhook_receiver, prefix, headers):
    """identify-face -> advanced-lip-sync with a face from it -> poll to succeed -> callbacks
    received and verified, over HTTP, on the official and the relay paths."""
    headers = headers or bearer()
    found = requests.post(f"{signed.url}{prefix}/v1/videos/identify-face",
                          json={"video_url": f"{VIDEO}?faces=2&duration=9", "video_id": ""}, headers=headers,
                          timeout=10)
    assert found.status_code == 200 and found.json()["code"] == 0
    data = found.json()["data"]
    face = data["face_data"][1]
    body = {"session_id": data["session_id"], "external_task_id": f"flow{prefix.replace('/', '-')}",
            "callback_url": webhook_receiver.url,
            "face_choose": [{"face_id": face["face_id"], "audio_id": "", "sound_file": "https://e.x/hello.mp3",
                             "sound_start_time": 0, "sound_end_time": 4000,
                             "sound_insert_time": face["start_time"] + 1000, "sound_volume": 1,
                             "original_audio_volume": 1}]}
    created = requests.post(f"{signed.url}{prefix}{CREATE}", json=body, headers=headers, timeout=10)
    assert created.status_code == 200 and created.json()["data"]["task_status"] == "submitted"
    task_id = created.json()["data"]["task_id"]
    statuses = []
    for _ in range(20):
        task = requests.get(f"{signed.url}{prefix}{CREATE}/{task_id}", headers=headers, timeout=10).json()["data"]
        statuses.append(task["task_status"])
        if task["task_status"] in ("succeed", "failed"):
            break
        signed.advance(5)
    assert statuses[0] == "submitted" and "processing" in statuses and statuses[-1] == "succeed"
    video = task["task_result"]["videos"][0]
    assert requests.get(video["url"], timeout=10).content[4:8] == b"ftyp"
    received = webhook_receiver.wait_for(3)
    assert [r.json()["task_status"] for r in received] == ["submitted", "processing", "succeed"]
    for r in received:
        assert verify(SECRET, r.headers, r.body)
    final = received[-1].json()
    assert final["task_id"] == task_id and final["task_result"]["videos"][0]["url"] == video["url"]
    assert final["task_info"]["external_task_id"] == body["external_task_id"]


# -- responses conform to the schema ----------------------------------------------------------

def test_responses_conform_to_the_schema(emulator):
    spec = schemas.load("kling")
    spec["servers"] = [{"url": emulator.url}]
    openapi = OpenAPI.from_dict(spec)

    def check(resp: requests.Response) -> dict[str, Any]:
        openapi.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))
        return dict(resp.json())

    sid = check(requests.post(f"{emulator.url}/v1/videos/identify-face", json={"video_url": VIDEO},
                              headers=bearer(), timeout=10))["data"]["session_id"]
    item = {"face_id": "0", "sound_file": "https://e.x/a.mp3", "sound_start_time": 0, "sound_end_time": 3000,
            "sound_insert_time": 0}
    task_id = check(requests.post(f"{emulator.url}{CREATE}", json={"session_id": sid, "face_choose": [item]},
                                  headers=bearer(), timeout=10))["data"]["task_id"]
    emulator.advance(60)
    check(requests.get(f"{emulator.url}{CREATE}/{task_id}", headers=bearer(), timeout=10))
    check(requests.get(f"{emulator.url}{CREATE}", headers=bearer(), timeout=10))
    check(requests.get(f"{emulator.url}{CREATE}/nope", headers=bearer(), timeout=10))
    check(requests.post(f"{emulator.url}{CREATE}", json={}, headers=bearer(), timeout=10))
    error = check(requests.post(f"{emulator.url}/kling/v1/videos/identify-face", json={}, timeout=10))
    assert json.dumps(error)  # the 401 envelope validates too
