"""A ``lipsync-emulator serve`` process for the reliability tests (loopback only, bounded
waits), and a webhook receiver that can go down and come back on the same port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``serve`` in its own process group."""

    def __init__(self, data_dir: str, *extra: str, clock: str = "virtual", log: str | None = None,
                 log_level: str = "off") -> None:
        self.data_dir = data_dir
        self.extra = list(extra)
        self.clock = clock
        self.log, self.log_level = log, log_level
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Served:
        cmd = [sys.executable, "-m", "lipsync_emulator", "serve", "--port", str(self.port), "--data-dir", self.data_dir,
               "--threads", "4", "--clock", self.clock, "--log-level", self.log_level, *self.extra]
        # appended to across restarts
        stderr = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
        if self.log:
            stderr.close()  # type: ignore[union-attr]
        # serve prints its banner once its socket is listening; the rest of its output (the
        # access log) is drained so that a full pipe never blocks it
        listening = threading.Event()

        def drain(out: Any) -> None:
            for line in out:
                if line.lstrip().startswith(b"state"):
                    listening.set()
            listening.set()  # the process ended

        threading.Thread(target=drain, args=(self.proc.stdout,), daemon=True).start()
        if listening.wait(timeout) and self.proc.poll() is None:
            return self
        self.kill9()
        raise RuntimeError(f"serve did not start listening within {timeout} s")

    def kill9(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=10)
            self.proc = None
        except (subprocess.TimeoutExpired, ProcessLookupError):
            self.kill9()

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.url}/_emulator{path}", timeout=60, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def advance(self, seconds: float) -> Any:
        return self.control("POST", "/clock/advance", json={"seconds": seconds})

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Receiver:
    """A webhook receiver on a fixed port that can be taken down (connection refused) and
    brought back; it answers 200 and records (headers, body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
