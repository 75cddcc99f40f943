"""sync.so's per-key listing and count read the store's per-account index, not the whole
store: the index must stay exact through creates, deletes, resets (per namespace, per key)
and a restart that loads the records back from SQLite. After each step every key's listing,
its pages and its count must equal what the ledger of everything created says."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import requests
from lipsync_emulator.core.sqlite_store import SqliteStore
from lipsync_emulator.core.store import NAMESPACE_HEADER, MemoryStore, scope
from lipsync_emulator.testing import EmulatorServer

BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}]}
KEYS = ("sk_index_a", "sk_index_b", "sk_index_c")
NS = "ci-index"


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    return MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "state.db"))


def test_one_accounts_newest_reads_that_accounts_records_only(store):
    for n in range(300):
        store.put("c", f"k{n}", SimpleNamespace(n=n, account=f"acct{n % 100}"))
    with scope("ci-1"):
        store.put("c", "k300", SimpleNamespace(n=300, account="acct7"))
    store.put("c", "k999", {"n": 999})  # no account: listed with the collection only
    assert store.delete("c", "k107")
    seen = []

    def where(record):
        seen.append(record.n)
        return True

    assert [r.n for r in store.newest("c", where, account="acct7")] == [300, 207, 7]
    assert seen == [300, 207, 7]  # no other account's record was read
    with scope("ci-1"):
        assert [r.n for r in store.newest("c", account="acct7")] == [300]
    store.put("c", "k7", SimpleNamespace(n=7, account="acct8"))  # now another's: its newest
    assert [r.n for r in store.newest("c", account="acct7")] == [300, 207]
    assert [r.n for r in store.newest("c", account="acct8")] == [7, 208, 108, 8]
    assert next(store.newest("c")).n == 7
    store.clear(namespace="ci-1")
    assert [r.n for r in store.newest("c", account="acct7")] == [207]
    assert list(store.newest("c", account="nobody")) == []


class Ledger:
    """Every generation created and not yet gone, in creation order: the brute-force answer."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str | None]] = []  # (id, key, namespace header)

    def expected(self, key: str, ns: str | None) -> list[str]:
        """The key's generations newest first: in ``ns`` only, or (no header) in every namespace."""
        return [i for i, k, n in reversed(self.rows) if k == key and (ns is None or n == ns)]

    def drop(self, gone) -> None:
        self.rows = [row for row in self.rows if not gone(*row)]


def _headers(key: str, ns: str | None) -> dict[str, str]:
    return {"x-api-key": key, **({NAMESPACE_HEADER: ns} if ns else {})}


def _create(http: requests.Session, url: str, ledger: Ledger, key: str, ns: str | None) -> str:
    resp = http.post(f"{url}/v2/generate", json=BODY, headers=_headers(key, ns), timeout=10)
    assert resp.status_code == 201, resp.text
    ledger.rows.append((resp.json()["id"], key, ns))
    return resp.json()["id"]


def _check(http: requests.Session, url: str, ledger: Ledger) -> None:
    for key, ns in itertools.product(KEYS, (None, NS)):
        headers, want = _headers(key, ns), ledger.expected(key, ns)
        listed = http.get(f"{url}/v2/generations", headers=headers, timeout=10).json()
        assert [g["id"] for g in listed] == want, (key, ns)
        count = http.get(f"{url}/v2/generations/count", headers=headers, timeout=10).json()
        assert count == {"count": len(want)}, (key, ns)
        paged: list[str] = []
        cursor = None
        while True:
            query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get(f"{url}/v2/generations", params=query, headers=headers, timeout=10).json()
            paged += [g["id"] for g in page]
            if len(page) < 2:
                break
            cursor = page[-1]["id"]
        assert paged == want, (key, ns)
        done = http.get(f"{url}/v2/generations/count", params={"status": "COMPLETED"}, headers=headers,
                        timeout=10).json()
        assert done == {"count": sum(g["status"] == "COMPLETED" for g in listed)}, (key, ns)


def test_each_keys_listing_and_count_stay_exact_across_deletes_resets_and_a_restart(tmp_path):
    path = str(tmp_path / "state.db")
    ledger = Ledger()
    http = requests.Session()
    store = SqliteStore(path)
    with EmulatorServer(store=store) as first:
        url = first.url
        for round_ in range(4):
            for key in KEYS:
                _create(http, url, ledger, key, NS if round_ % 2 else None)
        _check(http, url, ledger)

        first.advance(3600)  # every generation COMPLETED: deletable
        kept_a = ledger.expected(KEYS[0], None)
        b_in_ns = ledger.expected(KEYS[1], NS)
        for gone, ns in ((kept_a[1], None), (b_in_ns[0], NS), (kept_a[-1], None)):
            resp = http.delete(f"{url}/v2/generations/{gone}", headers=_headers(KEYS[0 if ns is None else 1], ns),
                               timeout=10)
            assert resp.status_code == 200, resp.text
            ledger.drop(lambda i, k, n, gone=gone: i == gone)
        _check(http, url, ledger)

        for key in KEYS:
            _create(http, url, ledger, key, NS)
            _create(http, url, ledger, key, None)
        _check(http, url, ledger)

        assert http.post(f"{url}/_emulator/reset", headers={NAMESPACE_HEADER: NS}, timeout=10).status_code == 200
        ledger.drop(lambda i, k, n: n == NS)
        _check(http, url, ledger)

        assert http.post(f"{url}/_emulator/reset", json={"namespace": KEYS[2]}, timeout=10).status_code == 200
        ledger.drop(lambda i, k, n: k == KEYS[2] and n is None)  # the key's own records, not a namespace's
        _check(http, url, ledger)
        for key in KEYS:
            _create(http, url, ledger, key, None)
            _create(http, url, ledger, key, NS)
        _check(http, url, ledger)
    store.close()

    store = SqliteStore(path)
    with EmulatorServer(store=store) as second:  # the records loaded back from the file
        _check(http, second.url, ledger)
        for key in KEYS:
            _create(http, second.url, ledger, key, None)
        _check(http, second.url, ledger)
    store.close()
