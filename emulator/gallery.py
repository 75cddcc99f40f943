"""Trigger any scenario of any provider over HTTP and record the exchange — the engine of
``lipsync-emulator demo`` (the error gallery) and of the catalogue test.

It knows nothing about providers: each provider registers ``Probe`` objects (how to make a
valid request to an operation) next to its scenarios, and ``ScenarioClient`` chooses the
scenario one of three ways — ``header`` (``X-Emulator-Scenario``), ``magic`` (the token in a
media URL, else in the query string) or ``rule`` (a control-plane rule with ``count`` 1) —
sends the request, and follows the job on the emulator's clock.

    >>> from lipsync_emulator.testing import EmulatorServer
    >>> with EmulatorServer() as emu:                           # doctest: +SKIP
    ...     client = ScenarioClient.for_server(emu)
    ...     client.trigger(client.scenario("syncso", "rate_limited"), "magic").status
    429
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from lipsync_emulator.core.auth import is_redacted
from lipsync_emulator.core.scenarios import HEADER, MAGIC, Probe, ProbeContext, Scenario, ScenarioCatalog, dig
from lipsync_emulator.core.webhooks import is_loopback

WAYS = ("header", "magic", "rule")


@dataclass
class Poll:
    after: float  # seconds of emulator time since the submit
    status: int
    body: Any


@dataclass
class Exchange:
    """One scenario triggered: the request, the answer (or the client-side error), the job's
    timeline, the webhook deliveries and the journal entry the emulator recorded."""

    provider: str
    scenario: str
    way: str
    operation: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # the client-side exception (transport faults)
    elapsed: float = 0.0  # wall-clock seconds
    job_id: str | None = None
    timeline: list[Poll] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    journal: dict[str, Any] | None = None

    def json(self) -> Any:
        return json.loads(self.body)


def _masked(value: Any) -> bool:
    values = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
    return any(is_redacted(v) for v in values)


class ScenarioClient:
    """Drives one emulator at ``base_url``: ``catalog`` gives scenarios and probes (an
    in-process emulator's, or a freshly built one's for the same version), ``configs`` each
    provider's effective settings (for the probes' credentials). ``/_emulator/config`` shows
    credentials masked: a masked one is taken to be the package's default."""

    def __init__(self, base_url: str, catalog: ScenarioCatalog, configs: dict[str, dict[str, Any]],
                 *, timeout: float = 40.0, session: requests.Session | None = None) -> None:
        from lipsync_emulator.providers import REGISTRY

        defaults = {p.name: p.defaults for p in REGISTRY}
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog
        self.configs = {name: {k: defaults.get(name, {}).get(k) if _masked(v) else v for k, v in cfg.items()}
                        for name, cfg in configs.items()}
        self.timeout = timeout
        self.http = session or requests.Session()

    @classmethod
    def for_server(cls, server: Any, **kwargs: Any) -> ScenarioClient:
        """For an ``emulator.testing.EmulatorServer`` (in-process: same catalogue and settings)."""
        rt = server.runtime
        return cls(server.url, rt.catalog, {name: rt.cfg(name) for name in rt.providers}, **kwargs)

    @classmethod
    def for_url(cls, url: str, catalog: ScenarioCatalog | None = None, **kwargs: Any) -> ScenarioClient:
        """For a running emulator on a loopback URL: ``catalog`` gives the scenarios and probes
        (by default this package's providers'), the emulator's ``/_emulator/config`` the
        providers' settings."""
        if not is_loopback(url):
            raise ValueError(f"{url} is not a loopback URL: the demo only talks to a local emulator")
        if catalog is None:
            from lipsync_emulator.config import Settings
            from lipsync_emulator.core.runtime import Runtime
            from lipsync_emulator.providers import REGISTRY

            catalog = Runtime(Settings(clock="virtual"), REGISTRY).catalog
        resp = requests.get(f"{url.rstrip('/')}/_emulator/config", timeout=10)
        resp.raise_for_status()
        config = resp.json()
        return cls(url, catalog, dict(config.get("providers") or {}), **kwargs)

    # -- control plane -----------------------------------------------------------------------

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, f"{self.base_url}/_emulator{path}", timeout=self.timeout, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def scenario(self, provider: str, name: str) -> Scenario:
        found = self.catalog.get(provider, name)
        if found is None:
            raise LookupError(f"no scenario {name!r} for {provider}")
        return found

    def virtual(self) -> bool:
        return bool(self.control("GET", "/clock").get("mode") == "virtual")

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock (0 still runs what is due and waits for deliveries)."""
        self.control("POST", "/clock/advance", json={"seconds": max(0.0, seconds)})

    def now(self) -> float:
        return float(self.control("GET", "/clock")["timestamp"])

    def deliveries(self, provider: str, job_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.control("GET", "/webhooks", params={"provider": provider, "job_id": job_id})
        return rows

    def last_journal(self) -> dict[str, Any] | None:
        rows = self.control("GET", "/requests", params={"limit": 1})
        return rows[-1] if rows else None

    # -- provider requests ---------------------------------------------------------------------

    def probe(self, scenario: Scenario, operation: str | None = None) -> Probe:
        probe = self.catalog.probe(scenario.provider, operation) if operation else self.catalog.probe_for(scenario)
        if probe is None:
            raise LookupError(f"{scenario.provider} declares no probe for {operation or scenario.operations or 'any'} "
                              f"(needed to trigger {scenario.name!r})")
        return probe

    def context(self, provider: str, **kwargs: Any) -> ProbeContext:
        return ProbeContext(cfg=self.configs.get(provider, {}), **kwargs)

    def submit(self, provider: str, *, webhook_url: str | None = None, headers: dict[str, str] | None = None) -> str:
        """Create a job with the provider's submit probe, no scenario; return its id."""
        probe = self.catalog.probe(provider)
        if probe is None or probe.job_id is None:
            raise LookupError(f"{provider} declares no submit probe")
        kwargs = probe.build(self.context(provider, webhook_url=webhook_url))
        if headers:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **headers}
        resp = self._send(kwargs)
        resp.raise_for_status()
        return probe.job_id(resp.json())

    def poll(self, provider: str, job_id: str) -> requests.Response:
        submit = self.catalog.probe(provider)
        poll = self.catalog.probe(provider, submit.poll) if submit is not None and submit.poll else None
        if poll is None:
            raise LookupError(f"{provider} declares no poll probe")
        return self._send(poll.build(self.context(provider, job_id=job_id)))

    def _send(self, kwargs: dict[str, Any]) -> requests.Response:
        kwargs = dict(kwargs)
        method, path = kwargs.pop("method"), kwargs.pop("path")
        return self.http.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)

    def trigger(self, scenario: Scenario, way: str = "header", *, webhook_url: str | None = None,
                operation: str | None = None, job_id: str | None = None) -> Exchange:
        """Choose ``scenario`` by ``way`` and send one request to the operation's probe (for an
        operation on an existing job, a job is submitted first, without scenario)."""
        if way not in WAYS:
            raise ValueError(f"way must be one of {WAYS}")
        provider = scenario.provider
        probe = self.probe(scenario, operation)
        if probe.job_id is None and job_id is None:
            job_id = self.submit(provider, webhook_url=webhook_url)
        if way == "rule":
            self.control("POST", "/scenarios", json={"provider": provider, "scenario": scenario.name,
                                                     "operation": probe.operation, "count": 1})
        token = f"emulator_scenario={scenario.name}"
        ctx = self.context(provider, magic=token if way == "magic" else "", webhook_url=webhook_url, job_id=job_id)
        kwargs = probe.build(ctx)
        kwargs["headers"] = dict(kwargs.get("headers") or {})
        if way == "header":
            kwargs["headers"][HEADER] = scenario.name
        if way == "magic" and not _carries(kwargs, scenario.name):
            # No media URL in this request: the query string carries the token instead.
            kwargs["params"] = {**(kwargs.get("params") or {}), "emulator_scenario": scenario.name}
        prepared = self.http.prepare_request(requests.Request(
            kwargs.pop("method"), f"{self.base_url}{kwargs.pop('path')}",
            **{k: v for k, v in kwargs.items() if k in ("headers", "json", "params", "data", "files")}))
        exchange = Exchange(provider=provider, scenario=scenario.name, way=way, operation=probe.operation,
                            method=prepared.method or "", url=prepared.url or "",
                            request_headers={k: str(v) for k, v in prepared.headers.items()}, request_body=_text(prepared.body),
                            job_id=job_id)
        self._exchange(exchange, prepared)
        if probe.job_id is not None and exchange.status is not None and 200 <= exchange.status < 300:
            try:
                exchange.job_id = probe.job_id(exchange.json())
            except (ValueError, KeyError, TypeError, IndexError):
                # A transport fault damaged the answer: find the job in the journal instead.
                exchange.job_id = (exchange.journal or {}).get("job_id")
        elif probe.job_id is not None and exchange.journal:
            exchange.job_id = exchange.journal.get("job_id")
        return exchange

    def _exchange(self, exchange: Exchange, prepared: requests.PreparedRequest) -> None:
        started = time.perf_counter()
        try:
            resp = self.http.send(prepared, timeout=self.timeout)
            exchange.status, exchange.reason = resp.status_code, resp.reason or ""
            exchange.response_headers = dict(resp.headers)
            exchange.body = resp.content
        except requests.RequestException as exc:
            exchange.error = f"{type(exc).__name__}: {_root(exc)}"
            # The connection is gone; a pooled one must not be reused.
            self.http.close()
        exchange.elapsed = time.perf_counter() - started
        exchange.journal = self.last_journal()

    def follow(self, exchange: Exchange, checkpoints: list[float]) -> Exchange:
        """Advance the emulator's clock to each checkpoint (seconds after the submit) and poll
        the job there; then record its webhook deliveries."""
        if exchange.job_id is None:
            return exchange
        elapsed = 0.0
        for at in checkpoints:
            self.advance(at - elapsed)
            elapsed = max(elapsed, at)
            exchange.timeline.append(_polled(at, self.poll(exchange.provider, exchange.job_id)))
        exchange.deliveries = self.deliveries(exchange.provider, exchange.job_id)
        return exchange


def _polled(at: float, resp: requests.Response) -> Poll:
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    return Poll(at, resp.status_code, body)


def _carries(kwargs: dict[str, Any], name: str) -> bool:
    text = json.dumps({k: kwargs.get(k) for k in ("json", "params", "data")}, default=str) + str(kwargs.get("path"))
    return name in MAGIC.findall(text)


def _text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def _root(exc: BaseException) -> str:
    """The innermost cause's text: 'ConnectionResetError(104, ...)' rather than urllib3's
    wrapping."""
    seen = exc
    for _ in range(6):
        inner = seen.__cause__ or seen.__context__ or (seen.args[1] if len(seen.args) > 1
                                                        and isinstance(seen.args[1], BaseException) else None)
        if inner is None:
            break
        seen = inner
    return f"{type(seen).__name__}: {seen}" if seen is not exc else str(exc)


# -- the error gallery (``lipsync-emulator demo``) ---------------------------------------------------

SHOWN_HEADERS = ("Content-Type", "Content-Length", "Retry-After")
BODY_LIMIT = 400


def _clip(text: str, limit: int = BODY_LIMIT) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _fields(body: Any, keys: list[str]) -> str:
    """The polled job, reduced to the fields its checkpoint is about (else clipped)."""
    if keys and not isinstance(body, str):
        shown = {}
        for key in keys:
            try:
                shown[key] = dig(body, key)
            except KeyError:
                shown[key] = "<absent>"
        return " ".join(f"{k}={json.dumps(v)}" for k, v in shown.items())
    return _clip(body if isinstance(body, str) else json.dumps(body, separators=(",", ":")), 300)


def _path(url: str) -> str:
    parts = url.split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else url


def render(ex: Exchange, scenario: Scenario) -> list[str]:
    """The exchange as readable lines: request, answer (or client-side error), the job's
    timeline, the webhook attempts, and how the journal recorded it."""
    lines = [f"== {scenario.provider} / {scenario.name}  [{scenario.kind}, {scenario.evidence}]",
             f"   {scenario.summary}",
             f"   > {ex.method} {_path(ex.url)}"]
    if ex.way == "header":
        lines.append(f"   > {HEADER}: {scenario.name}")
    elif ex.way == "rule":
        lines.append(f"   (chosen by a control-plane rule: POST /_emulator/scenarios "
                     f'{{"provider":"{scenario.provider}","scenario":"{scenario.name}","operation":"{ex.operation}",'
                     f'"count":1}})')
    if ex.request_body:
        lines.append(f"   > {_clip(ex.request_body, 240)}")
    if ex.error is not None:
        lines.append(f"   ! client error after {ex.elapsed:.2f} s: {ex.error}")
    else:
        lines.append(f"   < {ex.status} {ex.reason}   ({ex.elapsed * 1000:.0f} ms)")
        wanted = set(SHOWN_HEADERS) | set(scenario.expect.headers if scenario.expect else ())
        for name, value in ex.response_headers.items():
            if name in wanted:
                lines.append(f"   < {name}: {value}")
        lines.append(f"   < {_clip(ex.body.decode('utf-8', 'replace'))}")
    checkpoints = list(scenario.expect.job) if scenario.expect else []
    for i, poll in enumerate(ex.timeline):
        keys = list(checkpoints[i][1]) if i < len(checkpoints) and len(checkpoints) == len(ex.timeline) else []
        lines.append(f"   @ +{poll.after:g} s  poll -> {poll.status} {_fields(poll.body, keys)}")
    for delivery in ex.deliveries:
        note = f" ({delivery['note']})" if delivery.get("note") else ""
        lines.append(f"   webhook {delivery['event']} queued at {delivery['created_at']} -> {delivery['status']}{note}")
        for attempt in delivery.get("attempts", []):
            outcome = attempt["status_code"] if attempt["status_code"] is not None else attempt["error"]
            sig = next((f"  {k}: {_clip(v, 60)}" for k, v in attempt["headers"].items()
                        if "signature" in k.lower()), "")
            lines.append(f"     attempt {attempt['number']} at {attempt['at']} -> {outcome}{sig}")
    if ex.journal is not None:
        faults = f" faults={ex.journal['faults']}" if ex.journal.get("faults") else ""
        lines.append(f"   journal: {ex.journal['operation']} -> {ex.journal['status']} scenario={ex.journal['scenario']} "
                     f"chosen by={ex.journal.get('scenario_source')}{faults}")
    return lines


def play(client: ScenarioClient, scenario: Scenario, way: str = "header", webhook_url: str | None = None) -> Exchange:
    """Trigger ``scenario`` and let its effect unfold: an outcome's timeline (the clock is
    advanced to its declared checkpoints, or one hour), a webhook fault's deliveries."""
    virtual = client.virtual()
    wants_webhook = scenario.kind in ("outcome", "webhook")
    ex = client.trigger(scenario, way, webhook_url=webhook_url if wants_webhook else None)
    if ex.job_id is None or scenario.kind not in ("outcome", "webhook"):
        return ex
    if scenario.kind == "outcome":
        checkpoints = [at for at, _ in scenario.expect.job] if scenario.expect and scenario.expect.job else [3600.0]
        if virtual:
            return client.follow(ex, checkpoints)
        # Real clock: the control plane finishes the job now (a stuck job cannot be).
        if scenario.outcome is not None and scenario.outcome.status is not None:
            client.control("POST", f"/jobs/{scenario.provider}/{ex.job_id}/finish", json={"scenario": scenario.name})
        return _poll_now(client, ex)
    client.control("POST", f"/jobs/{scenario.provider}/{ex.job_id}/finish")
    effects = scenario.effects
    if virtual:
        client.advance(0)
        if effects.get("out_of_order"):
            later = client.submit(scenario.provider, webhook_url=webhook_url)
            client.control("POST", f"/jobs/{scenario.provider}/{later}/finish")
            client.advance(0)
            ex.deliveries = client.deliveries(scenario.provider, later)
        if effects.get("delay"):
            client.advance(float(effects["delay"]))
    ex.deliveries = ex.deliveries + client.deliveries(scenario.provider, ex.job_id)
    return ex


def _poll_now(client: ScenarioClient, ex: Exchange) -> Exchange:
    ex.timeline.append(_polled(0.0, client.poll(ex.provider, ex.job_id or "")))
    ex.deliveries = client.deliveries(ex.provider, ex.job_id or "")
    return ex
