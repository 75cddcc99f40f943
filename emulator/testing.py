"""Run the emulator inside a test process, on a real loopback port, and drive it.

    >>> with EmulatorServer() as emu:              # virtual clock, free port
    ...     emu.control.health()["status"]
    'ok'

``EmulatorServer`` is a real threaded HTTP server (clients use real sockets, as with the
provider), ``EmulatorControl`` a small client of the ``/_emulator/`` control plane, and
``WebhookReceiver`` a loopback server that records what it is sent. The pytest plugin
(``emulator.pytest_plugin``) wraps the three as fixtures.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import tempfile
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from lipsync_emulator import STORE_ENV
from lipsync_emulator.app import create_app
from lipsync_emulator.config import deep_merge
from lipsync_emulator.core.faults import aborted
from lipsync_emulator.core.runtime import EXTENSION, Runtime
from lipsync_emulator.core.store import Store
from werkzeug.serving import WSGIRequestHandler, make_server


def every_page(fetch: Any, filters: dict[str, Any], page: int = 1000) -> list[dict[str, Any]]:
    """Follow a control-plane listing (newest first) page by page: ``fetch(params)`` returns
    one page. ``limit`` in ``filters`` stops after that many."""
    params = {k: v for k, v in filters.items() if v is not None}
    wanted = params.pop("limit", None)
    rows: list[dict[str, Any]] = []
    while wanted is None or len(rows) < int(wanted):
        size = page if wanted is None else min(page, int(wanted) - len(rows))
        got = fetch({**params, "offset": len(rows), "limit": size})
        rows += got
        if len(got) < size:
            break
    return rows


class EmulatorControl:
    """Client of the control plane. Every method is one HTTP call."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, f"{self.base_url}/_emulator{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the virtual clock; transitions and webhook attempts due meanwhile fire in order."""
        return self._call("POST", "/clock/advance", json={"seconds": seconds})

    def now(self) -> float:
        return float(self._call("GET", "/clock")["timestamp"])

    def _list(self, path: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Every entry of a listing (``limit``: the newest that many), newest first: the
        control plane answers a page at a time."""
        return every_page(lambda params: self._call("GET", path, params=params), filters)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal, oldest first."""
        return self._list("/requests", filters)[::-1]

    def webhooks(self, **filters: Any) -> list[dict[str, Any]]:
        """Webhook deliveries, oldest first."""
        return self._list("/webhooks", filters)[::-1]

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        return self._list("/jobs", filters)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def scenario(self, provider: str, scenario: str | Iterable[str], *, operation: str | None = None,
                 count: int | None = None, job_id: str | None = None, api_key: str | None = None) -> dict[str, Any]:
        """Make matching requests take ``scenario`` (the next ``count`` of them, or until cleared)."""
        names = [scenario] if isinstance(scenario, str) else list(scenario)
        body = {"provider": provider, "scenarios": names, "operation": operation, "count": count,
                "job_id": job_id, "api_key": api_key}
        return self._call("POST", "/scenarios", json={k: v for k, v in body.items() if v is not None})

    def clear_scenarios(self) -> None:
        self._call("DELETE", "/scenarios")

    def finish(self, provider: str, job_id: str, scenario: str | None = None) -> dict[str, Any]:
        """Finish a job now, successfully or with an outcome scenario (``failed``, ``rejected``...)."""
        return self._call("POST", f"/jobs/{provider}/{job_id}/finish",
                          json={"scenario": scenario} if scenario else {})


class _Loop:
    """``serve_forever`` without its poll interval: ``serve_forever`` looks for a shutdown
    request every 0.5 s, so each stop waited up to half a second. This loop sleeps in
    ``select`` until a connection or a wake-up byte arrives, and ``stop`` returns at once."""

    def __init__(self, server: Any, name: str) -> None:
        self.server = server
        server.timeout = 0  # handle_request() never waits: a connection gone before accept() is skipped
        self._wake_r, self._wake_w = socket.socketpair()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.server, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if any(key.fileobj is self._wake_r for key, _ in ready):
                    return
                self.server.handle_request()  # a connection is waiting: accepted at once

    def stop(self) -> None:
        if self.thread.is_alive():
            self._wake_w.send(b"\0")
            self.thread.join()
        self._wake_r.close()
        self._wake_w.close()
        self.server.server_close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class EmulatorServer:
    """The emulator on a free loopback port, in a background thread. Virtual clock by default.
    ``store``: ``"memory"`` (the default), ``"sqlite"`` (a fresh database in a temporary directory,
    removed on ``stop``) or a store object; without one, ``$LIPSYNC_EMULATOR_STORE`` decides."""

    def __init__(self, config: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 store: Store | str | None = None) -> None:
        self.config = deep_merge({"clock": "virtual", "seed": 1234}, config or {})
        self._data_dir: str | None = None
        if store is None or isinstance(store, str):
            kind = store or os.environ.get(STORE_ENV) or "memory"
            if kind not in ("memory", "sqlite"):
                raise ValueError(f"unknown store {kind!r}: use 'memory' or 'sqlite'")
            store = None
            if kind == "sqlite":
                from lipsync_emulator.core.sqlite_store import SqliteStore

                self._data_dir = tempfile.mkdtemp(prefix="lipsync-emulator-")
                store = SqliteStore(os.path.join(self._data_dir, "state.db"))
        self.app = create_app(self.config, store=store)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._server.shutdown_request = self._shutdown_request  # type: ignore[method-assign]
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self.control = EmulatorControl(self.url)
        self._loop = _Loop(self._server, "emulator-server")

    def _shutdown_request(self, request: Any) -> None:
        # A connection reset by a scenario is closed abortively (RST), without the FIN the
        # usual shutdown(SHUT_WR) would send first.
        if aborted(request):
            self._server.close_request(request)
        else:
            type(self._server).shutdown_request(self._server, request)

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.extensions[EXTENSION]
        return rt

    def start(self) -> EmulatorServer:
        self._loop.thread.start()
        return self

    def stop(self) -> None:
        self._loop.stop()
        self.runtime.stop()
        if self._data_dir is not None:
            close = getattr(self.runtime.store, "close", None)
            if close is not None:
                close()
            shutil.rmtree(self._data_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Conveniences that forward to the control client.
    def advance(self, seconds: float) -> dict[str, Any]:
        return self.control.advance(seconds)

    def reset(self) -> None:
        self.control.reset()


@dataclass
class ReceivedWebhook:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class WebhookReceiver:
    """Records every request it gets. ``respond_with(500, 500, 200)`` scripts its answers
    (then 200 forever); ``wait_for(n)`` blocks, bounded, until ``n`` requests arrived."""

    host: str = "127.0.0.1"
    received: list[ReceivedWebhook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[int] = deque()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Connections are kept alive, as by any production receiver: a new one for every
            # webhook doubled the in-process job cycle (README, Performance). The answer leaves
            # in two writes (head, then body); with Nagle's algorithm the body would wait for
            # the client's delayed ACK, ~40 ms a delivery on a kept-alive connection.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                try:
                    body = self._read_body()
                except ValueError:  # a chunk size that is not one: the rest cannot be framed
                    self.close_connection = True
                    self.send_error(400, "malformed chunked body")
                    return
                with receiver._cond:
                    status = receiver._script.popleft() if receiver._script else 200
                    receiver.received.append(ReceivedWebhook(self.command, self.path, dict(self.headers.items()),
                                                             body, status))
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        if size < 0:
                            raise ValueError("negative chunk size")
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline().strip():  # trailers, up to the blank line
                        pass
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_POST = do_PUT = do_GET = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _ReceiverServer((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}/webhook"
        self._loop = _Loop(self._server, "webhook-receiver")
        self._loop.thread.start()

    def respond_with(self, *statuses: int) -> None:
        with self._cond:
            self._script.extend(statuses)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedWebhook]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def clear(self) -> None:
        with self._cond:
            self.received.clear()
            self._script.clear()

    def close(self) -> None:
        """Stop listening and drop the open connections: a closed receiver is down, even for
        a client holding a kept-alive connection."""
        self._loop.stop()
        self._server.drop_connections()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
