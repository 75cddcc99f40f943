"""Start-up and the full job cycle, in-process and served.

    python bench/bench_cycle.py [--cycles 200] [--prism-dir DIR]
    python bench/bench_cycle.py --before DIR [--rounds 5] [--cycles 300]

* in-process fixture: ``EmulatorServer()`` built, started and first answer (modules already
  imported, as in a test session), and the import itself once;
* the cycle: submit a sync.so generation with a webhook -> advance the virtual clock ->
  the signed webhook received and verified, over real loopback HTTP, per cycle;
* ``lipsync-emulator serve`` from launch to the first successful provider answer (the
  default, SQLite; and --memory), and Prism's, when ``--prism-dir`` holds an installed Prism.
  The emulator's modules are byte-compiled first, as Python leaves them after any earlier
  start or ``pip install``.

``--before DIR`` compares the cycle with an earlier commit's in one run: DIR is a checkout
of it, or a folder holding its installed ``lipsync_emulator``. Each round measures the earlier
package, then this one, each in a fresh process (outside load moves every figure: compare
inside one run), with the load average and the CPU stolen beside each.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def p90(times: list[float]) -> float:
    return sorted(times)[int(len(times) * 0.9)]


def cycle(cycles: int) -> tuple[list[float], list[float]]:
    """Seconds per submit -> complete -> signed webhook cycle, ``cycles`` times over loopback
    HTTP, then as many in-process, on one fixture server and one receiver."""
    import requests
    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

    server, receiver = EmulatorServer().start(), WebhookReceiver()
    secret = server.runtime.cfg("syncso")["webhook_secret"].encode()
    headers = {"x-api-key": "sk_bench"}

    def verified(n: int) -> Any:
        hook = receiver.wait_for(n + 1, timeout=5)[n]
        stamp, sig = (p.split("=", 1)[1] for p in hook.headers["Sync-Signature"].split(","))
        expected = hmac.new(secret, f"{stamp}.".encode() + hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(sig, expected) and hook.json()["status"] == "COMPLETED"
        return hook

    http, loopback = requests.Session(), []
    for n in range(cycles):
        t = time.perf_counter()
        resp = http.post(f"{server.url}/v2/generate", json={**BODY, "webhookUrl": receiver.url}, headers=headers)
        assert resp.status_code == 201, resp.text
        http.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 60}).raise_for_status()
        verified(n)
        loopback.append(time.perf_counter() - t)
    # the same cycle in-process: the app called through its WSGI test client, the webhook
    # still a real HTTP POST to the loopback receiver, signed and verified
    client, base, in_process = server.app.test_client(), len(receiver.received), []
    for n in range(cycles):
        t = time.perf_counter()
        resp = client.post("/v2/generate", json={**BODY, "webhookUrl": receiver.url}, headers=headers)
        assert resp.status_code == 201
        client.post("/_emulator/clock/advance", json={"seconds": 60})
        verified(base + n)
        in_process.append(time.perf_counter() - t)
    server.stop()
    receiver.close()
    return loopback, in_process


def importable(folder: Path, tmp: Path) -> Path:
    """A folder to put on ``PYTHONPATH`` so ``lipsync_emulator`` is the one in ``folder``: itself
    when it holds an installed package, else one laid out from a checkout's package folders."""
    if (folder / "lipsync_emulator").is_dir():
        return folder
    from bench_serve import package_root

    return package_root(folder, tmp)


def compare(args: argparse.Namespace) -> int:
    """The cycle of the package in ``args.before`` and of this checkout's, interleaved."""
    sides: dict[str, list[dict[str, float]]] = {"before": [], "this checkout": []}
    with tempfile.TemporaryDirectory(prefix="lipsync-cycle-") as tmp:
        before = str(importable(Path(args.before).resolve(), Path(tmp)))
        for n in range(args.rounds):
            for side, rows in sides.items():
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                if side == "before":
                    env["PYTHONPATH"] = before
                steal = StealMeter()
                out = subprocess.run([sys.executable, __file__, "--cycle-only", "--cycles", str(args.cycles)],
                                     env=env, cwd=tmp, capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.splitlines()[-1])
                row["load"], row["steal"] = os.getloadavg()[0], 100 * (steal.share() or 0.0)
                rows.append(row)
                print(f"round {n + 1}, {side}: in-process median {row['in_process']:.2f} ms, loopback median "
                      f"{row['loopback']:.2f} ms (load {row['load']:.2f}, CPU steal {row['steal']:.0f} %)", flush=True)
    for side, rows in sides.items():
        print(f"{side}: median of the rounds' medians, in-process "
              f"{statistics.median(r['in_process'] for r in rows):.2f} ms, loopback "
              f"{statistics.median(r['loopback'] for r in rows):.2f} ms over {args.rounds} rounds of {args.cycles} cycles")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--prism-dir", default=None)
    parser.add_argument("--repeat", type=int, default=5, help="start-up measurements per server (median)")
    parser.add_argument("--before", default=None, help="an earlier commit's checkout or installed package folder")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds with --before")
    parser.add_argument("--cycle-only", action="store_true", help=argparse.SUPPRESS)  # one side of --before
    args = parser.parse_args(argv)
    if args.cycle_only:
        loopback, in_process = cycle(args.cycles)
        print(json.dumps({"loopback": statistics.median(loopback) * 1000,
                          "in_process": statistics.median(in_process) * 1000}))
        return 0
    if args.before:
        return compare(args)

    steal = StealMeter()
    started = time.perf_counter()
    import requests
    from lipsync_emulator.testing import EmulatorServer
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

    loopback, in_process = cycle(args.cycles)
    print(f"submit -> complete -> signed webhook, over loopback HTTP (the fixture's server): median "
          f"{statistics.median(loopback) * 1000:.2f} ms, p90 {p90(loopback) * 1000:.2f} ms over {args.cycles} cycles")
    print(f"submit -> complete -> signed webhook, in-process (WSGI test client): median "
          f"{statistics.median(in_process) * 1000:.2f} ms, p90 {p90(in_process) * 1000:.2f} ms")

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
