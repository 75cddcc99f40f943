"""The one lifecycle engine. A provider *declares* its states and durations; the engine moves
every job along them on the injected clock, applies scenario outcomes, queues jobs beyond a
concurrency limit, and calls the provider back on each state entry (to fill outputs, charge,
send webhooks). Four copies of "advance status on poll" is what this module replaces.

    >>> from lipsync_emulator.core.clock import VirtualClock, Scheduler
    >>> from lipsync_emulator.core.store import MemoryStore
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

Jobs and the concurrency queues are store records, so a persistent store keeps them across a
restart; ``resume`` then schedules the transitions they still have ahead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from lipsync_emulator.core.clock import Clock, Scheduler, quantize
from lipsync_emulator.core.store import (
    DEFAULT_NAMESPACE,
    Store,
    current_namespace,
    current_tenant,
    scope,
    tenant,
)

QUEUES = "_engine:queue"


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


@dataclass(slots=True)
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


@dataclass(slots=True)  # no per-job __dict__: a store holds many jobs
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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Job(*fields): the persistent store pickles a job on every change; this is faster
        # both ways than the dataclass's __getstate__
        return Job, _job_fields(self)


EnterHook = Callable[[Job, str], None]
_job_fields = attrgetter(*Job.__slots__)


_SUCCEED = Outcome()  # the default outcome, shared: the engine never changes an outcome


class _Step:
    """A scheduled transition (a slotted callable: 100,000 pending jobs, no closures)."""

    __slots__ = ("engine", "provider", "kind", "job_id", "namespace")

    def __init__(self, engine: JobEngine, provider: str, kind: str, job_id: str, namespace: str | None) -> None:
        self.engine, self.provider, self.kind, self.job_id, self.namespace = engine, provider, kind, job_id, namespace

    def __call__(self) -> None:
        self.engine._step(self.provider, self.kind, self.job_id, namespace=self.namespace)


class JobEngine:
    def __init__(self, clock: Clock, scheduler: Scheduler, store: Store) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.store = store
        self._declared: dict[tuple[str, str], tuple[Lifecycle, EnterHook | None]] = {}
        self._lock = threading.RLock()
        self._observers: list[EnterHook] = []
        self._durations: dict[tuple[tuple[str, float], ...], dict[str, float]] = {}

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

    def _transaction(self) -> Any:
        return self.store.transaction()

    def resume(self) -> int:
        """Schedule the next transition of every unfinished job in the store (after a restart
        on a persistent store). Returns how many."""
        count = 0
        for provider, kind in self._declared:
            for job in list(self.store.newest(self.collection(provider, kind))):
                if isinstance(job, Job) and job.plan:
                    self._schedule(job, job.plan[0][1])
                    count += 1
        return count

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
        state until one of them finishes. Inside a request the job belongs to the request's
        namespace (``emulator.core.store.scope``)."""
        lifecycle, _ = self._declared[(provider, kind)]
        now = self.clock.now()
        if (ns := current_namespace()) is not None:
            fields["namespace"] = ns
        job = Job(provider=provider, kind=kind, id=job_id, status=lifecycle.initial, created_at=now,
                  updated_at=now, outcome=outcome or _SUCCEED, durations=self._shared_durations(durations),
                  **fields)
        with self._lock, self._transaction():
            self._save(job)
            self._enter(job, lifecycle.initial, now)
            if queue is not None:
                job.queue_key, limit = queue
                state = self._queue(job.queue_key)
                if state["active"] >= limit:
                    state["waiting"].append([provider, kind, job_id])
                    self._save_queue(job.queue_key, state)
                    self._save(job)
                    return job
                state["active"] += 1
                self._save_queue(job.queue_key, state)
            self._start(job, now)
            self._save(job)
        return job

    def get(self, provider: str, kind: str, job_id: str) -> Job | None:
        job = self.store.get(self.collection(provider, kind), job_id)
        return job if isinstance(job, Job) else None

    def owned(self, provider: str, kind: str, job_id: str, account: str | None, missing: Exception,
              visible: Callable[[Job], bool] | None = None) -> Job:
        """The job ``job_id`` of ``account`` (that ``visible`` keeps), else ``missing`` raised:
        another account's job answers exactly as an unknown one does."""
        job = self.get(provider, kind, job_id)
        if job is None or job.account != account or (visible is not None and not visible(job)):
            raise missing
        return job

    def jobs(self, provider: str, kind: str, where: Callable[[Job], bool] | None = None,
             account: str | None = None) -> Iterator[Job]:
        """Jobs newest first (only ``account``'s, reading no other key's)."""
        return self.store.newest(self.collection(provider, kind), where, account=account)

    def delete(self, job: Job) -> None:
        with self._lock, self._transaction():
            job.plan.clear()
            with scope(self._namespace(job)):
                self.store.delete(self.collection(job.provider, job.kind), job.id)

    def save(self, job: Job) -> None:
        """Store a change made to a job outside its own transitions (an observer updating a
        parent)."""
        with self._lock, self._transaction():
            self._save(job)

    def is_terminal(self, job: Job) -> bool:
        return job.status in self._declared[(job.provider, job.kind)][0].terminal

    def finish_now(self, job: Job, outcome: Outcome) -> Job:
        """Drive a job to ``outcome`` at the current time (the control plane's force-complete)."""
        with self._lock, self._transaction():
            if self.is_terminal(job):
                return job
            job.outcome = outcome
            self._start(job, self.clock.now(), immediate=True)
            self._save(job)
            while job.plan and not self.is_terminal(job):
                self._step(job.provider, job.kind, job.id, namespace=self._namespace(job))
        return job

    def active(self, key: str) -> int:
        return int(self._queue(key)["active"])

    # -- internals -------------------------------------------------------------------------

    def _namespace(self, job: Job) -> str | None:
        return job.namespace or None

    @staticmethod
    def _tenant(job: Job) -> str | None:
        if job.namespace and job.namespace != DEFAULT_NAMESPACE:
            return job.namespace
        return job.account or None

    def _save(self, job: Job) -> None:
        with scope(self._namespace(job) or current_namespace()):
            self.store.put(self.collection(job.provider, job.kind), job.id, job)

    def _queue(self, key: str) -> dict[str, Any]:
        state = self.store.get(QUEUES, key)
        return state if isinstance(state, dict) else {"active": 0, "waiting": []}

    def _save_queue(self, key: str, state: dict[str, Any]) -> None:
        self.store.put(QUEUES, key, state)

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
                at = quantize(at + float(durations.get(prev, 0)) * job.outcome.slow)
            job.plan.append((nxt, at))
        for _, when in job.plan[:1]:
            self._schedule(job, when)

    def _schedule(self, job: Job, when: float) -> None:
        self.scheduler.call_at(when, _Step(self, job.provider, job.kind, job.id, self._namespace(job)))

    def _shared_durations(self, durations: dict[str, float]) -> dict[str, float]:
        """One dict per distinct set of durations, shared by the jobs (the engine never
        changes a job's durations): 100,000 jobs, not 100,000 copies."""
        key = tuple(sorted((str(k), float(v)) for k, v in durations.items()))
        found = self._durations.get(key)
        if found is None:
            found = self._durations.setdefault(key, dict(durations))
        return found

    def _step(self, provider: str, kind: str, job_id: str, *, namespace: str | None = None) -> None:
        """Enter the job's next state if it is due."""
        with self._lock, scope(namespace or current_namespace()), self._transaction():
            job = self.get(provider, kind, job_id)
            if job is None or not job.plan:
                return
            state, at = job.plan[0]
            if at > self.clock.now():
                return
            job.plan.pop(0)
            # what the hook writes (a webhook, an output record) belongs to the job's tenant
            with tenant(current_tenant() or self._tenant(job)):
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
        self._save(job)
        for observer in self._observers:
            observer(job, state)

    def _release(self, job: Job) -> None:
        key = job.queue_key
        if key is None:
            return
        state = self._queue(key)
        entry = [job.provider, job.kind, job.id]
        if entry in state["waiting"]:
            # finished while still queued (the control plane's finish): it never held a slot
            state["waiting"].remove(entry)
            self._save_queue(key, state)
            return
        while state["waiting"]:
            provider, kind, job_id = state["waiting"].pop(0)
            waiting = self.get(provider, kind, job_id)
            if waiting is not None and not self.is_terminal(waiting):
                self._start(waiting, job.updated_at)  # the slot frees when the job finished
                self._save(waiting)
                self._save_queue(key, state)
                return
        state["active"] = max(0, int(state["active"]) - 1)
        self._save_queue(key, state)
