"""The client contract suite against realistic buggy clients (``tests/contracts/mutants``): each
is a correct example client with one bug teams ship. Run the way the docs tell a user (the
plugin's ``client_contract`` fixture, ``run(provider, Adapter)``; Kling on an emulator with a
webhook secret and tokens judged on the emulator's clock), the suite fails at least 95 % of
them; each new scenario fails the client with the bug it is for, and its report names it."""

from __future__ import annotations

from typing import Any

import pytest
from lipsync_emulator.contracts.pytest_plugin import PytestClientContract
from lipsync_emulator.contracts.suites.client import ClientContract

from tests.contracts.mutants import CORRECT, MUTANTS, mutant

KLING = {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "jwt_clock": "emulator"}}

# (provider, bug, the scenario that must catch it, words its report must contain)
NAMED = [
    ("syncso", "no_idempotency_key", "lost_answer_submit", "does not create a second job"),
    ("syncso", "new_key_per_attempt", "lost_answer_submit", "2 jobs were created"),
    ("wavespeed", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("kling", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("lipsyncstudio", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("syncso", "skips_timestamp_check", "webhook_replayed", "check the timestamp, not only the signature"),
    ("wavespeed", "skips_timestamp_check", "webhook_replayed", "(a replay) is rejected"),
    ("kling", "skips_timestamp_check", "webhook_replayed", "(a replay) is rejected"),
    ("lipsyncstudio", "trusts_webhook_body", "webhook_forged", "confirm the outcome with the API"),
    ("syncso", "trusts_unsigned", "webhook_forged", "check its signature"),
    ("lipsyncstudio", "resubmits_without_webhook", "webhook_http", "not sent again without it"),
    ("wavespeed", "no_pause_after_429", "rate_limited_poll", "429 without Retry-After is retried after a backoff"),
    ("kling", "no_pause_after_429", "rate_limited_submit", "429 without Retry-After is retried after a backoff"),
    ("wavespeed", "only_failed_is_terminal", "job_other_failures", "after it had ended cancelled"),
    ("syncso", "rejected_not_terminal", "job_rejected", "after it had ended REJECTED"),
    ("syncso", "json_before_status", "bad_gateway_submit", "not as a JSON decoding error"),
    ("lipsyncstudio", "json_before_status", "bad_gateway_poll", "HTML 502 while polling does not end the wait"),
    ("wavespeed", "gives_up_on_502", "bad_gateway_poll", "raised RuntimeError: bad gateway: 502"),
    ("kling", "never_refreshes_token", "token_expiry", "the client signs a new JWT before exp"),
]


@pytest.fixture
def suite_for(client_contract: PytestClientContract, make_emulator: Any) -> Any:
    def build(provider: str) -> ClientContract:
        suite = ClientContract(make_emulator(KLING)) if provider == "kling" else client_contract.suite
        suite.examples, suite.shrink_seconds = 3, 0.5  # --contract-examples 3 --contract-shrink-seconds 0.5
        return suite

    return build


def test_there_are_forty_realistic_mutants_across_the_four_providers() -> None:
    assert sum(map(len, MUTANTS.values())) >= 40 and all(len(m) >= 8 for m in MUTANTS.values())


@pytest.mark.parametrize(("provider", "bug", "scenario", "words"), NAMED, ids=[f"{p}-{b}" for p, b, _, _ in NAMED])
def test_each_new_scenario_fails_its_bug_and_names_it(suite_for: Any, provider: str, bug: str, scenario: str,
                                                      words: str) -> None:
    suite = suite_for(provider)
    report = suite.run(provider, mutant(provider, bug), [scenario])
    assert report.violated() == [scenario], report.text()
    assert words in report.text(), report.text()
    assert suite.run(provider, CORRECT[provider], [scenario]).ok  # and the client it derives from passes


def test_the_suite_kills_at_least_95_percent_of_the_mutants(suite_for: Any) -> None:
    survivors, total = [], 0
    for provider, bugs in MUTANTS.items():
        suite = suite_for(provider)
        assert suite.run(provider, CORRECT[provider]).ok
        for bug in bugs:
            total += 1
            if suite.run(provider, mutant(provider, bug)).ok:
                survivors.append(f"{provider}.{bug}")
    assert len(survivors) <= total * 0.05, f"{len(survivors)} of {total} survived: {survivors}"
