"""Verdicts that do not depend on machine speed: a correct client that is slow for real is
never reported as busy, however many requests the emulator has journaled before; a client
that waits on the wall clock gets one clear diagnosis; a client that polls without pausing is
caught by what it sent, not by how fast it sent it."""

from __future__ import annotations

import time
from typing import Any

import requests
from lipsync_emulator.contracts.suites.client import BUSY_REQUESTS, WALL_CLOCK, ClientContract
from lipsync_emulator.examples import syncso_client, syncso_naive
from lipsync_emulator.testing import EmulatorServer


class SlowAdapter(syncso_client.Adapter):
    """A correct client whose every call also does slow work of its own: meanwhile, another
    application sends more requests than a busy client may to the same emulator, under its own
    key, so real time passes and the emulator's journal grows during the call."""

    def submit(self, request: Any) -> str:
        job_id = super().submit(request)
        self.other_work()
        return job_id

    def wait(self, job_id: str) -> Any:
        self.other_work()
        return super().wait(job_id)

    def other_work(self) -> None:
        with requests.Session() as session:
            for n in range(BUSY_REQUESTS + 10):
                session.get(f"{self.client.base_url}/v2/generate/other-{n}", headers={"x-api-key": "sk_other_app"},
                            timeout=5)


class WallClockAdapter(syncso_client.Adapter):
    """A correct client, except that it waits with time.sleep instead of env.sleep."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.client.sleep = time.sleep
        self.client.clock = time.time


def test_a_slow_correct_client_passes_after_hundreds_of_journaled_requests(emulator: EmulatorServer) -> None:
    for n in range(200):  # another user's requests: the journal's sequence is far from zero
        requests.get(f"{emulator.url}/v2/generate/nothing-{n}", headers={"x-api-key": "sk_someone_else"}, timeout=5)
    suite = ClientContract(emulator)
    try:
        report = suite.run("syncso", SlowAdapter, ["success", "job_failed", "timeout", "unavailable_submit",
                                                    "webhook_valid"])
    finally:
        suite.close()
    report.assert_ok()


def test_a_client_waiting_on_the_wall_clock_is_told_so_once(emulator: EmulatorServer) -> None:
    real_sleep = time.sleep
    suite = ClientContract(emulator)
    try:
        report = suite.run("syncso", WallClockAdapter, ["success", "job_failed"])
    finally:
        suite.close()
    assert time.sleep is real_sleep  # the suite watches time.sleep only while its scenarios run
    assert report.violated() == ["success", "job_failed"]
    text = report.text()
    assert text.count(f"{WALL_CLOCK} (time.sleep at syncso_client.py:") == 3, text  # the head, then each scenario
    assert "pass env.sleep" in text.splitlines()[2]


def test_polling_without_a_pause_is_counted_not_timed(emulator: EmulatorServer) -> None:
    suite = ClientContract(emulator)
    try:
        report = suite.run("syncso", syncso_naive.make_adapter_with({"no_poll_interval"}), ["success"])
    finally:
        suite.close()
    assert report.violated() == ["success"]
    assert "requests without ever pausing (env.sleep) and was stopped" in report.text()
