"""Every mutant and every correct client it derives from through the client contract, the way
README.md tells a user: a test file calling ``client_contract.run(provider, Adapter).assert_ok()``,
run with plain ``pytest`` (default options, the plugin's emulator; Kling with a webhook secret
and its tokens judged on the emulator's clock, through the ``emulator_config`` marker). Not
collected here: tests/contracts/test_mutants.py copies it into a fresh directory and runs it
in pytest subprocesses."""

import pytest

from tests.contracts.mutants import CORRECT, MUTANTS, mutant

KLING = {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "jwt_clock": "emulator"}}
CLIENTS = [pytest.param(provider, bug, id=f"{provider}-{bug or 'correct'}",
                        marks=[pytest.mark.emulator_config(KLING)] if provider == "kling" else [])
           for provider in CORRECT for bug in [None, *MUTANTS[provider]]]


@pytest.mark.parametrize(("provider", "bug"), CLIENTS)
def test_client(client_contract, provider, bug):
    client_contract.run(provider, CORRECT[provider] if bug is None else mutant(provider, bug)).assert_ok()
