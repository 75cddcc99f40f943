"""sync.so cancel (legacy ``POST /v2/generate/{id}/cancel``, reference §3.12) and delete of
terminal generations (reference §3.12; checklist item 53), over raw HTTP (not in syncsdk 0.3.0)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sync import Sync

KEY = {"x-api-key": "sk-test"}
VALID = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                         {"type": "audio", "url": "https://e.x/a.wav"}]}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def create(emu: Any, body: Any = None) -> str:
    resp = requests.post(f"{emu.url}/v2/generate", json=VALID if body is None else body, headers=KEY, timeout=10)
    assert resp.status_code == 201
    return str(resp.json()["id"])


def cancel(emu: Any, gen_id: str) -> requests.Response:
    return requests.post(f"{emu.url}/v2/generate/{gen_id}/cancel", headers=KEY, timeout=10)


def delete(emu: Any, gen_id: str, path: str = "generate") -> requests.Response:
    return requests.delete(f"{emu.url}/v2/{path}/{gen_id}", headers=KEY, timeout=10)


def status(emu: Any, gen_id: str) -> requests.Response:
    return requests.get(f"{emu.url}/v2/generate/{gen_id}", headers=KEY, timeout=10)


# -- cancel ----------------------------------------------------------------------------------------

def test_cancel_pending_generation_is_200_canceled_and_final(emulator, webhook_receiver):
    gen_id = create(emulator, {**VALID, "webhookUrl": webhook_receiver.url})
    resp = cancel(emulator, gen_id)
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"] == gen_id and body["status"] == "CANCELED" and body["outputUrl"] is None
    emulator.advance(60)
    assert status(emulator, gen_id).json()["status"] == "CANCELED"
    assert emulator.control.webhooks(job_id=gen_id) == [], "no webhook for CANCELED (inferred)"
    listed = requests.get(f"{emulator.url}/v2/generations?status=CANCELED", headers=KEY, timeout=10).json()
    assert [g["id"] for g in listed] == [gen_id]
    assert Sync(api_key="sk-test", base_url=emulator.url).generations.get(gen_id).status == "CANCELED"


@pytest.mark.parametrize("advance", [5, 30])
def test_cancel_processing_or_finished_generation_is_400(emulator, advance):
    gen_id = create(emulator)
    emulator.advance(advance)
    resp = cancel(emulator, gen_id)
    assert resp.status_code == 400
    body = resp.json()
    assert body["statusCode"] == 400 and body["message"].startswith("Invalid job ID or job not cancelable")


def test_cancel_unknown_or_malformed_id(emulator):
    assert cancel(emulator, UNKNOWN).status_code == 404
    bad = cancel(emulator, "not-a-uuid")
    assert bad.status_code == 400 and bad.json()["errorCode"] == "invalid_generation_id"


def test_cancelable_states_are_configurable(make_emulator):
    emu = make_emulator({"syncso": {"cancelable_states": ["PENDING", "PROCESSING"]}})
    gen_id = create(emu)
    emu.advance(5)
    assert cancel(emu, gen_id).json()["status"] == "CANCELED"


def test_cancel_frees_the_concurrency_slot(make_emulator):
    emu = make_emulator({"syncso": {"plan": "free"}})
    gen_id = create(emu)
    assert requests.post(f"{emu.url}/v2/generate", json=VALID, headers=KEY, timeout=10).status_code == 429
    assert cancel(emu, gen_id).status_code == 200
    assert requests.post(f"{emu.url}/v2/generate", json=VALID, headers=KEY, timeout=10).status_code == 201


# -- delete ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("advance,state", [(0, "PENDING"), (5, "PROCESSING")])
def test_item_53_delete_while_processing_is_409(emulator, advance, state):
    gen_id = create(emulator)
    emulator.advance(advance)
    for path in ("generate", "generations"):
        resp = delete(emulator, gen_id, path)
        assert resp.status_code == 409
        body = resp.json()
        assert body["statusCode"] == 409 and body["errorCode"] == "generation_not_deletable_while_processing"
        assert state in body["message"]
    assert status(emulator, gen_id).status_code == 200


@pytest.mark.parametrize("path", ["generate", "generations"])
def test_item_53_delete_terminal_generation(emulator, path):
    done = create(emulator)
    failed = create(emulator, {**VALID, "input": [{"type": "video", "url": "https://e.x/v.mp4?emulator_scenario=failed"},
                                                  VALID["input"][1]]})
    emulator.advance(30)
    for gen_id, final in ((done, "COMPLETED"), (failed, "FAILED")):
        resp = delete(emulator, gen_id, path)
        assert resp.status_code == 200 and resp.json()["id"] == gen_id and resp.json()["status"] == final
        assert status(emulator, gen_id).status_code == 404
        assert delete(emulator, gen_id, path).status_code == 404
    assert requests.get(f"{emulator.url}/v2/generations", headers=KEY, timeout=10).json() == []


def test_item_53_delete_canceled_generation_and_other_keys(emulator):
    gen_id = create(emulator)
    cancel(emulator, gen_id)
    other = requests.delete(f"{emulator.url}/v2/generate/{gen_id}", headers={"x-api-key": "sk-other"}, timeout=10)
    assert other.status_code == 404
    assert delete(emulator, gen_id).status_code == 200
    assert delete(emulator, "not-a-uuid").json()["errorCode"] == "invalid_generation_id"
