"""Kling as the 2026 reference updates describe it (shared/reference/updates-2026-12.md, K1-K4),
over HTTP: ``GET /account/costs``, authentication before routing, the live create response's
shape, and the English callback page's payload."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import jwt
import pytest
import requests

AK, SK = "kling_emulator_access_key", "kling_emulator_secret_key_change_me"
VIDEO = "https://e.x/v.mp4?duration=6"
COSTS = "/account/costs"
PACK_KEYS = ["resource_pack_name", "resource_pack_id", "resource_pack_type", "total_quantity", "remaining_quantity",
             "purchase_time", "effective_time", "invalid_time", "status"]


def bearer(secret: str = SK, exp: int = 1800) -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": "Bearer " + jwt.encode({"iss": AK, "exp": now + exp, "nbf": now - 5}, secret,
                                                     algorithm="HS256")}


def get(emu: Any, path: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.get(f"{emu.url}{path}", headers=bearer() if headers is None else headers, timeout=10)


def window(emu: Any) -> str:
    now = int(emu.control.now() * 1000)
    return f"?start_time={now - 86_400_000}&end_time={now}"


def create_task(emu: Any, **extra: Any) -> dict[str, Any]:
    face_data = requests.post(f"{emu.url}/v1/videos/identify-face", json={"video_url": VIDEO}, headers=bearer(),
                              timeout=10).json()["data"]
    face = face_data["face_data"][0]
    item = {"face_id": face["face_id"], "sound_file": "https://e.x/a.wav", "sound_start_time": 0,
            "sound_end_time": 3000, "sound_insert_time": face["start_time"], "sound_volume": 1,
            "original_audio_volume": 1}
    resp = requests.post(f"{emu.url}/v1/videos/advanced-lip-sync", headers=bearer(), timeout=10,
                         json={"session_id": face_data["session_id"], "face_choose": [item], **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- K1 ----------------------------------------------------------------------------------------

def test_k1_account_costs_lists_the_resource_packs(emulator):
    now = int(emulator.control.now() * 1000)
    resp = get(emulator, COSTS + window(emulator))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert list(body) == ["code", "message", "request_id", "data"]
    assert (body["code"], body["message"]) == (0, "SUCCEED") and uuid.UUID(body["request_id"])
    assert (body["data"]["code"], body["data"]["msg"]) == (0, "success")
    [pack] = body["data"]["resource_pack_subscribe_infos"]
    assert list(pack) == PACK_KEYS
    assert pack == {"resource_pack_name": "Emulator lip-sync pack", "resource_pack_id": "emulator-pack-1",
                    "resource_pack_type": "decreasing_total", "total_quantity": 1000.0, "remaining_quantity": 1000.0,
                    "purchase_time": now, "effective_time": now, "invalid_time": now + 365 * 86_400_000,
                    "status": "online"}


def test_k1_remaining_quantity_follows_the_tasks_and_filters_apply(emulator):
    create_task(emulator)
    emulator.advance(40)
    [pack] = get(emulator, COSTS + window(emulator)).json()["data"]["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == 998.0  # 6 s of output: two started 5 s units
    emulator.advance(1)
    named = get(emulator, COSTS + window(emulator) + "&resource_pack_name=Other pack").json()
    assert named["data"]["resource_pack_subscribe_infos"] == []
    emulator.advance(1)
    before = get(emulator, f"{COSTS}?start_time=0&end_time=1000").json()
    assert before["data"]["resource_pack_subscribe_infos"] == []


def test_k1_query_rules_qps_and_auth(emulator):
    missing = get(emulator, f"{COSTS}?start_time=0")
    assert missing.status_code == 400 and missing.json()["code"] == 1201
    assert missing.json()["message"] == "end_time can not be null"
    assert get(emulator, COSTS + window(emulator)).status_code == 200
    second = get(emulator, COSTS + window(emulator))  # the same virtual second: QPS <= 1
    assert second.status_code == 429
    assert second.json()["code"] == 1302
    assert second.json()["message"] == "The API request is too fast, exceeding the platform's rate limit"
    emulator.advance(1)
    assert get(emulator, COSTS + window(emulator)).status_code == 200
    bad = get(emulator, COSTS + window(emulator), headers=bearer(secret="not-the-secret-key-of-this-account-at-all"))
    assert bad.status_code == 401 and bad.json()["code"] == 1002


@pytest.mark.emulator_config({"kling": {"account_costs_qps": None, "resource_packs": [
    {"resource_pack_name": "Old", "resource_pack_id": "p0", "resource_pack_type": "constant_period",
     "total_quantity": 5, "purchase_time": 1000, "effective_time": 1000, "invalid_time": 2000},
    {"resource_pack_name": "Later", "resource_pack_id": "p2", "resource_pack_type": "decreasing_total",
     "total_quantity": 5, "purchase_time": 1000, "effective_time": 4102444800000, "invalid_time": 4133980800000}]}})
def test_k1_pack_status_from_its_times(emulator):
    packs = get(emulator, f"{COSTS}?start_time=0&end_time=4200000000000").json()["data"]["resource_pack_subscribe_infos"]
    assert [(p["resource_pack_id"], p["status"]) for p in packs] == [("p0", "expired"), ("p2", "toBeOnline")]


# -- K2 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/images/generations", "/v1/videos/text2video/123", "/v1/account/unknown",
                                  "/account/balance"])
def test_k2_a_bad_token_on_an_unimplemented_path_is_a_401(emulator, path):
    for headers, code in (({}, 1001), ({"Authorization": "Bearer not.a.jwt"}, 1002), (bearer(exp=-60), 1004)):
        resp = get(emulator, path, headers=headers)
        assert resp.status_code == 401, (path, headers, resp.text)
        assert resp.json()["code"] == code and set(resp.json()) == {"code", "message", "request_id"}
    good = get(emulator, path)
    assert good.status_code == 404 and good.json()["code"] == 1202
    wrong_method = requests.delete(f"{emulator.url}/v1/videos/advanced-lip-sync", timeout=10)
    assert wrong_method.status_code == 401 and wrong_method.json()["code"] == 1001


def test_k2_relay_paths_check_their_key_first_too(make_emulator):
    emu = make_emulator({"kling": {"relay_keys": ["sk-relay"]}})
    for headers, code in (({}, 1001), ({"Authorization": "Bearer sk-other"}, 1002)):
        resp = get(emu, "/kling/v1/videos/unknown", headers=headers)
        assert resp.status_code == 401 and resp.json()["code"] == code
    assert get(emu, "/kling/v1/videos/unknown", headers={"Authorization": "Bearer sk-relay"}).status_code == 404


def test_k2_other_providers_paths_are_untouched(emulator):
    assert requests.get(f"{emulator.url}/v2/unknown", timeout=10).status_code == 404


# -- K3 ----------------------------------------------------------------------------------------

def test_k3_create_response_is_the_live_shape(emulator):
    body = create_task(emulator)
    assert body["message"] == "SUCCEED" and body["code"] == 0
    assert str(uuid.UUID(body["request_id"])) == body["request_id"]
    assert re.fullmatch(r"[1-9]\d{17}", body["data"]["task_id"])


# -- K4 ----------------------------------------------------------------------------------------

def test_k4_callback_has_final_unit_deduction_and_no_balance_deduction(emulator, webhook_receiver):
    task_id = create_task(emulator, callback_url=webhook_receiver.url)["data"]["task_id"]
    emulator.advance(40)
    hooks = [h.json() for h in webhook_receiver.wait_for(3)]
    assert [h["task_status"] for h in hooks] == ["submitted", "processing", "succeed"]
    assert all(h["task_id"] == task_id and "final_balance_deduction" not in h for h in hooks)
    assert hooks[-1]["final_unit_deduction"] == "2"
    # the query answer keeps both fields [doc: S2]
    task = get(emulator, f"/v1/videos/advanced-lip-sync/{task_id}").json()["data"]
    assert task["final_balance_deduction"] == {"quota": "2", "list_price": "2"}


@pytest.mark.emulator_config({"kling": {"callback_balance_deduction": True}})
def test_k4_the_chinese_pages_field_is_configurable(emulator, webhook_receiver):
    create_task(emulator, callback_url=webhook_receiver.url)
    emulator.advance(40)
    final = webhook_receiver.wait_for(3)[-1].json()
    assert final["final_balance_deduction"] == {"quota": "2", "list_price": "2"}
