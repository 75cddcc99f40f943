"""The access log: a line per request, per job transition and per webhook attempt, for a person watching
``lipsync-emulator serve`` (or, with ``--log-format json``, for a machine).

Lines go through the ``lipsync_emulator.access`` logger at INFO. Nothing is built unless that
logger is enabled, so the in-process fixtures (no handler, the root logger's WARNING) pay one
level check per request. ``serve`` enables it (``--quiet`` does not); inside pytest,
``--log-level INFO`` shows a failing test's traffic beside its captured logs.

A request line: wall-clock time, provider, method, path, status, duration, then the job id,
the scenarios, a transport fault and the first line of an error's message when there are any.
Control-plane reads (``GET /_emulator/...``: listings, health, media) are not logged, so a
``listen`` polling the server does not drown the traffic it follows; its changes (reset,
advance, scenario rules, finish) are.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from typing import Any

LOGGER = logging.getLogger("lipsync_emulator.access")
_CONTROL = "/_emulator/"

_RESET, _DIM, _RED, _GREEN, _YELLOW, _CYAN = "\033[0m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[36m"


def log_request(req: Any, response: Any, call: Any, started: float | None, provider: Any = None) -> None:
    """Called once per answered request (the app's after-request hook) with its ``Call``
    (``None`` outside a provider operation), when it started (``time.perf_counter``) and the
    provider that owns its path."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    control = req.path.startswith(_CONTROL)
    if control and req.method in ("GET", "HEAD"):
        return
    record: dict[str, Any] = {
        "type": "request", "provider": "control" if control else provider.name if provider else "-",
        "method": req.method, "path": req.path, "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "job_id": call and call.job_id, "scenario": call and call.scenario_names or None,
        "fault": call.faults.get("transport") if call else None,
        "error": _error_line(response) if response.status_code >= 400 else None,
    }
    _emit(record)


def log_webhook(delivery: Any, attempt: Any = None, now: float | None = None) -> None:
    """Called after each webhook attempt, and once for a delivery that is not attempted."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    record: dict[str, Any] = {
        "type": "webhook", "provider": delivery.provider, "job_id": delivery.job_id, "url": delivery.url,
        "event": delivery.event, "delivery": delivery.id, "status": delivery.status,
    }
    if attempt is None:
        record["note"] = delivery.note
    else:
        record.update(attempt=attempt.number, max_attempts=delivery.max_attempts,
                      status_code=attempt.status_code, error=short_error(attempt.error), duration_ms=attempt.duration_ms)
        if delivery.status == "pending" and delivery.next_attempt_at is not None and now is not None:
            record["retry_in_s"] = round(max(0.0, delivery.next_attempt_at - now), 3)
    _emit(record)


def log_transition(job: Any, state: str) -> None:
    """Called when a job enters a state (an observer of the lifecycle engine)."""
    if not LOGGER.isEnabledFor(logging.INFO):
        return
    record = {"type": "job", "provider": job.provider, "kind": job.kind, "job_id": job.id, "status": state,
              "scenario": list(job.scenarios) or None}
    _emit(record)


class _Line:
    """The record as a line without time or colour: what another handler (pytest's log
    capture, say) prints; made only when a handler formats it."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __str__(self) -> str:
        return _PLAIN.line(self.record)


def _emit(record: dict[str, Any]) -> None:
    LOGGER.info(_Line(record), extra={"access": record})


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def short_error(error: str | None) -> str | None:
    """``requests``' nested exception text, down to its cause: "connection refused"."""
    if not error:
        return error
    found = _ERRNO.search(error)
    if found:
        return found.group(1).strip().lower()
    if "timed out" in error:
        return "timed out"
    return error.splitlines()[0][:200]


def _error_line(response: Any) -> str | None:
    if response.direct_passthrough or response.mimetype != "application/json":
        return None
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in ("message", "error", "msg"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value.splitlines()[0][:300]
    return None


class Formatter(logging.Formatter):
    """``text``: a line for people (colour only when the stream is a terminal); ``json``:
    one object per line."""

    def __init__(self, fmt: str = "text", colour: bool = False) -> None:
        super().__init__()
        self.format_name, self.colour = fmt, colour

    def format(self, record: logging.LogRecord) -> str:
        data = getattr(record, "access", None)
        if data is None:
            return super().format(record)
        if self.format_name == "json":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
            return json.dumps({"time": stamp, **{k: v for k, v in data.items() if v is not None}},
                              separators=(",", ":"))
        clock = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        return f"{self._paint(clock, _DIM)}  {self.line(data)}"

    def line(self, data: dict[str, Any]) -> str:
        if data["type"] == "request":
            return self._request(data)
        if data["type"] == "job":
            scenario = f"  scenario {','.join(data['scenario'])}" if data.get("scenario") else ""
            return (f"{'job':<13}  {data['provider']} {data['kind']} {data['job_id']}"
                    f"  -> {self._paint(data['status'], _CYAN)}{scenario}")
        return self._webhook(data)

    def _paint(self, text: str, colour: str) -> str:
        return f"{colour}{text}{_RESET}" if self.colour else text

    def _status(self, status: int | None) -> str:
        if status is None:
            return "-"
        colour = _GREEN if status < 300 else _CYAN if status < 400 else _YELLOW if status < 500 else _RED
        return self._paint(str(status), colour)

    def _request(self, d: dict[str, Any]) -> str:
        parts = [f"{d['provider']:<13}", f"{d['method']} {d['path']}",
                 self._status(d["status"])]
        if d.get("duration_ms") is not None:
            parts.append(f"{d['duration_ms']} ms")
        if d.get("job_id"):
            parts.append(f"job {d['job_id']}")
        if d.get("scenario"):
            parts.append(f"scenario {','.join(d['scenario'])}")
        if d.get("fault"):
            parts.append(self._paint(f"fault {d['fault']}", _RED))
        if d.get("error"):
            parts.append(self._paint(f"— {d['error']}", _YELLOW))
        return "  ".join(parts)

    def _webhook(self, d: dict[str, Any]) -> str:
        parts = [f"{'webhook':<13}", f"{d['provider']} {d['event']}",
                 f"job {d['job_id'] or '-'}", f"-> {d['url']}"]
        if "attempt" not in d:
            parts.append(self._paint(f"{d['status']}: {d.get('note') or ''}".rstrip(": "), _YELLOW))
            return "  ".join(parts)
        parts.append(f"attempt {d['attempt']}/{d['max_attempts']}")
        if d.get("status_code") is not None:
            parts.append(self._status(d["status_code"]))
        else:
            parts.append(self._paint(d.get("error") or "no answer", _RED))
        if d.get("retry_in_s") is not None:
            parts.append(f"retry in {d['retry_in_s']:g} s")
        elif d["status"] == "failed":
            parts.append(self._paint("gave up", _RED))
        return "  ".join(parts)


_PLAIN = Formatter()


class _Batched(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the lines of up to ``DELAY`` seconds in one go: a write per request would cost
    about as much as the request itself."""

    DELAY = 0.1

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._access = True
        self.lines: list[str] = []
        self.timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:  # called holding the handler's lock
        try:
            self.lines.append(self.format(record) + self.terminator)
        except Exception:  # noqa: BLE001 - logging's own rule: a bad record never breaks the caller
            self.handleError(record)
            return
        if self.timer is None:
            self.timer = threading.Timer(self.DELAY, self.flush)
            self.timer.daemon = True
            self.timer.start()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines, self.lines, self.timer = self.lines, [], None
            if lines:
                try:
                    self.stream.write("".join(lines))
                    self.stream.flush()
                except (OSError, ValueError):  # the reader went away: nobody is left to tell
                    pass


def configure(fmt: str = "text") -> None:
    """Print the access log on stderr in ``fmt`` (``text``, ``json``; ``off`` silences it)."""
    for handler in [h for h in LOGGER.handlers if getattr(h, "_access", False)]:
        LOGGER.removeHandler(handler)
    if fmt == "off":
        LOGGER.setLevel(logging.WARNING)
        return
    handler = _Batched(sys.stderr)
    handler.setFormatter(Formatter(fmt, colour=sys.stderr.isatty() and "NO_COLOR" not in os.environ))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
