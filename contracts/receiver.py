"""A loopback webhook receiver for the contract suites: records every delivery (headers and
raw body, exactly as sent) and answers 200, so the suites can hand deliveries to a client's
webhook handler and check what the provider sent.

    >>> with Receiver() as rx:
    ...     rx.url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Receiver:
    """Records deliveries to ``url``. ``wait_for(n)`` blocks (bounded) until ``n`` arrived."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.received: list[Delivery] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._cond:
                    receiver.received.append(Delivery(self.path, dict(self.headers.items()), body))
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_PUT = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="contract-receiver", daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def snapshot(self) -> list[Delivery]:
        with self._cond:
            return list(self.received)

    def clear(self) -> None:
        with self._cond:
            self.received.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
