"""A loopback HTTP server that records the webhooks it is sent: the pytest plugin's
``webhook_receiver``, the error gallery's sink, and the control plane's for triggered scenarios;
and the serving loop it shares with ``emulator.testing.EmulatorServer``.

    >>> receiver = WebhookReceiver()
    >>> receiver.url.startswith("http://127.0.0.1:")
    True
    >>> receiver.close()
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ServerLoop:
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
            # Connections are kept alive, as by any production receiver. The answer leaves in
            # two writes (head, then body); with Nagle's algorithm the body would wait for the
            # client's delayed ACK on a kept-alive connection.
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
        self._loop = ServerLoop(self._server, "webhook-receiver")
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
