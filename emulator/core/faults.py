"""Faults of the network between the client and the provider, and of webhook delivery: the
generic scenarios every provider gets, and the WSGI middleware that applies transport faults.

Transport faults happen *after* the provider has handled the request — the job is created,
the charge is made — and only the answer is lost or damaged on its way back, which is what a
client must survive (a retried submit may create a second job). The exceptions are
``bad_gateway_html`` (a proxy answers instead of the provider: nothing is processed) and
latency (added before the provider answers).

    >>> names = [s.name for s in generic_scenarios("demo", FAULT_DEFAULTS)]
    >>> "connection_reset" in names and "webhook_out_of_order" in names
    True

Every timing here that the *client* experiences (latency, a reset) is wall-clock time by
nature — a client's timeout is a wall-clock fact. Webhook delays and holds run on the
emulator's clock (virtual in tests).
"""

from __future__ import annotations

import math
import random
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from lipsync_emulator.config import deep_merge
from lipsync_emulator.core.scenarios import Expect, Scenario

ENVIRON_KEY = "lipsync_emulator.faults"

FAULT_DEFAULTS: dict[str, Any] = {
    "latency_seconds": 2.0,  # scenario ``latency``
    # scenario ``latency_random``: log-normal around ``median`` seconds, capped at ``max``
    "latency_random": {"median": 0.5, "sigma": 0.75, "max": 10.0},
    "latency_cap": 30.0,  # no latency (provider-declared either) exceeds this
    "seed": None,  # seed of ``latency_random``; default: the emulator's ``seed``
    "webhook_delay_seconds": 300.0,  # scenario ``webhook_delay`` (emulator clock)
    "webhook_hold_seconds": 60.0,  # scenario ``webhook_out_of_order``: longest hold (emulator clock)
    "webhook_duplicates": 1,  # scenario ``webhook_duplicate``: extra copies
}

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def fault_settings(overrides: dict[str, Any] | None) -> dict[str, Any]:
    return deep_merge(FAULT_DEFAULTS, overrides or {})


def generic_scenarios(provider: str, settings: dict[str, Any]) -> list[Scenario]:
    """The transport and webhook scenarios every provider has (a provider may replace one by
    registering a scenario of the same name). Their evidence label is ``generic``: they are
    faults of the network or of delivery, the same for every provider, not provider facts."""
    delay = float(settings["webhook_delay_seconds"])
    hold = float(settings["webhook_hold_seconds"])
    dupes = int(settings["webhook_duplicates"])

    def transport(name: str, summary: str, effects: dict[str, Any], expect: Expect | None = None) -> Scenario:
        return Scenario(name, provider, (), summary, "generic", "transport", effects=effects, expect=expect)

    def webhook(name: str, summary: str, effects: dict[str, Any]) -> Scenario:
        return Scenario(name, provider, (), summary, "generic", "webhook", effects=effects)

    return [
        transport("latency", f"The answer comes {settings['latency_seconds']:g} s late (wall clock; "
                  "faults.latency_seconds)", {"latency": "fixed"}),
        transport("latency_random", "The answer comes late by a seeded log-normal draw (median "
                  f"{settings['latency_random']['median']:g} s, max {settings['latency_random']['max']:g} s)",
                  {"latency": "random"}),
        transport("connection_reset", "The request is processed, then the connection is reset (TCP RST) "
                  "before any byte of the answer", {"transport": "reset"}),
        transport("connection_closed_mid_body", "Status and headers (full Content-Length) arrive, then half "
                  "the body, then the connection closes", {"transport": "mid_body"}),
        transport("truncated_json", "A complete HTTP answer whose JSON body is cut in half (Content-Length "
                  "matches the cut body)", {"transport": "truncate"}),
        transport("malformed_json", "The JSON body gets a syntax error (a trailing comma), Content-Type "
                  "still application/json", {"transport": "malformed"}),
        transport("wrong_content_type", "The body is unchanged but labelled Content-Type: text/html",
                  {"transport": "content_type"},
                  Expect(headers={"Content-Type": "text/html; charset=utf-8"})),
        transport("bad_gateway_html", "A proxy answers 502 with an HTML page; the provider never sees the "
                  "request", {"html_status": 502},
                  Expect(status=502, headers={"Content-Type": "text/html; charset=utf-8"})),
        webhook("webhook_drop", "The job's webhooks are never sent (recorded as skipped)", {"drop": True}),
        webhook("webhook_delay", f"The job's webhooks leave {delay:g} s late (emulator clock; "
                "faults.webhook_delay_seconds)", {"delay": delay}),
        webhook("webhook_duplicate", f"Each webhook is delivered {dupes + 1} times, same body and message id "
                "(at-least-once delivery)", {"duplicate": dupes}),
        webhook("webhook_out_of_order", "Each webhook is held back until the next webhook to the same URL has "
                f"been attempted (another job's, a later event, a duplicate), at most {hold:g} s, so it "
                "arrives after a later one", {"out_of_order": hold}),
        webhook("webhook_bad_signature", "Each webhook's signature header is corrupted (one character "
                "changed); the body is intact", {"bad_signature": True}),
    ]


# -- latency ---------------------------------------------------------------------------------------

class Latency:
    """Latency draws. ``random`` draws depend only on (seed, n) — n counts the draws since the
    last reset — so a seeded run sleeps the same sequence every time."""

    def __init__(self, settings: dict[str, Any], seed: int | None) -> None:
        self.settings = settings
        self.seed = settings.get("seed") if settings.get("seed") is not None else (seed or 0)
        self._n = 0
        self._lock = threading.Lock()

    def seconds(self, spec: Any) -> float:
        cap = float(self.settings["latency_cap"])
        if spec == "fixed":
            value = float(self.settings["latency_seconds"])
        elif spec == "random":
            value = self.draw()
        else:
            value = float(spec)  # a provider-declared number of seconds
        return max(0.0, min(value, cap))

    def draw(self) -> float:
        cfg = self.settings["latency_random"]
        with self._lock:
            n = self._n
            self._n += 1
        rng = random.Random(f"{self.seed}:latency:{n}")
        value = float(cfg["median"]) * math.exp(rng.gauss(0.0, float(cfg["sigma"])))
        return round(min(value, float(cfg["max"])), 4)

    def reset(self) -> None:
        with self._lock:
            self._n = 0


class Faults:
    """The runtime's fault state: the effective fault settings and the latency draws."""

    def __init__(self, overrides: dict[str, Any] | None, seed: int | None) -> None:
        self.settings = fault_settings(overrides)
        self.latency = Latency(self.settings, seed)

    def reset(self) -> None:
        self.latency.reset()


def sleep(seconds: float) -> None:
    # Transport latency is real time by nature: a client's timeout is a wall-clock fact.
    if seconds > 0:
        time.sleep(seconds)


# -- transport faults on the wire -------------------------------------------------------------------

def request_plan(environ: dict[str, Any]) -> dict[str, Any]:
    """The transport plan of the current request, filled by the request pipeline."""
    plan: dict[str, Any] = environ.setdefault(ENVIRON_KEY, {})
    return plan


class TransportAbort(ConnectionAbortedError):
    """Raised out of the WSGI app to drop the connection without an answer. It is a
    ``ConnectionError`` (werkzeug's server treats it as a dropped connection) and, when
    waitress is installed, also waitress's ``ClientDisconnected`` (waitress then closes the
    channel instead of answering 500)."""


try:  # pragma: no branch - waitress is a dependency, but the core must not need it
    from waitress.channel import ClientDisconnected as _WaitressDisconnected

    class _Abort(TransportAbort, _WaitressDisconnected):
        pass

    ABORT: type[TransportAbort] = _Abort
except ImportError:  # pragma: no cover
    ABORT = TransportAbort


def connection_socket(environ: dict[str, Any]) -> socket.socket | None:
    """The client connection's socket, where the server exposes it (werkzeug, gunicorn,
    waitress through its channel)."""
    for key in ("werkzeug.socket", "gunicorn.socket"):
        if isinstance(environ.get(key), socket.socket):
            return environ[key]
    channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
    sock = getattr(channel, "socket", None)
    return sock if isinstance(sock, socket.socket) else None


_ABORTED: weakref.WeakSet[socket.socket] = weakref.WeakSet()


def aborted(sock: Any) -> bool:
    """Whether ``sock`` was reset by a scenario: a socketserver-based server (werkzeug's, as
    in ``emulator.testing``) should then close it without the usual ``shutdown(SHUT_WR)``,
    whose FIN would reach the client before the RST."""
    try:
        return sock in _ABORTED
    except TypeError:
        return False


def _reset(environ: dict[str, Any]) -> None:
    sock = connection_socket(environ)
    if sock is not None:
        try:
            # Linger 0: the server's close becomes an abortive close, i.e. a TCP RST.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if "werkzeug.socket" in environ:
                # werkzeug's handler would otherwise wait for a next request on this
                # keep-alive connection; end-of-input ends its loop and it closes the socket.
                _ABORTED.add(sock)
                sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
    raise ABORT("connection reset by emulator scenario")


def malformed(body: bytes) -> bytes:
    """A JSON text with a syntax error: a trailing comma before the closing bracket (or an
    unterminated string for a scalar)."""
    text = body.rstrip()
    if text[-1:] in (b"}", b"]") and len(text) > 2:
        return text[:-1] + b"," + text[-1:]
    return b'"' + text + b"\n"


class FaultMiddleware:
    """Wraps the Flask WSGI app; applies the transport fault the request pipeline put in the
    environ (``request_plan``); other answers leave as one buffered body."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never uses write()

        result = self.app(environ, capture)
        # The whole body as one bytes: a fault below needs it whole, and the server then
        # sends it in one write.
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        fault = (environ.get(ENVIRON_KEY) or {}).get("transport")
        if not fault:
            start_response(*captured)
            return [body]
        status, headers = captured[0], list(captured[1])
        if fault == "reset":
            _reset(environ)
        if fault == "mid_body":
            # Full Content-Length, half the bytes: both servers then close the connection.
            start_response(status, _set(headers, "Content-Length", str(len(body))))
            return [body[: len(body) // 2]]
        if fault == "truncate":
            body = body[: len(body) // 2]
        elif fault == "malformed":
            body = malformed(body) if body else b"{"
        elif fault == "content_type":
            headers = _set(headers, "Content-Type", "text/html; charset=utf-8")
        start_response(status, _set(headers, "Content-Length", str(len(body))))
        return [body]


def _set(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
