"""A request that waits lets every other request run meanwhile. ``serve`` runs one request's
emulator code at a time (its turn); a wait that kept the turn — added latency, a long poll,
WaveSpeed's sync mode, deliveries in flight, the catalogue's trigger calling this emulator —
would stop the whole emulator, the real-clock scheduler included.

Each test is built so that the broken behaviour gives a different answer, not a slower one:
the waiting request's own answer depends on work that only another thread can do meanwhile.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.reliability.serving import Served, free_port

SYNC_KEY = {"x-api-key": "sk_test"}
GENERATION = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4"},
                                              {"type": "audio", "url": "https://cdn.example/a.wav"}]}
FAST_JOBS = ("--set", "syncso.durations.PENDING=0", "--set", "syncso.durations.PROCESSING=0.5")
BOUND = 30  # seconds: an upper bound on any answer here, never a pause


def create(served: Served, **extra: Any) -> str:
    resp = requests.post(f"{served.url}/v2/generate", json={**GENERATION, **extra}, headers=SYNC_KEY, timeout=BOUND)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_jobs_move_on_the_real_clock_while_a_request_sleeps_its_added_latency(tmp_path):
    # the job completes 0.5 s after its creation, during the 4 s of latency added before the
    # view reads it: only the scheduler, taking its own turn meanwhile, can complete it
    with Served(str(tmp_path), *FAST_JOBS, "--set", "faults.latency_seconds=4", clock="real") as served:
        job = create(served)
        resp = requests.get(f"{served.url}/v2/generate/{job}", headers={**SYNC_KEY, "X-Emulator-Scenario": "latency"},
                            timeout=BOUND)
        assert resp.status_code == 200
        assert resp.json()["status"] == "COMPLETED"


def test_a_long_poll_ends_when_the_job_it_waits_for_completes_on_the_real_clock(tmp_path):
    with Served(str(tmp_path), *FAST_JOBS, clock="real") as served:
        job = create(served)
        resp = requests.get(f"{served.url}/v2/generate/{job}", params={"wait": "true", "timeout": "10"},
                            headers=SYNC_KEY, timeout=BOUND)
        assert resp.status_code == 200
        assert resp.json()["status"] == "COMPLETED"  # held up, it would answer PROCESSING after 10 s


def test_wavespeed_sync_mode_answers_the_task_completed_on_the_real_clock(tmp_path):
    with Served(str(tmp_path), "--set", "wavespeed.durations.created=0", "--set", "wavespeed.durations.processing=0.5",
                "--set", "wavespeed.sync_timeout=25", clock="real") as served:
        resp = requests.post(f"{served.url}/api/v3/bytedance/latentsync",
                             json={"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4", "enable_sync_mode": True},
                             headers={"Authorization": "Bearer ws-test-key"}, timeout=BOUND)
        assert resp.status_code == 200
        assert resp.json()["data"]["status"] == "completed"  # held up: the sync-timeout answer after 25 s


class HeldReceiver:
    """A webhook receiver that holds each delivery until ``release``; ``arrived`` is set as
    soon as one is in its hands."""

    def __init__(self) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrived.set()
                receiver.release.wait(BOUND)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_delivery_held_by_its_receiver_holds_up_no_other_request(tmp_path):
    """The clock advance that sent a webhook waits for it; meanwhile another client's request
    is answered, and the advance still ends with the delivery's result."""
    receiver = HeldReceiver()
    try:
        with Served(str(tmp_path)) as served:
            job = create(served, webhookUrl=receiver.url)
            answers: dict[str, Any] = {}

            def move() -> None:
                answers["move"] = requests.post(f"{served.url}/_emulator/clock/advance", json={"seconds": 60},
                                                timeout=BOUND)

            mover = threading.Thread(target=move)
            mover.start()
            assert receiver.arrived.wait(BOUND), "the webhook never reached the receiver"
            # held up, it would wait as long as the receiver holds the delivery (BOUND)
            other = requests.get(f"{served.url}/v2/models", headers=SYNC_KEY, timeout=BOUND / 3)
            assert other.status_code == 200
            assert mover.is_alive(), "the advance did not wait for the delivery in flight"
            receiver.release.set()
            mover.join(BOUND)
            assert answers["move"].status_code == 200
            delivery = served.control("GET", "/webhooks", params={"job_id": job})
            rows = delivery["items"] if isinstance(delivery, dict) else delivery
            assert [row["status"] for row in rows] == ["delivered"]
    finally:
        receiver.close()
