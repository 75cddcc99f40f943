"""Reliability of ``lipsync-emulator serve`` as a team runs it: several worker processes
sharing SQLite state, under concurrent clients, a receiver that goes down, ``kill -9`` and
hostile input. Loopback only; every wait is bounded; the clock is virtual unless said.

Providers are whatever ``emulator.providers.REGISTRY`` holds when the tests run (each
provider's submit and poll probes make the requests: no provider-specific code here).
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.gallery import ScenarioClient
from lipsync_emulator.testing import every_page

from tests.reliability.serving import Receiver, Served

RT = create_app({"clock": "virtual"}).extensions[EXTENSION]
PROVIDERS = sorted(p for p in RT.providers if RT.catalog.probe(p) is not None
                   and RT.catalog.probe(p).job_id is not None)  # type: ignore[union-attr]
# every provider retries its webhooks here, so "receiver down" is survivable for all of them
RETRY = {"max_attempts": 4, "backoff": 1.0, "factor": 2.0, "max_delay": 3600.0}
LONG_ENOUGH = 3 * 3600.0  # virtual seconds after which every provider's default job is terminal
# retries slower than every job, so a whole outage fits between two attempts of each delivery
SLOW_RETRY = {"max_attempts": 3, "schedule": [20_000.0, 30_000.0]}


def every(served: Any, path: str, **filters: Any) -> list[dict[str, Any]]:
    """A whole control-plane listing (it answers a page at a time, newest first)."""
    return every_page(lambda params: served.control("GET", path, params=params), filters)


def clients(served: Served) -> ScenarioClient:
    resp = requests.get(f"{served.url}/_emulator/config", timeout=10)
    configs = dict(resp.json().get("providers") or {})
    return ScenarioClient(served.url, RT.catalog, configs, timeout=60)


def terminal(provider: str, status: str) -> bool:
    return any(status in RT.engine.lifecycle(p, k).terminal for (p, k) in RT.engine._declared if p == provider)


def retry_settings(policy: dict[str, Any] = RETRY) -> list[str]:
    return [f"--set={p}.webhook_retry={json.dumps(policy)}" for p in PROVIDERS]


@pytest.mark.skipif(not PROVIDERS, reason="no provider declares a submit probe")
def test_32_threads_submit_and_poll_across_providers_nothing_lost_duplicated_or_mixed(tmp_path):
    """32 client threads, every provider, two worker processes: each acknowledged job is
    there exactly once, each poll answers about the job asked for, every job completes and
    every webhook is delivered once and journaled."""
    receiver = Receiver().up()
    with Served(str(tmp_path / "data"), *retry_settings()) as served:
        base = clients(served)
        submitted: list[tuple[str, str]] = []
        lock = threading.Lock()
        errors: list[str] = []

        def client(n: int) -> None:
            me = ScenarioClient(base.base_url, base.catalog, base.configs, timeout=60)
            rng = random.Random(n)
            mine = []
            for _ in range(3):
                provider = rng.choice(PROVIDERS)
                job_id = me.submit(provider, webhook_url=receiver.url)
                mine.append((provider, job_id))
                with lock:
                    submitted.append((provider, job_id))
            for provider, job_id in mine * 2:
                resp = me.poll(provider, job_id)
                if resp.status_code != 200 or job_id not in resp.text:
                    errors.append(f"{provider} poll of {job_id}: {resp.status_code} {resp.text[:200]}")
                others = [j for p, j in submitted if j != job_id]
                if any(other in resp.text for other in others[-50:]):
                    errors.append(f"{provider} poll of {job_id} mentions another job: {resp.text[:200]}")

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(client, range(32)))
        assert errors == []
        ids = [j for _, j in submitted]
        assert len(ids) == 96 and len(set(ids)) == 96, "a job id was handed out twice"

        served.advance(LONG_ENOUGH)
        jobs = {j["id"]: j for j in every(served, "/jobs")}
        assert sorted(jobs) == sorted(ids), "lost or extra jobs"
        for provider, job_id in submitted:
            assert jobs[job_id]["provider"] == provider
            assert terminal(provider, jobs[job_id]["status"]), jobs[job_id]
        deliveries = every(served, "/webhooks")
        assert deliveries and all(d["status"] == "delivered" for d in deliveries), \
            [(d["provider"], d["status"], d["attempts"][-1:]) for d in deliveries if d["status"] != "delivered"]
        by_job: dict[str, list[dict[str, Any]]] = {}
        for d in deliveries:
            by_job.setdefault(d["job_id"], []).append(d)
        assert set(by_job) <= set(ids)
        # one delivery per event per job (no duplicate from two workers firing the same state)
        for rows in by_job.values():
            assert len({d["event"] for d in rows}) == len(rows), rows
        assert len(receiver.received) == len(deliveries)
        journal = every(served, "/requests", limit=5000)
        assert len([e for e in journal if e["status"] in (200, 201, 202)]) >= 96 * 3
    receiver.down()


def test_receiver_down_then_back_every_delivery_succeeds_on_the_retry_schedule(tmp_path):
    """Connection refused for the first two attempts, then the receiver is back: the third
    attempt of every delivery succeeds, on the configured schedule, every attempt recorded."""
    receiver = Receiver()  # not up yet: connection refused
    with Served(str(tmp_path / "data"), *retry_settings(SLOW_RETRY)) as served:
        base = clients(served)
        for provider in PROVIDERS:
            base.submit(provider, webhook_url=receiver.url)
        served.advance(LONG_ENOUGH)  # jobs end; first attempts refused
        served.advance(SLOW_RETRY["schedule"][0])  # second attempts refused
        pending = every(served, "/webhooks")
        assert pending and all(d["status"] == "pending" and len(d["attempts"]) == 2 for d in pending), \
            [(d["provider"], d["status"], len(d["attempts"])) for d in pending]
        receiver.up()
        served.advance(SLOW_RETRY["schedule"][1])
        done = every(served, "/webhooks")
        for d in done:
            attempts = d["attempts"]
            assert d["status"] == "delivered" and len(attempts) == 3, d
            assert [a["status_code"] for a in attempts] == [None, None, 200]
            assert all("Connection" in (a["error"] or "") for a in attempts[:2])
            gaps = [round(b["timestamp"] - a["timestamp"], 3) for a, b in zip(attempts, attempts[1:], strict=False)]
            assert gaps == SLOW_RETRY["schedule"], (d["provider"], gaps)
        assert len(receiver.received) == len(done)
    receiver.down()


def test_kill_9_under_load_then_restart_keeps_every_acknowledged_job(tmp_path):
    """SIGKILL to every process while 16 threads submit; restarted on the same directory,
    every acknowledged job is there with a consistent status, and webhooks left pending
    before the crash are delivered after it."""
    data = str(tmp_path / "data")
    receiver = Receiver()  # down: deliveries stay pending across the crash
    served = Served(data, *retry_settings(SLOW_RETRY)).start()
    base = clients(served)
    # some jobs finish before the crash, with their webhooks pending (receiver down)
    early = [(p, base.submit(p, webhook_url=receiver.url)) for p in PROVIDERS]
    served.advance(LONG_ENOUGH)
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(n: int) -> None:
        me = ScenarioClient(base.base_url, base.catalog, base.configs, timeout=5)
        rng = random.Random(n)
        while not stop.is_set():
            provider = rng.choice(PROVIDERS)
            try:
                job_id = me.submit(provider, webhook_url=receiver.url)
            except (requests.RequestException, ValueError):
                continue  # not acknowledged: the server died under it
            with lock:
                acknowledged.append((provider, job_id))

    threads = [threading.Thread(target=load, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    while len(acknowledged) < 60 and not deadline.wait(0.05):
        pass
    served.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=20)
    assert len(acknowledged) >= 60

    receiver.up()
    with Served(data, *retry_settings(SLOW_RETRY)) as again:
        jobs = {j["id"]: j for j in every(again, "/jobs")}
        for provider, job_id in acknowledged + early:
            assert job_id in jobs, f"acknowledged {provider} job {job_id} lost"
            job = jobs[job_id]
            states = [h["status"] for h in job["history"]]
            assert states and states[-1] == job["status"], job  # history and status agree
            assert len(states) == len(set(states)), job  # no state entered twice
        again.advance(SLOW_RETRY["schedule"][0])  # the next attempts, on the restored clock
        deliveries = {d["job_id"]: d for d in every(again, "/webhooks")}
        for _provider, job_id in early:
            assert deliveries[job_id]["status"] == "delivered", deliveries[job_id]
            assert deliveries[job_id]["attempts"][0]["status_code"] is None  # refused before the crash
        # ...and so is every other one, including an attempt the killed worker had claimed
        # (its lease names a dead process: another worker takes it over)
        assert [d for d in deliveries.values() if d["status"] != "delivered"] == []
    receiver.down()


HOSTILE_PATHS = ["/_emulator/files/..%2f..%2fetc%2fpasswd/x", "/_emulator/media/../../../../etc/passwd.mp4",
                 "/_emulator/files/%00/%00", "/_emulator/schemas/..%2f..%2fpyproject.yaml"]


def test_hostile_input_gets_a_4xx_and_the_server_stays_healthy(tmp_path):
    with Served(str(tmp_path / "data"), "--set=max_body_bytes=200000") as served:
        base = clients(served)
        provider = PROVIDERS[0] if PROVIDERS else "syncso"
        probe = RT.catalog.probe(provider)
        assert probe is not None
        kwargs = probe.build(base.context(provider))
        url = served.url + kwargs["path"]
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "content-type"}
        json_headers = {**headers, "Content-Type": "application/json"}
        bodies = {
            "oversized": b'{"a":"' + b"x" * 400_000 + b'"}',
            "deeply nested": b"[" * 100_000 + b"]" * 100_000,
            "invalid utf-8": b'{"model": "\xff\xfe\xfd"}',
            "huge number": b'{"model": 1' + b"0" * 20_000 + b"}",
            "huge exponent": b'{"model": 1e999999}',
            "lone surrogate escape": b'{"model": "\\udc80"}',
            "not json": b"{{{",
        }
        for name, body in bodies.items():
            resp = requests.request(kwargs["method"], url, data=body, headers=json_headers, timeout=30)
            assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text[:200])
            assert resp.headers.get("Content-Type", "").startswith("application/json"), name
        for path in HOSTILE_PATHS:
            resp = requests.get(served.url + path, timeout=10)
            assert 400 <= resp.status_code < 500, (path, resp.status_code)
            assert b"root:" not in resp.content
        flood = {f"X-Flood-{n}": "y" * 100 for n in range(2000)}
        try:
            resp = requests.get(url, headers={**headers, **flood}, timeout=10)
            assert 400 <= resp.status_code < 500, resp.status_code
        except requests.ConnectionError:
            pass  # refusing the connection outright is a fine answer to a header flood too
        resp = requests.get(url, headers={**headers, "X-Big": "z" * 200_000}, timeout=10)
        assert 400 <= resp.status_code < 500
        assert requests.get(f"{served.url}/_emulator/health", timeout=5).json()["status"] == "ok"
        job_id = base.submit(provider)
        assert base.poll(provider, job_id).status_code == 200
