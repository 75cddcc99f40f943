"""Cross-field rules as a registry of small named functions, one per rule id.

A provider declares each rule's error once, in its schema's ``x-rules`` (``schemas.rules``), so
the contract strategies that break a rule expect exactly the error the emulator raises for it.
A rule function only finds what is wrong (a ``Broken``, or ``None``); the registry runs the
rules in the order they were registered and raises the first one's error, built from the
rule's declared status and code (or by the provider's own ``error``, where its codes decide
the status).

    >>> from lipsync_emulator.schemas import Rule
    >>> rules = Rules({"positive": Rule("positive", 400, "bad_number")})
    >>> @rules("positive")
    ... def positive(body: dict) -> Broken | None:
    ...     return None if body["n"] > 0 else Broken(f"n must be positive (got {body['n']})", "n")
    >>> rules.first({"n": -1}).code
    'bad_number'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lipsync_emulator.core.errors import EmulatorError, error_for_status
from lipsync_emulator.schemas import Rule


@dataclass(frozen=True)
class Broken:
    """What a rule found wrong: the message and the offending field (dotted path)."""

    message: str
    field: str | None = None


Check = Callable[..., Broken | None]
F = TypeVar("F", bound=Check)
Each = Callable[[Any], Iterable[Any]]


def status_error(rule: Rule, broken: Broken) -> EmulatorError:
    """The error of the rule's declared status, carrying its code, the field and the rule id."""
    return error_for_status(rule.status, broken.message, code=rule.code, field=broken.field, rule=rule.id)


class Rules:
    """An ordered registry of rule functions, each registered under a declared rule id.

    ``@rules("id")`` registers ``fn(ctx)``; ``@rules("id", each=items)`` registers
    ``fn(ctx, item)`` for every ``item`` of ``items(ctx)``. Consecutive rules with the same
    ``each`` are checked item by item (all of them on the first segment, then on the second):
    a request is read in that order, so the first error is the one a reader meets first."""

    def __init__(self, facts: Mapping[str, Rule],
                 error: Callable[[Rule, Broken], EmulatorError] = status_error) -> None:
        self.facts = dict(facts)
        self._error = error
        self._steps: list[tuple[Each | None, list[tuple[Rule, Check]]]] = []

    def __call__(self, rule_id: str, *, each: Each | None = None) -> Callable[[F], F]:
        if rule_id not in self.facts:
            raise KeyError(f"rule {rule_id!r} is not declared in the schema's x-rules")
        if rule_id in self.ids:
            raise ValueError(f"rule {rule_id!r} is registered twice")

        def register(fn: F) -> F:
            if not self._steps or self._steps[-1][0] is not each:
                self._steps.append((each, []))
            self._steps[-1][1].append((self.facts[rule_id], fn))
            return fn

        return register

    @property
    def ids(self) -> tuple[str, ...]:
        """The registered rule ids, in the order they are checked."""
        return tuple(rule.id for _, group in self._steps for rule, _ in group)

    def first(self, ctx: Any) -> EmulatorError | None:
        """The error of the first rule ``ctx`` breaks, or ``None``."""
        for each, group in self._steps:
            for item in each(ctx) if each is not None else (None,):
                for rule, check in group:
                    broken = check(ctx) if each is None else check(ctx, item)
                    if broken is not None:
                        return self._error(rule, broken)
        return None

    def check(self, ctx: Any) -> None:
        """Raise the error of the first rule ``ctx`` breaks."""
        error = self.first(ctx)
        if error is not None:
            raise error
