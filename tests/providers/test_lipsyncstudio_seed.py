"""The seed's own examples (shared/seeds/lipsyncstudio-api-platform-ru.txt, the English part of
the page), sent verbatim to a live emulator: the polling variant, the webhook variant and the
Node.js integration example. Every answer must equal the documented one, except the values the
docs elide or cannot know (the job id, the host of the output URL).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import requests

# -- verbatim from the seed ---------------------------------------------------------------------

HEADERS = {"Authorization": "Bearer sk_XXXX_YYYY", "Content-Type": "application/json"}
DOC_ID = "550e8400-e29b-41d4-a716-446655440000"

WEBHOOK_REQUEST = {
    "webhook": "https://your-app.example.com/webhooks/lipsync",
    "formState": {
        "image": "https://.../face.png",
        "audio": "https://.../voice.mp3",
        "resolution": "720p",
        "seed": 42,
    },
}
POLL_REQUEST = {
    "formState": {
        "image": "https://.../face.png",
        "audio": "https://.../voice.mp3",
        "resolution": "720p",
    }
}
NODE_REQUEST = {  # submitJobWithWebhook() in the integration example
    "webhook": "https://your-public-domain.com/webhooks/lipsync",
    "formState": {
        "image": "https://example.com/portrait.jpg",
        "audio": "https://example.com/speech.mp3",
        "resolution": "720p",
    },
}
IMMEDIATE = {"id": DOC_ID, "status": "processing"}
PROCESSING = {"id": DOC_ID, "model": "lipsync", "status": "processing", "output": None, "error": "",
              "executionTime": None, "timings": None}
COMPLETED = {"id": DOC_ID, "model": "lipsync-image", "status": "completed", "output": "https://.../result.mp4",
             "error": "", "executionTime": 12345, "timings": None}
FAILED = {"id": DOC_ID, "model": "lipsync-image", "status": "failed", "output": None,
          "error": "Invalid audio format", "executionTime": None, "timings": None}

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def documented(example: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """The documented example with the elided values taken from ``actual``: the id, and the
    ``https://...`` part of the output URL (the path must still end in /result.mp4)."""
    expected = copy.deepcopy(example)
    assert UUID4.match(actual["id"]), actual
    expected["id"] = actual["id"]
    if isinstance(expected.get("output"), str):
        assert actual["output"].startswith("http") and actual["output"].endswith("/result.mp4"), actual
        expected["output"] = actual["output"]
    return expected


def poll(emu: Any, job_id: str) -> requests.Response:
    """Step 2 of the polling example: GET /api/v1/jobs/{requestId} with only the Authorization header."""
    return requests.get(f"{emu.url}/api/v1/jobs/{job_id}", headers={"Authorization": HEADERS["Authorization"]},
                        timeout=10)


def test_seed_polling_example_gets_the_documented_answers(emulator):
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-image", json=POLL_REQUEST, headers=HEADERS, timeout=10)
    assert resp.status_code == 200
    job_id = resp.json()["id"]
    assert resp.json() == documented(IMMEDIATE, resp.json())

    # "repeat every 5-10 seconds" until completed
    answers = []
    for _ in range(5):
        answer = poll(emulator, job_id)
        assert answer.status_code == 200
        answers.append(answer.json())
        if answer.json()["status"] == "completed":
            break
        emulator.advance(5)
    assert answers[0] == documented(PROCESSING, answers[0])
    assert answers[-1] == documented(COMPLETED, answers[-1])
    assert [a["status"] for a in answers] == ["processing"] * 3 + ["completed"]
    assert requests.get(answers[-1]["output"], timeout=10).headers["Content-Type"] == "video/mp4"


def test_seed_polling_example_failed_answer(emulator):
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-image", json=POLL_REQUEST,
                         headers={**HEADERS, "X-Emulator-Scenario": "failed"}, timeout=10)
    job_id = resp.json()["id"]
    emulator.advance(15)
    answer = poll(emulator, job_id).json()
    assert answer == documented(FAILED, answer)


def test_seed_webhook_example_to_the_documented_url_is_accepted_and_not_called(emulator):
    """The seed's https://your-app.example.com URL is accepted; the emulator is offline, so the
    delivery is journalled as skipped, with the documented body."""
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-image", json=WEBHOOK_REQUEST, headers=HEADERS, timeout=10)
    assert resp.status_code == 200
    assert resp.json() == documented(IMMEDIATE, resp.json())
    emulator.advance(15)
    [delivery] = emulator.control.webhooks(job_id=resp.json()["id"])
    assert delivery["url"] == WEBHOOK_REQUEST["webhook"] and delivery["status"] == "skipped"
    body = json.loads(delivery["body"])
    assert body == documented(COMPLETED, body)


def test_seed_webhook_example_delivers_the_documented_post(emulator, webhook_receiver):
    """The same request with the webhook pointed at a local receiver answering like the seed's
    express handler (200): one POST, Content-Type application/json, the documented body."""
    request = {**WEBHOOK_REQUEST, "webhook": webhook_receiver.url}
    resp = requests.post(f"{emulator.url}/api/v1/lipsync-image", json=request, headers=HEADERS, timeout=10)
    assert resp.json() == documented(IMMEDIATE, resp.json())
    emulator.advance(12.345)
    [hook] = webhook_receiver.wait_for(1)
    assert hook.method == "POST" and hook.headers["Content-Type"] == "application/json"
    assert hook.json() == documented(COMPLETED, hook.json())
    [delivery] = emulator.control.webhooks(job_id=resp.json()["id"])
    assert delivery["status"] == "delivered"


def test_seed_node_integration_example(emulator, webhook_receiver):
    """submitJobWithWebhook(): `data.id` is the job id; the receiver logs id, model, status, output."""
    request = {**NODE_REQUEST, "webhook": webhook_receiver.url}
    data = requests.post(f"{emulator.url}/api/v1/lipsync-image", json=request, headers=HEADERS, timeout=10).json()
    emulator.advance(60)
    [hook] = webhook_receiver.wait_for(1)
    received = hook.json()
    assert (received["id"], received["model"], received["status"]) == (data["id"], "lipsync-image", "completed")
    assert received["output"].endswith(".mp4") and received["error"] == ""
