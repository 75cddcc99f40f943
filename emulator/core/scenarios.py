"""Scenarios: named, documented behaviours a request can be made to take — a job outcome, an
immediate error answer, a transport fault or a webhook fault. One catalogue, three ways to
choose from it, all equivalent:

* the header ``X-Emulator-Scenario: name[,name...]``;
* a magic token ``emulator_scenario=NAME`` anywhere in the request (a media URL's query
  string, a prompt...), so an unmodified SDK that cannot set headers can still choose;
* a control-plane rule (``POST /_emulator/scenarios``) matching provider, operation, and
  optionally a job id or API key, for the next ``count`` requests or until deleted.

    >>> cat = ScenarioCatalog()
    >>> cat.add(Scenario("failed", "syncso", ("createGeneration",), "job fails", "documented", "outcome"))
    >>> book = ScenarioBook(cat)
    >>> [s.name for s in book.select("syncso", "createGeneration", header="failed")]
    ['failed']
    >>> [s.name for s in book.select("syncso", "createGeneration", texts=["https://x/v.mp4?emulator_scenario=failed"])]
    ['failed']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.core.errors import EmulatorError
from emulator.core.jobs import Outcome

MAGIC = re.compile(r"emulator[_-]scenario[=:/]([A-Za-z0-9_.-]+)")
HEADER = "X-Emulator-Scenario"


@dataclass(frozen=True)
class Scenario:
    """``kind``: ``outcome`` (how the job ends), ``response`` (an error answer instead of the
    normal one), ``transport`` (latency, reset, truncated body...), ``webhook`` (delivery
    faults). ``evidence``: documented | sdk | 3p | inferred."""

    name: str
    provider: str
    operations: tuple[str, ...]
    summary: str
    evidence: str
    kind: str
    outcome: Outcome | None = None
    error: Callable[[], EmulatorError] | None = None
    effects: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider, "operations": list(self.operations),
                "kind": self.kind, "summary": self.summary, "evidence": self.evidence,
                "magic": f"emulator_scenario={self.name}"}


class UnknownScenario(LookupError):
    pass


class ScenarioCatalog:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Scenario] = {}

    def add(self, scenario: Scenario) -> None:
        self._items[(scenario.provider, scenario.name)] = scenario

    def get(self, provider: str, name: str) -> Scenario | None:
        return self._items.get((provider, name))

    def list(self, provider: str | None = None) -> list[Scenario]:
        return [s for (p, _), s in self._items.items() if provider in (None, p)]


@dataclass
class Rule:
    id: str
    provider: str
    scenarios: tuple[str, ...]
    operation: str | None = None
    job_id: str | None = None
    api_key: str | None = None
    remaining: int | None = None  # None: until deleted

    def matches(self, provider: str, operation: str, job_id: str | None, api_key: str | None) -> bool:
        return (self.provider == provider and self.operation in (None, operation)
                and self.job_id in (None, job_id) and self.api_key in (None, api_key)
                and (self.remaining is None or self.remaining > 0))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "scenarios": list(self.scenarios),
                "operation": self.operation, "job_id": self.job_id, "api_key": self.api_key,
                "remaining": self.remaining}


class ScenarioBook:
    """The active selection state: control-plane rules, plus parsing of headers and magic values."""

    def __init__(self, catalog: ScenarioCatalog) -> None:
        self.catalog = catalog
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._next = 0

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
        """The scenarios that apply to this request, header first, then magic values, then
        rules (a matching rule's count is consumed). Raises ``UnknownScenario`` for a name
        the catalogue does not have, so a typo is reported instead of silently ignored."""
        names: list[str] = []
        if header:
            names += [n.strip() for n in header.split(",") if n.strip()]
        for text in texts:
            names += MAGIC.findall(text)
        with self._lock:
            for rule in self._rules:
                if rule.matches(provider, operation, job_id, api_key):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    names += rule.scenarios
        chosen: list[Scenario] = []
        for name in dict.fromkeys(names):
            scenario = self._lookup(provider, name)
            if not scenario.operations or operation in scenario.operations:
                chosen.append(scenario)
        return chosen

    def _lookup(self, provider: str, name: str) -> Scenario:
        scenario = self.catalog.get(provider, name)
        if scenario is None:
            known = ", ".join(sorted(s.name for s in self.catalog.list(provider))) or "none"
            raise UnknownScenario(f"unknown emulator scenario {name!r} for {provider} (known: {known})")
        return scenario

    def reset(self) -> None:
        self.delete()
