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

    report = ClientContract(emulator).run("syncso", MyAdapter)
    report.assert_ok()        # raises with: scenario, broken expectation, minimal example

``env.sleep`` and ``env.now`` run on the emulator's virtual clock: a client that waits with
them finishes hour-long timelines in milliseconds; one that never stops waiting is caught
(``PollBudgetExceeded``) instead of hanging CI. Every adapter call also has a wall-clock
limit. Scenarios use the emulator's scenario controls (``POST /_emulator/scenarios``); with
no control plane (a real provider) only the request scenarios run.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from lipsync_emulator.contracts import profiles
from lipsync_emulator.contracts.profiles import Profile
from lipsync_emulator.contracts.receiver import Delivery, Receiver
from lipsync_emulator.contracts.strategies import Invalid, compact, for_provider
from lipsync_emulator.contracts.targets import Control, ControlError, Target, connect, parse_time

STEP = 30.0  # seconds the suite advances the clock at a time while waiting for webhooks
BUSY_REQUESTS = 150  # requests without a single env.sleep: the client does not pause between polls


class PollBudgetExceeded(BaseException):  # noqa: N818 - named for what the client did
    """Raised by ``ContractEnv.sleep`` once a client has waited far longer than any scenario
    needs (it polls forever). A ``BaseException``, so ``except Exception`` cannot swallow it."""


class ScenarioSkipped(Exception):  # noqa: N818
    """A scenario that does not apply (no control plane, an unsigned provider...)."""


class ContractViolation(AssertionError):
    """One or more broken expectations; the message is the suite's report."""


@dataclass
class ContractEnv:
    """What the suite hands the client under test."""

    provider: str
    base_url: str
    api_key: str
    webhook_url: str
    webhook_secret: str | None
    timeout: float  # how long the client should wait for a job, in seconds of ``now()``
    control: Control | None = field(default=None, repr=False)
    virtual: bool = True
    budget: float = 7200.0
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
    """How the suite drives a client. Only ``submit`` is needed for the request scenarios."""

    def submit(self, request: Any) -> str:
        """Send ``request`` (the provider's request, as the strategies generate it) the way
        the application does; return the provider's job id; raise if the provider refused."""
        ...

    def wait(self, job_id: str) -> Any:
        """Wait for the job's outcome the way the application does (``env.sleep``/``env.now``,
        within ``env.timeout``); return on success; raise on failure, rejection or timeout."""
        ...

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        """Hand a received webhook to the application's handler; return its HTTP status."""
        ...

    def recorded(self, job_id: str) -> Sequence[str]:
        """The job statuses the application's webhook handler acted on, in order."""
        ...


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

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("violated" if self.violations else "passed")

    def text(self) -> str:
        head = f"{self.status.upper():8} {self.name}: {self.title}"
        if self.skipped:
            return f"{head}\n  ({self.skipped})"
        return "\n".join([head] + [v.text() for v in self.violations])


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
        shown = [r for r in self.results if r.status != "passed"]
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


@dataclass
class _Call:  # noqa: B903 - a plain record
    value: Any = None
    error: BaseException | None = None
    hung: bool = False
    busy: int = 0  # requests made without pausing before the suite stopped the client

    @property
    def failed(self) -> bool:
        return self.error is not None or self.hung or bool(self.busy)

    @property
    def no_job(self) -> bool:
        """A submit that failed, or returned no job id (``None``, ``""``)."""
        return self.failed or self.value in (None, "")

    @property
    def raised(self) -> bool:
        return self.error is not None and not isinstance(self.error, PollBudgetExceeded) and not self.busy

    def describe(self) -> str:
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


class ClientContract:
    """Runs the client scenarios for one target (the emulator: a fixture, URL or WSGI app).

    ``timeout``: the job timeout handed to clients (``env.timeout``); ``examples``: how many
    generated requests the property scenarios try; ``wall_timeout``: seconds any one adapter
    call may take for real; ``shrink_seconds``: how long a failing property may spend making its
    example smaller (each try runs the client)."""

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

    def close(self) -> None:
        if self._own_receiver:
            self.receiver.close()

    def scenario_names(self, provider: str | None = None) -> list[str]:
        return [s.name for s in SCENARIOS]

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
        self._catalog: set[str] | None = None
        self._secret: str | None = suite.webhook_secret

    # -- setup ------------------------------------------------------------------------------

    def fresh(self) -> tuple[ClientAdapter, ContractEnv]:
        """Reset the emulator and the receiver; build a new client."""
        if self.suite.has_control:
            self.control.reset()
        self.receiver.clear()
        env = ContractEnv(self.provider, self.suite.target.base_url, self.suite.api_key or self.profile.api_key,
                          self.receiver.url, self.secret(), self.suite.timeout,
                          self.control if self.suite.has_control else None,
                          virtual=self._virtual(), budget=self.suite.timeout * 2 + 600)
        self.envs.append(env)
        return self.make_adapter(env), env

    def _virtual(self) -> bool:
        if not self.suite.has_control:
            return False
        try:
            return self.control.clock_mode() == "virtual"
        except ControlError:
            return False

    def catalog(self) -> set[str]:
        if self._catalog is None:
            self._catalog = {row["name"] for row in self.control.catalog(self.provider)} if self.suite.has_control \
                else set()
        return self._catalog

    def secret(self) -> str | None:
        if self._secret is None:
            config = self.control.config() if self.suite.has_control else None
            self._secret = self.profile.secret(self.suite.target, self.profile.headers(self.suite.api_key), config)
        return self._secret

    def scenario_rule(self, role_or_name: str, operation: str, count: int = 1) -> str:
        """Make the next ``count`` requests to ``operation`` take an emulator scenario."""
        name = self.profile.scenarios.get(role_or_name, role_or_name)
        if name not in self.catalog():
            raise ScenarioSkipped(f"the target's scenario catalogue has no {name!r}")
        self.control.scenario(self.provider, name, operation=operation, count=count)
        return name

    def close(self) -> None:
        for env in self.envs:
            env.dead = True

    # -- calling the client ------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any) -> _Call:
        """Run one adapter call in a thread, bounded by the wall-clock limit. A client that
        hammers the emulator without ever pausing (``env.sleep``) is stopped: its requests
        start failing with 5xx and its env raises, so the thread ends."""
        out = _Call()

        def target() -> None:
            try:
                out.value = fn(*args)
            except BaseException as exc:  # the client's failure is evidence, not a crash
                out.error = exc

        thread = threading.Thread(target=target, name="contract-client", daemon=True)
        sleeps = sum(e.sleeps for e in self.envs)
        start = self._seq()
        thread.start()
        deadline = time.monotonic() + self.suite.wall_timeout
        while thread.is_alive() and time.monotonic() < deadline:
            thread.join(0.2)
            made, paused = self._seq() - start, sum(e.sleeps for e in self.envs) - sleeps
            if thread.is_alive() and made > BUSY_REQUESTS and paused * 20 < made:
                out.busy = made
                self._stop_client(thread)
                break
        if thread.is_alive():
            out.hung = True
            self._stop_client(thread)
        return out

    def _seq(self) -> int:
        if not self.suite.has_control:
            return 0
        rows = self.control.requests(limit=1)
        return int(rows[-1]["seq"]) if rows else 0

    def _stop_client(self, thread: threading.Thread) -> None:
        for env in self.envs:
            env.dead = True
        name = self.profile.scenarios.get("server_error")
        if not self.suite.has_control or not name or name not in self.catalog():
            return
        self.control.scenario(self.provider, name)
        thread.join(5.0)
        self.control.clear_scenarios()

    def violation(self, expectation: str, detail: str, example: Any = None) -> None:
        self.result.violations.append(Violation(self.scenario.name, expectation, detail, example))

    # -- evidence ------------------------------------------------------------------------------

    def requests(self, operation: str) -> list[dict[str, Any]]:
        if not self.suite.has_control:
            return []
        return self.control.requests(provider=self.provider, operation=operation)

    def submits(self) -> list[dict[str, Any]]:
        ops = self.profile.submit_ops()
        if len(ops) == 1:
            return self.requests(ops[0])
        rows = self.control.requests(provider=self.provider) if self.suite.has_control else []
        return [r for r in rows if r.get("operation") in ops]

    def polls(self) -> list[dict[str, Any]]:
        return self.requests(self.profile.poll_operation)

    def job(self, job_id: str) -> Any:
        resp = self.profile.poll(self.suite.target, job_id, self.profile.headers(self.suite.api_key))
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


def _row_json(row: dict[str, Any]) -> Any:
    try:
        return json.loads(row.get("response_body") or "null")
    except ValueError:
        return None


def _header(row: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in (row.get("response_headers") or {}).items() if k.lower() == name.lower()), None)


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
                    suppress_health_check=list(HealthCheck))


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
    for rule in [*rules, "schema"]:
        found = _falsify(run.strategies.invalid_requests(rule), max(1, run.suite.examples // 3),
                         lambda bad: _surfaced(run, bad), run.suite.shrink_seconds / 4)
        if found:
            bad, problem = found
            run.violation(f"rule {bad.rule}: the provider's {bad.expected.status} error is raised with its message, "
                          "once, not retried", problem, bad.request)


def _surfaced(run: _Run, bad: Invalid) -> str | None:
    adapter, env = run.fresh()
    submitted = run.call(adapter.submit, bad.request)
    # the call the rule is about: the submit, or an earlier one (Kling's identify-face)
    rows = run.requests(bad.operation) if bad.operation and bad.operation not in run.profile.submit_ops() \
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


class _StopShrinking(BaseException):  # noqa: N818 - a BaseException ends Hypothesis' run at once
    pass


def _falsify(strategy: Any, examples: int, check: Callable[[Any], str | None],
             shrink_seconds: float, explicit: Sequence[Any] = ()) -> tuple[Any, str] | None:
    """Look for an example ``check`` complains about — the ``explicit`` ones first, then
    generated ones; shrink a generated failure for at most ``shrink_seconds`` (each try runs
    the client against the emulator); return the smallest failure found."""
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
    if not failures:
        return None
    return min(failures, key=lambda f: len(compact(getattr(f[0], "request", f[0]))))


def _job_ends_badly(role: str) -> Callable[[_Run], None]:
    def scenario(run: _Run) -> None:
        request = run.suite.minimal_request(run.provider)
        adapter, env = run.fresh()
        run.scenario_rule(role, run.profile.op_for(request))
        submitted = run.call(adapter.submit, request)
        if submitted.no_job:
            run.violation("submit() returns the job id", submitted.describe(), request)
            return
        waited = run.call(adapter.wait, submitted.value)
        job = run.job(str(submitted.value)) or {}
        name = run.profile.scenarios.get(role, role)
        status = run.profile.outcomes.get(name) or (run.profile.status(job) if job else "?")
        code, message = run.profile.job_error(job) if job else (None, "")
        if not waited.raised:
            run.violation(f"wait() raises when the job ends {status}", waited.describe(), request)
            return
        text = str(waited.error)
        if not ((code is not None and str(code) in text) or (message and message in text) or status in text):
            run.violation(f"the failure raised names what the provider said ({code or status})",
                          f"raised {type(waited.error).__name__}: {text[:200]!r}", request)

    return scenario


def _timeout(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    run.scenario_rule("stuck", run.profile.op_for(request))
    submitted = run.call(adapter.submit, request)
    if submitted.no_job:
        run.violation("submit() returns the job id", submitted.describe(), request)
        return
    started = env.now()
    waited = run.call(adapter.wait, submitted.value)
    if not waited.raised:
        run.violation(f"wait() gives up after env.timeout ({env.timeout:g} s) on a job that never ends",
                      waited.describe(), request)
        return
    elapsed = run.control.now() - started
    limit = env.timeout * 1.5 + 120
    if elapsed > limit:
        run.violation(f"wait() gives up after about env.timeout ({env.timeout:g} s)",
                      f"it gave up after {elapsed:.0f} s", request)


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
        rows = run.requests(operation)
        limited = next((i for i, r in enumerate(rows) if r["status"] == 429), None)
        if limited is None:
            raise ScenarioSkipped("the 429 was never served")
        after = _header(rows[limited], "Retry-After")
        if limited + 1 >= len(rows):
            run.violation("the request is retried after a 429", "it was never retried", request)
            return
        gap = parse_time(rows[limited + 1]["at"]) - parse_time(rows[limited]["at"])
        if after is not None and after.isdigit() and gap + 0.5 < float(after):
            run.violation(f"the retry waits Retry-After ({after} s)", f"it came {gap:.1f} s later", request)

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


def _recorded(run: _Run, adapter: ClientAdapter, job_id: str) -> list[str]:
    got = run.call(adapter.recorded, job_id)
    return list(got.value or []) if got.error is None and not got.hung else []


def _webhook_valid(run: _Run) -> None:
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    job_id = _submit_and_finish(run, adapter, request)
    if job_id is None:
        return
    hooks = _terminal_deliveries(run, job_id)
    if not hooks:
        return
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
    job_id = _submit_and_finish(run, adapter, request, ["webhook_duplicate"] if native else [])
    if job_id is None:
        return
    hooks = _terminal_deliveries(run, job_id, 2 if native else 1)
    if not hooks:
        return
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
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    native = "webhook_out_of_order" in run.catalog()
    fault = ["webhook_out_of_order"] if native else []
    first = _submit_and_finish(run, adapter, request, fault)
    second = _submit_and_finish(run, adapter, request, [*fault, "failed"])
    if first is None or second is None:
        return
    waited = 0.0
    while len(run.deliveries()) < 2 and waited < 3600:
        run.control.advance(STEP)
        waited += STEP
    hooks = run.deliveries()
    order = [run.profile.webhook.parse(h.body)[0] for h in hooks]
    if not native:
        hooks = list(reversed(hooks))  # the later job's webhook first
    if {first, second} - set(order):
        run.violation("both jobs' webhooks reach env.webhook_url", f"webhooks arrived for {order}")
        return
    for hook in hooks:
        answered = _hand(run, adapter, hook)
        if not _ok(answered):
            run.violation("webhooks arriving out of order are accepted (2xx)", f"the handler {answered.describe()}",
                          request)
    for job_id in (first, second):
        final = [run.profile.webhook.parse(h.body)[1] for h in hooks if run.profile.webhook.parse(h.body)[0] == job_id]
        want = final[-1] if final else None
        terminal = [s for s in final if s in run.profile.lifecycle.terminal]
        want = terminal[-1] if terminal else want
        got = _recorded(run, adapter, job_id)
        if not got or got[-1] != want or got.count(want) != 1:
            run.violation("each out-of-order webhook is matched to its own job by id; a job ends in its own "
                          "status, recorded once", f"job {job_id}: recorded {got}, its webhooks said {final}",
                          request)


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
    job_id = _submit_and_finish(run, adapter, request, ["webhook_bad_signature"] if native else [])
    if job_id is None:
        return
    hooks = _terminal_deliveries(run, job_id)
    if not hooks:
        return
    delivery: Delivery | tuple[dict[str, str], bytes] = hooks[0]
    if not native:
        delivery = (_corrupt(run.profile, hooks[0].headers), hooks[0].body)
    answered = _hand(run, adapter, delivery)
    if not _refused(answered):
        run.violation("a webhook with a wrong signature is rejected (4xx)", f"the handler {answered.describe()}",
                      request)
    got = _recorded(run, adapter, job_id)
    if got:
        run.violation("a webhook with a wrong signature is not acted on", f"recorded {got}", request)


def _webhook_missing_signature(run: _Run) -> None:
    _signed(run)
    request = run.suite.minimal_request(run.provider)
    adapter, env = run.fresh()
    job_id = _submit_and_finish(run, adapter, request)
    if job_id is None:
        return
    hooks = _terminal_deliveries(run, job_id)
    if not hooks:
        return
    names = {h.lower() for h in run.profile.webhook.signature_headers}
    stripped = {k: v for k, v in hooks[0].headers.items() if k.lower() not in names}
    answered = _hand(run, adapter, (stripped, hooks[0].body))
    if not _refused(answered):
        run.violation("a webhook without its signature header is rejected (4xx)",
                      f"the handler {answered.describe()}", request)
    got = _recorded(run, adapter, job_id)
    if got:
        run.violation("a webhook without a signature is not acted on", f"recorded {got}", request)


def _corrupt(profile: Profile, headers: Mapping[str, str]) -> dict[str, str]:
    names = {h.lower() for h in profile.webhook.signature_headers}
    out = {}
    for key, value in headers.items():
        if key.lower() in names and value:
            value = value[:-1] + ("0" if value[-1] != "0" else "1")
        out[key] = value
    return out


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("success", "a job that succeeds: submit, then wait for the outcome", _success),
    Scenario("valid_requests", "generated valid requests are sent unchanged and accepted", _valid_requests,
             needs_control=False),
    Scenario("validation_errors", "each kind of provider validation error is surfaced with its message, "
             "not swallowed, not retried", _validation_errors),
    Scenario("job_failed", "a job that ends FAILED is surfaced as a failure", _job_ends_badly("failed")),
    Scenario("job_rejected", "a job the provider rejects is surfaced as a failure", _job_ends_badly("rejected")),
    Scenario("timeout", "a job slower than the client's timeout: the client gives up in time", _timeout),
    Scenario("rate_limited_submit", "429 on submit: Retry-After honoured", _retry_after("submit")),
    Scenario("rate_limited_poll", "429 while polling: Retry-After honoured", _retry_after("poll")),
    Scenario("unavailable_submit", "a transient 503 on submit is retried", _transient("submit")),
    Scenario("server_error_poll", "a transient 500 while polling is survived", _transient("poll")),
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
)


def scenario_names() -> list[str]:
    """Every client scenario, in run order (for ``pytest.mark.parametrize``)."""
    return [s.name for s in SCENARIOS]
