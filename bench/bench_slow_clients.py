"""Slow clients against ``lipsync-emulator serve``: a normal request's latency alone, then
beside N connections that each send a request one byte every few seconds, and how long
until those are cut.

    python bench/bench_slow_clients.py [--clients 200] [--before DIR]

``--before DIR``: the same against a checkout of an earlier commit (see bench_serve.py).
Loopback only; every server started here is stopped here. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from bench_cycle import free_port
from bench_serve import package_root, start, stop, wait_ready  # a sibling script: bench/ is sys.path[0]


def latencies(url: str, count: int = 20, timeout: float = 10.0) -> list[float]:
    """Seconds for each of ``count`` polls of the model list (``inf`` for one that timed out)."""
    out = []
    with requests.Session() as session:
        for _ in range(count):
            started = time.perf_counter()
            try:
                session.get(url, headers={"x-api-key": "sk_bench"}, timeout=timeout)
                out.append(time.perf_counter() - started)
            except requests.RequestException:
                out.append(float("inf"))
    return out


def run(name: str, cmd: list[str], env: dict[str, str] | None, clients: int, drip: float, wait: float) -> None:
    port = free_port()
    proc = start([c.replace("{port}", str(port)) for c in cmd], env=env)
    try:
        wait_ready(port, "/v2/models")
        url = f"http://127.0.0.1:{port}/v2/models"
        alone = latencies(url)
        slow = []
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /v2/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
            slow.append(sock)
        opened, cut, stopping = time.monotonic(), {}, threading.Event()

        def dribble() -> None:
            while not stopping.wait(drip):
                for n, sock in enumerate(slow):
                    if n not in cut:
                        try:
                            sock.sendall(b" ")
                        except OSError:
                            cut[n] = time.monotonic() - opened

        threading.Thread(target=dribble, daemon=True).start()
        beside = latencies(url)
        deadline = time.monotonic() + wait
        while len(cut) < clients and time.monotonic() < deadline:
            time.sleep(0.5)
        stopping.set()
        for sock in slow:
            sock.close()
        med_alone, med_beside = statistics.median(alone), statistics.median(beside)
        timed_out = sum(1 for t in beside if t == float("inf"))
        print(f"| {name} | {med_alone * 1000:.2f} | {med_beside * 1000:.2f} | {max(beside) * 1000:.0f} | "
              f"{timed_out} | {len(cut)} of {clients}"
              + (f", after {min(cut.values()):.0f}-{max(cut.values()):.0f} s |" if cut else " |"), flush=True)
    finally:
        stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--drip", type=float, default=3.0, help="seconds between two bytes of a slow client")
    parser.add_argument("--wait", type=float, default=45.0, help="how long to wait for the slow clients to be cut")
    parser.add_argument("--before", default=None)
    args = parser.parse_args(argv)
    py = sys.executable
    serve = [py, "-m", "lipsync_emulator", "serve", "--port", "{port}", "--memory", "--log-level", "off"]
    print(f"| server | poll alone, median ms | beside {args.clients} slow clients, median ms | max ms | timed out "
          f"(10 s) | slow clients cut |\n|---|---:|---:|---:|---:|---|")
    run("serve (waitress, one process)", serve, None, args.clients, args.drip, args.wait)
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"PYTHONPATH": str(package_root(Path(args.before), Path(tmp)))}
            run("before: serve (granian, 1 worker x 4 threads)", serve, env, args.clients, args.drip, args.wait)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
