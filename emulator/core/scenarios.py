"""Scenarios: named, documented behaviours a request can be made to take — a job outcome, an
immediate error answer, a transport fault or a webhook fault. One catalogue, three ways to
choose from it, all equivalent:

* the header ``X-Emulator-Scenario: name[,name...]``;
* a magic token ``emulator_scenario=NAME`` anywhere in the request (a media URL's query
  string, a prompt...), so an unmodified SDK that cannot set headers can still choose;
* a control-plane rule (``POST /_emulator/scenarios``) matching provider, operation, and
  optionally a job id or API key, for the next ``count`` requests or until deleted.

A fourth, ``chaos``, picks scenarios at random for soak runs, deterministically for a seed.

    >>> cat = ScenarioCatalog()
    >>> cat.add(Scenario("failed", "syncso", ("createGeneration",), "job fails", "documented", "outcome"))
    >>> book = ScenarioBook(cat)
    >>> [s.name for s in book.select("syncso", "createGeneration", header="failed")]
    ['failed']
    >>> [s.name for s in book.select("syncso", "createGeneration", texts=["https://x/v.mp4?emulator_scenario=failed"])]
    ['failed']

Each scenario can carry an ``Expect``: what its effect looks like on the wire (status, body
fields, headers, the job's state over virtual time, the webhooks sent). The catalogue test and
``lipsync-emulator demo`` read it; a provider fills it in next to the scenario. A ``Probe``
tells the same tooling how to make a valid request to one of a provider's operations, so
any scenario of any provider can be triggered without provider-specific test code.
"""

from __future__ import annotations

import builtins
import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.jobs import Outcome

# A name is [A-Za-z0-9_-]+: no dot, so the token also works inside a file name
# ("clip.emulator_scenario=failed.mp4") or a URL path (".../emulator_scenario=failed/v.mp4").
MAGIC = re.compile(r"emulator[_-]scenario[=:/]([A-Za-z0-9_-]+)")
HEADER = "X-Emulator-Scenario"
KINDS = ("outcome", "response", "transport", "webhook")
EVIDENCE = ("documented", "sdk", "3p", "inferred", "generic")  # generic: a network/delivery fault
WEBHOOK_OPERATION = "webhook"  # the pseudo-operation a rule matches when a webhook is sent
ANY = ...  # in an ``Expect`` mapping: the field is present, any value


@dataclass(frozen=True)
class Expect:
    """A scenario's effect on the wire, declared next to it and checked by the catalogue test.

    ``status``/``body``/``headers``: the answer to the request that chose the scenario
    (``body`` maps dotted paths such as ``data.code`` or ``errors.0.msg`` to values; ``ANY``
    means present). ``job``: checkpoints ``(seconds after submit, dotted subset of the polled
    job)`` on the virtual clock. ``webhooks``: the webhook bodies (dotted subsets) the job
    sends, in order; ``()`` means none, ``None`` means not checked."""

    status: int | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    job: tuple[tuple[float, Mapping[str, Any]], ...] = ()
    webhooks: tuple[Mapping[str, Any], ...] | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.status is not None:
            out["status"] = self.status
        if self.body:
            out["body"] = _plain(self.body)
        if self.headers:
            out["headers"] = _plain(self.headers)
        if self.job:
            out["job"] = [{"after": t, **_plain(subset)} for t, subset in self.job]
        if self.webhooks is not None:
            out["webhooks"] = [_plain(w) for w in self.webhooks]
        return out


def _plain(value: Any) -> Any:
    """JSON-ready: ``ANY`` becomes the text ``<any>``."""
    if value is ANY:
        return "<any>"
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Scenario:
    """``kind``: ``outcome`` (how the job ends), ``response`` (an error answer instead of the
    normal one), ``transport`` (latency, reset, truncated body...), ``webhook`` (delivery
    faults). ``evidence``: documented | sdk | 3p | inferred | generic (a
    fault of the network or of delivery, the same for every provider). ``operations``: the operationIds
    it applies to (empty: every operation). ``effects``: for transport scenarios the fault
    (see ``emulator.core.faults``), for webhook scenarios the dispatcher faults (``drop``,
    ``delay``, ``duplicate``, ``bad_signature``, ``out_of_order``). ``expect``: see ``Expect``."""

    name: str
    provider: str
    operations: tuple[str, ...]
    summary: str
    evidence: str
    kind: str
    outcome: Outcome | None = None
    error: Callable[[], EmulatorError] | None = None
    effects: dict[str, Any] = field(default_factory=dict)
    expect: Expect | None = None

    def applies_to(self, operation: str) -> bool:
        return not self.operations or operation in self.operations

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "provider": self.provider, "operations": list(self.operations),
                               "kind": self.kind, "summary": self.summary, "evidence": self.evidence,
                               "magic": f"emulator_scenario={self.name}"}
        if self.expect is not None:
            out["expect"] = self.expect.describe()
        return out


class UnknownScenario(LookupError):
    pass


# -- probes: how the tooling reaches an operation ---------------------------------------------

@dataclass(frozen=True)
class ProbeContext:
    """What a probe's ``build`` gets: the provider's effective settings, the magic token to
    embed (empty unless the tooling chooses by magic value), a webhook URL to ask for (or
    ``None``), and the job id for operations on an existing job."""

    cfg: Mapping[str, Any]
    magic: str = ""
    webhook_url: str | None = None
    job_id: str | None = None

    def media(self, url: str) -> str:
        """``url`` with the magic token added to its query string: where an unmodified SDK
        would carry it (a media URL is opaque to every client)."""
        if not self.magic:
            return url
        parts = urlsplit(url)
        query = f"{parts.query}&{self.magic}" if parts.query else self.magic
        return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True)
class Probe:
    """A valid request to one operation. ``build(ctx)`` returns ``requests.request`` keyword
    arguments plus ``method`` and ``path`` (``headers``, ``json``, ``params``, ``data``,
    ``files``). A submit probe has ``job_id`` (the job id from the JSON answer) and ``poll``
    (the operationId of the probe that reads the job, built with ``ctx.job_id``)."""

    provider: str
    operation: str
    build: Callable[[ProbeContext], dict[str, Any]]
    job_id: Callable[[Any], str] | None = None
    poll: str | None = None


class ScenarioCatalog:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Scenario] = {}
        self._probes: dict[tuple[str, str], Probe] = {}

    def add(self, scenario: Scenario) -> None:
        """Register ``scenario``; a provider may replace a generic scenario of the same name."""
        if scenario.kind not in KINDS:
            raise ValueError(f"scenario {scenario.name!r}: kind must be one of {KINDS}")
        if scenario.evidence not in EVIDENCE:
            raise ValueError(f"scenario {scenario.name!r}: evidence must be one of {EVIDENCE}")
        if not MAGIC.fullmatch(f"emulator_scenario={scenario.name}"):
            raise ValueError(f"scenario name {scenario.name!r} must match [A-Za-z0-9_-]+")
        self._items[(scenario.provider, scenario.name)] = scenario

    def get(self, provider: str, name: str) -> Scenario | None:
        return self._items.get((provider, name))

    def remove(self, provider: str, name: str) -> None:
        """Drop a scenario, e.g. a generic one that means nothing for this provider
        (``webhook_bad_signature`` when its webhooks are unsigned)."""
        self._items.pop((provider, name), None)

    def list(self, provider: str | None = None) -> list[Scenario]:
        return [s for (p, _), s in self._items.items() if provider in (None, p)]

    def providers(self) -> builtins.list[str]:
        return builtins.list(dict.fromkeys(p for p, _ in self._items))

    def add_probe(self, probe: Probe) -> None:
        self._probes[(probe.provider, probe.operation)] = probe

    def register(self, scenarios: Iterable[Scenario], probes: Iterable[Probe]) -> None:
        """A provider's whole declaration: its scenarios and a probe per operation."""
        for scenario in scenarios:
            self.add(scenario)
        for probe in probes:
            self.add_probe(probe)

    def probe(self, provider: str, operation: str | None = None) -> Probe | None:
        """The probe of ``operation``, or the provider's first submit probe."""
        if operation is not None:
            return self._probes.get((provider, operation))
        probes = [p for (name, _), p in self._probes.items() if name == provider]
        return next((p for p in probes if p.job_id is not None), probes[0] if probes else None)

    def submit_operations(self, provider: str) -> set[str]:
        """The operations whose probe creates a job (empty if the provider has no probes)."""
        return {p.operation for (name, _), p in self._probes.items() if name == provider and p.job_id is not None}

    def probe_for(self, scenario: Scenario) -> Probe | None:
        """The probe the tooling uses to trigger ``scenario``: its first operation that has a
        probe; for scenarios of every operation, the provider's first submit probe."""
        if not scenario.operations:
            return self.probe(scenario.provider)
        for operation in scenario.operations:
            if (probe := self.probe(scenario.provider, operation)) is not None:
                return probe
        return None


# -- selection ---------------------------------------------------------------------------------

@dataclass
class Rule:
    id: str
    provider: str
    scenarios: tuple[str, ...]
    operation: str | None = None
    job_id: str | None = None
    api_key: str | None = None
    remaining: int | None = None  # None: until deleted
    matched: int = 0

    def matches(self, provider: str, operation: str, job_id: str | None, api_key: str | None) -> bool:
        return (self.provider == provider and self.operation in (None, operation)
                and self.job_id in (None, job_id) and self.api_key in (None, api_key)
                and (self.remaining is None or self.remaining > 0))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "scenarios": list(self.scenarios),
                "operation": self.operation, "job_id": self.job_id, "api_key": self.api_key,
                "remaining": self.remaining, "matched": self.matched}


@dataclass(frozen=True)
class Chaos:
    """Seeded random scenarios for soak runs: each request of a provider takes, with
    probability ``rate``, one scenario drawn from those that apply to its operation (of the
    ``kinds`` listed, minus ``exclude``). The draw for the n-th request of an operation depends
    only on (seed, provider, operation, n), so a run is reproducible per operation whatever
    the interleaving of operations.

        >>> Chaos.parse("seed=7,rate=0.25,kinds=response+transport").kinds
        ('response', 'transport')
    """

    seed: int = 0
    rate: float = 0.1
    kinds: tuple[str, ...] = ("response", "transport", "outcome", "webhook")
    exclude: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()  # empty: every provider

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | None) -> Chaos | None:
        """From ``"seed=1,rate=0.1[,kinds=a+b][,exclude=x+y][,providers=p+q]"`` or a dict."""
        if spec in (None, "", False):
            return None
        if isinstance(spec, str):
            items: dict[str, Any] = {}
            for part in spec.split(","):
                key, sep, value = part.partition("=")
                if not sep:
                    raise ValueError(f"chaos expects key=value pairs (seed=..,rate=..), got {part!r}")
                items[key.strip()] = value.strip()
            spec = items
        if not isinstance(spec, Mapping):
            raise ValueError("chaos must be a 'seed=..,rate=..' string or an object")
        unknown = set(spec) - {"seed", "rate", "kinds", "exclude", "providers"}
        if unknown:
            raise ValueError(f"unknown chaos setting(s): {', '.join(sorted(unknown))}")

        def names(value: Any) -> tuple[str, ...]:
            if isinstance(value, str):
                return tuple(v for v in re.split(r"[+ ]", value) if v)
            return tuple(value or ())

        try:
            chaos = cls(seed=int(spec.get("seed", 0)), rate=float(spec.get("rate", 0.1)),
                        kinds=names(spec.get("kinds")) or cls.kinds, exclude=names(spec.get("exclude")),
                        providers=names(spec.get("providers")))
        except (TypeError, ValueError):
            raise ValueError("chaos seed must be an integer and rate a number") from None
        if not 0 <= chaos.rate <= 1:
            raise ValueError("chaos rate must be between 0 and 1")
        if bad := set(chaos.kinds) - set(KINDS):
            raise ValueError(f"chaos kinds must be among {KINDS}, not {sorted(bad)}")
        return chaos

    def describe(self) -> dict[str, Any]:
        return {"seed": self.seed, "rate": self.rate, "kinds": list(self.kinds), "exclude": list(self.exclude),
                "providers": list(self.providers)}


@dataclass
class Selection:
    """The scenarios one request took, and how each was chosen (header, magic, rule, chaos)."""

    scenarios: list[Scenario] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)


class ScenarioBook:
    """The active selection state: control-plane rules, chaos, plus parsing of headers and
    magic values."""

    def __init__(self, catalog: ScenarioCatalog, chaos: Chaos | None = None) -> None:
        self.catalog = catalog
        self.chaos = chaos
        self._configured_chaos = chaos  # what a reset returns to
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._next = 0
        self._draws: dict[tuple[str, str], int] = {}

    def add_rule(self, provider: str, scenarios: Iterable[str], *, operation: str | None = None,
                 job_id: str | None = None, api_key: str | None = None, count: int | None = None) -> Rule:
        names = tuple(scenarios)
        for name in names:
            self._lookup(provider, name)
        with self._lock:
            self._next += 1
            rule = Rule(f"rule_{self._next}", provider, names, operation, job_id, api_key, count)
            self._rules.append(rule)
        return rule

    def rules(self) -> list[Rule]:
        with self._lock:
            return [r for r in self._rules if r.remaining is None or r.remaining > 0]

    def delete(self, rule_id: str | None = None) -> int:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if rule_id is not None and r.id != rule_id]
            return before - len(self._rules)

    def select(self, provider: str, operation: str, *, header: str | None = None,
               texts: Iterable[str] = (), job_id: str | None = None, api_key: str | None = None) -> list[Scenario]:
        """The scenarios that apply to this request (see ``choose``)."""
        return self.choose(provider, operation, header=header, texts=texts, job_id=job_id,
                           api_key=api_key).scenarios

    def choose(self, provider: str, operation: str, *, header: str | None = None,
               texts: Iterable[str] = (), job_id: str | None = None, api_key: str | None = None) -> Selection:
        """The scenarios that apply to this request: header first, then magic values, then
        rules (a matching rule's count is consumed), then — only if nothing was chosen — chaos.
        Raises ``UnknownScenario`` for a name the catalogue does not have, so a typo is
        reported instead of silently ignored. A name that does not apply to ``operation`` is
        ignored (a header can be set on every request of a session)."""
        picked: list[tuple[str, str]] = []
        if header:
            picked += [(n.strip(), "header") for n in header.split(",") if n.strip()]
        for text in texts:
            picked += [(n, "magic") for n in MAGIC.findall(text)]
        for name, _ in picked:
            self._lookup(provider, name)
        with self._lock:
            for rule in self._rules:
                if rule.matches(provider, operation, job_id, api_key) and self._request_time(rule, operation):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.matched += 1
                    picked += [(n, "rule") for n in rule.scenarios]
        selection = Selection()
        for name, source in picked:
            scenario = self._lookup(provider, name)
            if scenario.applies_to(operation) and name not in selection.sources:
                selection.scenarios.append(scenario)
                selection.sources[name] = source
        if not selection.scenarios and (drawn := self._draw(provider, operation)) is not None:
            selection.scenarios.append(drawn)
            selection.sources[drawn.name] = "chaos"
        return selection

    def webhook_scenarios(self, provider: str, names: Iterable[str] = (), *, job_id: str | None = None,
                          api_key: str | None = None) -> list[Scenario]:
        """The webhook scenarios for one delivery: those among ``names`` (chosen when the job
        was submitted) plus control-plane rules matched now, at send time — a rule naming
        only webhook scenarios and no operation (or operation ``webhook``) is matched here,
        e.g. ``{"scenario": "webhook_drop", "count": 2}`` = the next two webhooks are dropped,
        ``{"scenario": "webhook_duplicate", "job_id": ...}`` = that job's webhooks."""
        chosen = [self.catalog.get(provider, n) for n in names]
        with self._lock:
            for rule in self._rules:
                if (rule.matches(provider, WEBHOOK_OPERATION, job_id, api_key)
                        and rule.operation in (None, WEBHOOK_OPERATION) and self._send_time(rule)):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.matched += 1
                    chosen += [self.catalog.get(provider, n) for n in rule.scenarios]
        out: dict[str, Scenario] = {}
        for scenario in chosen:
            if scenario is not None and scenario.kind == "webhook":
                out.setdefault(scenario.name, scenario)
        return list(out.values())

    def _kinds(self, rule: Rule) -> set[str]:
        return {s.kind for n in rule.scenarios if (s := self.catalog.get(rule.provider, n)) is not None}

    def _request_time(self, rule: Rule, operation: str) -> bool:
        """A rule is matched by a request unless it names only webhook scenarios and no
        operation: then it waits for a webhook to be sent (``webhook_scenarios``)."""
        if rule.operation == WEBHOOK_OPERATION:
            return False
        if rule.operation is None and self._kinds(rule) == {"webhook"}:
            return False
        scenarios = [s for n in rule.scenarios if (s := self.catalog.get(rule.provider, n)) is not None]
        return any(s.applies_to(operation) for s in scenarios)

    def _send_time(self, rule: Rule) -> bool:
        return "webhook" in self._kinds(rule) and (
            rule.operation == WEBHOOK_OPERATION or self._kinds(rule) == {"webhook"})

    def _draw(self, provider: str, operation: str) -> Scenario | None:
        chaos = self.chaos
        if chaos is None or chaos.rate <= 0 or (chaos.providers and provider not in chaos.providers):
            return None
        with self._lock:
            n = self._draws.get((provider, operation), 0)
            self._draws[(provider, operation)] = n + 1
        rng = random.Random(f"{chaos.seed}:{provider}:{operation}:{n}")
        if rng.random() >= chaos.rate:
            return None
        # A webhook fault drawn for a poll would do nothing: draw those for job-creating operations.
        submits = self.catalog.submit_operations(provider)
        candidates = sorted((s for s in self.catalog.list(provider)
                             if s.kind in chaos.kinds and s.name not in chaos.exclude and s.applies_to(operation)
                             and not (s.kind == "webhook" and submits and operation not in submits)),
                            key=lambda s: s.name)
        return rng.choice(candidates) if candidates else None

    def _lookup(self, provider: str, name: str) -> Scenario:
        scenario = self.catalog.get(provider, name)
        if scenario is None:
            known = ", ".join(sorted(s.name for s in self.catalog.list(provider))) or "none"
            raise UnknownScenario(f"unknown emulator scenario {name!r} for {provider} (known: {known})")
        return scenario

    def set_chaos(self, chaos: Chaos | None) -> None:
        with self._lock:
            self.chaos = chaos
            self._draws.clear()

    def reset(self) -> None:
        """Forget the rules; chaos goes back to the configured setting with fresh draws."""
        self.delete()
        self.set_chaos(self._configured_chaos)


# -- checking an expectation ---------------------------------------------------------------------

def dig(doc: Any, path: str) -> Any:
    """The value at a dotted path (``data.task_result.videos.0.url``); ``KeyError`` if absent.

        >>> dig({"data": {"items": [{"id": 7}]}}, "data.items.0.id")
        7
    """
    node = doc
    for part in path.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit():
            try:
                node = node[int(part)]
            except IndexError:
                raise KeyError(path) from None
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def mismatches(doc: Any, subset: Mapping[str, Any]) -> list[str]:
    """Where ``doc`` differs from the dotted ``subset`` (empty when it matches). ``ANY``
    requires presence; ``None`` accepts an absent key too (absent-vs-null is a detail).

        >>> mismatches({"status": "FAILED", "error_code": "x"}, {"status": "FAILED", "error": ANY})
        ['error: absent, expected present']
    """
    problems = []
    for path, want in subset.items():
        try:
            got = dig(doc, path)
        except KeyError:
            if want is not None:
                problems.append(f"{path}: absent, expected {'present' if want is ANY else repr(want)}")
            continue
        if want is not ANY and got != want:
            problems.append(f"{path}: {got!r}, expected {want!r}")
    return problems
