"""How fast the dashboard's pages answer with a long history: 10,000 jobs and 50,000 journal
entries. Each page of the dashboard is one or two control-plane calls, re-read every second
while it is open; this times those calls over a real loopback socket (median and worst of
``--rounds``), for the memory store (the pytest fixture) or SQLite (``serve``).

    python bench/bench_ui.py [--store memory|sqlite] [--jobs 10000] [--journal 50000]

Not a test; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import requests
from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

JOB = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/a.mp4"},
                                       {"type": "audio", "url": "https://example.com/a.wav"}]}


def fill(emu: EmulatorServer, jobs: int, journal: int) -> list[str]:
    """``jobs`` sync.so jobs created through the app (journalled as any request is): a tenth
    of them completed with a webhook delivered, the rest PROCESSING; then the journal topped
    up to ``journal`` entries with copies of those recorded requests."""
    client = emu.app.test_client()
    receiver = WebhookReceiver()

    def create(body: dict[str, object]) -> str:
        return str(client.post("/v2/generate", json=body, headers={"x-api-key": "sk-bench"}).get_json()["id"])

    ids = [create({**JOB, "webhookUrl": receiver.url}) for _ in range(jobs // 10)]
    emu.advance(60)
    receiver.close()
    ids += [create(JOB) for _ in range(jobs - len(ids))]
    rt = emu.runtime
    rt.journal.flush()
    recorded = list(rt.journal._entries) or rt.store.journal_rows(jobs)  # type: ignore[attr-defined]
    for n in range(journal - jobs):
        entry = copy.copy(recorded[n % len(recorded)])
        entry.pop("seq", None)
        rt.journal.record(entry)
    rt.journal.flush()
    emu.advance(10)  # every job PROCESSING: a mix of states, and the webhooks still to come
    return ids


def timed(http: requests.Session, url: str, rounds: int) -> tuple[float, float, int]:
    took = []
    size = 0
    for _ in range(rounds):
        started = time.perf_counter()
        resp = http.get(url, timeout=60)
        took.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
        size = len(resp.content)
    return statistics.median(took), max(took), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--journal", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with EmulatorServer({"journal_size": args.journal}, store=args.store) as emu:
        started = time.perf_counter()
        ids = fill(emu, args.jobs, args.journal)
        print(f"filled in {time.perf_counter() - started:.1f} s: {args.jobs} jobs, {args.journal} journal entries "
              f"({args.store} store)")
        some = ids[len(ids) // 2]
        base = f"{emu.url}/_emulator"
        calls = {
            "overview (counts, failures)": "/overview",
            "jobs, first page (50)": "/jobs?limit=50",
            "jobs, last page (50)": f"/jobs?limit=50&offset={args.jobs - 50}",
            "jobs, filtered by state": "/jobs?limit=50&status=PROCESSING",
            "one job (its page)": f"/jobs/syncso/{some}",
            "requests, first page (50)": "/requests?limit=50",
            "requests, last page (50)": f"/requests?limit=50&offset={args.journal - 50}",
            "requests, filtered by job": f"/requests?limit=50&job_id={some}",
            "webhooks, first page (50)": "/webhooks?limit=50",
            "namespaces": "/namespaces",
        }
        rows = []
        with requests.Session() as http:
            for label, path in calls.items():
                median, worst, size = timed(http, base + path, args.rounds)
                rows.append({"call": label, "path": path, "median_ms": round(median, 1), "max_ms": round(worst, 1),
                             "bytes": size})
        print("\n| call | median ms | max ms | bytes |\n|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['call']} | {r['median_ms']} | {r['max_ms']} | {r['bytes']} |")
        print("\n" + json.dumps({"store": args.store, "jobs": args.jobs, "journal": args.journal, "rows": rows}))


if __name__ == "__main__":
    main()
