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
"""

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
           "SelfContract", "scenario_names"]
