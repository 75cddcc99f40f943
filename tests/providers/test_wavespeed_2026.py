"""WaveSpeed as its 2026 documentation describes it (shared/reference/updates-2026-12.md, W1-W5),
over HTTP: the plain ``GET /api/v3/predictions`` listing, inclusive ``created_after``, the
webhook secret used as text, per-type upload limits above the server-wide body cap, and
``outputs`` in a webhook only when completed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from typing import Any

import requests
from lipsync_emulator.core.clock import iso

KEY = "ws-2026"
AUTH = {"Authorization": f"Bearer {KEY}"}
VALID = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}
LATENTSYNC = "bytedance/latentsync"
A2V = "bytedance/lipsync/audio-to-video"
MB = 1024 * 1024


def submit(emu: Any, body: dict[str, Any] | None = None, model: str = LATENTSYNC, **params: str) -> str:
    resp = requests.post(f"{emu.url}/api/v3/{model}", json=body or VALID, headers=AUTH, params=params, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["id"]


def listing(emu: Any, query: str = "") -> requests.Response:
    return requests.get(f"{emu.url}/api/v3/predictions{query}", headers=AUTH, timeout=10)


# -- W1 / W2 -----------------------------------------------------------------------------------

def test_w1_plain_get_lists_predictions_with_query_filters(emulator):
    first = submit(emulator)
    emulator.advance(30)
    second = submit(emulator, model=A2V)
    everything = listing(emulator)
    assert everything.status_code == 200
    body = everything.json()
    assert (body["code"], body["message"]) == (200, "success")
    assert (body["data"]["page"], body["data"]["total"]) == (1, 2)
    assert [p["id"] for p in body["data"]["items"]] == [second, first]
    # the same answer as the POST form with the filters in a body
    posted = requests.post(f"{emulator.url}/api/v3/predictions", json={}, headers=AUTH, timeout=10)
    assert posted.json() == body
    assert [p["id"] for p in listing(emulator, "?status=completed").json()["data"]["items"]] == [first]
    assert [p["id"] for p in listing(emulator, f"?model={A2V}").json()["data"]["items"]] == [second]
    paged = listing(emulator, "?page=2&page_size=1").json()["data"]
    assert (paged["page"], paged["total"], [p["id"] for p in paged["items"]]) == (2, 2, [first])
    for query, message in (("?page_size=101", "page_size must be less than or equal to 100 (got 101)"),
                           ("?status=done", "status must be one of: created, processing, completed, failed, "
                                            "cancelled, timeout (got 'done')"),
                           ("?created_after=yesterday", "created_after must be an ISO-8601 date-time "
                                                        "(got 'yesterday')")):
        bad = listing(emulator, query)
        assert bad.status_code == 400 and bad.json() == {"code": 400, "message": message, "data": None}
    unauthorized = requests.get(f"{emulator.url}/api/v3/predictions", timeout=10)
    assert unauthorized.status_code == 401 and unauthorized.json()["message"] == "Unauthorized"


def test_w2_created_after_is_inclusive(emulator):
    now = emulator.control.now()
    emulator.advance(math.ceil(now) - now or 1)  # a whole second: its ISO form is exact
    at = iso(emulator.control.now())
    assert at.endswith(".000Z")
    first = submit(emulator)
    emulator.advance(1)
    second = submit(emulator)
    assert [p["id"] for p in listing(emulator, f"?created_after={at}").json()["data"]["items"]] == [second, first]
    posted = requests.post(f"{emulator.url}/api/v3/predictions", json={"created_after": at}, headers=AUTH,
                           timeout=10).json()["data"]
    assert posted["total"] == 2
    later = iso(emulator.control.now() - 0.5)
    assert [p["id"] for p in listing(emulator, f"?created_after={later}").json()["data"]["items"]] == [second]


# -- W3 / W5 webhooks ----------------------------------------------------------------------------

SECRET = "whsec_" + base64.b64encode(b"sixteen byte key").decode()


def test_w3_secret_is_the_text_after_whsec_and_w5_outputs_only_when_completed(make_emulator, webhook_receiver):
    emu = make_emulator({"wavespeed": {"webhook_secret": SECRET}})
    done = submit(emu, webhook=webhook_receiver.url)
    failed = submit(emu, {**VALID, "video": "https://media.invalid/v.mp4"}, webhook=webhook_receiver.url)
    emu.advance(30)
    hooks = {h.json()["id"]: h for h in webhook_receiver.wait_for(2)}
    for hook in hooks.values():
        message = f"{hook.headers['webhook-id']}.{hook.headers['webhook-timestamp']}.".encode() + hook.body
        as_text = hmac.new(SECRET.removeprefix("whsec_").encode(), message, hashlib.sha256).hexdigest()
        decoded = hmac.new(base64.b64decode(SECRET.removeprefix("whsec_")), message, hashlib.sha256).hexdigest()
        assert hook.headers["webhook-signature"] == f"v3,{as_text}" != f"v3,{decoded}"
    assert hooks[done].json()["outputs"] == [f"{emu.url}/_emulator/media/wavespeed/{done}.mp4"]
    assert hooks[failed].json()["status"] == "failed" and "outputs" not in hooks[failed].json()
    # a GET of the same failed prediction still has its (empty) outputs array
    got = requests.get(f"{emu.url}/api/v3/predictions/{failed}/result", headers=AUTH, timeout=10)
    assert got.json()["data"]["outputs"] == []


# -- W4 uploads --------------------------------------------------------------------------------

def test_w4_a_30_mb_video_passes_the_server_wide_body_cap_on_both_upload_flows(emulator):
    video = b"\0\0\0\x18ftypmp42" + b"\0" * (30 * MB)
    assert len(video) > emulator.app.config["MAX_CONTENT_LENGTH"]  # the server-wide cap (25 MiB)
    binary = requests.post(f"{emulator.url}/api/v3/media/upload/binary", headers=AUTH, timeout=60,
                           files={"file": ("clip.mp4", video, "video/mp4")})
    assert binary.status_code == 200, binary.text[:300]
    assert binary.json()["data"]["size"] == len(video)
    ticket = requests.post(f"{emulator.url}/api/v3/media/uploads", headers=AUTH, timeout=10,
                           json={"filename": "clip.mp4", "size": len(video), "content_type": "video/mp4"})
    assert ticket.status_code == 200, ticket.text
    upload = ticket.json()["data"]["upload"]
    put = requests.put(upload["url"], data=video, headers=upload["headers"], timeout=60)
    assert put.status_code == 200, put.text[:300]
    fetched = requests.get(ticket.json()["data"]["download_url"], timeout=60)
    assert fetched.status_code == 200 and len(fetched.content) == len(video)


def test_w4_the_per_type_limit_still_applies_and_other_routes_keep_the_cap(emulator):
    image = b"\x89PNG\r\n\x1a\n" + b"\0" * (21 * MB)
    too_big = requests.post(f"{emulator.url}/api/v3/media/upload/binary", headers=AUTH, timeout=60,
                            files={"file": ("face.png", image, "image/png")})
    assert too_big.status_code == 413
    assert too_big.json() == {"code": 413, "message": f"File too large: image files are limited to 20 MB (got "
                                                      f"{len(image)} bytes)", "data": None}
    huge = requests.post(f"{emulator.url}/api/v3/{LATENTSYNC}", headers={**AUTH, "Content-Type": "application/json"},
                         data=b" " * (26 * MB), timeout=60)
    assert huge.status_code == 413
    assert huge.json()["message"] == f"Request body is larger than the {25 * MB} bytes accepted"
