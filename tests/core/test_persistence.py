"""The persistent store and what rests on it, in-process and fast: the SQLite store's
semantics, in-place changes written through, restarts (jobs, clock, journal, pending
webhooks signed by a stored signer), and namespaces (isolation, reset per namespace) on the
memory store the fixture uses and on SQLite."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.core.sqlite_store import SqliteStore
from lipsync_emulator.core.store import MemoryStore, scope, tenant

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


def _app(path):
    return create_app({"clock": "virtual", "seed": None}, store=SqliteStore(path))


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


def test_a_record_changed_in_place_inside_a_unit_is_written_at_its_end(tmp_path):
    path = str(tmp_path / "state.db")
    store = SqliteStore(path)
    store.put("c", "k", {"v": 1})
    with store.unit():
        store.get("c", "k")["v"] = 2  # as providers do: no put
        assert SqliteStore(path).get("c", "k") == {"v": 1}  # not before the unit ends
    assert SqliteStore(path).get("c", "k") == {"v": 2}
    with store.unit():
        store.delete("c", "k")
    assert SqliteStore(path).get("c", "k") is None


def test_a_restart_resumes_unfinished_jobs_and_retries_signed_with_the_stored_secret(tmp_path, webhook_receiver):
    """One job left PENDING, one whose webhook failed once, at the restart; afterwards the job
    completes and the retry is signed with the secret it was first signed with, though the
    configuration now names another."""
    path = str(tmp_path / "state.db")
    retry = {"max_attempts": 3, "backoff": 5.0, "factor": 2.0, "max_delay": 3600.0}
    config = {"clock": "virtual", "seed": None, "syncso": {"webhook_secret": "whsec_before", "webhook_retry": retry}}
    first = create_app(config, store=SqliteStore(path))
    webhook_receiver.respond_with(503)
    create = {"json": {**BODY, "webhookUrl": webhook_receiver.url}, "headers": {"x-api-key": "k"}}
    retried = first.test_client().post("/v2/generate", **create).get_json()["id"]
    first.test_client().post("/_emulator/clock/advance", json={"seconds": 60})
    pending = first.test_client().post("/v2/generate", **create).get_json()["id"]
    first.extensions[EXTENSION].stop()

    config["syncso"]["webhook_secret"] = "whsec_after"
    second = create_app(config, store=SqliteStore(path))
    client = second.test_client()
    client.post("/_emulator/clock/advance", json={"seconds": 120})
    for job_id in (retried, pending):
        assert client.get(f"/v2/generate/{job_id}", headers={"x-api-key": "k"}).get_json()["status"] == "COMPLETED"
    received = webhook_receiver.wait_for(3)
    assert [(json.loads(r.body)["id"], r.status) for r in received] == [(retried, 503), (retried, 200), (pending, 200)]
    for hook, secret in zip(received, (b"whsec_before", b"whsec_before", b"whsec_after"), strict=True):
        t = hook.headers["Sync-Signature"].split(",")[0].removeprefix("t=")
        digest = hmac.new(secret, f"{t}.".encode() + hook.body, hashlib.sha256).hexdigest()
        assert hook.headers["Sync-Signature"] == f"t={t},v1={digest}"
    second.extensions[EXTENSION].stop()


def test_the_write_ahead_log_stays_bounded(tmp_path):
    """Thousands of writes (each its own transaction, as requests make them): SQLite's
    checkpoints keep the log from growing with the store, and truncate it afterwards."""
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    blob = b"x" * 8192
    for n in range(4000):
        store.put("files", f"f{n}", {"data": blob, "n": n})
    wal = path.with_name("state.db-wal")
    assert path.stat().st_size > 30 * 1024 * 1024  # the store itself grew past 30 MB...
    assert not wal.exists() or wal.stat().st_size <= 8 * 1024 * 1024 + 64 * 1024  # ...its log did not
    assert SqliteStore(str(path)).get("files", "f3999")["n"] == 3999
