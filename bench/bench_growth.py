"""Growth: 100,000 creates against ``lipsync-emulator serve`` on one API key, then 100,000
across many keys (each run on a fresh server), and whether a create costs the same on the
last thousand as on the first.

    python bench/bench_growth.py [--jobs 100000] [--keys 1000] [--threads 4] [--memory]
                                 [--clock virtual|real] [--json FILE]

Creates alternate between lipsync.studio (``POST /api/v1/lipsync-video``: each charges the
key's credit account) and sync.so (``POST /v2/generate``: the key's generations, listed per
key), with the documented bodies, from ``--threads`` client threads on keep-alive
connections. Reported per run: create latency per thousand (p50/p99 of the first thousand
against the last ones, and the worst thousand), the server's resident memory (``VmRSS`` /
``VmHWM`` of ``/proc/<pid>/status``), the database and its write-ahead log on disk, and at
the end the time of the control plane's listing (``GET /_emulator/jobs?limit=100``: first
page, a deep page, the default page) and of a key's own sync.so listing
(``GET /v2/generations?limit=100``), count, credit account and charges.

``serve`` keeps its state in SQLite in a temporary data directory (``--memory``: in memory
only), on the virtual clock by default, so every create does the same work (``--clock real``:
jobs also finish in the background meanwhile). Loopback only; the server started here is
stopped here. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_cycle import free_port  # a sibling script: bench/ is sys.path[0]
from bench_serve import start, stop, wait_ready

STUDIO_BODY = json.dumps({"formState": {"video": "https://cdn.example/v.mp4", "audio": "https://cdn.example/a.mp3"}})
SYNC_BODY = json.dumps({"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}],
                        "options": {"sync_mode": "cut_off"}, "outputFileName": "bench"})
CHUNK = 1000


def status_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def disk_bytes(data_dir: str | None) -> dict[str, int]:
    if data_dir is None:
        return {}
    out = {}
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(data_dir, "state.db" + suffix)
        out["state.db" + suffix] = os.path.getsize(path) if os.path.exists(path) else 0
    return out


def key_of(n: int, keys: int) -> str:
    return f"sk_live_growth_{n % keys:06d}"


def create(conn: http.client.HTTPConnection, n: int, key: str) -> float:
    """One create (even ``n``: lipsync.studio, odd: sync.so); its latency in seconds."""
    if n % 2 == 0:
        path, body, headers = "/api/v1/lipsync-video", STUDIO_BODY, {"Authorization": f"Bearer {key}"}
        expected = 200
    else:
        path, body, headers = "/v2/generate", SYNC_BODY, {"x-api-key": key}
        expected = 201
    headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    conn.request("POST", path, body, headers)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.perf_counter() - started
    if resp.status != expected:
        raise RuntimeError(f"create {n} on {path}: {resp.status} {data[:300]!r}")
    return elapsed


def timed_get(port: int, path: str, headers: dict[str, str] | None = None, repeat: int = 5) -> dict[str, Any]:
    """Median and worst time of ``repeat`` GETs (a fresh connection each), and the answer's size."""
    times, size, total = [], 0, None
    for _ in range(repeat):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        times.append(time.perf_counter() - started)
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
        size, total = len(body), resp.getheader("X-Total-Count")
    return {"path": path, "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000,
            "bytes": size, "total": total}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(name: str, jobs: int, keys: int, threads: int, memory: bool, clock: str) -> dict[str, Any]:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="lipsync-growth-")
    data_dir = None if memory else os.path.join(tmp, "data")
    cmd = [sys.executable, "-m", "lipsync_emulator", "serve", "--port", str(port), "--clock", clock,
           "--threads", "4", "--quiet", "--log-level", "error",
           # 20 credits a create, so that no key runs out
           "--set", "lipsyncstudio.initial_credits=1000000000",
           *(["--memory"] if memory else ["--data-dir", data_dir or ""])]
    proc = start(cmd)
    try:
        wait_ready(port, "/_emulator/health")
        latency = [0.0] * jobs
        counter = iter(range(jobs))
        lock = threading.Lock()
        errors: list[BaseException] = []
        samples: list[dict[str, Any]] = []
        started = time.perf_counter()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                while True:
                    with lock:
                        n = next(counter, None)
                    if n is None:
                        return
                    latency[n] = create(conn, n, key_of(n // 2, keys))
                    if (n + 1) % 10_000 == 0:
                        samples.append({"jobs": n + 1, "seconds": time.perf_counter() - started,
                                        **status_kb(proc.pid), **disk_bytes(data_dir)})
            except BaseException as exc:  # noqa: BLE001 - reported after the run
                errors.append(exc)
            finally:
                conn.close()

        workers = [threading.Thread(target=client) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        chunks = [latency[i:i + CHUNK] for i in range(0, jobs, CHUNK)]
        per_thousand = [{"p50_ms": statistics.median(c) * 1000, "p99_ms": percentile(c, 0.99) * 1000} for c in chunks]
        final = {**status_kb(proc.pid), **disk_bytes(data_dir)}
        one_key = key_of(0, keys)
        listings = [
            timed_get(port, "/_emulator/jobs?limit=100"),
            timed_get(port, f"/_emulator/jobs?limit=100&offset={max(0, jobs - 100)}"),
            timed_get(port, "/_emulator/jobs"),
            timed_get(port, "/_emulator/jobs?limit=1000"),
            timed_get(port, "/v2/generations?limit=100", {"x-api-key": one_key}),
            timed_get(port, "/v2/generations/count", {"x-api-key": one_key}),
            timed_get(port, f"/_emulator/lipsyncstudio/credits/{one_key}"),
            timed_get(port, f"/_emulator/lipsyncstudio/charges?api_key={one_key}&limit=100"),
        ]
        return {"name": name, "jobs": jobs, "keys": keys, "threads": threads, "store": "memory" if memory else "sqlite",
                "clock": clock, "seconds": elapsed, "per_thousand": per_thousand, "samples": samples,
                "final": final, "listings": listings}
    finally:
        stop(proc)


def report(result: dict[str, Any]) -> None:
    chunks = result["per_thousand"]
    first, last = chunks[0], chunks[-1]
    tail = chunks[-10:]
    worst = max(chunks[1:] or chunks, key=lambda c: c["p99_ms"])
    print(f"\n## {result['name']}: {result['jobs']:,} creates, {result['keys']:,} key(s), {result['store']}, "
          f"{result['clock']} clock, {result['threads']} client threads: {result['seconds']:.0f} s "
          f"({result['jobs'] / result['seconds']:.0f} creates/s)")
    print(f"first thousand: p50 {first['p50_ms']:.2f} ms, p99 {first['p99_ms']:.2f} ms")
    print(f"last thousand:  p50 {last['p50_ms']:.2f} ms, p99 {last['p99_ms']:.2f} ms "
          f"(p99 ratio {last['p99_ms'] / first['p99_ms']:.2f}x)")
    print(f"last ten thousands: p50 {statistics.median(c['p50_ms'] for c in tail):.2f} ms (median of the ten), "
          f"p99 {max(c['p99_ms'] for c in tail):.2f} ms (worst of the ten, "
          f"{max(c['p99_ms'] for c in tail) / first['p99_ms']:.2f}x the first)")
    print(f"worst thousand after the first: p99 {worst['p99_ms']:.2f} ms (thousand #{chunks.index(worst) + 1})")
    print("| jobs | s | RSS MB | peak RSS MB | state.db MB | -wal MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for s in result["samples"]:
        print(f"| {s['jobs']:,} | {s['seconds']:.0f} | {s['VmRSS'] / 1024:.0f} | {s['VmHWM'] / 1024:.0f} | "
              f"{s.get('state.db', 0) / 2**20:.1f} | {s.get('state.db-wal', 0) / 2**20:.1f} |")
    final = result["final"]
    print(f"at the end: RSS {final['VmRSS'] / 1024:.0f} MB (peak {final['VmHWM'] / 1024:.0f} MB)"
          + (f", state.db {final['state.db'] / 2**20:.1f} MB + WAL {final['state.db-wal'] / 2**20:.1f} MB"
             if "state.db" in final else ""))
    print("| listing | median ms | max ms | bytes | X-Total-Count |")
    print("|---|---:|---:|---:|---:|")
    for row in result["listings"]:
        print(f"| `{row['path']}` | {row['median_ms']:.1f} | {row['max_ms']:.1f} | {row['bytes']:,} | {row['total'] or ''} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="creates per run")
    parser.add_argument("--keys", type=int, default=1000, help="API keys of the many-keys run")
    parser.add_argument("--threads", type=int, default=4, help="client threads (one keep-alive connection each)")
    parser.add_argument("--memory", action="store_true", help="serve --memory instead of SQLite")
    parser.add_argument("--clock", choices=("virtual", "real"), default="virtual")
    parser.add_argument("--only", choices=("one", "many"), default=None, help="only one of the two runs")
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load[0]:.1f} at the start")
    results = []
    for name, keys in (("one key", 1), ("many keys", args.keys)):
        if args.only and not name.startswith(args.only):
            continue
        result = run(name, args.jobs, keys, args.threads, args.memory, args.clock)
        result["load_after"] = os.getloadavg()[0]
        report(result)
        print(f"load average {result['load_after']:.1f} at the end of the run")
        results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
