"""Throughput and latency of ``lipsync-emulator serve`` side by side, in one interleaved run,
with what users would pick instead — Stoplight Prism mocking the same schema, WireMock
standalone (tuned and default) and Mockoon CLI, each mocking the same create and poll — and
the framework's floor: a Flask app whose view returns a fixed body.

    python bench/bench_serve.py [--duration 8] [--rounds 3] [--connections 16] [--before DIR]
                                [--peers-dir DIR] [--skip-peers] [--json FILE]

The workload (bench/mixed.lua, driven by wrk): one sync.so create with a schema-valid body
(the emulator validates it fully, stores the job, journals the request) for every 4 polls of
a recent generation. Every server gets the same warm-up, duration and connection count; the
rounds interleave the servers, and each measurement reports the CPU share the hypervisor
stole and the load average beside it: on a shared machine compare only within one run.
``--before DIR``: also serve from DIR, a checkout of an earlier commit (its package folders
as they are in the repository), to compare before and after in the same run.

Needs ``wrk`` (``apt-get install wrk``); the peers need ``node``/``npm`` and ``java``
(Debian's ``default-jre-headless``): they are installed with npm into ``--peers-dir``.
Loopback only; every server started here is stopped here. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_cycle import StealMeter, compile_packages, free_port  # a sibling script: bench/ is sys.path[0]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCHEMA = ROOT / "schemas" / "syncso.yaml"
JOB_ID = "6f1c0c8e-0000-4000-8000-000000000000"
GENERATION = {"id": JOB_ID, "createdAt": "2026-01-01T00:00:00.000Z", "status": "PENDING", "model": "lipsync-2",
              "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}],
              "options": {}, "webhookUrl": None, "outputUrl": None, "outputDuration": None, "error": None}
PEERS = ("@stoplight/prism-cli", "wiremock", "@mockoon/cli")


def wait_ready(port: int, path: str, timeout: float = 90.0) -> float:
    """Seconds until ``GET path`` answers (any HTTP status)."""
    start = time.perf_counter()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: sk_bench\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() - start < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(16).startswith(b"HTTP/1."):
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s")


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # its own process group, so the server and anything it forks stop together
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def wrk(port: int, seconds: float, connections: int, polls: int) -> dict[str, Any]:
    env = {**os.environ, "BENCH_POLLS": str(polls)}
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s",
                          str(HERE / "mixed.lua"), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env=env, timeout=seconds + 60, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": ms("50"), "p99_ms": ms("99"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
            "non_2xx": int(errors.group(1)) if errors else 0}


def install_peers(prefix: Path) -> None:
    missing = [p for p in PEERS if not (prefix / "node_modules" / p / "package.json").exists()]
    if missing:
        print(f"installing {', '.join(missing)} into {prefix} (npm)...", file=sys.stderr)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix), *missing],
                       check=True, timeout=900)


def wiremock_files(root: Path) -> Path:
    """WireMock stubs for the create and the poll (the same JSON the mixed workload expects)."""
    mappings = root / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    stubs = [("POST", {"url": "/v2/generate"}, 201), ("GET", {"urlPathPattern": "/v2/generate/[^/]+"}, 200),
             ("GET", {"url": "/v2/models"}, 200)]
    for n, (method, match, status) in enumerate(stubs):
        (mappings / f"stub{n}.json").write_text(json.dumps({
            "request": {"method": method, **match},
            "response": {"status": status, "jsonBody": GENERATION, "headers": {"Content-Type": "application/json"}},
        }))
    return root


def mockoon_environment(path: Path, port: int) -> Path:
    """A Mockoon environment with the same create and poll."""

    def route(n: int, method: str, endpoint: str, status: int) -> dict[str, Any]:
        return {"uuid": f"00000000-0000-4000-8000-00000000000{n}", "type": "http", "documentation": "",
                "method": method, "endpoint": endpoint, "responseMode": None, "streamingMode": None,
                "streamingInterval": 0,
                "responses": [{"uuid": f"10000000-0000-4000-8000-00000000000{n}", "body": json.dumps(GENERATION),
                               "latency": 0, "statusCode": status, "label": "", "headers": [
                                   {"key": "Content-Type", "value": "application/json"}],
                               "bodyType": "INLINE", "filePath": "", "databucketID": "", "sendFileAsBody": False,
                               "rules": [], "rulesOperator": "OR", "disableTemplating": True,
                               "fallbackTo404": False, "default": True, "crudKey": "id", "callbacks": []}]}

    routes = [route(1, "post", "v2/generate", 201), route(2, "get", "v2/generate/:id", 200),
              route(3, "get", "v2/models", 200)]
    env = {"uuid": "20000000-0000-4000-8000-000000000000", "lastMigration": 32, "name": "bench", "endpointPrefix": "",
           "latency": 0, "port": port, "hostname": "127.0.0.1", "folders": [], "routes": routes,
           "rootChildren": [{"type": "route", "uuid": r["uuid"]} for r in routes], "proxyMode": False,
           "proxyHost": "", "proxyRemovePrefix": False, "tlsOptions": {"enabled": False, "type": "CERT",
                                                                        "pfxPath": "", "certPath": "", "keyPath": "",
                                                                        "caPath": "", "passphrase": ""},
           "cors": False, "headers": [], "proxyReqHeaders": [], "proxyResHeaders": [], "data": [], "callbacks": []}
    path.write_text(json.dumps(env))
    return path


def measure(name: str, cmd: list[str], args: argparse.Namespace, ready_path: str, *,
            env: dict[str, str] | None = None, port: int | None = None) -> dict[str, Any]:
    port = port or free_port()
    fresh = tempfile.mkdtemp(prefix="lipsync-bench-data-")  # every round from an empty data directory
    cmd = [c.replace("{port}", str(port)).replace("{data}", fresh) for c in cmd]
    load = os.getloadavg()[0]
    steal = StealMeter()
    proc = start(cmd, env=env)
    try:
        startup = wait_ready(port, ready_path)
        wrk(port, args.warmup, args.connections, args.polls)  # warm-up: JIT, caches, first writes
        row = {"server": name, "startup_s": round(startup, 3),
               **wrk(port, args.duration, args.connections, args.polls)}
    finally:
        stop(proc)
        shutil.rmtree(fresh, ignore_errors=True)
    share = steal.share()
    row.update(cpu_steal=None if share is None else round(share, 3), load_1m=round(load, 2))
    print(f"  {name:<44} {row['rps']:>7.0f} req/s  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
          f"non-2xx {row['non_2xx']}  steal {100 * (share or 0):.0f} %  load {load:.2f}", file=sys.stderr)
    return row


def runs(args: argparse.Namespace, tmp: Path) -> list[tuple[str, list[str], str, dict[str, str] | None]]:
    py = sys.executable
    serve = [py, "-m", "lipsync_emulator", "serve", "--port", "{port}", "--log-level", "off"]
    out: list[tuple[str, list[str], str, dict[str, str] | None]] = [
        ("emulator serve (default: SQLite)", [*serve, "--data-dir", "{data}/d"], "/v2/models", None),
        ("emulator serve --memory", [*serve, "--memory"], "/v2/models", None),
    ]
    if args.before:
        before = {"PYTHONPATH": str(package_root(Path(args.before), tmp))}
        out += [("before: serve (default: SQLite, 1 worker)", [*serve, "--data-dir", "{data}/d"], "/v2/models", before),
                ("before: serve --memory", [*serve, "--memory"], "/v2/models", before)]
    # the same floor on the server serve uses: what any app on it can reach at most
    out.append(("empty Flask app, waitress (floor of serve)",
                [py, "-m", "waitress", "--listen", "127.0.0.1:{port}", "--threads", "4", "bench.flask_floor:app"],
                "/", None))
    out.append(("empty Flask app, granian (floor)",
                [py, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads", "1",
                 "--port", "{port}", "--no-ws", "--log-level", "error", "bench.flask_floor:app"], "/", None))
    if not args.skip_peers:
        peers = Path(args.peers_dir)
        install_peers(peers)
        bin_dir = peers / "node_modules" / ".bin"
        jar = next((peers / "node_modules" / "wiremock").rglob("wiremock-standalone*.jar"))
        stubs = wiremock_files(tmp / "wiremock")
        wiremock = ["java", "-jar", str(jar), "--bind-address", "127.0.0.1", "--port", "{port}",
                    "--root-dir", str(stubs)]
        mockoon = mockoon_environment(tmp / "mockoon.json", 0)
        out += [
            ("Prism 5 mock (schemas/syncso.yaml)", [str(bin_dir / "prism"), "mock", "-p", "{port}", "-v", "error",
                                                   str(SCHEMA)], "/v2/models", None),
            # WireMock's documented performance settings: no request journal, no request
            # logging, asynchronous responses
            ("WireMock standalone, tuned", [*wiremock, "--no-request-journal", "--disable-request-logging",
                                            "--async-response-enabled", "true", "--container-threads", "50"],
             "/v2/models", None),
            ("WireMock standalone, defaults", wiremock, "/v2/models", None),
            ("Mockoon CLI", [str(bin_dir / "mockoon-cli"), "start", "--data", str(mockoon), "--port", "{port}",
                             "--disable-log-to-file"], "/v2/models", None),
        ]
    return out


def package_root(checkout: Path, tmp: Path) -> Path:
    """A folder importing ``lipsync_emulator`` from ``checkout`` (its folders as in the repository)."""
    root = tmp / "before"
    package = root / "lipsync_emulator"
    if not package.exists():
        shutil.copytree(checkout / "emulator", package, ignore=shutil.ignore_patterns("__pycache__", "contracts", "schemas"))
        for sub in ("contracts", "schemas"):
            shutil.copytree(checkout / sub, package / sub, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per server and round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--polls", type=int, default=4, help="polls per create")
    parser.add_argument("--before", default=None, help="a checkout of an earlier commit, served too")
    parser.add_argument("--peers-dir", default=os.path.join(tempfile.gettempdir(), "lipsync-bench-peers"),
                        help="where Prism, WireMock and Mockoon are (or get) installed with npm")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--only", default=None, help="a regular expression: only the servers it matches")
    parser.add_argument("--json", default=None, help="write the results here too")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    compile_packages()  # start-up as any start after the first sees it
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lipsync-bench-") as tmp:
        planned = [r for r in runs(args, Path(tmp)) if args.only is None or re.search(args.only, r[0])]
        print(f"mixed workload: 1 create + {args.polls} polls, {args.connections} connections, "
              f"{args.duration:g} s each, {args.rounds} interleaved rounds", file=sys.stderr)
        for n in range(args.rounds):
            for name, cmd, ready, env in planned:
                try:
                    rows.append({"round": n + 1, **measure(name, cmd, args, ready, env=env)})
                except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                    print(f"  {name}: skipped ({exc})", file=sys.stderr)
    result = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}",
              "workload": {"creates_per_polls": f"1:{args.polls}", "connections": args.connections,
                           "seconds": args.duration, "rounds": args.rounds}, "rows": rows}
    print(markdown(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def markdown(result: dict[str, Any]) -> str:
    """One table per round (each with its CPU steal and load), then each server's best round
    and the ratios of the emulator's default to the others in that quietest round."""
    rows = result["rows"]
    w = result["workload"]
    lines = [f"Mixed workload, {w['creates_per_polls']} creates:polls, {w['connections']} connections, "
             f"{w['seconds']:g} s per server, {w['rounds']} interleaved rounds; {result['machine']}.", ""]
    for n in sorted({r["round"] for r in rows}):
        lines += [f"Round {n}:", "", "| server | req/s | p50 ms | p99 ms | non-2xx | start-up s | CPU steal | load |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["round"] == n):
            steal = "" if r["cpu_steal"] is None else f"{100 * r['cpu_steal']:.0f} %"
            lines.append(f"| {r['server']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} "
                         f"| {r['startup_s']:.2f} | {steal} | {r['load_1m']:.2f} |")
        lines.append("")
    quiet = min({r["round"] for r in rows}, default=None,
                key=lambda n: sum((r["cpu_steal"] or 0) + r["load_1m"] for r in rows if r["round"] == n))
    if quiet is not None:
        by = {r["server"]: r for r in rows if r["round"] == quiet}
        ours = by.get("emulator serve (default: SQLite)")
        if ours:
            lines.append(f"In the quietest round ({quiet}), the emulator's default serve against:")
            for name, r in by.items():
                if r is not ours:
                    lines.append(f"- {name}: **{ours['rps'] / r['rps']:.2f}x**")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
