"""The ceiling of bench/bench_serve.py: a WSGI app that answers every request with the same
small JSON body, and does nothing else. Whatever the emulator does costs on top of this."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"id":"6f1c0c8e-0000-4000-8000-000000000000","status":"PENDING"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start_response("201 Created" if environ["REQUEST_METHOD"] == "POST" else "200 OK", HEADERS)
    return [BODY]
