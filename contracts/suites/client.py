"""The client contract suite: proof, without touching the real API, that code calling a
provider builds valid requests, surfaces provider errors, survives every async path and
handles webhooks safely.

A client is plugged in through a small adapter built from a ``ContractEnv``::

    class MyAdapter:
        def __init__(self, env):                 # env: base_url, api_key, webhook_url, sleep, now...
            self.client = MyClient(env.base_url, env.api_key, callback_url=env.webhook_url,
                                   sleep=env.sleep, clock=env.now, timeout=env.timeout)
        def submit(self, request) -> str:        # the provider's request body -> job id (raise on error)
            return self.client.start(request)
        def wait(self, job_id):                  # wait the way your app does; raise on failure/timeout
            return self.client.wait(job_id)
        def handle_webhook(self, headers, body) -> int:   # your webhook endpoint: its HTTP status
            return self.client.on_webhook(headers, body)
        def recorded(self, job_id) -> list[str]:  # the outcomes your handler acted on, in order
            return self.client.seen.get(job_id, [])
        def supports(self, request) -> bool:     # optional: the requests your client can express
            return True

    report = ClientContract(emulator).run("syncso", MyAdapter)
    report.assert_ok()        # raises with: scenario, broken expectation, minimal example

``env.sleep`` and ``env.now`` run on the emulator's virtual clock: a client that waits with
them finishes hour-long timelines in milliseconds; one that never stops waiting is caught
(``PollBudgetExceeded``) instead of hanging CI; one that waits on the wall clock
(``time.sleep``) is stopped with that diagnosis. Every verdict is drawn from what the client
did — the requests it sent (the emulator's journal), the pauses it took (``env.sleep``), the
webhooks it acted on — never from how long it took, so it does not depend on machine speed.

Each suite works in its own namespace: its own API key where the provider accepts any key
(where keys are a fixed list, Kling's, an access key it adds), its scenario rules bound to
that key, and resets of that namespace only, so several suites (several CI jobs) can share
one ``lipsync-emulator serve --clock virtual``. Scenarios use the
emulator's scenario controls (``POST /_emulator/scenarios``); with no control plane (a real
provider) only the request scenarios run.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from lipsync_emulator.contracts import profiles
from lipsync_emulator.contracts.profiles import Profile
from lipsync_emulator.contracts.receiver import Delivery, Receiver
from lipsync_emulator.contracts.strategies import Invalid, compact, for_provider
from lipsync_emulator.contracts.targets import (
    Control,
    ControlError,
    Target,
    connect,
    is_masked,
    parse_time,
    recognise,
)

STEP = 30.0  # seconds the suite advances the clock at a time while waiting for webhooks
# Requests a client may send without a single env.sleep in between: a correct client sends a
# handful (a retry, identify-face then create); one that polls without pausing sends hundreds.
BUSY_REQUESTS = 150
# Wall-clock seconds a client may sit in a call with no request and no env.sleep before the
# suite looks at what it is doing (only to name why it is stuck: time.sleep).
IDLE_SECONDS = 1.5
REPLAY_AGE = 3600  # seconds: how old the replayed webhook's signature is
SUITE_AGENT = "lipsync-contract-suite"  # the User-Agent of the suite's own reads (not the client's)
_HERE = str(Path(__file__).resolve().parents[1])


class PollBudgetExceeded(BaseException):  # noqa: N818 - named for what the client did
    """Raised by ``ContractEnv.sleep`` once a client has waited far longer than any scenario
    needs (it polls forever). A ``BaseException``, so ``except Exception`` cannot swallow it."""


class ScenarioSkipped(Exception):  # noqa: N818
    """A scenario that does not apply (no control plane, an unsigned provider...)."""


class ContractViolation(AssertionError):
    """One or more broken expectations; the message is the suite's report."""


@dataclass
class ContractEnv:
    """What the suite hands the client under test. ``access_key`` / ``secret_key``: Kling's
    credentials for clients that sign their own JWTs (set when the emulator judges tokens on
    the clock the client is given, ``env.now``)."""

    provider: str
    base_url: str
    api_key: str
    webhook_url: str
    webhook_secret: str | None
    timeout: float  # how long the client should wait for a job, in seconds of ``now()``
    control: Control | None = field(default=None, repr=False)
    virtual: bool = True
    budget: float = 7200.0
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    slept: float = 0.0
    sleeps: int = 0
    dead: bool = False

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` — on the emulator's virtual clock (instant), else for real."""
        if self.dead:
            raise PollBudgetExceeded("this scenario is over: the client was abandoned")
        seconds = max(0.0, float(seconds))
        self.slept += seconds
        self.sleeps += 1
        if self.slept > self.budget or self.sleeps > 10_000:
            raise PollBudgetExceeded(f"the client waited {self.slept:.0f} s over {self.sleeps} sleeps "
                                     f"(budget {self.budget:.0f} s): it polls forever")
        if not seconds:
            return
        if self.control is not None and self.virtual:
            self.control.advance(seconds)
        else:
            time.sleep(seconds)

    def now(self) -> float:
        """The current time (unix seconds) on the emulator's clock."""
        if self.dead:
            raise PollBudgetExceeded("this scenario is over: the client was abandoned")
        return self.control.now() if self.control is not None else time.time()


class ClientAdapter(Protocol):
    """How the suite drives a client. Only ``submit`` is needed for the request scenarios.
    An adapter may also define ``supports(request) -> bool``: the requests the client can
    express (a function of two URLs cannot take arbitrary options); generated requests are
    then drawn within that shape and rules it cannot express are "not applicable"."""

    def submit(self, request: Any) -> str:
        """Send ``request`` (the provider's request, as the strategies generate it) the way
        the application does; return the provider's job id; raise if the provider refused."""

    def wait(self, job_id: str) -> Any:
        """Wait for the job's outcome the way the application does (``env.sleep``/``env.now``,
        within ``env.timeout``); return on success; raise on failure, rejection or timeout."""

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        """Hand a received webhook to the application's handler; return its HTTP status."""

    def recorded(self, job_id: str) -> Sequence[str]:
        """The job statuses the application's webhook handler acted on, in order."""


AdapterFactory = Callable[[ContractEnv], ClientAdapter]


@dataclass(frozen=True)
class Violation:
    scenario: str
    expectation: str
    detail: str
    example: Any = None

    def text(self) -> str:
        lines = [f"  expectation: {self.expectation}", f"  what happened: {self.detail}"]
        if self.example is not None:
            lines.append(f"  minimal example: {compact(self.example)}")
        return "\n".join(lines)


@dataclass
class ScenarioResult:
    name: str
    title: str
    violations: list[Violation] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0
    not_applicable: list[str] = field(default_factory=list)  # parts the client cannot express

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("violated" if self.violations else "passed")

    def text(self) -> str:
        head = f"{self.status.upper():8} {self.name}: {self.title}"
        if self.skipped:
            return f"{head}\n  ({self.skipped})"
        lines = [head] + [v.text() for v in self.violations]
        lines += [f"  not applicable: {n}" for n in self.not_applicable]
        return "\n".join(lines)


@dataclass
class Report:
    provider: str
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(r.violations for r in self.results)

    @property
    def violations(self) -> list[Violation]:
        return [v for r in self.results for v in r.violations]

    def violated(self) -> list[str]:
        return [r.name for r in self.results if r.violations]

    def text(self) -> str:
        counts = {s: sum(1 for r in self.results if r.status == s) for s in ("passed", "violated", "skipped")}
        head = (f"Client contract for {profiles.get(self.provider).title}: {len(self.results)} scenarios — "
                f"{counts['passed']} passed, {counts['violated']} violated, {counts['skipped']} skipped")
        wall = next((v.detail for v in self.violations if WALL_CLOCK in v.detail), None)
        if wall:  # one diagnosis for every scenario it broke
            head += f"\n\n{wall}"
        shown = [r for r in self.results if r.status != "passed" or r.not_applicable]
        return "\n\n".join([head] + [r.text() for r in shown])

    def assert_ok(self) -> None:
        if not self.ok:
            raise ContractViolation(self.text())


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[_Run], None]
    needs_control: bool = True
    webhook: bool = False


WALL_CLOCK = "this client waits on the wall clock"


@dataclass
class _Call:  # noqa: B903 - a plain record
    value: Any = None
    error: BaseException | None = None
    hung: bool = False
    busy: int = 0  # requests made without pausing before the suite stopped the client
    wall_sleep: str | None = None  # where the client sleeps on the wall clock (file:line)
    slept: float = 0.0  # seconds the client waited with env.sleep during the call

    @property
    def failed(self) -> bool:
        return self.error is not None or self.hung or bool(self.busy) or self.wall_sleep is not None

    @property
    def no_job(self) -> bool:
        """A submit that failed, or returned no job id (``None``, ``""``)."""
        return self.failed or self.value in (None, "")

    @property
    def raised(self) -> bool:
        return (self.error is not None and not isinstance(self.error, PollBudgetExceeded) and not self.busy
                and self.wall_sleep is None)

    def describe(self) -> str:
        if self.wall_sleep:
            return (f"{WALL_CLOCK} (time.sleep at {self.wall_sleep}); pass env.sleep (and env.now) so it "
                    "waits on the emulator's clock")
        if self.busy:
            return (f"sent {self.busy} requests without ever pausing (env.sleep) and was stopped: "
                    "it polls without an interval")
        if self.hung:
            return "did not return within the wall-clock limit (does it wait with env.sleep / env.now?)"
        if isinstance(self.error, PollBudgetExceeded):
            return f"never stopped waiting: {self.error}"
        if self.error is not None:
            return f"raised {type(self.error).__name__}: {str(self.error)[:300]}"
        return f"returned {compact(self.value)[:300]}"


@dataclass
class _Setup:
    """What a suite learns once per provider: its key, its namespace, the catalogue."""

    key: str
    namespace: str | None
    catalog: set[str]
    config: Mapping[str, Any] | None
    secret: str | None = None
    secret_read: bool = False
    access: tuple[str, str] | None = None  # (access_key, secret_key) of the suite's own account


class ClientContract:
    """Runs the client scenarios for one target (the emulator: a fixture, URL or WSGI app).

    ``timeout``: the job timeout handed to clients (``env.timeout``); ``examples``: how many
    generated requests the property scenarios try; ``wall_timeout``: seconds any one adapter
    call may take for real; ``shrink_seconds``: how long a failing property may spend making its
    example smaller (each try runs the client). ``api_key``: the key clients get (default: a
    key of the suite's own, where the provider accepts any)."""

    def __init__(self, where: Any, receiver: Receiver | None = None, *, api_key: str | None = None,
                 timeout: float = 600.0, examples: int = 6, wall_timeout: float = 30.0,
                 webhook_secret: str | None = None, shrink_seconds: float = 4.0) -> None:
        self.target: Target = connect(where)
        self.control = Control(self.target)
        self.has_control = self.control.available()
        self._own_receiver = receiver is None
        self.receiver = receiver or Receiver()
        self.api_key = api_key
        self.timeout = timeout
        self.examples = examples
        self.wall_timeout = wall_timeout
        self.shrink_seconds = shrink_seconds
        self.webhook_secret = webhook_secret
        self._minimal: dict[str, Any] = {}
        self._setups: dict[str, _Setup] = {}
        self._tag = uuid.uuid4().hex[:10]

    def close(self) -> None:
        if self._own_receiver:
            self.receiver.close()

    def run(self, provider: str, make_adapter: AdapterFactory, scenarios: Sequence[str] | None = None) -> Report:
        """Run the scenarios (all by default) and return the report."""
        report = Report(provider)
        for scenario in SCENARIOS:
            if scenarios is None or scenario.name in scenarios:
                report.results.append(self._run_one(provider, make_adapter, scenario))
        return report

    def check(self, provider: str, make_adapter: AdapterFactory, scenario: str) -> ScenarioResult:
        """Run one scenario; raise ``ContractViolation`` if violated, ``ScenarioSkipped`` if it
        does not apply."""
        found = next((s for s in SCENARIOS if s.name == scenario), None)
        if found is None:
            raise KeyError(f"no client scenario {scenario!r} (have: {', '.join(s.name for s in SCENARIOS)})")
        result = self._run_one(provider, make_adapter, found)
        if result.skipped:
            raise ScenarioSkipped(result.skipped)
        if result.violations:
            raise ContractViolation(Report(provider, [result]).text())
        return result

    def minimal_request(self, provider: str) -> Any:
        """The simplest valid request (the provider strategies' ``minimal_request()``, which is
        what Hypothesis shrinks their valid requests to), used by the fixed scenarios."""
        if provider not in self._minimal:
            self._minimal[provider] = for_provider(provider).minimal_request()
        return copy.deepcopy(self._minimal[provider])

    def setup(self, provider: str) -> _Setup:
        """The suite's key and namespace for ``provider``: a key of its own where the provider
        accepts any key; the namespace is the account the emulator files that key's requests
        under (read back from one request of the suite's)."""
        if provider in self._setups:
            return self._setups[provider]
        profile = profiles.get(provider)
        config = self.control.config() if self.has_control else None
        section = (config or {}).get(provider) or {}
        listed = section.get("api_keys") if isinstance(section, dict) else None
        if isinstance(listed, list):  # shown masked: recognise the profile's own default key
            listed = [recognise(k, profile.api_key) for k in listed]
        access = None
        if self.api_key:
            key = self.api_key
        elif self.has_control and (own := self._own_account(profile)):
            key, access = own[0], own[1:]
        elif listed or not self.has_control:
            key = profile.api_key if not listed or profile.api_key in listed else str(listed[0])
        else:
            key = f"{profile.api_key}_{self._tag}"
        namespace = None
        catalog: set[str] = set()
        if self.has_control:
            catalog = {row["name"] for row in self.control.catalog(provider)}
            probe = f"contract-probe-{self._tag}"
            profile.poll(self.target, probe, {**profile.headers(key), "User-Agent": SUITE_AGENT})
            rows = [r for r in self.control.requests(provider=provider, limit=200) if probe in (r.get("path") or "")]
            filed = rows[-1].get("namespace") if rows else None
            # an API key is shown masked: the suite knows its own key
            namespace = key if not filed or is_masked(filed) else str(filed)
        self._setups[provider] = _Setup(key, namespace, catalog, config, access=access)
        return self._setups[provider]

    def _own_account(self, profile: Profile) -> tuple[str, str, str] | None:
        """(token, access_key, secret_key) of an account of the suite's own where the provider's
        keys are a fixed list (Kling): an access key added to the emulator's settings, so two
        suites on one emulator never share jobs, scenario rules or resets. The token, handed to
        clients as their API key, is good on the wall clock and the emulator's, however far
        suites move the latter. None when the emulator takes no such key."""
        if profile.account_setting is None or profile.token is None:
            return None
        access_key, secret_key = f"contract_{self._tag}", secrets.token_urlsafe(32)
        now = (time.time(), self.control.now())
        token = profile.token(access_key, secret_key, int(min(now)) - 60, int(max(now)) + 10 * 365 * 86400)
        try:
            self.control.configure({profile.name: {profile.account_setting: {access_key: secret_key}}})
        except ControlError:
            return None
        # a lifetime limit (jwt_max_lifetime_seconds) refuses the token: the suite keeps the shared key
        probe = profile.poll(self.target, f"contract-probe-{self._tag}", {**profile.headers(token),
                                                                          "User-Agent": SUITE_AGENT})
        return (token, access_key, secret_key) if probe.status != 401 else None

    def _run_one(self, provider: str, make_adapter: AdapterFactory, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario.name, scenario.title)
        started = time.perf_counter()
        if scenario.needs_control and not self.has_control:
            result.skipped = "needs the emulator's control plane (scenarios, clock)"
            return result
        run = _Run(self, provider, make_adapter, scenario, result)
        try:
            scenario.run(run)
        except ScenarioSkipped as exc:
            result.skipped = str(exc)
        finally:
            run.close()
            result.seconds = time.perf_counter() - started
        return result


class _Run:
    """One scenario's run: fresh emulator state, a fresh client, the checks' evidence."""

    def __init__(self, suite: ClientContract, provider: str, make_adapter: AdapterFactory, scenario: Scenario,
                 result: ScenarioResult) -> None:
        self.suite = suite
        self.provider = provider
        self.profile: Profile = profiles.get(provider)
        self.strategies = for_provider(provider)
        self.make_adapter = make_adapter
        self.scenario = scenario
        self.result = result
        self.control = suite.control
        self.receiver = suite.receiver
        self.envs: list[ContractEnv] = []
        self.own = suite.setup(provider)
        self.namespace = self.own.namespace
        self._rules: list[str] = []
        self.webhook_url = self.receiver.url
        _WALL_SLEEPS.acquire()  # before the first adapter is built: it may keep time.sleep

    # -- setup ------------------------------------------------------------------------------

    def fresh(self) -> tuple[ClientAdapter, ContractEnv]:
        """Reset the suite's namespace and the receiver; build a new client."""
        for env in self.envs:
            env.dead = True
        if self.suite.has_control:
            self._drop_rules()
            self.control.reset(self.namespace)
        self.receiver.clear()
        env = self.env()
        self.envs.append(env)
        return self.make_adapter(env), env

    def env(self) -> ContractEnv:
        credentials = self.profile.credentials(self.own.config) \
            if self.profile.credentials is not None and self.own.config else None
        if credentials and self.own.access:  # tokens judged on env.now: the client signs its own
            credentials = self.own.access
        return ContractEnv(self.provider, self.suite.target.base_url, self.own.key, self.webhook_url, self.secret(),
                           self.suite.timeout, self.control if self.suite.has_control else None,
                           virtual=self._virtual(), budget=self.suite.timeout * 2 + 600,
                           access_key=credentials[0] if credentials else None,
                           secret_key=credentials[1] if credentials else None)

    def _virtual(self) -> bool:
        if not self.suite.has_control:
            return False
        try:
            return self.control.clock_mode() == "virtual"
        except ControlError:
            return False

    def catalog(self) -> set[str]:
        return self.own.catalog

    def headers(self) -> dict[str, str]:
        """The suite's own provider requests: the suite's key, marked as the suite's."""
        return {**self.profile.headers(self.own.key), "User-Agent": SUITE_AGENT}

    def secret(self) -> str | None:
        if self.suite.webhook_secret is not None:
            return self.suite.webhook_secret
        if not self.own.secret_read:
            self.own.secret = self.profile.secret(self.suite.target, self.headers(), self.own.config)
            self.own.secret_read = True
        return self.own.secret

    def scenario_rule(self, role_or_name: str, operation: str, count: int = 1) -> str:
        """Make the next ``count`` requests of this suite's key to ``operation`` take an
        emulator scenario."""
        name = self.profile.scenarios.get(role_or_name, role_or_name)
        if name not in self.catalog():
            raise ScenarioSkipped(f"the target's scenario catalogue has no {name!r}")
        rule = self.control.scenario(self.provider, name, operation=operation, count=count, api_key=self.namespace)
        self._rules.append(str(rule["id"]))
        return name

    def _drop_rules(self) -> None:
        for rule_id in self._rules:
            self.control.delete_scenario(rule_id)
        self._rules.clear()

    def close(self) -> None:
        for env in self.envs:
            env.dead = True
        _WALL_SLEEPS.release()
        if self.suite.has_control:
            self._drop_rules()

    # -- calling the client ------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any) -> _Call:
        """Run one adapter call in a thread, bounded by the wall-clock limit. A client that
        sends ``BUSY_REQUESTS`` requests with no ``env.sleep`` in between is stopped (counted
        from the journal, so how fast it sends them does not matter); one that sits in
        ``time.sleep`` is stopped with that diagnosis."""
        out = _Call()
        slept = sum(e.slept for e in self.envs)

        def target() -> None:
            _WALL_SLEEPS.clients.add(threading.get_ident())
            try:
                out.value = fn(*args)
            except BaseException as exc:  # the client's failure is evidence, not a crash
                out.error = exc
            finally:
                _WALL_SLEEPS.clients.discard(threading.get_ident())

        thread = threading.Thread(target=target, name="contract-client", daemon=True)
        since_sleep = seen = (self._sent(), self._sleeps())  # (requests, sleeps) at the last pause seen
        idle = time.monotonic()
        thread.start()
        deadline = time.monotonic() + self.suite.wall_timeout
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.1)
            if not thread.is_alive():
                break
            now = (self._sent(), self._sleeps())
            if now[1] != since_sleep[1]:
                since_sleep = now
            elif now[0] - since_sleep[0] > BUSY_REQUESTS:
                out.busy = now[0] - since_sleep[0]
                self._stop_client(thread)
                break
            if now != seen:
                seen, idle = now, time.monotonic()
            elif time.monotonic() - idle > IDLE_SECONDS and (where := _WALL_SLEEPS.sleeping.get(thread.ident or -1)):
                out.wall_sleep = where
                self._stop_client(thread, wait=False)
                break
        if thread.is_alive() and not (out.busy or out.wall_sleep):
            out.hung = True
            self._stop_client(thread)
        out.slept = sum(e.slept for e in self.envs) - slept
        return out

    def _sleeps(self) -> int:
        return sum(e.sleeps for e in self.envs)

    def _sent(self) -> int:
        """Requests journaled in the suite's namespace (the suite itself sends none during a
        call, so a difference of two counts is what the client sent)."""
        return self.control.count(provider=self.provider, namespace=self.namespace) if self.suite.has_control else 0

    def _stop_client(self, thread: threading.Thread, wait: bool = True) -> None:
        for env in self.envs:
            env.dead = True
        name = self.profile.scenarios.get("server_error")
        if not wait or not self.suite.has_control or not name or name not in self.catalog():
            return
        rule = self.control.scenario(self.provider, name, api_key=self.namespace)
        thread.join(5.0)
        self.control.delete_scenario(str(rule["id"]))

    def violation(self, expectation: str, detail: str, example: Any = None) -> None:
        self.result.violations.append(Violation(self.scenario.name, expectation, detail, example))

    # -- evidence ------------------------------------------------------------------------------

    def client_rows(self, operation: str | None = None) -> list[dict[str, Any]]:
        """The requests the client sent in this scenario (the suite's namespace, minus the
        suite's own reads), oldest first."""
        if not self.suite.has_control:
            return []
        rows = self.control.requests(provider=self.provider, operation=operation, namespace=self.namespace)
        return [r for r in rows if _request_header(r, "User-Agent") != SUITE_AGENT]

    def submits(self) -> list[dict[str, Any]]:
        ops = self.profile.submit_ops()
        if len(ops) == 1:
            return self.client_rows(ops[0])
        return [r for r in self.client_rows() if r.get("operation") in ops]

    def polls(self) -> list[dict[str, Any]]:
        return self.client_rows(self.profile.poll_operation)

    def job(self, job_id: str) -> Any:
        resp = self.profile.poll(self.suite.target, job_id, self.headers())
        return resp.json() if resp.status == 200 else None

    def deliveries(self, job_id: str | None = None, wait: int = 0) -> list[Delivery]:
        if wait:
            self.receiver.wait_for(wait, timeout=5.0)
        out = []
        for delivery in self.receiver.snapshot():
            try:
                jid, _ = self.profile.webhook.parse(delivery.body)
            except (ValueError, KeyError):
                continue
            if job_id is None or jid == job_id:
                out.append(delivery)
        return out

    def supports(self) -> Callable[[Any], bool] | None:
        """The adapter's declared shape (``supports(request)``), if it has one."""
        adapter = self.make_adapter(self.env())
        check = getattr(adapter, "supports", None)
        return check if callable(check) else None


def _fits(supports: Callable[[Any], bool], request: Any) -> bool:
    try:
        return bool(supports(request))
    except Exception:  # noqa: BLE001 - the adapter's own predicate
        return False


class _WallSleeps:
    """``time.sleep`` wrapped while scenarios run, to name a client that waits on the wall
    clock: a call made on a client's thread from outside this package records where it was
    made for as long as it sleeps; every other thread's call passes straight through. The
    first scenario running in the process installs the wrapper and the last one removes it
    (suites may run in several threads at once). A client that bound ``time.sleep`` before its
    scenario began calls the original, and is reported as not returning in time instead."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.real: Callable[[float], None] = time.sleep
        self.clients: set[int] = set()  # the threads adapter calls run in
        self.sleeping: dict[int, str] = {}  # client thread -> "file:line" of the time.sleep it sits in
        self.wrapper = self.sleep  # one object, so the wrapper is recognised when removed

    def acquire(self) -> None:
        with self.lock:
            if self.users == 0:
                self.real, time.sleep = time.sleep, self.wrapper
            self.users += 1

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and time.sleep is self.wrapper:  # else someone wrapped it after us: leave theirs
                time.sleep = self.real

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        if me in self.clients:
            caller = traceback.extract_stack(limit=2)[0]
            if not caller.filename.startswith(_HERE):  # env.sleep on the real clock is no wall-clock wait
                self.sleeping[me] = f"{Path(caller.filename).name}:{caller.lineno}"
        try:
            self.real(seconds)
        finally:
            self.sleeping.pop(me, None)


_WALL_SLEEPS = _WallSleeps()


def _request_header(row: dict[str, Any], name: str) -> str | None:
    return profiles.header(row.get("request_headers") or {}, name)


def _row_json(row: dict[str, Any]) -> Any:
    try:
        return json.loads(row.get("response_body") or "null")
    except ValueError:
        return None


def _header(row: dict[str, Any], name: str) -> str | None:
    return profiles.header(row.get("response_headers") or {}, name)


def _message(profile: Profile, row: dict[str, Any]) -> str:
    body = _row_json(row)
    if not isinstance(body, dict):
        return ""
    for key in ("message", "msg", "error"):
        value = body.get(key)
        if isinstance(value, list):
            value = "; ".join(map(str, value))
        if isinstance(value, str) and value:
            return value
    return ""


def _fast_polling(rows: list[dict[str, Any]], floor: float = 0.5) -> str | None:
    times = [parse_time(r["at"]) for r in rows]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    fast = [g for g in gaps if g < floor]
    if len(fast) > 3:
        return f"{len(fast)} polls came less than {floor} s after the previous one (no pause between polls)"
    return None


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


SHAPE_DRAWS = 60  # generated requests drawn per property before a client's shape is called unmet


class _ShapeUnmet(BaseException):  # noqa: N818 - a BaseException ends Hypothesis' run at once
    pass


def _within(supports: Callable[[Any], bool], of: Callable[[Any], Any] = lambda value: value) -> Callable[[Any], bool]:
    """A bounded filter for an adapter's ``supports``: a request it raises on is outside the
    shape; after ``SHAPE_DRAWS`` draws outside it, the property gives up (``_ShapeUnmet``)."""
    outside = [0]

    def check(value: Any) -> bool:
        try:
            inside = bool(supports(of(value)))
        except Exception:  # noqa: BLE001 - the adapter's own predicate, on an odd request
            inside = False
        if not inside:
            outside[0] += 1
            if outside[0] > SHAPE_DRAWS:
                raise _ShapeUnmet()
        return inside

    return check


# -- scenarios -------------------------------------------------------------------------------------

def _success(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    submitted = run.call(adapter.submit, request)
    if submitted.no_job:
        run.violation("submit() returns the job id of an accepted request", submitted.describe(), request)
        return
    created = [r for r in run.submits() if r["status"] < 300]
    if created and created[-1].get("job_id") and submitted.value != created[-1]["job_id"]:
        run.violation("submit() returns the provider's job id",
                      f"returned {submitted.value!r}, the provider created {created[-1]['job_id']!r}", request)
    waited = run.call(adapter.wait, submitted.value)
    job = run.job(str(submitted.value))
    if waited.failed:
        run.violation("wait() returns once the job succeeds", waited.describe(), request)
    elif job is not None and run.profile.status(job) != run.profile.lifecycle.success:
        run.violation("wait() returns only once the job succeeded",
                      f"returned while the job was {run.profile.status(job)}", request)
    fast = _fast_polling(run.polls())
    if fast:
        run.violation("the client pauses between polls (env.sleep)", fast, request)


def _valid_requests(run: _Run) -> None:
    strategy = run.strategies.client_requests() if hasattr(run.strategies, "client_requests") \
        else run.strategies.create_requests()
    supports = run.supports()

    def accepted(request: Any) -> str | None:
        adapter, env = run.fresh()
        submitted = run.call(adapter.submit, request)
        rows = run.submits()
        if submitted.failed:
            refused = [r for r in rows if r["status"] >= 400]
            said = f" — the provider answered {refused[-1]['status']}: {_message(run.profile, refused[-1])}" \
                if refused else ""
            return f"submit() {submitted.describe()}{said}"
        accepted_rows = [r for r in rows if r["status"] < 300]
        if run.suite.has_control and not accepted_rows:
            refused = [r for r in rows if r["status"] >= 400]
            said = f": it answered {refused[-1]['status']}: {_message(run.profile, refused[-1])}" if refused else ""
            return f"submit() returned {compact(submitted.value)}, but the provider never accepted the request{said}"
        if accepted_rows:
            changed = _changed(run.profile, request, accepted_rows[-1])
            if changed:
                return f"the request was changed on its way: {changed}"
        return None

    explicit = run.strategies.feature_examples() if hasattr(run.strategies, "feature_examples") else []
    if supports is not None:
        strategy = strategy.filter(_within(supports))
        explicit = [r for r in [run.suite.minimal_request(run.provider), *explicit] if _fits(supports, r)]
        if not explicit:
            run.result.not_applicable.append("the client supports none of the provider's basic requests")
    found = _falsify(strategy, run.suite.examples, accepted, run.suite.shrink_seconds, explicit)
    if found:
        request, problem = found
        run.violation("every valid request is sent as valid and accepted", problem, request)


class _Recorder:
    """A target that records what a profile would send, and answers nothing."""

    base_url = "http://recorder"

    def __init__(self) -> None:
        self.sent: tuple[str, str, Any] | None = None

    def request(self, method: str, path: str, *, json: Any = None, **_: Any) -> Any:
        self.sent = (method, path, json)
        return None


def _changed(profile: Profile, request: Any, row: dict[str, Any]) -> str | None:
    """How the body the provider received differs from ``request`` (None: every field of the
    request arrived with its value; a client may add fields, such as its webhook URL)."""
    if profile.wire is not None:
        path, body = profile.wire(request)
        sent: tuple[str, str, Any] | None = ("POST", path, body)
    else:
        recorder = _Recorder()
        profile.submit(recorder, request, {}, None)  # type: ignore[arg-type]
        sent = recorder.sent
    if sent is None or sent[2] is None:
        return None
    text = row.get("request_body") or ""
    try:
        received = json.loads(text)
    except ValueError:
        return None  # multipart, or cut by the journal's size limit
    if sent[1] != row.get("path"):
        return f"sent to {row.get('path')}, not {sent[1]}"
    return _missing(sent[2], received, "")


def _missing(want: Any, got: Any, where: str) -> str | None:
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where or 'the body'} is {type(got).__name__}, not an object"
        for key, value in want.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in got:
                return f"{path} was dropped"
            found = _missing(value, got[key], path)
            if found:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where} has {len(got) if isinstance(got, list) else 'no'} items, not {len(want)}"
        for n, (a, b) in enumerate(zip(want, got, strict=True)):
            found = _missing(a, b, f"{where}[{n}]")
            if found:
                return found
        return None
    if want != got and not (isinstance(want, int | float) and isinstance(got, int | float) and want == got):
        return f"{where} was {got!r}, not {want!r}"
    return None


def _validation_errors(run: _Run) -> None:
    if not run.suite.has_control:
        raise ScenarioSkipped("needs the emulator's journal to read the provider's answers")
    rules = run.strategies.client_rule_ids() if hasattr(run.strategies, "client_rule_ids") \
        else run.strategies.rule_ids()
    supports = run.supports()
    for rule in [*rules, "schema"]:
        strategy = run.strategies.invalid_requests(rule)
        if supports is not None:
            strategy = strategy.filter(_within(supports, lambda bad: bad.request))
        found = _falsify(strategy, max(1, run.suite.examples // 3), lambda bad: _surfaced(run, bad),
                         run.suite.shrink_seconds / 4)
        if found is _UNSATISFIABLE:
            run.result.not_applicable.append(f"rule {rule} (no request within the client's declared shape breaks it)")
        elif found:
            bad, problem = found
            run.violation(f"rule {bad.rule}: the provider's {bad.expected.status} error is raised with its message, "
                          "once, not retried", problem, bad.request)


def _surfaced(run: _Run, bad: Invalid) -> str | None:
    adapter, env = run.fresh()
    submitted = run.call(adapter.submit, bad.request)
    # the call the rule is about: the submit, or an earlier one (Kling's identify-face)
    rows = run.client_rows(bad.operation) if bad.operation and bad.operation not in run.profile.submit_ops() \
        else run.submits()
    refused = [r for r in rows if r["status"] >= 400]
    if not rows and submitted.raised:
        return None  # the client refused the request itself, before sending it: nothing to surface
    if not refused:
        return ("the provider never answered an error: the client changed the request before sending "
                f"it ({len(rows)} request(s) sent)")
    if submitted.hung or isinstance(submitted.error, PollBudgetExceeded):
        return f"submit() {submitted.describe()}"
    if submitted.error is None:
        return (f"submit() {submitted.describe()} although the provider answered {refused[-1]['status']}: "
                f"{_message(run.profile, refused[-1])}")
    if len(rows) > 1:
        return f"the request was sent {len(rows)} times: a {refused[-1]['status']} must not be retried"
    message = _message(run.profile, refused[-1])
    if message and message not in str(submitted.error):
        return (f"the error raised does not carry the provider's message {message!r}: "
                f"{type(submitted.error).__name__}: {str(submitted.error)[:200]}")
    return None


_UNSATISFIABLE: Any = ("unsatisfiable", "")  # no example within the adapter's declared shape


class _StopShrinking(BaseException):  # noqa: N818 - a BaseException ends Hypothesis' run at once
    pass


def _falsify(strategy: Any, examples: int, check: Callable[[Any], str | None],
             shrink_seconds: float, explicit: Sequence[Any] = ()) -> tuple[Any, str] | None:
    """Look for an example ``check`` complains about — the ``explicit`` ones first, then
    generated ones; shrink a generated failure for at most ``shrink_seconds`` (each try runs
    the client against the emulator); return the smallest failure found (``_UNSATISFIABLE``
    when the strategy, filtered to a client's shape, yields nothing)."""
    failures: list[tuple[Any, str]] = []
    first: list[float] = []
    for value in explicit:
        problem = check(value)
        if problem:
            return value, problem

    @_settings(examples)
    @given(strategy)
    def prop(value: Any) -> None:
        if first and time.perf_counter() - first[0] > shrink_seconds:
            raise _StopShrinking()
        problem = check(value)
        if problem:
            failures.append((value, problem))
            first[:] = first or [time.perf_counter()]
            raise AssertionError(problem)

    try:
        prop()
    except (AssertionError, _StopShrinking):
        pass
    except (Unsatisfiable, FailedHealthCheck, _ShapeUnmet):
        if not failures:
            return None if explicit else _UNSATISFIABLE
    if not failures:
        return None
    return min(failures, key=lambda f: len(compact(getattr(f[0], "request", f[0]))))


def _job_ends_badly(role: str) -> Callable[[_Run], None]:
    def scenario(run: _Run) -> None:
        _ends(run, run.profile.scenarios.get(role, role))

    return scenario


def _ends(run: _Run, name: str) -> None:
    """Submit a job that ends as outcome scenario ``name`` says: wait() raises at once, naming
    what the provider said, and does not go on polling a job that has ended."""
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    run.scenario_rule(name, run.profile.op_for(request))
    submitted = run.call(adapter.submit, request)
    if submitted.no_job:
        run.violation("submit() returns the job id", submitted.describe(), request)
        return
    waited = run.call(adapter.wait, submitted.value)
    job = run.job(str(submitted.value)) or {}
    status = run.profile.outcomes.get(name) or (run.profile.status(job) if job else "?")
    code, message = run.profile.job_error(job) if job else (None, "")
    if not waited.raised:
        run.violation(f"wait() raises when the job ends {status}", waited.describe(), request)
        return
    ended = [r for r in run.polls() if _polled_status(run.profile, r) in run.profile.lifecycle.terminal]
    if len(ended) > 2:
        run.violation(f"wait() stops at the terminal status {status}",
                      f"it polled the job {len(ended)} times after it had ended {status}, then "
                      f"{waited.describe()}", request)
        return
    text = str(waited.error)
    if not ((code is not None and str(code) in text) or (message and message in text) or status in text):
        run.violation(f"the failure raised names what the provider said ({code or status})",
                      f"raised {type(waited.error).__name__}: {text[:200]!r}", request)


def _polled_status(profile: Profile, row: dict[str, Any]) -> str | None:
    body = _row_json(row)
    try:
        return profile.status(body) if row.get("status") == 200 and body is not None else None
    except (KeyError, TypeError):
        return None


def _other_failures(run: _Run) -> None:
    """Every terminal failure state not covered by job_failed / job_rejected (WaveSpeed's
    cancelled and timeout...), each in its own fresh run."""
    covered = {run.profile.outcomes.get(run.profile.scenarios.get(r, r)) for r in ("failed", "rejected")}
    names: dict[str, str] = {}
    for name, status in run.profile.outcomes.items():
        if status and status != run.profile.lifecycle.success and status not in covered and name in run.catalog():
            names.setdefault(status, name)
    if not names:
        raise ScenarioSkipped(f"{run.profile.title} has no other terminal failure state")
    for name in names.values():
        _ends(run, name)


def _timeout(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    run.scenario_rule("stuck", run.profile.op_for(request))
    submitted = run.call(adapter.submit, request)
    if submitted.no_job:
        run.violation("submit() returns the job id", submitted.describe(), request)
        return
    waited = run.call(adapter.wait, submitted.value)
    if not waited.raised:
        run.violation(f"wait() gives up after env.timeout ({env.timeout:g} s) on a job that never ends",
                      waited.describe(), request)
        return
    # on the client's own clock: the seconds it slept (another suite may move a shared clock)
    if waited.slept > env.timeout * 1.5 + 120:
        run.violation(f"wait() gives up after about env.timeout ({env.timeout:g} s)",
                      f"it gave up after waiting {waited.slept:.0f} s", request)


def _retry_after(operation_role: str) -> Callable[[_Run], None]:
    def scenario(run: _Run) -> None:
        request = run.suite.minimal_request(run.provider)
        adapter, env = run.fresh()
        operation = run.profile.op_for(request) if operation_role == "submit" else run.profile.poll_operation
        if operation_role == "submit":
            run.scenario_rule("rate_limited", operation)
        submitted = run.call(adapter.submit, request)
        if submitted.no_job:
            run.violation("a 429 on submit is retried after Retry-After, then succeeds", submitted.describe(), request)
            return
        if operation_role == "poll":
            run.scenario_rule("rate_limited", operation)
            waited = run.call(adapter.wait, submitted.value)
            if waited.failed:
                run.violation("a 429 while polling is retried after Retry-After; wait() still succeeds",
                              waited.describe(), request)
                return
        rows = run.client_rows(operation)
        limited = next((i for i, r in enumerate(rows) if r["status"] == 429), None)
        if limited is None:
            raise ScenarioSkipped("the 429 was never served")
        after = _header(rows[limited], "Retry-After")
        if limited + 1 >= len(rows):
            run.violation("the request is retried after a 429", "it was never retried", request)
            return
        gap = parse_time(rows[limited + 1]["at"]) - parse_time(rows[limited]["at"])
        if after is not None and after.isdigit():
            if gap + 0.5 < float(after):
                run.violation(f"the retry waits Retry-After ({after} s)", f"it came {gap:.1f} s later", request)
        elif gap < run.profile.min_backoff:
            run.violation(f"a 429 without Retry-After is retried after a backoff of at least "
                          f"{run.profile.min_backoff:g} s", f"the retry came {gap:.1f} s later", request)

    return scenario


def _transient(operation_role: str) -> Callable[[_Run], None]:
    def scenario(run: _Run) -> None:
        request = run.suite.minimal_request(run.provider)
        adapter, env = run.fresh()
        if operation_role == "submit":
            run.scenario_rule("unavailable", run.profile.op_for(request))
        submitted = run.call(adapter.submit, request)
        if submitted.no_job:
            run.violation("a transient 5xx on submit is retried (with a pause), then succeeds", submitted.describe(),
                          request)
            return
        if operation_role == "poll":
            run.scenario_rule("server_error", run.profile.poll_operation)
        waited = run.call(adapter.wait, submitted.value)
        if waited.failed:
            expectation = ("a transient 5xx while polling does not end the wait; wait() succeeds"
                           if operation_role == "poll" else "after the retried submit, wait() succeeds")
            run.violation(expectation, waited.describe(), request)
        rows = run.submits()
        if len([r for r in rows if r["status"] < 300]) > 1:
            run.violation("a retried submit does not create the job twice",
                          f"{len(rows)} submits, {len([r for r in rows if r['status'] < 300])} accepted", request)

    return scenario


# -- webhook scenarios -------------------------------------------------------------------------------

def _submit_and_finish(run: _Run, adapter: ClientAdapter, request: Any, rules: Sequence[str] = ()) -> str | None:
    for name in rules:
        run.scenario_rule(name, run.profile.op_for(request))
    submitted = run.call(adapter.submit, request)
    if submitted.no_job:
        run.violation("submit() returns the job id", submitted.describe(), request)
        return None
    return str(submitted.value)


def _hand(run: _Run, adapter: ClientAdapter, delivery: Delivery | tuple[dict[str, str], bytes]) -> _Call:
    headers, body = (delivery.headers, delivery.body) if isinstance(delivery, Delivery) else delivery
    return run.call(adapter.handle_webhook, dict(headers), body)


def _ok(call: _Call) -> bool:
    return call.error is None and not call.hung and isinstance(call.value, int) and 200 <= call.value < 300


def _refused(call: _Call) -> bool:
    return call.error is None and not call.hung and isinstance(call.value, int) and 400 <= call.value < 500


def _terminal_deliveries(run: _Run, job_id: str, at_least: int = 1, horizon: float = 3600.0) -> list[Delivery]:
    """Advance the clock in small steps until the job's terminal webhook(s) arrived, so they
    are handed over while their signature timestamps are fresh."""

    def terminal() -> list[Delivery]:
        return [d for d in run.deliveries(job_id)
                if run.profile.webhook.parse(d.body)[1] in run.profile.lifecycle.terminal]

    waited = 0.0
    while len(terminal()) < at_least and waited < horizon:
        run.control.advance(STEP)
        waited += STEP
    run.receiver.wait_for(len(run.receiver.snapshot()), timeout=0.2)
    hooks = terminal()
    if not hooks:
        run.violation("the job's webhook reaches the client's webhook URL (env.webhook_url)",
                      "no webhook arrived: does the client send env.webhook_url with its requests?")
    return hooks


def _job_webhooks(run: _Run, adapter: ClientAdapter, request: Any, rules: Sequence[str] = (),
                  at_least: int = 1) -> tuple[str, list[Delivery]] | None:
    """A job submitted (taking the scenario ``rules``) and its terminal webhooks; None when
    either is missing (a violation says which)."""
    job_id = _submit_and_finish(run, adapter, request, rules)
    if job_id is None:
        return None
    hooks = _terminal_deliveries(run, job_id, at_least)
    return (job_id, hooks) if hooks else None


def _recorded(run: _Run, adapter: ClientAdapter, job_id: str) -> list[str]:
    got = run.call(adapter.recorded, job_id)
    return list(got.value or []) if got.error is None and not got.hung else []


def _not_acted_on(run: _Run, adapter: ClientAdapter, job_id: str, webhook: str, request: Any) -> None:
    got = _recorded(run, adapter, job_id)
    if got:
        run.violation(f"{webhook} is not acted on", f"recorded {got}", request)


def _webhook_valid(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    if (found := _job_webhooks(run, adapter, request)) is None:
        return
    job_id, hooks = found
    answered = _hand(run, adapter, hooks[0])
    status = run.profile.webhook.parse(hooks[0].body)[1]
    if not _ok(answered):
        run.violation("a genuine webhook is accepted (2xx)", f"the handler {answered.describe()}", request)
    got = _recorded(run, adapter, job_id)
    if got != [status]:
        run.violation(f"a genuine webhook is acted on once ({status})", f"recorded {got}", request)


def _webhook_duplicate(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    native = "webhook_duplicate" in run.catalog()
    found = _job_webhooks(run, adapter, request, ["webhook_duplicate"] if native else [], 2 if native else 1)
    if found is None:
        return
    job_id, hooks = found
    copies = hooks if len(hooks) > 1 else [hooks[0], hooks[0]]
    status = run.profile.webhook.parse(copies[0].body)[1]
    answers = [_hand(run, adapter, h) for h in copies]
    if not all(_ok(a) for a in answers):
        run.violation("every copy of a duplicated webhook is acknowledged (2xx), so the provider stops resending",
                      "; ".join(f"copy {n + 1}: the handler {a.describe()}" for n, a in enumerate(answers)), request)
    got = _recorded(run, adapter, job_id)
    if got != [status]:
        run.violation(f"a webhook delivered {len(copies)} times is processed once", f"recorded {got}", request)


def _webhook_out_of_order(run: _Run) -> None:
    """Two jobs' webhooks handed out of order — by construction, not by chance: the later job's
    first, the two jobs interleaved, and each job's first intermediate webhook (Kling's
    ``submitted``) after its outcome, the others before it."""
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    first = _submit_and_finish(run, adapter, request)
    second = _submit_and_finish(run, adapter, request, ["failed"])
    if first is None or second is None:
        return
    for job_id in (first, second):
        _terminal_deliveries(run, job_id)
    arrived = run.deliveries()
    ids = [run.profile.webhook.parse(h.body)[0] for h in arrived]
    if {first, second} - set(ids):
        run.violation("both jobs' webhooks reach env.webhook_url", f"webhooks arrived for {ids}")
        return
    terminal = run.profile.lifecycle.terminal
    queues = []
    for job_id in (second, first):
        own = [h for h in arrived if run.profile.webhook.parse(h.body)[0] == job_id]
        queues.append(own[1:] + own[:1] if len(own) > 2 else own[::-1])
    hooks = [q[n] for n in range(max(map(len, queues))) for q in queues if n < len(q)]
    for hook in hooks:
        answered = _hand(run, adapter, hook)
        if not _ok(answered):
            run.violation("webhooks arriving out of order are accepted (2xx)", f"the handler {answered.describe()}",
                          request)
    for job_id in (first, second):
        said = [run.profile.webhook.parse(h.body)[1] for h in hooks if run.profile.webhook.parse(h.body)[0] == job_id]
        want = next((s for s in said if s in terminal), said[0] if said else None)
        got = _recorded(run, adapter, job_id)
        if not got or got[-1] != want or got.count(want) != 1:
            run.violation("each out-of-order webhook is matched to its own job by id; a job ends in its own "
                          "status, recorded once", f"job {job_id}: recorded {got}, its webhooks said {said} "
                          "(in the order handed)", request)


def _webhook_late(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    native = "webhook_delay" in run.catalog()
    job_id = _submit_and_finish(run, adapter, request, ["webhook_delay"] if native else [])
    if job_id is None:
        return
    waited = run.call(adapter.wait, job_id)
    if waited.failed:
        run.violation("wait() returns once the job succeeds (its webhook is late)", waited.describe(), request)
        return
    hooks = _terminal_deliveries(run, job_id)
    if not hooks:
        return
    status = run.profile.webhook.parse(hooks[0].body)[1]
    answered = _hand(run, adapter, hooks[0])
    if not _ok(answered):
        run.violation("a webhook arriving after the client already saw the outcome is acknowledged (2xx)",
                      f"the handler {answered.describe()}", request)
    got = _recorded(run, adapter, job_id)
    if got not in ([], [status]):
        run.violation("a late webhook does not change or repeat the outcome", f"recorded {got}", request)


def _signed(run: _Run) -> None:
    if run.profile.webhook.verify is None:
        raise ScenarioSkipped(f"{run.profile.title} does not sign webhooks")
    if not run.secret():
        raise ScenarioSkipped(f"no webhook secret is configured, so {run.profile.title} sends unsigned webhooks")


def _webhook_bad_signature(run: _Run) -> None:
    _signed(run)
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    native = "webhook_bad_signature" in run.catalog()
    if (found := _job_webhooks(run, adapter, request, ["webhook_bad_signature"] if native else [])) is None:
        return
    job_id, hooks = found
    delivery: Delivery | tuple[dict[str, str], bytes] = hooks[0]
    if not native:
        delivery = (_corrupt(run.profile, hooks[0].headers), hooks[0].body)
    answered = _hand(run, adapter, delivery)
    if not _refused(answered):
        run.violation("a webhook with a wrong signature is rejected (4xx)", f"the handler {answered.describe()}",
                      request)
    _not_acted_on(run, adapter, job_id, "a webhook with a wrong signature", request)


def _webhook_missing_signature(run: _Run) -> None:
    _signed(run)
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    if (found := _job_webhooks(run, adapter, request)) is None:
        return
    job_id, hooks = found
    names = {h.lower() for h in run.profile.webhook.signature_headers}
    stripped = {k: v for k, v in hooks[0].headers.items() if k.lower() not in names}
    answered = _hand(run, adapter, (stripped, hooks[0].body))
    if not _refused(answered):
        run.violation("a webhook without its signature header is rejected (4xx)",
                      f"the handler {answered.describe()}", request)
    _not_acted_on(run, adapter, job_id, "a webhook without a signature", request)


def _corrupt(profile: Profile, headers: Mapping[str, str]) -> dict[str, str]:
    names = {h.lower() for h in profile.webhook.signature_headers}
    out = {}
    for key, value in headers.items():
        if key.lower() in names and value:
            value = value[:-1] + ("0" if value[-1] != "0" else "1")
        out[key] = value
    return out


def _webhook_replayed(run: _Run) -> None:
    _signed(run)
    spec = run.profile.webhook
    if spec.sign is None or spec.timestamp is None:
        raise ScenarioSkipped(f"the contracts cannot sign {run.profile.title} webhooks")
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    found = _job_webhooks(run, adapter, request)
    stamp = spec.timestamp(found[1][0].headers) if found else None
    if found is None or stamp is None:
        return
    job_id, hooks = found
    secret = run.secret() or ""
    replay = spec.sign(secret, hooks[0].headers, hooks[0].body, stamp - REPLAY_AGE)
    answered = _hand(run, adapter, (replay, hooks[0].body))
    if not _refused(answered):
        run.violation(f"a validly signed webhook whose timestamp is {REPLAY_AGE // 60} min old (a replay) is "
                      "rejected (4xx): check the timestamp, not only the signature",
                      f"the handler {answered.describe()}", request)
    _not_acted_on(run, adapter, job_id, "a replayed webhook", request)


def _webhook_forged(run: _Run) -> None:
    """A webhook the provider never sent: another job's genuine outcome with the id of a job
    still running, unsigned. lipsync.studio signs nothing, so its handler must confirm the
    outcome with the API (or a secret in its URL) before acting on it."""
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    done = _submit_and_finish(run, adapter, request)
    running = _submit_and_finish(run, adapter, request, ["stuck"])
    if done is None or running is None:
        return
    hooks = [h for h in _terminal_deliveries(run, done)
             if run.profile.webhook.parse(h.body)[1] == run.profile.lifecycle.success]
    if not hooks:
        return
    body = hooks[0].body.replace(done.encode(), running.encode())
    names = {h.lower() for h in run.profile.webhook.signature_headers}
    headers = {k: v for k, v in hooks[0].headers.items() if k.lower() not in names}
    answered = _hand(run, adapter, (headers, body))
    if answered.error is not None or answered.hung:
        run.violation("a forged webhook is answered, not crashed on", f"the handler {answered.describe()}", request)
    got = _recorded(run, adapter, running)
    if got:
        how = "check its signature" if run.profile.webhook.verify else "confirm the outcome with the API"
        run.violation(f"a forged webhook (unsigned, about a job still running) is not acted on: {how}",
                      f"recorded {got} for job {running}, which is still running", request)


def _webhook_http(run: _Run) -> None:
    if not run.profile.webhook.https_only:
        raise ScenarioSkipped(f"{run.profile.title} accepts webhook URLs over plain http")
    run.webhook_url = "http://hooks.example.com/contract-webhook"  # not loopback: refused
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    submitted = run.call(adapter.submit, request)
    rows = run.submits()
    refused = [r for r in rows if r["status"] >= 400]
    accepted = [r for r in rows if r["status"] < 300]
    if accepted and not refused:
        raise ScenarioSkipped("the target accepts plain-http webhook URLs (its webhook_http setting)")
    if accepted:
        run.violation("a job refused for its plain-http webhook URL is not sent again without it (its outcome "
                      "would never reach the application)",
                      f"after the {refused[0]['status']} it was sent again and accepted", request)
    elif not submitted.raised and (rows or not submitted.failed):
        run.violation("submit() raises when the provider refuses the plain-http webhook URL",
                      f"submit() {submitted.describe()}", request)
    elif refused and (message := _message(run.profile, refused[-1])) and message not in str(submitted.error):
        run.violation("the error raised carries the provider's message about the webhook URL",
                      f"expected {message!r}: {submitted.describe()}", request)
    if len(refused) > 1:
        run.violation("a refused webhook URL is not retried", f"it was sent {len(refused)} times", request)


# How an answer is lost after the job was created: the emulator scenario's role, what happened
LOST_ANSWERS = (("connection_reset", "connection reset"), ("timeout_after_commit", "gateway timeout, 504"))


def _lost_answer(run: _Run) -> None:
    """The provider creates the job, then the answer is lost — the connection is reset, or
    (where the provider does it: WaveSpeed) its gateway times out with a 504: a retry must not
    create a second job (sync.so: the same Idempotency-Key; elsewhere: look the job up, or
    report the failure)."""
    request = run.suite.minimal_request(run.provider)
    losses = [(role, how) for role, how in LOST_ANSWERS if run.profile.scenarios.get(role, role) in run.catalog()]
    if not losses:
        raise ScenarioSkipped("the target's scenario catalogue has no 'connection_reset'")
    for role, how in losses:
        adapter, env = run.fresh()
        run.scenario_rule(role, run.profile.op_for(request))
        submitted = run.call(adapter.submit, request)
        created = list(dict.fromkeys(r["job_id"] for r in run.submits() if r.get("job_id")))
        if not created:
            raise ScenarioSkipped("the client never sent the request")
        if len(created) > 1:
            run.violation(f"a submit whose answer was lost after the job was created ({how}) does not create a "
                          "second job (retry with the same Idempotency-Key where the provider has one, else look "
                          "the job up or report the failure)",
                          f"{len(created)} jobs were created: {created}; submit() {submitted.describe()}", request)
        elif not submitted.failed and submitted.value not in (None, "") and str(submitted.value) not in created:
            run.violation("submit() returns the id of the job the provider created",
                          f"returned {submitted.value!r}, the provider created {created}", request)
        elif submitted.failed and not submitted.raised:
            run.violation(f"a lost answer ({how}) is reported (raised) or recovered, in bounded time",
                          f"submit() {submitted.describe()}", request)


def _bad_gateway(operation_role: str) -> Callable[[_Run], None]:
    def scenario(run: _Run) -> None:
        request = run.suite.minimal_request(run.provider)
        adapter, env = run.fresh()
        if operation_role == "submit":
            run.scenario_rule("bad_gateway_html", run.profile.op_for(request))
        submitted = run.call(adapter.submit, request)
        if operation_role == "submit":
            if submitted.no_job and not (submitted.raised and "502" in str(submitted.error)):
                run.violation("a proxy's HTML 502 on submit is reported as a 502 (or retried), not as a JSON "
                              "decoding error", f"submit() {submitted.describe()}", request)
            return
        if submitted.no_job:
            run.violation("submit() returns the job id", submitted.describe(), request)
            return
        run.scenario_rule("bad_gateway_html", run.profile.poll_operation)
        waited = run.call(adapter.wait, submitted.value)
        if waited.failed:
            run.violation("a proxy's HTML 502 while polling does not end the wait; wait() succeeds",
                          waited.describe(), request)

    return scenario


TOKEN_LIFE = 1800.0  # Kling's sample code signs 30-minute tokens


def _token_expiry(run: _Run) -> None:
    """A job that outlives the client's JWT: submitted, then the clock moves past the token's
    ``exp`` and the job succeeds; wait() must get there with a new token. Judged on the clock
    the client is given (``env.now``): the emulator checks ``exp`` on it (``jwt_clock:
    emulator``) and the suite reads the tokens the client sent."""
    if run.profile.credentials is None:
        raise ScenarioSkipped(f"{run.profile.title} keys do not expire")
    if run.profile.credentials(run.own.config or {}) is None:
        raise ScenarioSkipped(f"the target judges {run.profile.title} tokens on the wall clock: run it with "
                              f"{run.provider}.jwt_clock: emulator so they are judged on env.now")
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    last = run.control.requests(limit=1)
    before = int(last[-1]["seq"]) if last else 0  # the journal's sequence goes on across resets
    run.scenario_rule("stuck", run.profile.op_for(request))
    submitted = run.call(adapter.submit, request)
    started = env.now()
    waited = submitted
    if not submitted.no_job:
        run.control.advance(TOKEN_LIFE + 60)  # the job runs longer than the token lives...
        run.control.finish(run.provider, str(submitted.value))  # ...then succeeds
        waited = run.call(adapter.wait, submitted.value)
    # a refused token files its request under no account: find the client's by the token's issuer
    rows = run.control.requests(provider=run.provider)
    tokens = [(r, claims) for r in rows if int(r.get("seq") or 0) > before
              and (claims := _jwt_claims(r)) is not None and claims.get("iss") == env.access_key]
    if not tokens and not submitted.no_job:
        raise ScenarioSkipped("the client authenticates with a static API key, not with env.access_key / "
                              "env.secret_key")
    # made on the wall clock: signed long before this scenario began on the emulator's clock,
    # and just now on the wall clock
    wall = [c for r, c in tokens if (minted := _minted(c)) is not None
            and not started - 2 * TOKEN_LIFE <= minted <= parse_time(r["at"]) + 10 and abs(minted - time.time()) < 120]
    if wall:
        run.violation("the client signs its tokens on the clock it is given (env.now)",
                      "this client makes its tokens on the wall clock; pass env.now", request)
    elif submitted.no_job:
        run.violation("submit() returns the job id", submitted.describe(), request)
    elif waited.failed:
        expired = [(r, c) for r, c in tokens if isinstance(c.get("exp"), int | float)
                   and parse_time(r["at"]) >= c["exp"]]
        sent = (f"; it sent a token {parse_time(expired[0][0]['at']) - expired[0][1]['exp']:.0f} s after it "
                f"expired ({expired[0][0]['method']} {expired[0][0]['path']} -> {expired[0][0]['status']})"
                if expired else "")
        run.violation("a job that outlives the token: the client signs a new JWT before exp (or after a 401 "
                      "1004), and wait() succeeds", f"{waited.describe()}{sent}", request)


def _minted(claims: dict[str, Any]) -> float | None:
    """When a token was signed: ``iat``, else ``nbf``, else ``exp`` less Kling's usual life."""
    for name, back in (("iat", 0.0), ("nbf", 0.0), ("exp", TOKEN_LIFE)):
        if isinstance(claims.get(name), int | float):
            return float(claims[name]) - back
    return None


def _jwt_claims(row: dict[str, Any]) -> dict[str, Any] | None:
    token = (_request_header(row, "Authorization") or "").partition(" ")[2]
    if token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("success", "a job that succeeds: submit, then wait for the outcome", _success),
    Scenario("valid_requests", "generated valid requests are sent unchanged and accepted", _valid_requests,
             needs_control=False),
    Scenario("validation_errors", "each kind of provider validation error is surfaced with its message, "
             "not swallowed, not retried", _validation_errors),
    Scenario("job_failed", "a job that ends FAILED is surfaced as a failure", _job_ends_badly("failed")),
    Scenario("job_rejected", "a job the provider rejects is surfaced as a failure", _job_ends_badly("rejected")),
    Scenario("job_other_failures", "every other terminal failure state (WaveSpeed cancelled, timeout) is "
             "surfaced as a failure at once", _other_failures),
    Scenario("timeout", "a job slower than the client's timeout: the client gives up in time", _timeout),
    Scenario("rate_limited_submit", "429 on submit: Retry-After honoured", _retry_after("submit")),
    Scenario("rate_limited_poll", "429 while polling: Retry-After honoured", _retry_after("poll")),
    Scenario("unavailable_submit", "a transient 503 on submit is retried", _transient("submit")),
    Scenario("server_error_poll", "a transient 500 while polling is survived", _transient("poll")),
    Scenario("lost_answer_submit", "the job is created, then the answer is lost (connection reset, gateway "
             "timeout): no second job", _lost_answer),
    Scenario("bad_gateway_submit", "a proxy's HTML 502 on submit", _bad_gateway("submit")),
    Scenario("bad_gateway_poll", "a proxy's HTML 502 while polling is survived", _bad_gateway("poll")),
    Scenario("token_expiry", "a job that outlives the client's token: the token is renewed", _token_expiry),
    Scenario("webhook_valid", "a genuine signed webhook is accepted and acted on once", _webhook_valid,
             webhook=True),
    Scenario("webhook_duplicate", "a webhook delivered twice is processed once", _webhook_duplicate, webhook=True),
    Scenario("webhook_out_of_order", "webhooks of two jobs arrive out of order", _webhook_out_of_order,
             webhook=True),
    Scenario("webhook_late", "a webhook arrives after the client already polled the outcome", _webhook_late,
             webhook=True),
    Scenario("webhook_bad_signature", "a webhook with a wrong signature is rejected", _webhook_bad_signature,
             webhook=True),
    Scenario("webhook_missing_signature", "a webhook without a signature is rejected", _webhook_missing_signature,
             webhook=True),
    Scenario("webhook_replayed", "a validly signed but old webhook (a replay) is rejected", _webhook_replayed,
             webhook=True),
    Scenario("webhook_forged", "a forged webhook about a running job is not acted on", _webhook_forged,
             webhook=True),
    Scenario("webhook_http", "a webhook URL over plain http, which the provider refuses", _webhook_http,
             webhook=True),
)


def scenario_names() -> list[str]:
    """Every client scenario, in run order (for ``pytest.mark.parametrize``)."""
    return [s.name for s in SCENARIOS]
