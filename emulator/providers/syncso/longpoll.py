"""``GET /v2/generate/{id}?wait=true&timeout=N``: the 2026 long poll [doc: get26], reference
§3.3 and items 39-40.

Documented: the request returns once the generation is terminal, or after ``timeout`` seconds
(default 5, 1-10, else 400) with the non-terminal generation and HTTP 200; the response carries
``Retry-After: 2``, ``X-Sync-Wait-Mode: long_poll`` and ``X-Sync-Wait-Timeout-Seconds``; ``wait``
cannot be combined with ``include=progress`` (the 400 for it is inferred).

Inferred, because the emulator's clock may be virtual (nobody moves time while a request
waits): the request waits on ``Runtime.changed`` (notified when a job moves or the clock is
advanced) until the generation is terminal or the emulator's clock has passed start +
``timeout``. With a virtual clock it also gives up after ``long_poll_wall_seconds`` real
seconds (default 2; ``None``: as many real seconds as the timeout) and answers with the
generation as it is, so a test that never advances the clock is not held up. With the real
clock the wait is simply real time.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable

from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.providers.syncso import models

DEFAULT_TIMEOUT = 5.0

# Long polls in flight per runtime, so a test can advance the clock once one is waiting.
_waiting: weakref.WeakKeyDictionary[Runtime, int] = weakref.WeakKeyDictionary()


def waiting(rt: Runtime) -> int:
    """How many long polls are waiting right now (read it under ``rt.changed``)."""
    return _waiting.get(rt, 0)


def headers(timeout: float) -> dict[str, str]:
    return {"Retry-After": "2", "X-Sync-Wait-Mode": "long_poll", "X-Sync-Wait-Timeout-Seconds": f"{timeout:g}"}


def wait(rt: Runtime, current: Callable[[], Job | None], timeout: float) -> Job | None:
    """Block until ``current()`` is terminal, the emulator's clock passed now + ``timeout``, or
    the real-time bound ran out; return ``current()`` then (``None``: it was deleted)."""
    cfg = rt.cfg(models.NAME)
    deadline = rt.clock.now() + timeout
    virtual = bool(getattr(rt.clock, "virtual", False))
    wall = cfg.get("long_poll_wall_seconds") if virtual else None
    wall_deadline = time.monotonic() + (timeout if wall is None else min(float(wall), timeout))
    with rt.waiting(), rt.changed:
        _waiting[rt] = _waiting.get(rt, 0) + 1
        rt.changed.notify_all()
        try:
            while True:
                job = current()
                if job is None or job.status in models.LIFECYCLE.terminal or rt.clock.now() >= deadline:
                    return job
                left = wall_deadline - time.monotonic()
                if left <= 0:
                    return job
                rt.changed.wait(left)
        finally:
            _waiting[rt] -= 1
