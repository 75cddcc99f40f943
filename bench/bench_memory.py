"""Memory and access cost with 100,000 stored jobs: RSS of the process holding them, and
``get`` / a first list page timed at 1,000 and at 100,000 jobs (O(1) and O(page) means
the two sizes cost the same).

    python bench/bench_memory.py [--jobs 100000] [--store memory|sqlite]

Jobs are created through the lifecycle engine (sync.so generations with a realistic
request), not over HTTP: this measures what the store keeps, not the server.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import tempfile
import time
from typing import Any


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Any, n: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    args = parser.parse_args(argv)

    from lipsync_emulator.app import create_app
    from lipsync_emulator.core.runtime import EXTENSION
    from lipsync_emulator.providers.syncso import models

    store = None
    if args.store == "sqlite":
        from lipsync_emulator.core.sqlite_store import SqliteStore

        store = SqliteStore(os.path.join(tempfile.mkdtemp(prefix="lipsync-mem-"), "state.db"))
    rt = create_app({"clock": "virtual", "seed": 1}, store=store).extensions[EXTENSION]
    cfg = rt.cfg(models.NAME)
    gc.collect()
    base = rss_mb()
    payload = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                               {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}],
               "options": {"sync_mode": "cut_off"}, "outputFileName": "bench"}
    ids: list[str] = []
    checkpoints: dict[int, dict[str, float]] = {}

    def sample(count: int) -> None:
        key = ids[count // 2]
        get_us = timed(lambda: rt.engine.get(models.NAME, models.KIND, key))
        page_us = timed(lambda: list(itertools.islice(rt.engine.jobs(models.NAME, models.KIND), 50)), 200)
        checkpoints[count] = {"get_us": get_us, "page50_us": page_us}

    started = time.perf_counter()
    for n in range(1, args.jobs + 1):
        job = rt.engine.create(models.NAME, models.KIND, rt.ids.uuid(), durations=cfg["durations"],
                               request=dict(payload), account="sk_bench", webhook_url=None,
                               base_url="http://127.0.0.1:8080", scenarios=[])
        ids.append(job.id)
        if n in (1000, args.jobs):
            sample(n)
    elapsed = time.perf_counter() - started
    gc.collect()
    rss = rss_mb()
    print(f"{args.jobs} jobs in the {args.store} store: RSS {rss:.0f} MB ({rss - base:.0f} MB for the jobs, "
          f"{(rss - base) * 1024 / args.jobs:.2f} KB each); created in {elapsed:.1f} s")
    for count, row in checkpoints.items():
        print(f"  at {count:>7} jobs: get {row['get_us']:.1f} us, first page of 50 {row['page50_us']:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
