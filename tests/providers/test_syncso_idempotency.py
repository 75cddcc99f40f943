"""sync.so ``Idempotency-Key`` on ``POST /v2/generate`` (reference §3.12; checklist item 25), over
raw HTTP: syncsdk 0.3.0 predates the header."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest
import requests

KEY = {"x-api-key": "sk-test"}
VALID = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                         {"type": "audio", "url": "https://e.x/a.wav"}]}


def create(emu: Any, idem: str | None, body: Any = None, key: str = "sk-test") -> requests.Response:
    headers = {"x-api-key": key} | ({"Idempotency-Key": idem} if idem is not None else {})
    return requests.post(f"{emu.url}/v2/generate", json=VALID if body is None else body, headers=headers, timeout=10)


def count(emu: Any, key: str = "sk-test") -> int:
    return len(requests.get(f"{emu.url}/v2/generations", headers={"x-api-key": key}, timeout=10).json())


@pytest.mark.parametrize("idem", ["", "x" * 129, "has space", "semi;colon", "slash/", "comma,key", "quote\"",
                                  "plus+"])
def test_item_25_malformed_key_is_400_invalid_idempotency_key(emulator, idem):
    resp = create(emulator, idem)
    assert resp.status_code == 400
    body = resp.json()
    assert body["statusCode"] == 400 and body["errorCode"] == "INVALID_IDEMPOTENCY_KEY"
    assert body["message"].startswith("Idempotency-Key")
    assert count(emulator) == 0


def test_item_25_duplicate_header_is_400(emulator):
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    body = json.dumps(VALID).encode()
    conn.putrequest("POST", "/v2/generate")
    for name, value in (("x-api-key", "sk-test"), ("Content-Type", "application/json"),
                        ("Idempotency-Key", "same"), ("Idempotency-Key", "same"),
                        ("Content-Length", str(len(body)))):
        conn.putheader(name, value)
    conn.endheaders(body)
    resp = conn.getresponse()
    assert resp.status == 400
    assert json.loads(resp.read())["errorCode"] == "INVALID_IDEMPOTENCY_KEY"


@pytest.mark.parametrize("idem", ["a", "x" * 128, "AZaz09._~-", "d9bc7a6e-73cd-4d9a-8a2b-2e6019846044"])
def test_item_25_well_formed_keys_are_accepted(emulator, idem):
    assert create(emulator, idem).status_code == 201


def test_item_25_same_key_same_payload_replays_the_generation(emulator, webhook_receiver):
    body = {**VALID, "webhookUrl": webhook_receiver.url}
    first = create(emulator, "retry-1", body)
    again = create(emulator, "retry-1", json.loads(json.dumps(body)))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count(emulator) == 1
    emulator.advance(30)
    later = create(emulator, "retry-1", body)
    assert later.json()["id"] == first.json()["id"] and later.json()["status"] == "COMPLETED"
    assert len(webhook_receiver.wait_for(1)) == 1, "a replay does no new work"
    assert count(emulator) == 1


def test_item_25_key_order_and_null_fields_do_not_make_a_different_payload(emulator):
    first = create(emulator, "k1", {"input": VALID["input"], "model": "lipsync-2"})
    again = create(emulator, "k1", {**VALID, "segments": None, "webhookUrl": None})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_item_25_same_key_other_payload_is_409_conflict(emulator):
    first = create(emulator, "retry-2")
    clash = create(emulator, "retry-2", {**VALID, "model": "lipsync-2-pro"})
    assert clash.status_code == 409
    body = clash.json()
    assert body["statusCode"] == 409 and body["errorCode"] == "IDEMPOTENCY_KEY_CONFLICT"
    assert body["generationId"] == first.json()["id"] and "different request payload" in body["message"]
    assert count(emulator) == 1


def test_item_25_keys_are_case_sensitive_and_per_api_key(emulator):
    a = create(emulator, "Key").json()["id"]
    b = create(emulator, "key").json()["id"]
    c = create(emulator, "Key", key="sk-other").json()["id"]
    assert len({a, b, c}) == 3


def test_item_25_rejected_request_does_not_consume_the_key(emulator):
    assert create(emulator, "k2", {**VALID, "model": "bogus-model"}).status_code == 400
    first = create(emulator, "k2")
    assert first.status_code == 201
    assert create(emulator, "k2").json()["id"] == first.json()["id"]


def test_item_25_concurrent_copies_create_one_generation(emulator):
    barrier = threading.Barrier(6)
    ids: list[str] = []

    def send() -> None:
        barrier.wait(timeout=5)
        ids.append(create(emulator, "burst").json()["id"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(ids) == 6 and len(set(ids)) == 1
    assert count(emulator) == 1


def test_item_25_multipart_replay_compares_file_contents(emulator):
    def send(video: bytes) -> requests.Response:
        return requests.post(f"{emulator.url}/v2/generate", data={"model": "lipsync-2"}, timeout=10,
                             headers={**KEY, "Idempotency-Key": "mp"},
                             files={"video": ("v.mp4", video), "audio": ("a.wav", b"RIFF" + b"\x00" * 40)})

    first = send(b"\x00" * 32)
    assert send(b"\x00" * 32).json()["id"] == first.json()["id"]
    assert send(b"\x01" * 32).status_code == 409


def test_item_25_replay_is_not_held_by_concurrency_limits(make_emulator):
    emu = make_emulator({"syncso": {"plan": "free"}})  # one generation at a time
    first = create(emu, "free-1")
    assert create(emu, "free-1").json()["id"] == first.json()["id"]
    assert create(emu, "free-2").status_code == 429


def test_item_25_a_deleted_or_expired_generation_frees_the_key(emulator):
    first = create(emulator, "gone").json()["id"]
    emulator.advance(30)
    assert requests.delete(f"{emulator.url}/v2/generate/{first}", headers=KEY, timeout=10).status_code == 200
    second = create(emulator, "gone").json()["id"]
    assert second != first
    emulator.advance(86401)  # idempotency_ttl_seconds, inferred 24 h
    assert create(emulator, "gone").json()["id"] not in (first, second)
