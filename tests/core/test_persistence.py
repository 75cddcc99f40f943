"""The persistent store and what rests on it, in-process and fast: the SQLite store's
semantics, the codec, two runtimes sharing one database as two workers do (exactly one
fires each transition and webhook), restarts, and namespaces (isolation, reset per
namespace) on the memory store the fixture uses and on SQLite."""

from __future__ import annotations

import itertools
import threading

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.core.clock import VirtualClock
from lipsync_emulator.core.codec import Codec
from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.core.sqlite_store import SqliteStore
from lipsync_emulator.core.store import DEFAULT_NAMESPACE, MemoryStore, scope, tenant
from lipsync_emulator.providers.kling import models as kling_models

BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}]}


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    return MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "state.db"))


def test_store_keeps_order_scopes_and_clears_per_namespace(store):
    for n in range(5):
        store.put("c", f"k{n}", {"n": n})
    with scope("ci-1"):
        store.put("c", "k9", {"n": 9})
        assert [r["n"] for r in store.newest("c")] == [9]
        assert store.get("c", "k1") is None  # another namespace's record is invisible
    assert [r["n"] for r in store.newest("c")] == [9, 4, 3, 2, 1, 0]
    assert store.get("c", "k9") == {"n": 9}  # unscoped: found wherever it is
    with tenant("sk_a"):
        store.put("c", "k2", {"n": 20})  # an update keeps the row's place
    assert [r["n"] for r in store.newest("c")] == [9, 4, 3, 20, 1, 0]
    store.clear(namespace="ci-1")
    store.clear(namespace="sk_a")
    assert [r["n"] for r in store.newest("c")] == [4, 3, 1, 0]
    assert store.delete("c", "k3") and not store.delete("c", "k3")
    assert store.count("c") == 3


def test_a_page_of_the_newest_does_not_walk_the_collection(store):
    for n in range(300):
        store.put("c", f"k{n}", {"n": n})
    seen = []

    def where(record):
        seen.append(record["n"])
        return True

    assert [r["n"] for r in itertools.islice(store.newest("c", where), 3)] == [299, 298, 297]
    assert len(seen) <= 64  # one page at most, whatever the size


def test_sqlite_survives_reopening_and_refuses_another_format(tmp_path):
    path = str(tmp_path / "state.db")
    SqliteStore(path).put("files", "f1", {"data": b"\x00\x01mp4", "name": "a.mp4"})
    assert SqliteStore(path).get("files", "f1")["data"] == b"\x00\x01mp4"
    store = SqliteStore(path)
    store.set_meta("format", "0")
    with pytest.raises(ValueError, match="format"):
        SqliteStore(path)


def test_codec_rebuilds_a_signer_closure_and_binds_live_objects():
    cfg = {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "webhook_previous_secret": None,
           "webhook_rotated_at": None, "webhook_rotation_grace_seconds": 60}
    clock = VirtualClock(start=1000)
    signer = kling_models.signer(cfg, 1000, clock)
    data = Codec({"clock": clock}).dumps({"signer": signer})
    other = VirtualClock(start=1000)
    back = Codec({"clock": other}).loads(data)["signer"]
    assert back(b"{}", 1000, "d1") == signer(b"{}", 1000, "d1")
    assert back.__closure__ is not None and other in [c.cell_contents for c in back.__closure__]


def _app(path):
    return create_app({"clock": "virtual", "seed": None}, store=SqliteStore(path))


def test_two_workers_on_one_database_fire_each_transition_and_webhook_once(tmp_path, webhook_receiver):
    """Two runtimes on one SQLite file, as two serve workers: each creates jobs, both sweep
    and advance; every job completes once and sends its webhook once."""
    path = str(tmp_path / "state.db")
    a, b = _app(path), _app(path)
    ids = []
    for app in (a, b) * 5:
        resp = app.test_client().post("/v2/generate", json={**BODY, "webhookUrl": webhook_receiver.url},
                                      headers={"x-api-key": "sk_w"})
        assert resp.status_code == 201
        ids.append(resp.get_json()["id"])
    # both advance at once: the store's transactions decide who enters each state
    threads = [threading.Thread(target=app.test_client().post, args=("/_emulator/clock/advance",),
                                kwargs={"json": {"seconds": 120}}) for app in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for app in (a, b):
        app.test_client().post("/_emulator/clock/advance", json={"seconds": 0})
    rt_a = a.extensions[EXTENSION]
    jobs = {j["id"]: j for j in a.test_client().get("/_emulator/jobs").get_json()}
    assert sorted(jobs) == sorted(ids)
    for job in jobs.values():
        states = [h["status"] for h in job["history"]]
        assert states == ["PENDING", "PROCESSING", "COMPLETED"], states
    deliveries = b.test_client().get("/_emulator/webhooks").get_json()
    assert sorted(d["job_id"] for d in deliveries) == sorted(ids)
    assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in deliveries)
    assert len(webhook_receiver.wait_for(10)) == 10
    assert rt_a.clock.now() == b.extensions[EXTENSION].clock.now()  # one shared virtual clock
    for app in (a, b):
        app.extensions[EXTENSION].stop()


def test_a_poll_on_another_worker_sees_the_state_the_clock_reached(tmp_path):
    """Catch-up on read: worker B answers with the state worker A's timer would have set."""
    path = str(tmp_path / "state.db")
    a, b = _app(path), _app(path)
    job_id = a.test_client().post("/v2/generate", json=BODY, headers={"x-api-key": "k"}).get_json()["id"]
    rt_a, rt_b = a.extensions[EXTENSION], b.extensions[EXTENSION]
    rt_a.clock.advance(60)  # A's clock moves, its timers do not run (no advance call)
    rt_a._publish_clock()
    got = b.test_client().get(f"/v2/generate/{job_id}", headers={"x-api-key": "k"}).get_json()
    assert got["status"] == "COMPLETED" and got["outputUrl"]
    stored = SqliteStore(path).get("syncso:generation", job_id)
    assert isinstance(stored, Job) and stored.status == "COMPLETED" and not stored.plan
    for rt in (rt_a, rt_b):
        rt.stop()


def test_sqlite_transaction_reads_its_own_deferred_writes(tmp_path):
    """Writes wait for the commit; every read inside the transaction still sees them."""
    store = SqliteStore(str(tmp_path / "state.db"))
    with store.transaction():
        store.put("a", "k1", {"v": 1})
        assert store.get("b", "x") is None  # another collection's read leaves them pending...
        assert store.get("a", "k1") == {"v": 1}  # ...this one's sees them
        store.put("a", "k2", {"v": 2}, due=5.0)
        assert [r["v"] for r in store.newest("a")] == [2, 1]
        assert store.count("a") == 2
        assert store.due(10.0) == [(DEFAULT_NAMESPACE, "a", "k2")]
        store.put("a", "k1", {"v": 3})
        assert store.delete("a", "k1")  # a delete after a pending put of the same key
        assert store.get("a", "k1") is None
    assert store.get("a", "k1") is None and store.get("a", "k2") == {"v": 2}
    with pytest.raises(RuntimeError), store.transaction():
        store.put("a", "k3", {"v": 3})
        raise RuntimeError
    assert store.get("a", "k3") is None  # rolled back: nothing written


def test_sqlite_journal_keeps_a_large_batch_in_order_and_trims_to_its_limit(tmp_path):
    store = SqliteStore(str(tmp_path / "state.db"))
    store.journal_append([{"n": n, "namespace": "ci-1" if n % 2 else None} for n in range(1000)], limit=5000)
    rows = store.journal_rows(5000)
    assert [r["n"] for r in rows] == list(range(1000))  # several INSERTs of 400 rows, one order
    assert [r["seq"] for r in rows] == list(range(1, 1001))
    assert [r["n"] for r in store.journal_rows(5000, "ci-1")] == list(range(1, 1000, 2))
    store.journal_append([{"n": 1000 + n} for n in range(300)], limit=700)
    assert [r["n"] for r in store.journal_rows(5000)] == list(range(1300 - 700, 1300))


def test_restart_keeps_jobs_journal_clock_and_webhooks(tmp_path, webhook_receiver):
    path = str(tmp_path / "state.db")
    first = _app(path)
    client = first.test_client()
    webhook_receiver.respond_with(503)  # the first attempt fails; a retry is pending at "restart"
    job_id = client.post("/v2/generate", json={**BODY, "webhookUrl": webhook_receiver.url},
                         headers={"x-api-key": "k"}).get_json()["id"]
    first.extensions[EXTENSION].cfg("syncso")["webhook_retry"]["max_attempts"] = 3
    client.post("/_emulator/clock/advance", json={"seconds": 60})
    now = client.get("/_emulator/clock").get_json()["timestamp"]
    first.extensions[EXTENSION].journal.flush()
    first.extensions[EXTENSION].stop()

    second = _app(path)
    again = second.test_client()
    assert again.get("/_emulator/clock").get_json()["timestamp"] == now
    assert again.get(f"/v2/generate/{job_id}", headers={"x-api-key": "k"}).get_json()["status"] == "COMPLETED"
    assert any(e["job_id"] == job_id for e in again.get("/_emulator/requests").get_json())
    again.post("/_emulator/clock/advance", json={"seconds": 3600})
    delivery = again.get("/_emulator/webhooks", query_string={"job_id": job_id}).get_json()[0]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 200]
    second.extensions[EXTENSION].stop()


def test_namespaces_isolate_and_reset_one_tenant(emulator):
    """The fixture's memory store: a namespace header partitions state; reset per namespace
    (or per API key) forgets that tenant only."""
    url = f"{emulator.url}/v2/generate"

    def create(key, ns=None):
        headers = {"x-api-key": key, **({"X-Emulator-Namespace": ns} if ns else {})}
        resp = requests.post(url, json=BODY, headers=headers, timeout=10)
        assert resp.status_code == 201
        return resp.json()["id"]

    a1, b1 = create("sk_a", "ci-a"), create("sk_a", "ci-b")
    k1 = create("sk_k")
    listed = requests.get(f"{emulator.url}/v2/generations", headers={"x-api-key": "sk_a",
                          "X-Emulator-Namespace": "ci-a"}, timeout=10).json()
    assert [g["id"] for g in listed] == [a1]  # same key, other namespace: invisible
    other = requests.get(f"{url}/{a1}", headers={"x-api-key": "sk_a", "X-Emulator-Namespace": "ci-b"}, timeout=10)
    assert other.status_code == 404
    assert {j["id"] for j in emulator.control.jobs()} == {a1, b1, k1}
    requests.post(f"{emulator.url}/_emulator/reset", headers={"X-Emulator-Namespace": "ci-a"}, timeout=10)
    assert {j["id"] for j in emulator.control.jobs()} == {b1, k1}
    requests.post(f"{emulator.url}/_emulator/reset", json={"namespace": "sk_k"}, timeout=10)
    assert {j["id"] for j in emulator.control.jobs()} == {b1}
    assert {e["namespace"] for e in emulator.control.requests()} == {"ci-b"}
