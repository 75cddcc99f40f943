"""One home per cross-field rule: each provider's schema declares its rules' ids and errors
(``x-rules``); the emulator registers one small function per declared id; the contract
strategies break each rule a request body can break, and expect the declared error. These tests
prove the three agree, and that the emulator answers each strategy's example over HTTP with
exactly the declared status and code."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from lipsync_emulator import schemas
from lipsync_emulator.contracts import profiles
from lipsync_emulator.contracts import strategies as st
from lipsync_emulator.contracts.strategies.base import Invalid
from lipsync_emulator.contracts.targets import connect
from lipsync_emulator.core.rules import Rules
from lipsync_emulator.providers.kling import rules as kling_rules
from lipsync_emulator.providers.lipsyncstudio import rules as lipsyncstudio_rules
from lipsync_emulator.providers.syncso import rules as syncso_rules
from lipsync_emulator.providers.wavespeed import rules as wavespeed_rules

REGISTRIES: dict[str, tuple[tuple[Rules, ...], ModuleType]] = {
    "syncso": ((syncso_rules.RULES,), st.syncso),
    "wavespeed": ((wavespeed_rules.RULES,), st.wavespeed),
    "lipsyncstudio": ((lipsyncstudio_rules.RULES,), st.lipsyncstudio),
    "kling": ((kling_rules.IDENTIFY, kling_rules.FACES, kling_rules.CREATE), st.kling),
}
# Declared rules no request body breaks on its own, and why.
STATEFUL: dict[str, set[str]] = {
    "kling": {"kling.C11",  # a session's age: the virtual clock must pass 24 h
              "kling.C16",  # a TTS audio_id: unknown ids are accepted unless the settings say otherwise
              "kling.C31"},  # an external_task_id another task already holds
}
# The settings under which every rule of a provider is a rule (the defaults leave some off).
CONFIG: dict[str, dict[str, Any]] = {
    "syncso": {"segment_overlap": "reject", "zero_length_segments": "reject", "duplicate_ref_ids": "reject"},
}
EXAMPLES = settings(max_examples=4, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_every_declared_rule_has_one_function_and_one_strategy(name: str) -> None:
    registries, strategies = REGISTRIES[name]
    declared = list(schemas.rules(name))
    registered = [rule for registry in registries for rule in registry.ids]
    assert sorted(registered) == sorted(declared)  # Rules refuses an id twice or undeclared
    assert set(strategies.RULES) <= set(declared)
    assert set(declared) - set(strategies.RULES) == STATEFUL.get(name, set())


def test_the_registry_refuses_an_undeclared_or_repeated_rule() -> None:
    registry = Rules(schemas.rules("syncso"))
    registry("crop_pair")(lambda ctx: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry("crop_pair")
    with pytest.raises(KeyError, match="not declared"):
        registry("no_such_rule")


def _cases() -> list[tuple[str, str]]:
    return [(name, rule) for name, (_, strategies) in sorted(REGISTRIES.items()) for rule in strategies.RULES]


@pytest.mark.parametrize(("name", "rule"), _cases())
def test_each_strategy_example_gets_its_declared_error_over_http(make_emulator: Any, name: str, rule: str) -> None:
    fact = schemas.rules(name)[rule]
    strategies = REGISTRIES[name][1]
    profile = profiles.get(name)
    emulator = make_emulator({name: CONFIG.get(name, {})})
    target, headers = connect(emulator), profile.headers()
    config = {"config": strategies.Config(**CONFIG[name])} if name in CONFIG else {}

    @EXAMPLES
    @given(strategies.invalid_requests(rule, **config))
    def rejected(bad: Invalid) -> None:
        got = profile.error(profile.deliver(target, bad.operation, bad.request, headers))
        assert (got.status, got.code) == (fact.status, fact.code), (bad, got)
        assert (bad.expected.status, bad.expected.code) == (fact.status, fact.code)
        assert fact.message in got.message and bad.expected.message in got.message, (bad, got)

    rejected()
