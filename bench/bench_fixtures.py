"""What the pytest fixtures cost a test: starting, resetting and stopping an in-process emulator
(``EmulatorServer``: the ``emulator`` and ``make_emulator`` fixtures) and a ``WebhookReceiver``,
beside WireMock's reset when one is running (``--wiremock http://127.0.0.1:PORT``: its
``POST /__admin/reset``, the call a WireMock-based suite makes between tests).

    python bench/bench_fixtures.py [--runs 30] [--wiremock URL]

Each figure is the median and p90 over ``--runs`` cycles, after one warm-up cycle (imports are
paid once per session and reported apart). The ``emulator`` fixture starts one server per
session and resets it per test; ``make_emulator`` starts and stops one per test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import requests


def timed(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return (time.perf_counter() - started) * 1000


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"| {name} | {statistics.median(values):.2f} | {p90:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--wiremock", default=None, help="a running WireMock's base URL")
    args = parser.parse_args()

    imports = timed(lambda: __import__("lipsync_emulator.testing"))
    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

    body = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                            {"type": "audio", "url": "https://e.x/a.wav"}]}
    rows: dict[str, list[float]] = {k: [] for k in ("emulator start", "emulator reset (after one job)",
                                                     "emulator stop", "receiver start", "receiver close")}
    session = requests.Session()
    for run in range(args.runs + 1):
        started = time.perf_counter()
        server = EmulatorServer().start()
        start = (time.perf_counter() - started) * 1000
        session.get(f"{server.url}/_emulator/health", timeout=10).raise_for_status()
        session.post(f"{server.url}/v2/generate", headers={"x-api-key": "k"}, json=body, timeout=10).raise_for_status()
        reset = timed(server.reset)
        stop = timed(server.stop)
        started = time.perf_counter()
        receiver = WebhookReceiver()
        opened = (time.perf_counter() - started) * 1000
        session.post(receiver.url, json={}, timeout=10)
        close = timed(receiver.close)
        if run:  # the first cycle warms up
            for key, value in zip(rows, (start, reset, stop, opened, close), strict=True):
                rows[key].append(value)
    if args.wiremock:
        rows["WireMock POST /__admin/reset"] = [
            timed(lambda: session.post(f"{args.wiremock}/__admin/reset", timeout=10).raise_for_status())
            for _ in range(args.runs)]

    print(f"imports (once per session): {imports:.0f} ms\n")
    print("| per test | median ms | p90 ms |\n|---|---:|---:|")
    for name, values in rows.items():
        print(summary(name, values))


if __name__ == "__main__":
    main()
