"""Webhook receivers that misbehave, on raw loopback sockets: each accepts connections on its
own port, reads one request and answers as told (``answer``), recording what it got."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

Answer = Callable[["Receiver", socket.socket], None]


class Receiver:
    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or ok
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        self.sent = 0  # body bytes an answer managed to send
        self.cut = False  # the emulator closed the connection before the answer ended
        self.got = threading.Event()  # a request was read
        self.answered = threading.Event()  # an answer ended: sent whole, or cut by the emulator
        self.release = threading.Event()  # lets a holding answer go
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                piece = conn.recv(65536)
                if not piece:
                    return
                data += piece
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length") or 0)
            while len(body) < length:
                piece = conn.recv(65536)
                if not piece:
                    break
                body += piece
            with self._lock:
                self.requests.append((headers, body))
            self.got.set()
            self.answer(self, conn)
        except OSError:
            pass
        finally:
            conn.close()
            self.answered.set()

    def close(self) -> None:
        self.release.set()
        self.sock.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def ok(_: Receiver, conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def status(code: int, extra: str = "") -> Answer:
    def answer(_: Receiver, conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n".encode())
    return answer


def drip(receiver: Receiver, conn: socket.socket) -> None:
    """A 200 whose head never ends: a byte every 0.2 s for up to a minute (each byte well
    within any per-read timeout)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(300):
        try:
            conn.sendall(b"X")
        except OSError:
            receiver.cut = True
            return
        if receiver.release.wait(0.2):
            return


def huge(receiver: Receiver, conn: socket.socket) -> None:
    """A 200 announcing 50 MB and sending it as fast as the reader reads."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\nConnection: close\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(800):
        conn.sendall(chunk)
        receiver.sent += len(chunk)


def hold(receiver: Receiver, conn: socket.socket) -> None:
    """Read the request, then answer nothing until released."""
    receiver.release.wait(60)

