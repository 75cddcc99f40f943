"""Start-up and the full job cycle, in-process and served.

    python bench/bench_cycle.py [--cycles 200] [--prism-dir DIR]

* in-process fixture: ``EmulatorServer()`` built, started and first answer (modules already
  imported, as in a test session), and the import itself once;
* the cycle: submit a sync.so generation with a webhook -> advance the virtual clock ->
  the signed webhook received and verified, over real loopback HTTP, per cycle;
* ``lipsync-emulator serve`` from launch to the first successful provider answer (the
  default, SQLite; and --memory), and Prism's, when ``--prism-dir`` holds an installed Prism.
  The emulator's modules are byte-compiled first, as Python leaves them after any earlier
  start or ``pip install``.

Run it with ``PYTHONPATH`` naming a folder that holds another ``lipsync_emulator`` (an earlier
commit's) to measure that one: bench/README.md has both, run one after the other.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import hmac
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PACKAGES = ("emulator", "schemas")  # what ``serve`` imports from the checkout


def compile_packages() -> None:
    """Byte-compile what ``serve`` imports, as any earlier start leaves it (Python skips it
    under PYTHONDONTWRITEBYTECODE, as on the machine measured here)."""
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


class StealMeter:
    """The share of this machine's CPU time its hypervisor gave to others while measuring
    (``steal`` in /proc/stat; ``None`` where there is no such file). On a shared VM it is
    what moves absolute figures between runs: 40 % stolen doubled every start-up here."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> list[int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                values = [int(v) for v in stat.readline().split()[1:9]]
            return values if len(values) == 8 else None
        except (OSError, ValueError):
            return None

    def share(self) -> float | None:
        end = self._read()
        if self.start is None or end is None:
            return None
        spent = [b - a for a, b in zip(self.start, end, strict=True)]
        return spent[7] / sum(spent) if sum(spent) else 0.0

    def note(self) -> str:
        share = self.share()
        return "CPU steal: not measured" if share is None else f"CPU steal (hypervisor) {100 * share:.0f} %"


def first_answer(cmd: list[str], port: int, path: str, ok: tuple[int, ...] = (200,), cwd: Path = ROOT,
                 env: dict[str, str] | None = None) -> float:
    """Seconds from launching ``cmd`` to the first ``ok`` answer on ``path``."""
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nx-api-key: sk_bench\r\nConnection: close\r\n\r\n".encode()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        while time.perf_counter() - start < 60:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(request)
                    head = sock.recv(64)
                    if any(head.startswith(f"HTTP/1.1 {code}".encode()) for code in ok):
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.002)
        raise RuntimeError("no answer within 60 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--prism-dir", default=None)
    parser.add_argument("--repeat", type=int, default=5, help="start-up measurements per server (median)")
    args = parser.parse_args(argv)

    steal = StealMeter()
    started = time.perf_counter()
    import requests
    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver
    imported = time.perf_counter() - started

    fixture = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        server = EmulatorServer().start()
        requests.get(f"{server.url}/_emulator/health", timeout=5).raise_for_status()
        fixture.append(time.perf_counter() - t)
        server.stop()
    print(f"in-process fixture: import {imported * 1000:.0f} ms once; EmulatorServer() to first answer "
          f"median {statistics.median(fixture) * 1000:.1f} ms")

    server, receiver = EmulatorServer().start(), WebhookReceiver()
    secret = server.runtime.cfg("syncso")["webhook_secret"].encode()
    http = requests.Session()
    headers = {"x-api-key": "sk_bench"}
    times = []
    for n in range(args.cycles):
        t = time.perf_counter()
        resp = http.post(f"{server.url}/v2/generate", json={**BODY, "webhookUrl": receiver.url}, headers=headers)
        assert resp.status_code == 201, resp.text
        http.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 60}).raise_for_status()
        hook = receiver.wait_for(n + 1, timeout=5)[n]
        stamp, sig = (p.split("=", 1)[1] for p in hook.headers["Sync-Signature"].split(","))
        expected = hmac.new(secret, f"{stamp}.".encode() + hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(sig, expected) and hook.json()["status"] == "COMPLETED"
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"submit -> complete -> signed webhook, over loopback HTTP (the fixture's server): median "
          f"{statistics.median(times) * 1000:.2f} ms, p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms "
          f"over {args.cycles} cycles")
    # the same cycle in-process: the app called through its WSGI test client, the webhook
    # still a real HTTP POST to the loopback receiver, signed and verified
    client, base, times = server.app.test_client(), len(receiver.received), []
    for n in range(args.cycles):
        t = time.perf_counter()
        resp = client.post("/v2/generate", json={**BODY, "webhookUrl": receiver.url}, headers=headers)
        assert resp.status_code == 201
        client.post("/_emulator/clock/advance", json={"seconds": 60})
        hook = receiver.wait_for(base + n + 1, timeout=5)[base + n]
        stamp, sig = (p.split("=", 1)[1] for p in hook.headers["Sync-Signature"].split(","))
        expected = hmac.new(secret, f"{stamp}.".encode() + hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(sig, expected)
        times.append(time.perf_counter() - t)
    server.stop()
    receiver.close()
    times.sort()
    print(f"submit -> complete -> signed webhook, in-process (WSGI test client): median "
          f"{statistics.median(times) * 1000:.2f} ms, p90 {times[int(len(times) * 0.9)] * 1000:.2f} ms")

    py = sys.executable
    compile_packages()
    with tempfile.TemporaryDirectory(prefix="lipsync-start-") as tmp:
        runs = {
            "serve (default: SQLite)": (lambda port: [py, "-m", "lipsync_emulator", "serve", "--port", str(port),
                                                      "--data-dir", os.path.join(tmp, f"d{port}"), "--log-level",
                                                      "off"], {}),
            "serve --memory": (lambda port: [py, "-m", "lipsync_emulator", "serve", "--port", str(port), "--memory",
                                             "--log-level", "off"], {}),
        }
        if args.prism_dir:
            prism = Path(args.prism_dir) / "node_modules" / ".bin" / "prism"
            runs["Prism mock"] = (lambda port: [str(prism), "mock", "-p", str(port), "-v", "error",
                                                str(ROOT / "schemas" / "syncso.yaml")], {})
        for name, (cmd, where) in runs.items():
            samples = []
            for _ in range(args.repeat):
                port = free_port()
                samples.append(first_answer(cmd(port), port, "/v2/models", **where))
            print(f"{name}: launch to first answer median {statistics.median(samples) * 1000:.0f} ms "
                  f"(min {min(samples) * 1000:.0f})")
    print(steal.note())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
