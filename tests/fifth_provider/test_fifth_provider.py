"""A fifth provider, Tiny Lip, added from this folder alone — a schema, a package of five files,
a contracts module and this test (docs/adding-a-provider.md) — and registered through the
public APIs: ``create_app(providers=REGISTRY + (tiny,))`` (here through ``EmulatorServer``) and
``contracts.register``. It then passes the conformance suite and the client contract suite."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests
import tiny
import tiny_contracts
from lipsync_emulator import contracts
from lipsync_emulator.app import create_app
from lipsync_emulator.contracts.suites.client import ClientContract
from lipsync_emulator.contracts.suites.conformance import SelfContract, properties
from lipsync_emulator.providers import REGISTRY
from lipsync_emulator.testing import EmulatorServer

contracts.register(tiny_contracts.PROFILE, tiny_contracts)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(providers=REGISTRY + (tiny.PROVIDER,)) as running:
        yield running


class TinyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Tiny Lip {status}: {message}")


class Adapter:
    """A small correct client of Tiny Lip: raises the provider's error (never retrying a 4xx),
    honours Retry-After, retries transient 5xx while polling, polls until done or failed within
    its timeout, and acts once per job on webhooks, reading the outcome back (they are unsigned)."""

    def __init__(self, env: Any) -> None:
        self.env, self.http = env, requests.Session()
        self.mine: set[str] = set()
        self.outcomes: dict[str, list[str]] = {}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        retryable = (429, 503) if method == "POST" else (429, 500, 502, 503, 504)
        for attempt in range(5):
            resp = self.http.request(method, self.env.base_url + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.env.api_key}"})
            if resp.status_code < 400:
                return resp.json()
            if resp.status_code in retryable and attempt < 4:
                after = resp.headers.get("Retry-After", "")
                self.env.sleep(float(after) if after.isdigit() else 2.0 * 2**attempt)
                continue
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text
            raise TinyError(resp.status_code, str(message))
        raise AssertionError("unreachable")

    def submit(self, request: Any) -> str:
        body = {**request, **({"webhook_url": self.env.webhook_url} if self.env.webhook_url else {})}
        job_id = str(self._call("POST", "/tiny/v1/jobs", body)["id"])
        self.mine.add(job_id)
        return job_id

    def wait(self, job_id: str) -> Any:
        deadline = self.env.now() + self.env.timeout
        while True:
            job = self._call("GET", f"/tiny/v1/jobs/{job_id}")
            if job["status"] == "done":
                return job
            if job["status"] == "failed":
                raise TinyError(200, f"job {job_id} failed: {job['error']}")
            if self.env.now() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['status']}")
            self.env.sleep(min(5.0, deadline - self.env.now()))

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        job_id = json.loads(body).get("id")
        if job_id not in self.mine:
            return 404
        seen = self.outcomes.setdefault(job_id, [])
        status = self._call("GET", f"/tiny/v1/jobs/{job_id}")["status"]
        if not seen and status in ("done", "failed"):
            seen.append(status)
        return 200

    def recorded(self, job_id: str) -> list[str]:
        return self.outcomes.get(job_id, [])


def test_the_fifth_provider_is_served_beside_the_four(server: EmulatorServer) -> None:
    config = server.control.config()
    assert config["tiny"]["durations"] == {"queued": 2.0, "running": 10.0}
    assert requests.get(f"{server.url}/_emulator/schemas/tiny.yaml", timeout=5).text.startswith("openapi: 3.0.3")
    names = {s["name"] for s in requests.get(f"{server.url}/_emulator/scenarios", params={"provider": "tiny"},
                                              timeout=5).json()["catalog"]}
    assert {"failed", "stuck", "rate_limited", "webhook_drop"} <= names and "webhook_bad_signature" not in names
    # its errors leave in its own shape, unknown paths included
    missing = requests.get(f"{server.url}/tiny/v1/nowhere", headers={"Authorization": "Bearer k"}, timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = requests.post(f"{server.url}/tiny/v1/jobs", headers={"Authorization": "Bearer k"}, timeout=5,
                        json={"video_url": "https://x/v.mp4", "audio_url": "https://x/a.mp3", "trim_start": 3,
                              "trim_end": 2})
    assert bad.status_code == 422 and bad.json() == {"error": {
        "code": "trim_order", "message": "trim_end must be greater than trim_start"}}
    # and its settings are typed like the others'
    with pytest.raises(ValueError, match="tiny.durations.queued must be a number"):
        create_app({"tiny": {"durations": {"queued": "soon"}}}, providers=REGISTRY + (tiny.PROVIDER,))
    # the package's own registry is untouched
    assert "tiny" not in create_app({"clock": "virtual"}).extensions["lipsync_emulator"].providers


def test_the_conformance_suite_passes(server: EmulatorServer) -> None:
    contract = SelfContract("tiny", server.url)
    checks = properties(contract, max_examples=10)
    assert set(checks) == {"valid", "schema", "rule:trim_order"}
    for check in checks.values():
        check()
    assert contract.check_reads() == []  # Tiny Lip has no job-independent reads
    assert contract.checked >= 12


class FirstReadIsFinal(Adapter):
    def wait(self, job_id: str) -> Any:
        return self._call("GET", f"/tiny/v1/jobs/{job_id}")


def test_the_client_contract_suite_passes(server: EmulatorServer) -> None:
    suite = ClientContract(server)
    try:
        report = suite.run("tiny", Adapter)
        naive = suite.run("tiny", FirstReadIsFinal, ["success", "job_failed", "timeout", "webhook_valid"])
    finally:
        suite.close()
    report.assert_ok()
    assert naive.violated() == ["success", "job_failed", "timeout"], naive.text()
    ran = {r.name for r in report.results if not r.skipped}
    assert {"success", "valid_requests", "validation_errors", "job_failed", "timeout", "rate_limited_submit",
            "unavailable_submit", "server_error_poll", "webhook_valid", "webhook_duplicate",
            "webhook_out_of_order"} <= ran, report.text()
