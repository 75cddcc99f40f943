"""Contract testing for code that calls lip-sync providers, built on the providers' OpenAPI
files and their HTTP surface only (never on the emulator's internals), so the same suites
run against the emulator in-process, on a port, or against the real provider.

* ``contracts.strategies`` — Hypothesis strategies: valid requests per provider, and invalid
  ones that break exactly one named rule and carry the provider's error.
* ``contracts.suites.conformance`` / ``lifecycle`` / ``fuzz`` — the emulator's self-contract.
* ``contracts.suites.client`` — the client contract suite: plug a client in through a small
  adapter and prove it builds valid requests, surfaces errors, survives every async path and
  handles webhooks safely.
* ``contracts.pytest_plugin`` — fixtures and markers (registered through ``pytest11``).

    from lipsync_emulator.contracts import ClientContract, scenario_names

A provider's profile and strategies are found by its name (``profiles/<name>.py``,
``strategies/<name>.py``); ``register(profile, strategies)`` adds one kept elsewhere.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipsync_emulator.contracts.profiles import Profile
    from lipsync_emulator.contracts.suites.client import (
        ClientAdapter,
        ClientContract,
        ContractEnv,
        ContractViolation,
        PollBudgetExceeded,
        Report,
        scenario_names,
    )
    from lipsync_emulator.contracts.suites.conformance import SelfContract

__all__ = ["ClientAdapter", "ClientContract", "ContractEnv", "ContractViolation", "PollBudgetExceeded", "Report",
           "SelfContract", "register", "scenario_names"]


def register(profile: Profile, strategies_module: ModuleType) -> None:
    """Make a provider kept outside this package known to the suites: its ``Profile`` (how to
    call it, its lifecycle, webhook and errors) and its strategies module (``create_requests``,
    ``minimal_request``, ``rule_ids``, ``invalid_requests``). See docs/adding-a-provider.md."""
    from lipsync_emulator.contracts import profiles, strategies

    profiles.register(profile)
    strategies.register(profile.name, strategies_module)


def __getattr__(name: str) -> Any:
    # Imported on first use: the pytest plugin imports this package in every pytest session of
    # the environment, and the suites bring Hypothesis and openapi-core, which are slow to import.
    if name == "SelfContract":
        from lipsync_emulator.contracts.suites.conformance import SelfContract

        return SelfContract
    if name in __all__ and name != "register":
        from lipsync_emulator.contracts.suites import client

        return getattr(client, name)
    raise AttributeError(f"module 'lipsync_emulator.contracts' has no attribute {name!r}")
