"""Injected time and the one scheduler every timed effect runs on.

Models never read the wall clock: they ask the runtime's ``Clock``. A ``VirtualClock`` only
moves when told to (``POST /_emulator/clock/advance``), so a test can run an hour-long job
timeline, a webhook retry schedule or a 24 h session expiry in milliseconds.

    >>> clock = VirtualClock(start=1000.0)
    >>> sched = Scheduler(clock)
    >>> fired = []
    >>> _ = sched.call_at(1005.0, lambda: fired.append("x"))
    >>> _ = clock.advance(4); _ = sched.run_due(); fired
    []
    >>> _ = clock.advance(1); _ = sched.run_due(); fired
    ['x']
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class RealClock:
    """The wall clock (unix seconds)."""

    virtual = False

    def now(self) -> float:
        return time.time()


def quantize(ts: float) -> float:
    """Times to the microsecond. Unix times near 1.8e9 leave floats ~2e-7 s of precision, so
    ``t + 17.5 + 12.5`` and ``t + 30`` may differ in the last bit; rounding every virtual time
    and every planned transition makes "advance 30 s" land exactly on a 30 s job."""
    return round(ts, 6)


class VirtualClock:
    """A clock that stands still until advanced. Starts at the wall-clock time of its creation
    (so tokens and signatures made by real clients look current) unless ``start`` is given."""

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = round(time.time(), 3) if start is None else quantize(float(start))
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock never goes backwards")
        with self._lock:
            self._now = quantize(self._now + seconds)
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            when = quantize(when)
            if when < self._now:
                raise ValueError("the clock never goes backwards")
            self._now = when


@functools.lru_cache(maxsize=4096)
def iso(ts: float, millis: bool = True) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, e.g. ``2026-01-01T00:00:00.000Z``. Cached: a job's
    poll formats the same few instants on every answer."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{dt.microsecond // 1000:03d}Z" if millis else "Z")


def parse_iso(text: str) -> float:
    """Unix seconds from an ISO-8601 string (``Z`` or an offset; naive means UTC)."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


BATCH = 32  # callbacks the background scheduler runs in one turn


class Scheduler:
    """Timed callbacks ordered by due time. ``run_due`` runs everything due now, in order;
    callbacks may schedule more. In real-clock mode a daemon thread calls ``run_due`` when the
    next item falls due; in virtual mode the control plane does, after advancing the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        token = next(self._seq)
        with self._lock:
            heapq.heappush(self._heap, (when, token, fn))
            earliest = self._heap[0][1] == token
        if earliest and self._thread is not None:
            # only a new earliest item moves the thread's wake-up: waking it for every call
            # (every create) cost a thread switch and a GIL hand-off each
            with self._wake:
                self._wake.notify()
        return token

    def next_due(self) -> float | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def run_due(self, limit: int | None = None) -> int:
        """Run every callback due at the current time (at most ``limit``); return how many ran."""
        ran = 0
        while limit is None or ran < limit:
            # Pop under the lock, run outside it: callbacks take other locks (the engine's)
            # and schedule more work, and holding ours meanwhile would invite deadlock.
            with self._lock:
                if not self._heap or self._heap[0][0] > self.clock.now():
                    return ran
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:  # noqa: BLE001 - one job's failure must not stop every other job's clock
                logging.getLogger("emulator").exception("scheduled work failed")
            ran += 1
        return ran

    def clear(self) -> None:
        with self._lock:
            self._heap.clear()

    def start_background(self, turn: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext) -> None:
        """Follow the wall clock: run callbacks as they fall due (real-clock mode only), each
        batch inside ``turn()``."""
        if self._thread is not None:
            return
        self._turn = turn
        self._thread = threading.Thread(target=self._loop, name="emulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        with self._wake:
            self._wake.notify()

    def _loop(self) -> None:
        while not self._stopped:
            # a few callbacks a turn: a backlog (a restart after a long stop) never holds up
            # the requests arriving meanwhile
            while True:
                with self._turn():
                    if self.run_due(limit=BATCH) < BATCH:
                        break
            # the next due time is read under the condition's lock that call_at notifies
            # under: an item added meanwhile is either seen here or wakes the wait
            with self._wake:
                due = self.next_due()
                wait = 1.0 if due is None else max(0.0, min(1.0, due - self.clock.now()))
                if wait > 0 and not self._stopped:
                    self._wake.wait(timeout=wait)
