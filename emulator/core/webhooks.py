"""Webhook delivery: background, signed per attempt, retried on the injected clock, journalled.

A provider hands over the payload bytes, a signer and its retry policy; the dispatcher does
the rest. Attempts run on a small thread pool so request handling never waits on a receiver.
Deliveries go to loopback hosts only unless ``webhook_allow_external`` is set: the emulator
is offline by design, and a webhook URL copied from production must not be called.

Webhook scenarios (``webhook_drop``, ``webhook_delay``, ``webhook_duplicate``,
``webhook_out_of_order``, ``webhook_bad_signature``, or a provider's own) are applied here:
pass ``job=`` and the dispatcher reads the scenarios chosen when the job was submitted, plus
control-plane rules matched at send time, so no provider repeats that logic.

Every delivery is a record of the store (collection ``OUTBOX``), so a persistent store keeps
pending deliveries across a restart (``resume`` schedules them again). A signer is data — a
scheme name and its secrets — so a stored delivery signs its retries after a restart too.

The sender (``post``) connects to exactly the endpoint the guard approved (``media.endpoint``:
one parser, so a URL no HTTP library reads alike is refused, never sent somewhere else),
bounds each attempt in total wall-clock time (``webhook_timeout``) and in the bytes it reads
of the answer (``RESPONSE_BYTES``), and never follows a redirect. A connection the whole
answer left open serves the next attempt to the same receiver soon after (``KeptAlive``).
Attempts run on a pool of ``POOL_THREADS`` threads, at most ``PER_RECEIVER`` at a time to one
host and port, so stalled receivers cannot hold up the others' deliveries.

A signature states the wall-clock time the attempt is sent at, whatever the virtual clock
says: receivers check it against their own clock (Stripe's test clocks do the same). The
job's times in the body, the retry schedule and a secret's rotation grace are the emulator's.

    >>> RetryPolicy(max_attempts=4, backoff=2, factor=3).delays()
    [2.0, 6.0, 18.0]
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lipsync_emulator.accesslog import log_webhook
from lipsync_emulator.core.clock import Clock, Scheduler, iso
from lipsync_emulator.core.ids import IdSource
from lipsync_emulator.core.media import Endpoint, endpoint
from lipsync_emulator.core.store import Store, scope

OUTBOX = "_webhooks"
RESPONSE_BYTES = 65536  # what an attempt reads of a receiver's answer, at most
POOL_THREADS = 64
PER_RECEIVER = 4  # attempts in flight to one host and port; more wait their turn, holding no thread
KEEP_ALIVE = 1.0  # wall-clock seconds an open connection waits for the next attempt to its receiver

if TYPE_CHECKING:
    from lipsync_emulator.core.jobs import Job
    from lipsync_emulator.core.scenarios import ScenarioBook

SignFunction = Callable[["Signer", bytes, float, str], dict[str, str]]
SCHEMES: dict[str, SignFunction] = {}


def signature_scheme(name: str) -> Callable[[SignFunction], SignFunction]:
    """Register a provider's signature scheme: ``fn(signer, body, unix timestamp of the
    attempt, message id) -> headers``."""

    def register(fn: SignFunction) -> SignFunction:
        SCHEMES[name] = fn
        return fn

    return register


@dataclass(frozen=True)
class Signer:
    """How a delivery is signed, as data: a registered scheme, its secret, and what the
    scheme may need besides (a header name; a previous secret and until when it signs too).

    The message id is the delivery id, except for the copies made by a duplicate fault, which
    repeat the original's (an at-least-once duplicate carries the same id, so receivers can
    deduplicate on it)."""

    scheme: str
    secret: str
    header: str | None = None
    previous: str | None = None
    previous_until: float | None = None

    def __call__(self, body: bytes, timestamp: float, message_id: str, at: float | None = None) -> dict[str, str]:
        """Headers for an attempt: ``timestamp`` is the time the signature states (the wall
        clock when sent), ``at`` the emulator's time of the attempt, which decides whether
        the previous secret still signs (default: ``timestamp``)."""
        signer = self
        if self.previous and (timestamp if at is None else at) >= float(self.previous_until or 0):
            signer = replace(self, previous=None)
        return SCHEMES[self.scheme](signer, body, timestamp, message_id)


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
    timestamp: float  # the emulator's time of the attempt (``at``)
    status_code: int | None
    error: str | None
    headers: dict[str, str]
    response_body: str
    duration_ms: float
    signed_at: float | None = None  # the wall-clock time the signature states


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
    policy: RetryPolicy = field(default_factory=RetryPolicy, repr=False)
    signer: Signer | None = field(default=None, repr=False)

    def next_due(self) -> float | None:
        return self.next_attempt_at if self.status == "pending" else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["policy"], out["signer"]  # the signer holds secrets
        out["created_at"] = iso(self.created_at)
        out["next_attempt_at"] = None if self.next_attempt_at is None else iso(self.next_attempt_at)
        return out


def is_loopback(url: str) -> bool:
    """Whether ``url`` leads to this machine, read by the parser the sender connects with."""
    try:
        return endpoint(url).loopback
    except ValueError:
        return False


class WebhookDispatcher:
    def __init__(self, clock: Clock, scheduler: Scheduler, ids: IdSource, store: Store, *, timeout: float = 5.0,
                 allow_external: bool = False, workers: int = 0, scenarios: ScenarioBook | None = None) -> None:
        self.clock = clock
        self.book = scenarios
        self.scheduler = scheduler
        self.ids = ids
        self.store = store
        self.timeout = timeout
        self.allow_external = allow_external
        self._pool = ThreadPoolExecutor(max_workers=workers or POOL_THREADS, thread_name_prefix="emulator-webhook")
        self._receiving: dict[tuple[str, int], int] = {}  # attempts in flight per host and port
        self._waiting: dict[tuple[str, int], deque[Delivery]] = {}  # the ones beyond PER_RECEIVER
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._generation = 0  # bumped on reset so stale scheduled attempts do nothing
        self._tokens: dict[str, int] = {}  # delivery id -> its current schedule (older ones are void)
        self._held: dict[str, Delivery] = {}  # out-of-order deliveries waiting for a later one
        self._kept = KeptAlive()

    def _save(self, delivery: Delivery) -> None:
        with scope(delivery.namespace):
            self.store.put(OUTBOX, delivery.id, delivery)

    def resume(self) -> int:
        """Schedule the pending deliveries a persistent store kept across a restart."""
        pending = [d for d in self.store.newest(OUTBOX) if isinstance(d, Delivery) and d.next_due() is not None]
        for delivery in pending:
            self._schedule(delivery, float(delivery.next_attempt_at or 0.0))
        return len(pending)

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

    def send_json(self, provider: str, job: Job, payload: Any, *, event: str, retry: dict[str, Any],
                  signer: Signer | None = None, headers: dict[str, str] | None = None, ensure_ascii: bool = True,
                  job_faults: bool = True) -> Delivery:
        """Queue ``payload`` as compact JSON to ``job``'s webhook URL under the retry settings
        ``retry``: what every provider's job webhook shares, so a provider states only its
        payload, event, signer and headers. The job's webhook scenarios (drop, delay,
        duplicate...) and the account's send-time rules apply, unless ``job_faults=False``."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
        where: dict[str, Any] = {"job": job} if job_faults else {"job_id": job.id, "namespace": job.namespace}
        return self.send(provider=provider, url=job.webhook_url or "", body=body, event=event,
                         policy=RetryPolicy.from_dict(retry), signer=signer, headers=headers, **where)

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
                            retry_delays=policy.delays(), policy=policy, signer=signer)
        when = now + float(faults.get("delay") or 0)
        if faults.get("drop"):
            delivery.status, delivery.note = "skipped", "dropped by scenario"
            self._save(delivery)
        elif (refused := _refusal(url, self.allow_external)) is not None:
            delivery.status, delivery.note = "skipped", refused
            self._save(delivery)
        elif faults.get("out_of_order"):
            # Held back until another delivery to the same URL has been attempted (then it
            # goes right after it), or for at most ``out_of_order`` seconds.
            delivery.note = "held back (out of order) until a later delivery to this URL"
            with self._lock:
                self._held[delivery.id] = delivery
            self._schedule(delivery, when + float(faults["out_of_order"]))
        else:
            self._schedule(delivery, when)
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
        old = self.get(delivery_id)
        if old is None:
            return None
        return self._send(provider=old.provider, url=old.url, body=old.body.encode(), event=old.event,
                          policy=old.policy, signer=old.signer, job_id=old.job_id, namespace=old.namespace,
                          headers=old.headers, faults={}, names=[], message_id=None)

    def signature(self, delivery_id: str, timestamp: float, at: float | None = None) -> dict[str, str]:
        """The headers the delivery's signer gives for an attempt signed at ``timestamp``
        (an attempt's ``signed_at``; ``at``: its emulator time), before any fault: what a
        receiver verifying it should compute (``{}`` if it is unsigned)."""
        delivery = self.get(delivery_id)
        if delivery is None or delivery.signer is None:
            return {}
        return delivery.signer(delivery.body.encode("utf-8"), timestamp, delivery.message_id or delivery.id, at)

    def deliveries(self, **filters: Any) -> list[Delivery]:
        """Oldest first (in the caller's namespace when it is scoped)."""
        wanted = {k: v for k, v in filters.items() if v is not None}
        rows = [d for d in self.store.newest(OUTBOX) if isinstance(d, Delivery)]
        rows.reverse()
        return [d for d in rows if all(str(getattr(d, k)) == str(v) for k, v in wanted.items())]

    def get(self, delivery_id: str) -> Delivery | None:
        with scope(None):
            delivery = self.store.get(OUTBOX, delivery_id)
        return delivery if isinstance(delivery, Delivery) else None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no attempt is in flight (bounded). The control plane uses it so a test
        that advances the clock sees the deliveries that advance caused."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def reset(self, namespace: str | None = None) -> None:
        """Forget the scheduled attempts (of ``namespace``'s deliveries only, if given); the
        records themselves go with ``Store.clear``."""
        self.wait_idle()
        with self._lock:
            if namespace is None:
                self._generation += 1
                self._tokens.clear()
                self._held.clear()
                return
            for delivery_id in [i for i, d in self._held.items() if d.namespace == namespace]:
                del self._held[delivery_id]
            for delivery in self.deliveries(namespace=namespace):
                self._tokens.pop(delivery.id, None)

    # -- internals -------------------------------------------------------------------------

    def _schedule(self, delivery: Delivery, when: float) -> None:
        with self._lock:
            delivery.next_attempt_at = when
            token = self._tokens.get(delivery.id, 0) + 1
            self._tokens[delivery.id] = token
            generation = self._generation
        self._save(delivery)
        self.scheduler.call_at(when, lambda: self._launch(delivery, generation, token))

    def _launch(self, delivery: Delivery, generation: int, token: int = 0) -> None:
        with self._lock:
            if generation != self._generation or self._tokens.get(delivery.id, 0) != token:
                return  # reset since, or rescheduled (a held delivery released early)
            if self._held.pop(delivery.id, None) is not None:
                delivery.note = "held back (out of order): sent when the hold expired"
            self._in_flight += 1
            target = endpoint(delivery.url)
            receiver = (target.host, target.port)
            if self._receiving.get(receiver, 0) >= PER_RECEIVER:
                self._waiting.setdefault(receiver, deque()).append(delivery)
                return
            self._receiving[receiver] = self._receiving.get(receiver, 0) + 1
        self._pool.submit(self._attempts, receiver, delivery)

    def _attempts(self, receiver: tuple[str, int], delivery: Delivery | None) -> None:
        """Attempts to one receiver, one after another: this one, then those waiting for it."""
        while delivery is not None:
            self._attempt(delivery)
            with self._lock:
                waiting = self._waiting.get(receiver)
                delivery = waiting.popleft() if waiting else None
                if not waiting:
                    self._waiting.pop(receiver, None)
                if delivery is None:
                    self._receiving[receiver] -= 1
                    if not self._receiving[receiver]:
                        del self._receiving[receiver]

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
            signed_at = None
            if delivery.signer is not None:
                signed_at = time.time()
                headers.update(delivery.signer(body, signed_at, delivery.message_id or delivery.id, now))
                if delivery.faults.get("bad_signature"):
                    headers = {k: (_corrupt(v) if _is_signature(k) else v) for k, v in headers.items()}
            started = time.perf_counter()
            status_code: int | None = None
            error: str | None = None
            text = ""
            try:
                status_code, text = post(endpoint(delivery.url), body, headers, self.timeout, self._kept)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempt = Attempt(number=len(delivery.attempts) + 1, at=iso(now), timestamp=now,
                              status_code=status_code, error=error, headers=headers, response_body=text[:2000],
                              duration_ms=round((time.perf_counter() - started) * 1000, 3), signed_at=signed_at)
            delivery.attempts.append(attempt)
            if status_code is not None and 200 <= status_code < 300:
                delivery.status, delivery.next_attempt_at = "delivered", None
            elif attempt.number < delivery.max_attempts:
                self._schedule(delivery, self.clock.now() + delivery.policy.delay(attempt.number))
            else:
                delivery.status, delivery.next_attempt_at = "failed", None
            self._save(delivery)
            log_webhook(delivery, attempt, self.clock.now())
            self._release_held(delivery)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()


def _refusal(url: str, allow_external: bool) -> str | None:
    """Why a delivery to ``url`` is not made, decided before any connection (None: it is)."""
    try:
        target = endpoint(url)
    except ValueError as exc:
        return f"not delivered: {exc}"
    if not (allow_external or target.loopback):
        return "not delivered: only loopback hosts are called (set webhook_allow_external)"
    return None


def _is_signature(header: str) -> bool:
    name = header.lower()
    return "signature" in name


def _corrupt(value: str) -> str:
    """Flip the last hex/base64 character so the signature no longer verifies."""
    if not value:
        return "0"
    last = value[-1]
    return value[:-1] + ("0" if last != "0" else "1")


# --- the sender ---------------------------------------------------------------------------------

class _Deadline:
    """A socket whose every wait ends at one wall-clock deadline: a receiver that drips its
    answer a byte at a time cannot stretch an attempt past it (a timeout per read would)."""

    deadline = float("inf")

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt ran out of time")
        self.settimeout(left)  # type: ignore[attr-defined]

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)  # type: ignore[misc]

    def sendall(self, *args: Any) -> None:
        self._arm()
        return super().sendall(*args)  # type: ignore[misc]


class _DeadlineSocket(_Deadline, socket.socket):
    pass


class _DeadlineSSLSocket(_Deadline, ssl.SSLSocket):
    pass


class _Connection(http.client.HTTPConnection):
    """A connection to exactly the endpoint the guard approved (no second URL parser)."""

    deadline = float("inf")

    def __init__(self, target: Endpoint) -> None:
        super().__init__(target.host, target.port)
        self.target = target

    def arm(self, deadline: float) -> None:
        """Bound an attempt on this connection, whether it connects or was kept open."""
        self.deadline = deadline
        if self.sock is not None:
            self.sock.deadline = deadline

    def connect(self) -> None:
        target = self.target
        host = target.host
        addresses = [host]
        if target.loopback and host.endswith("localhost"):
            # a name reserved for loopback: what "localhost" is on this machine, never DNS
            found = socket.getaddrinfo("localhost", target.port, type=socket.SOCK_STREAM)
            addresses = [a for a in dict.fromkeys(str(f[4][0]) for f in found)
                         if ipaddress.ip_address(a).is_loopback] or ["127.0.0.1"]
        error: OSError = OSError(f"cannot connect to {target.netloc}")
        for address in addresses:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the attempt ran out of time")
            try:
                raw = socket.create_connection((address, target.port), timeout=left)
                break
            except OSError as exc:
                error = exc
        else:
            raise error
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock: Any = _DeadlineSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        sock.deadline = self.deadline
        if target.scheme == "https":
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineSSLSocket
            sock.settimeout(max(0.001, self.deadline - time.monotonic()))
            sock = context.wrap_socket(sock, server_hostname=host)
            sock.deadline = self.deadline
        self.sock = sock


def post(target: Endpoint, body: bytes, headers: dict[str, str], timeout: float,
         kept: KeptAlive | None = None) -> tuple[int, str]:
    """POST ``body`` to ``target`` in at most ``timeout`` seconds in all (connecting,
    sending, the answer's head and the first ``RESPONSE_BYTES`` of its body, all that is
    read of it). Redirects are answers, not followed. With ``kept``, a connection it holds to
    ``target`` is used, and one the whole answer left open is given back to it."""
    deadline = time.monotonic() + timeout
    conn = kept.take(target) if kept is not None else None
    if conn is not None:
        try:
            return _exchange(conn, target, body, headers, deadline, kept)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            pass  # closed by the receiver as it was reused: once more on a new one, as xmlrpc.client does
    return _exchange(_Connection(target), target, body, headers, deadline, kept)


def _exchange(conn: _Connection, target: Endpoint, body: bytes, headers: dict[str, str], deadline: float,
              kept: KeptAlive | None) -> tuple[int, str]:
    conn.arm(deadline)
    try:
        conn.request("POST", target.target, body=body, headers={"Host": target.netloc, **headers})
        resp = conn.getresponse()
        answer = resp.status, resp.read(RESPONSE_BYTES).decode("utf-8", "replace")
    except BaseException:
        conn.close()
        raise
    if kept is not None and resp.isclosed() and conn.sock is not None:
        kept.give(target, conn)
    else:
        conn.close()
    return answer


class KeptAlive:
    """Connections a whole answer left open, each reused by the next attempt to the same
    receiver within ``KEEP_ALIVE`` seconds, as HTTP clients keep them: a new connection per
    webhook costs every receiver an accept (and a threading server a thread). The window is
    shorter than servers' idle timeouts, so a receiver does not close a connection as it is
    reused; one it closed sooner (perhaps with a last answer, such as a 408) reads as ready,
    and is closed here instead of reused."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[tuple[float, _Connection]]] = {}
        self._lock = threading.Lock()

    def take(self, target: Endpoint) -> _Connection | None:
        with self._lock:
            expired = self._expire(time.monotonic() - KEEP_ALIVE)
            idle = self._idle.get((target.scheme, target.host, target.port))
            conn = idle.pop()[1] if idle else None
        for old in expired:
            old.close()
        if conn is not None and conn.sock is not None and _ready(conn.sock):
            conn.close()
            return None
        return conn

    def give(self, target: Endpoint, conn: _Connection) -> None:
        with self._lock:
            self._idle.setdefault((target.scheme, target.host, target.port), []).append((time.monotonic(), conn))

    def _expire(self, before: float) -> list[_Connection]:
        expired = []
        for key, idle in list(self._idle.items()):
            expired += [conn for at, conn in idle if at <= before]
            idle[:] = [(at, conn) for at, conn in idle if at > before]
            if not idle:
                del self._idle[key]
        return expired


def _ready(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the receiver closed it (or sent what
    no request asked for)."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(0))
