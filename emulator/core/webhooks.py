"""Webhook delivery: background, signed per attempt, retried on the injected clock, journalled.

A provider hands over the payload bytes, a signer and its retry policy; the dispatcher does
the rest. Attempts run on a small thread pool so request handling never waits on a receiver.
Deliveries go to loopback hosts only unless ``webhook_allow_external`` is set: the emulator
is offline by design, and a webhook URL copied from production must not be called.

Webhook scenarios (``webhook_drop``, ``webhook_delay``, ``webhook_duplicate``,
``webhook_out_of_order``, ``webhook_bad_signature``, or a provider's own) are applied here:
pass ``job=`` and the dispatcher reads the scenarios chosen when the job was submitted, plus
control-plane rules matched at send time, so no provider repeats that logic.

With a shared store (``attach``; ``lipsync-emulator serve`` with a data directory) every
delivery is also an outbox record (``OUTBOX``): written in the transaction that decided to
send it (the job's state entry), updated after each attempt, and picked up by any worker's
sweeper when its attempt is due (``run_due``), so pending deliveries resume after a restart.
An attempt is claimed first (a lease in the record), so exactly one worker makes it.

    >>> RetryPolicy(max_attempts=4, backoff=2, factor=3).delays()
    [2.0, 6.0, 18.0]
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lipsync_emulator.accesslog import log_webhook
from lipsync_emulator.core.clock import Clock, Scheduler, iso
from lipsync_emulator.core.ids import IdSource
from lipsync_emulator.core.media import split_url
from lipsync_emulator.core.store import scope

OUTBOX = "_webhooks"
LEASE_SECONDS = 30.0  # wall-clock time a claimed attempt is reserved for one worker

if TYPE_CHECKING:
    from lipsync_emulator.core.jobs import Job
    from lipsync_emulator.core.scenarios import ScenarioBook

Signer = Callable[[bytes, float, str], dict[str, str]]
"""(body, unix timestamp of the attempt, message id) -> signature headers. The message id is
the delivery id, except for the copies made by a duplicate fault, which repeat the original's
(an at-least-once duplicate carries the same id, so receivers can deduplicate on it)."""


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first attempt. Delay before attempt n+1 is
    ``backoff * factor**(n-1)``, capped at ``max_delay``, unless ``schedule`` lists the delays."""

    max_attempts: int = 1
    backoff: float = 1.0
    factor: float = 2.0
    max_delay: float = 3600.0
    schedule: tuple[float, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetryPolicy:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "schedule" in fields:
            fields["schedule"] = tuple(float(x) for x in fields["schedule"] or ())
        return cls(**fields)

    def delay(self, attempts_made: int) -> float:
        if self.schedule:
            return float(self.schedule[min(attempts_made, len(self.schedule)) - 1])
        return float(min(self.max_delay, self.backoff * self.factor ** (attempts_made - 1)))

    def delays(self) -> list[float]:
        return [self.delay(n) for n in range(1, self.max_attempts)]


@dataclass
class Attempt:
    number: int
    at: str
    timestamp: float
    status_code: int | None
    error: str | None
    headers: dict[str, str]
    response_body: str
    duration_ms: float


@dataclass
class Delivery:
    id: str
    provider: str
    url: str
    body: str
    event: str
    job_id: str | None
    namespace: str
    created_at: float
    headers: dict[str, str] = field(default_factory=dict)
    status: str = "pending"  # pending | delivered | failed | skipped
    attempts: list[Attempt] = field(default_factory=list)
    next_attempt_at: float | None = None
    max_attempts: int = 1
    note: str | None = None
    faults: dict[str, Any] = field(default_factory=dict)
    message_id: str = ""
    scenarios: list[str] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)  # the policy's schedule, for the journal

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = iso(self.created_at)
        out["next_attempt_at"] = None if self.next_attempt_at is None else iso(self.next_attempt_at)
        return out


@dataclass
class OutboxEntry:
    """A delivery as the shared store keeps it: with what its retries and signatures need."""

    delivery: Delivery
    policy: RetryPolicy
    signer: Signer | None
    claimed_until: float = 0.0  # wall clock; an attempt in flight in some worker until then
    claimed_by: int = 0  # that worker's pid (a lease held by a dead process is taken over)

    @property
    def namespace(self) -> str:
        return self.delivery.namespace

    def next_due(self) -> float | None:
        # A claimed attempt stays due: if its worker dies mid-attempt, another one finds it
        # and takes it over (``_claim``: the claimant's process is gone, or the lease ran out).
        d = self.delivery
        return d.next_attempt_at if d.status == "pending" else None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (the workers share one machine: SQLite is local)."""
    if not pid or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_loopback(url: str) -> bool:
    host = (split_url(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookDispatcher:
    def __init__(self, clock: Clock, scheduler: Scheduler, ids: IdSource, *, timeout: float = 5.0,
                 allow_external: bool = False, workers: int = 8, scenarios: ScenarioBook | None = None) -> None:
        self.clock = clock
        self.book = scenarios
        self.scheduler = scheduler
        self.ids = ids
        self.timeout = timeout
        self.allow_external = allow_external
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-webhook")
        self._deliveries: dict[str, Delivery] = {}
        self._signers: dict[str, Signer | None] = {}
        self._policies: dict[str, RetryPolicy] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._session = threading.local()
        self._generation = 0  # bumped on reset so stale scheduled attempts do nothing
        self._tokens: dict[str, int] = {}  # delivery id -> its current schedule (older ones are void)
        self._held: dict[str, Delivery] = {}  # out-of-order deliveries waiting for a later one
        self.store: Any = None  # a shared store once attached: the outbox lives there

    def attach(self, store: Any) -> None:
        """Keep every delivery in ``store`` too (a shared ``SqliteStore``): see the module doc."""
        self.store = store if getattr(store, "shared", False) else None

    # -- the outbox (shared store only) -------------------------------------------------------

    def _persist(self, delivery: Delivery, *, claimed_until: float = 0.0) -> None:
        if self.store is None:
            return
        entry = OutboxEntry(delivery, self._policies.get(delivery.id) or RetryPolicy(),
                            self._signers.get(delivery.id), claimed_until)
        with scope(delivery.namespace):
            try:
                self.store.put(OUTBOX, delivery.id, entry)
            except Exception:  # noqa: BLE001 - a signer that cannot be encoded: keep the rest
                entry.signer = None
                delivery.note = delivery.note or "signer kept in this process only (could not be stored)"
                self.store.put(OUTBOX, delivery.id, entry)

    def _entry(self, delivery_id: str, namespace: str | None = None) -> OutboxEntry | None:
        if self.store is None:
            return None
        with scope(namespace):
            entry = self.store.get(OUTBOX, delivery_id)
        return entry if isinstance(entry, OutboxEntry) else None

    def _adopt(self, entry: OutboxEntry) -> Delivery:
        """This process's copy of a stored delivery (with its policy and signer)."""
        delivery = entry.delivery
        with self._lock:
            local = self._deliveries.get(delivery.id)
            if local is not None and local is not delivery:
                local.__dict__.update(delivery.__dict__)
                delivery = local
            else:
                self._deliveries[delivery.id] = delivery
            self._policies[delivery.id] = entry.policy
            if entry.signer is not None or delivery.id not in self._signers:
                self._signers[delivery.id] = entry.signer
        return delivery

    def _claim(self, delivery_id: str, namespace: str) -> Delivery | None:
        """Reserve the delivery's due attempt for this worker; None if it is not due, is
        done, or another worker holds it."""
        with scope(namespace), self.store.transaction():
            entry = self._entry(delivery_id, namespace)
            if entry is None:
                return None
            d = entry.delivery
            if d.status != "pending" or d.next_attempt_at is None or d.next_attempt_at > self.clock.now():
                return None
            if entry.claimed_until > time.time() and _alive(entry.claimed_by):
                return None
            entry.claimed_until = time.time() + self.timeout + LEASE_SECONDS
            entry.claimed_by = os.getpid()
            self.store.put(OUTBOX, delivery_id, entry)
        return self._adopt(entry)

    def run_due(self, limit: int = 200) -> int:
        """Claim and launch every stored attempt that is due (another worker's, or one left
        pending by a restart). Returns how many were launched."""
        if self.store is None:
            return 0
        launched = 0
        for ns, coll, key in self.store.due(self.clock.now(), limit):
            if coll != OUTBOX:
                continue
            delivery = self._claim(key, ns)
            if delivery is None:
                continue
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._attempt, delivery)
            launched += 1
        return launched

    def send(self, *, provider: str, url: str, body: bytes, event: str, policy: RetryPolicy,
             signer: Signer | None = None, job_id: str | None = None, namespace: str = "default",
             headers: dict[str, str] | None = None, faults: dict[str, Any] | None = None,
             job: Job | None = None, scenarios: Iterable[str] | None = None,
             account: str | None = None) -> Delivery:
        """Queue a delivery. With ``job`` (or ``scenarios``, names chosen at submit), the
        job's webhook scenarios and the send-time control-plane rules decide the faults;
        ``faults`` adds explicit ones: ``drop``, ``delay`` (s), ``duplicate`` (extra copies),
        ``bad_signature``, ``out_of_order`` (longest hold, s)."""
        if job is not None:
            job_id = job_id or job.id
            namespace = job.namespace if namespace == "default" else namespace
            account = account if account is not None else (job.account or None)
            scenarios = job.scenarios if scenarios is None else scenarios
        chosen = self.book.webhook_scenarios(provider, scenarios or (), job_id=job_id, api_key=account) \
            if self.book is not None else []
        merged: dict[str, Any] = {}
        for scenario in chosen:
            merged.update(scenario.effects)
        merged.update(faults or {})
        return self._send(provider=provider, url=url, body=body, event=event, policy=policy, signer=signer,
                          job_id=job_id, namespace=namespace, headers=headers, faults=merged,
                          names=[s.name for s in chosen], message_id=None)

    def _send(self, *, provider: str, url: str, body: bytes, event: str, policy: RetryPolicy,
              signer: Signer | None, job_id: str | None, namespace: str, headers: dict[str, str] | None,
              faults: dict[str, Any], names: list[str], message_id: str | None) -> Delivery:
        now = self.clock.now()
        delivery_id = self.ids.uuid()
        delivery = Delivery(id=delivery_id, provider=provider, url=url, body=body.decode("utf-8"),
                            event=event, job_id=job_id, namespace=namespace, created_at=now,
                            headers={"Content-Type": "application/json", **(headers or {})},
                            max_attempts=max(1, policy.max_attempts), faults=dict(faults),
                            message_id=message_id or delivery_id, scenarios=list(names),
                            retry_delays=policy.delays())
        with self._lock:
            self._deliveries[delivery.id] = delivery
            self._signers[delivery.id] = signer
            self._policies[delivery.id] = policy
        when = now + float(faults.get("delay") or 0)
        if faults.get("drop"):
            delivery.status, delivery.note = "skipped", "dropped by scenario"
        elif not (self.allow_external or is_loopback(url)):
            delivery.status = "skipped"
            delivery.note = "not delivered: only loopback hosts are called (set webhook_allow_external)"
        elif faults.get("out_of_order"):
            # Held back until another delivery to the same URL has been attempted (then it
            # goes right after it), or for at most ``out_of_order`` seconds.
            delivery.note = "held back (out of order) until a later delivery to this URL"
            with self._lock:
                self._held[delivery.id] = delivery
            self._schedule(delivery, when + float(faults["out_of_order"]))
        else:
            self._schedule(delivery, when)
        self._persist(delivery)
        if delivery.status == "skipped":
            log_webhook(delivery)
        # The copies are neither held nor duplicated again: with out_of_order, a copy is
        # "the later one" that overtakes the original.
        extra = {k: v for k, v in faults.items() if k not in ("duplicate", "out_of_order")}
        for _ in range(int(faults.get("duplicate") or 0)):
            self._send(provider=provider, url=url, body=body, event=event, policy=policy, signer=signer,
                       job_id=job_id, namespace=namespace, headers=headers, faults=extra, names=names,
                       message_id=delivery.message_id)
        return delivery

    def redeliver(self, delivery_id: str) -> Delivery | None:
        """Send a recorded delivery again, as a new delivery with a fresh signature."""
        entry = self._entry(delivery_id)
        old = self._adopt(entry) if entry is not None else self._deliveries.get(delivery_id)
        if old is None:
            return None
        return self._send(provider=old.provider, url=old.url, body=old.body.encode(), event=old.event,
                          policy=self._policies[old.id], signer=self._signers[old.id], job_id=old.job_id,
                          namespace=old.namespace, headers=old.headers, faults={}, names=[], message_id=None)

    def signature(self, delivery_id: str, timestamp: float) -> dict[str, str]:
        """The headers the delivery's signer gives for an attempt at ``timestamp``, before any
        fault: what a receiver verifying it should compute (``{}`` if it is unsigned)."""
        entry = self._entry(delivery_id)
        if entry is not None:
            self._adopt(entry)
        delivery, signer = self._deliveries.get(delivery_id), self._signers.get(delivery_id)
        if delivery is None or signer is None:
            return {}
        return signer(delivery.body.encode("utf-8"), timestamp, delivery.message_id or delivery.id)

    def deliveries(self, **filters: Any) -> list[Delivery]:
        wanted = {k: v for k, v in filters.items() if v is not None}
        if self.store is not None:
            # every worker's deliveries, oldest first (in a namespace when the caller is scoped)
            rows = [e.delivery for e in reversed(list(self.store.newest(OUTBOX)))
                    if isinstance(e, OutboxEntry)]
        else:
            with self._lock:
                rows = list(self._deliveries.values())
        return [d for d in rows if all(str(getattr(d, k)) == str(v) for k, v in wanted.items())]

    def get(self, delivery_id: str) -> Delivery | None:
        entry = self._entry(delivery_id)
        if entry is not None:
            return entry.delivery
        return self._deliveries.get(delivery_id)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no attempt is in flight (bounded). The control plane uses it so a test
        that advances the clock sees the deliveries that advance caused. With a shared store
        that includes attempts due or in flight in the other workers."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        if self.store is None:
            return True
        # Another process's attempts are only visible in the outbox, and no signal crosses
        # processes: look again every few milliseconds (server side, bounded).
        while any(coll == OUTBOX for _, coll, _ in self.store.due(self.clock.now())):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def reset(self, namespace: str | None = None) -> None:
        """Forget every delivery (of ``namespace`` only, if given); scheduled attempts of the
        forgotten ones do nothing. The outbox records go with ``Store.clear``."""
        self.wait_idle()
        if namespace is not None:
            with self._lock:
                for delivery_id in [i for i, d in self._deliveries.items() if d.namespace == namespace]:
                    for table in (self._deliveries, self._signers, self._policies, self._tokens, self._held):
                        table.pop(delivery_id, None)  # type: ignore[attr-defined]
            return
        with self._lock:
            self._generation += 1
            self._deliveries.clear()
            self._signers.clear()
            self._policies.clear()
            self._tokens.clear()
            self._held.clear()

    # -- internals -------------------------------------------------------------------------

    def _schedule(self, delivery: Delivery, when: float) -> None:
        with self._lock:
            delivery.next_attempt_at = when
            token = self._tokens.get(delivery.id, 0) + 1
            self._tokens[delivery.id] = token
            generation = self._generation
        # the stored copy says when, before any worker's timer can look for it
        self._persist(delivery)
        self.scheduler.call_at(when, lambda: self._launch(delivery, generation, token))

    def _launch(self, delivery: Delivery, generation: int, token: int = 0) -> None:
        with self._lock:
            if generation != self._generation or self._tokens.get(delivery.id, 0) != token:
                return  # reset since, or rescheduled (a held delivery released early)
            expired = self._held.pop(delivery.id, None) is not None
        if self.store is not None:
            claimed = self._claim(delivery.id, delivery.namespace)
            if claimed is None:
                return  # done already, or another worker holds this attempt
            delivery = claimed  # the stored copy: what the attempt records is kept
        if expired:
            delivery.note = "held back (out of order): sent when the hold expired"
        with self._lock:
            self._in_flight += 1
        self._pool.submit(self._attempt, delivery)

    def _release_held(self, after: Delivery) -> None:
        """Send the held deliveries to ``after``'s URL right after it (out-of-order fault)."""
        with self._lock:
            released = [d for d in self._held.values() if d.url == after.url and d.id != after.id]
            for held in released:
                del self._held[held.id]
                held.note = f"held back (out of order): sent after delivery {after.id}"
        for held in released:
            self._schedule(held, self.clock.now())

    def _attempt(self, delivery: Delivery) -> None:
        try:
            now = self.clock.now()
            body = delivery.body.encode("utf-8")
            headers = dict(delivery.headers)
            signer = self._signers.get(delivery.id)
            if signer is not None:
                headers.update(signer(body, now, delivery.message_id or delivery.id))
                if delivery.faults.get("bad_signature"):
                    headers = {k: (_corrupt(v) if _is_signature(k) else v) for k, v in headers.items()}
            started = time.perf_counter()
            status_code: int | None = None
            error: str | None = None
            text = ""
            import requests  # imported on the first attempt: 60 ms of start-up otherwise

            try:
                session = getattr(self._session, "s", None)
                if session is None:
                    session = self._session.s = requests.Session()
                    # sent directly: an HTTP(S)_PROXY meant for the internet cannot reach a
                    # receiver on this machine (and reading the environment cost ~0.3 ms a send)
                    session.trust_env = False
                resp = session.post(delivery.url, data=body, headers=headers, timeout=self.timeout,
                                    allow_redirects=False)
                status_code, text = resp.status_code, resp.text[:2000]
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempt = Attempt(number=len(delivery.attempts) + 1, at=iso(now), timestamp=now,
                              status_code=status_code, error=error, headers=headers, response_body=text,
                              duration_ms=round((time.perf_counter() - started) * 1000, 3))
            delivery.attempts.append(attempt)
            if status_code is not None and 200 <= status_code < 300:
                delivery.status, delivery.next_attempt_at = "delivered", None
            elif attempt.number < delivery.max_attempts:
                policy = self._policies[delivery.id]
                self._schedule(delivery, self.clock.now() + policy.delay(attempt.number))
            else:
                delivery.status, delivery.next_attempt_at = "failed", None
            self._persist(delivery)  # the attempt is recorded, the lease released
            log_webhook(delivery, attempt, self.clock.now())
            self._release_held(delivery)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()


def _is_signature(header: str) -> bool:
    name = header.lower()
    return "signature" in name


def _corrupt(value: str) -> str:
    """Flip the last hex/base64 character so the signature no longer verifies."""
    if not value:
        return "0"
    last = value[-1]
    return value[:-1] + ("0" if last != "0" else "1")
