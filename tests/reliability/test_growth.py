"""State that grows with use, against ``serve`` (SQLite in its data directory): what a create
writes must not grow with the number of jobs a key already has, and the control plane answers
a page, however many jobs there are. The measure is the database's own, not a clock: the
pages (write-ahead log frames) a run of creates writes; bench/bench_growth.py times the same
at 100,000 jobs."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.reliability.serving import Served

KEY = "sk_live_one_busy_key_0001"
STUDIO = ("/api/v1/lipsync-video", {"formState": {"video": "https://e.x/v.mp4", "audio": "https://e.x/a.mp3"}},
          {"Authorization": f"Bearer {KEY}"}, 200)
SYNC = ("/v2/generate", {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4?duration=6"},
                                                         {"type": "audio", "url": "https://e.x/a.wav?duration=6"}]},
        {"x-api-key": KEY}, 201)
WINDOW = 60  # creates of each provider whose pages are counted
BULK = 1200  # creates of each provider between the two windows
WAL_HEADER, FRAME_HEADER = 32, 24  # bytes (sqlite.org/fileformat.html#the_write_ahead_log)


def create(session: requests.Session, url: str, count: int) -> None:
    """``count`` lipsync.studio creates (each charges the key's credit account) and as many
    sync.so creates (the key's generations), all on one key."""
    for _ in range(count):
        for path, body, headers, status in (STUDIO, SYNC):
            resp = session.post(url + path, json=body, headers=headers, timeout=30)
            assert resp.status_code == status, resp.text


def pages_written(db: str, session: requests.Session, url: str) -> int:
    """Pages a window of creates wrote to the database, counted in its write-ahead log: the
    log is checkpointed and emptied first, then held for the window (a reader's snapshot
    keeps SQLite from recycling it), so each page written is one frame of the file."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        (page,) = conn.execute("PRAGMA page_size").fetchone()
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        create(session, url, WINDOW)
        frames = (os.path.getsize(db + "-wal") - WAL_HEADER) // (FRAME_HEADER + page)
        conn.execute("COMMIT")
    return int(frames)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data = str(tmp_path_factory.mktemp("growth"))
    with Served(data, "--set=lipsyncstudio.initial_credits=1000000000") as served, \
            requests.Session() as session:
        url, db = served.url, os.path.join(data, "state.db")
        create(session, url, 100)  # the database's first pages, the validators' first use
        early = pages_written(db, session, url)

        def bulk(_: int) -> None:
            with requests.Session() as own:
                create(own, url, BULK // 4)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(bulk, range(4)))
        late = pages_written(db, session, url)
        yield served, early, late, 2 * (100 + 2 * WINDOW + BULK)


def test_a_create_writes_as_many_pages_after_a_keys_thousand_jobs_as_after_its_first(grown):
    _, early, late, _ = grown
    # slack for a B-tree one level deeper, page splits and the journal's batches (their number
    # follows the pace of the requests); a record that grew with the key's jobs (a credit
    # ledger kept in its account) wrote six times as many pages by then
    assert late <= early * 1.5, (early, late)


def test_the_control_planes_job_listing_answers_a_page_however_many_jobs(grown):
    served, _, _, jobs = grown
    first = requests.get(f"{served.url}/_emulator/jobs", timeout=30)
    assert first.status_code == 200 and len(first.json()) == 100
    assert first.headers["X-Total-Count"] == str(jobs)
    assert first.headers["Link"] == '</_emulator/jobs?offset=100&limit=100>; rel="next"'
    last = requests.get(f"{served.url}/_emulator/jobs", params={"offset": jobs - 10, "limit": 1000}, timeout=30)
    assert last.status_code == 200 and len(last.json()) == 10 and "Link" not in last.headers
    too_many = requests.get(f"{served.url}/_emulator/jobs", params={"limit": 1001}, timeout=30)
    assert too_many.status_code == 400 and too_many.json()["field"] == "limit"


def test_a_keys_credit_account_and_its_charges_answer_a_page_however_many_jobs(grown):
    served, _, _, jobs = grown
    base = f"{served.url}/_emulator/lipsyncstudio"
    account = requests.get(f"{base}/credits/{KEY}", timeout=30).json()
    assert account["spent"] == jobs // 2 * 20 and "charges" not in account  # 20 credits a create
    page = requests.get(f"{base}/charges", params={"api_key": KEY}, timeout=30)
    assert page.status_code == 200 and len(page.json()) == 100
    assert page.headers["X-Total-Count"] == str(jobs // 2)
    assert page.headers["Link"] == f'</_emulator/lipsyncstudio/charges?api_key={KEY}&offset=100&limit=100>; rel="next"'


WAL_LIMIT = 8 * 1024 * 1024  # the write-ahead log's documented bound (docs/reliability.md)


def test_the_write_ahead_log_shrinks_back_once_a_reader_lets_go(tmp_path):
    """A reader of state.db (the sqlite3 shell, a backup) holding a snapshot keeps SQLite from
    recycling the log, which then grows past its bound; once the reader lets go, the next
    checkpoint empties the log and the one after cuts the file back to the bound (a log that
    only grows stayed at ~82 MB)."""
    data = str(tmp_path)
    with Served(data, "--set=lipsyncstudio.initial_credits=1000000000") as served, requests.Session() as session:
        db, url = os.path.join(data, "state.db"), served.url
        create(session, url, 10)
        with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
            while os.path.getsize(db + "-wal") <= WAL_LIMIT + 1024 * 1024:
                create(session, url, 50)
            reader.execute("COMMIT")
        create(session, url, 50)
        assert os.path.getsize(db + "-wal") <= WAL_LIMIT, os.path.getsize(db + "-wal")
