"""The one lifecycle engine. A provider *declares* its states and durations; the engine moves
every job along them on the injected clock, applies scenario outcomes, queues jobs beyond a
concurrency limit, and calls the provider back on each state entry (to fill outputs, charge,
send webhooks). Four copies of "advance status on poll" is what this module replaces.

    >>> from emulator.core.clock import VirtualClock, Scheduler
    >>> from emulator.core.store import MemoryStore
    >>> clock = VirtualClock(start=0); sched = Scheduler(clock)
    >>> engine = JobEngine(clock, sched, MemoryStore())
    >>> life = Lifecycle(states=("PENDING", "PROCESSING", "COMPLETED"),
    ...                  terminal=frozenset({"COMPLETED", "FAILED"}))
    >>> engine.declare("demo", "job", life)
    >>> job = engine.create("demo", "job", "j1", durations={"PENDING": 1, "PROCESSING": 2})
    >>> job.status
    'PENDING'
    >>> _ = clock.advance(3); _ = sched.run_due(); engine.get("demo", "job", "j1").status
    'COMPLETED'
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from emulator.core.clock import Clock, Scheduler
from emulator.core.store import Store


@dataclass(frozen=True)
class Lifecycle:
    """``states`` is the happy path, first = initial, last = success. ``terminal`` holds every
    final state (success and failures)."""

    states: tuple[str, ...]
    terminal: frozenset[str]

    @property
    def initial(self) -> str:
        return self.states[0]

    @property
    def success(self) -> str:
        return self.states[-1]

    def rank(self, state: str) -> int:
        """Position along the lifecycle; every non-success terminal ranks with success."""
        return self.states.index(state) if state in self.states else len(self.states) - 1


@dataclass
class Outcome:
    """How a job ends, chosen at submit time (by a scenario or the control plane).

    ``status`` replaces the success state (``None`` = succeed). ``after`` is the last state
    visited before it (default: the last non-terminal state; the initial state for e.g.
    REJECTED straight from PENDING). ``data`` is merged into the job's data on that entry.
    ``stuck`` never finishes; ``slow`` multiplies every duration."""

    status: str | None = None
    after: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    stuck: bool = False
    slow: float = 1.0


@dataclass
class Job:
    provider: str
    kind: str
    id: str
    status: str
    created_at: float
    updated_at: float
    namespace: str = "default"
    account: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    webhook_url: str | None = None
    base_url: str = ""
    outcome: Outcome = field(default_factory=Outcome)
    scenarios: list[str] = field(default_factory=list)
    plan: list[tuple[str, float]] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    queue_key: str | None = None
    started_at: float | None = None

    def entered(self, state: str) -> float | None:
        """When the job entered ``state`` (``None`` if it has not)."""
        for name, at in self.history:
            if name == state:
                return at
        return None


EnterHook = Callable[[Job, str], None]


class JobEngine:
    def __init__(self, clock: Clock, scheduler: Scheduler, store: Store) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.store = store
        self._declared: dict[tuple[str, str], tuple[Lifecycle, EnterHook | None]] = {}
        self._queues: dict[str, deque[tuple[str, str, str]]] = {}
        self._active: dict[str, int] = {}
        self._lock = threading.RLock()
        self._observers: list[EnterHook] = []

    def declare(self, provider: str, kind: str, lifecycle: Lifecycle, on_enter: EnterHook | None = None) -> None:
        self._declared[(provider, kind)] = (lifecycle, on_enter)

    def observe(self, observer: EnterHook) -> None:
        """Also call ``observer(job, state)`` after every state entry of every job, after the
        provider's own hook (e.g. a parent job following its children, or a long poll waking)."""
        self._observers.append(observer)

    def lifecycle(self, provider: str, kind: str) -> Lifecycle:
        return self._declared[(provider, kind)][0]

    @staticmethod
    def collection(provider: str, kind: str) -> str:
        return f"{provider}:{kind}"

    def create(
        self,
        provider: str,
        kind: str,
        job_id: str,
        *,
        durations: dict[str, float],
        outcome: Outcome | None = None,
        queue: tuple[str, int] | None = None,
        **fields: Any,
    ) -> Job:
        """Store a new job in the initial state and schedule its transitions. With ``queue``
        (key, limit), a job beyond ``limit`` active jobs of that key waits in the initial
        state until one of them finishes."""
        lifecycle, _ = self._declared[(provider, kind)]
        now = self.clock.now()
        job = Job(provider=provider, kind=kind, id=job_id, status=lifecycle.initial, created_at=now,
                  updated_at=now, outcome=outcome or Outcome(), durations=dict(durations), **fields)
        with self._lock:
            self.store.put(self.collection(provider, kind), job_id, job)
            self._enter(job, lifecycle.initial, now)
            if queue is not None:
                job.queue_key, limit = queue
                if self._active.get(job.queue_key, 0) >= limit:
                    self._queues.setdefault(job.queue_key, deque()).append((provider, kind, job_id))
                    return job
                self._active[job.queue_key] = self._active.get(job.queue_key, 0) + 1
            self._start(job, now)
        return job

    def get(self, provider: str, kind: str, job_id: str) -> Job | None:
        job = self.store.get(self.collection(provider, kind), job_id)
        return job if isinstance(job, Job) else None

    def jobs(self, provider: str, kind: str, where: Callable[[Job], bool] | None = None) -> Iterator[Job]:
        """Jobs newest first."""
        return self.store.newest(self.collection(provider, kind), where)

    def delete(self, job: Job) -> None:
        with self._lock:
            job.plan.clear()
            self.store.delete(self.collection(job.provider, job.kind), job.id)

    def is_terminal(self, job: Job) -> bool:
        return job.status in self._declared[(job.provider, job.kind)][0].terminal

    def finish_now(self, job: Job, outcome: Outcome) -> Job:
        """Drive a job to ``outcome`` at the current time (the control plane's force-complete)."""
        with self._lock:
            if self.is_terminal(job):
                return job
            job.outcome = outcome
            self._start(job, self.clock.now(), immediate=True)
            while job.plan and not self.is_terminal(job):
                self._step(job.provider, job.kind, job.id)
        return job

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._active.clear()

    # -- internals -------------------------------------------------------------------------

    def _path(self, lifecycle: Lifecycle, outcome: Outcome) -> list[str]:
        states = list(lifecycle.states)
        if outcome.stuck:
            return states[:-1]
        if outcome.status is None:
            return states
        after = outcome.after or states[-2]
        return states[: states.index(after) + 1] + [outcome.status]

    def _start(self, job: Job, now: float, immediate: bool = False) -> None:
        lifecycle, _ = self._declared[(job.provider, job.kind)]
        durations = job.durations
        path = self._path(lifecycle, job.outcome)
        start = path.index(job.status) if job.status in path else 0
        job.started_at = now
        job.plan = []
        at = now
        for prev, nxt in zip(path[start:], path[start + 1 :], strict=False):
            if not immediate:
                at += float(durations.get(prev, 0)) * job.outcome.slow
            job.plan.append((nxt, at))
        for _, when in job.plan[:1]:
            self._schedule(job, when)

    def _schedule(self, job: Job, when: float) -> None:
        key = (job.provider, job.kind, job.id)
        self.scheduler.call_at(when, lambda: self._step(*key))

    def _step(self, provider: str, kind: str, job_id: str) -> None:
        with self._lock:
            job = self.get(provider, kind, job_id)
            if job is None or not job.plan:
                return
            state, at = job.plan[0]
            if at > self.clock.now():
                return
            job.plan.pop(0)
            self._enter(job, state, at)
            if job.plan:
                self._schedule(job, job.plan[0][1])
            if self.is_terminal(job):
                self._release(job)

    def _enter(self, job: Job, state: str, at: float) -> None:
        lifecycle, hook = self._declared[(job.provider, job.kind)]
        job.status = state
        job.updated_at = at
        job.history.append((state, at))
        if state in lifecycle.terminal and state != lifecycle.success:
            job.data.update(job.outcome.data)
        if hook is not None:
            hook(job, state)
        self.store.put(self.collection(job.provider, job.kind), job.id, job)
        for observer in self._observers:
            observer(job, state)

    def _release(self, job: Job) -> None:
        key = job.queue_key
        if key is None:
            return
        queue = self._queues.get(key)
        while queue:
            provider, kind, job_id = queue.popleft()
            waiting = self.get(provider, kind, job_id)
            if waiting is not None and not self.is_terminal(waiting):
                self._start(waiting, self.clock.now())
                return
        self._active[key] = max(0, self._active.get(key, 0) - 1)

    def active(self, key: str) -> int:
        return self._active.get(key, 0)
