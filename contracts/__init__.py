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

from types import ModuleType

from lipsync_emulator.contracts import profiles, strategies
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


def register(profile: profiles.Profile, strategies_module: ModuleType) -> None:
    """Make a provider kept outside this package known to the suites: its ``Profile`` (how to
    call it, its lifecycle, webhook and errors) and its strategies module (``create_requests``,
    ``minimal_request``, ``rule_ids``, ``invalid_requests``). See docs/adding-a-provider.md."""
    profiles.register(profile)
    strategies.register(profile.name, strategies_module)
