"""The client contract suite (issue 6 §3–4): the correct example client of each provider passes
every scenario; each integration bug of the naive example client is caught by the scenario
meant for it; a violation reports the scenario, the broken expectation and the minimal example."""

from __future__ import annotations

from typing import Any

import pytest
from lipsync_emulator.contracts import ContractViolation, scenario_names
from lipsync_emulator.contracts.pytest_plugin import PytestClientContract
from lipsync_emulator.contracts.suites.client import ClientContract
from lipsync_emulator.examples import (
    kling_client,
    kling_naive,
    lipsyncstudio_client,
    lipsyncstudio_naive,
    syncso_client,
    syncso_naive,
    wavespeed_client,
    wavespeed_naive,
)

CORRECT = {"syncso": syncso_client.make_adapter, "wavespeed": wavespeed_client.make_adapter,
           "lipsyncstudio": lipsyncstudio_client.make_adapter, "kling": kling_client.make_adapter}
NAIVE = {"syncso": syncso_naive, "wavespeed": wavespeed_naive, "lipsyncstudio": lipsyncstudio_naive,
         "kling": kling_naive}
# Kling signs callbacks only when a secret is configured [doc: S5]: its suites run on an
# emulator that has one, so the signature scenarios apply.
# Its tokens are judged on the emulator's clock, the one the suite gives clients (env.now).
SETTINGS = {"kling": {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=",
                                "jwt_clock": "emulator"}}}
# scenarios that do not apply to a provider (no such state, no signature, no expiring token...)
NOT_FOR = {"syncso": {"job_other_failures", "token_expiry", "webhook_http"},
           "wavespeed": {"token_expiry", "webhook_http"},
           "lipsyncstudio": {"job_rejected", "job_other_failures", "token_expiry", "webhook_bad_signature",
                             "webhook_missing_signature", "webhook_replayed"},
           "kling": {"job_other_failures", "webhook_http"}}

# bug -> the scenarios that must catch it (and only those: the bug-free client passes them all)
CATCHES = {
    "syncso": {
        "crop_without_pair": {"valid_requests"},
        "swallows_errors": {"validation_errors"},
        "drops_provider_message": {"validation_errors"},
        "retries_4xx": {"validation_errors"},
        "ignores_failed_status": {"job_failed", "job_rejected"},
        "polls_forever": {"timeout"},
        "no_poll_interval": {"success", "timeout"},
        "no_retry_after": {"rate_limited_submit", "rate_limited_poll"},
        "gives_up_on_5xx": {"unavailable_submit", "server_error_poll"},
        "skips_signature_check": {"webhook_bad_signature", "webhook_missing_signature"},
        "duplicates_as_new": {"webhook_duplicate"},
        "matches_latest_job": {"webhook_out_of_order"},
        "rejects_known_outcomes": {"webhook_late"},
    },
    "wavespeed": {
        "wraps_input": {"success", "valid_requests"},
        "trusts_http_200": {"job_failed", "job_rejected"},
        "polls_forever": {"timeout"},
        "first_read_is_final": {"success", "timeout"},
        "gives_up_on_5xx": {"unavailable_submit", "server_error_poll"},
        "base64_secret": {"webhook_valid", "webhook_duplicate"},
        "duplicates_as_new": {"webhook_duplicate"},
    },
    "lipsyncstudio": {
        "reads_request_id": {"success", "webhook_valid"},
        "drops_optional_fields": {"valid_requests"},
        "ignores_failed_status": {"job_failed"},
        "polls_forever": {"timeout"},
        "no_retry_after": {"rate_limited_submit", "rate_limited_poll"},
        "gives_up_on_5xx": {"unavailable_submit", "server_error_poll"},
        "duplicates_as_new": {"webhook_duplicate"},
        "matches_latest_job": {"webhook_out_of_order"},
    },
    "kling": {
        "times_in_seconds": {"success", "valid_requests"},
        "integer_volumes": {"valid_requests"},
        "ignores_failed_status": {"job_failed", "job_rejected"},
        "polls_forever": {"timeout"},
        "gives_up_on_5xx": {"unavailable_submit", "server_error_poll"},
        "skips_signature_check": {"webhook_bad_signature", "webhook_missing_signature"},
        "any_callback_is_the_outcome": {"webhook_out_of_order"},
        "duplicates_as_new": {"webhook_duplicate"},
    },
}
BUG_CASES = [(provider, bug) for provider, bugs in CATCHES.items() for bug in bugs]


@pytest.fixture
def contract_for(client_contract: PytestClientContract, make_emulator: Any, contract_receiver: Any) -> Any:
    """The suite for a provider: the shared emulator, or one with the provider's SETTINGS.
    Fewer generated requests and a short shrink budget: these tests prove detection."""

    def build(provider: str, fast: bool = True) -> Any:
        suite = client_contract.suite
        if provider in SETTINGS:
            suite = ClientContract(make_emulator(SETTINGS[provider]), contract_receiver)
        if fast:
            suite.examples, suite.shrink_seconds = 4, 1.0
        return PytestClientContract(suite)

    return build


@pytest.fixture
def fast_contract(contract_for: Any) -> PytestClientContract:
    return contract_for("syncso")


@pytest.mark.contract("syncso")
@pytest.mark.parametrize("scenario", scenario_names())
def test_correct_syncso_client_passes(client_contract: PytestClientContract, scenario: str) -> None:
    client_contract.check("syncso", CORRECT["syncso"], scenario)


@pytest.mark.parametrize("provider", [p for p in CORRECT if p != "syncso"])
def test_correct_client_passes_the_whole_suite(contract_for: Any, provider: str) -> None:
    report = contract_for(provider, fast=False).run(provider, CORRECT[provider])
    report.assert_ok()
    assert {r.name for r in report.results if r.skipped} == NOT_FOR[provider], report.text()


def test_every_naive_bug_has_a_catching_scenario() -> None:
    for provider, module in NAIVE.items():
        assert set(CATCHES[provider]) == set(module.BUGS)
        assert set().union(*CATCHES[provider].values()) <= set(scenario_names())


@pytest.mark.parametrize(("provider", "bug"), BUG_CASES, ids=[f"{p}-{b}" for p, b in BUG_CASES])
def test_the_suite_catches_each_naive_bug(contract_for: Any, provider: str, bug: str) -> None:
    expected = CATCHES[provider][bug]
    report = contract_for(provider).run(provider, NAIVE[provider].make_adapter_with({bug}), sorted(expected))
    assert set(report.violated()) == expected, report.text()


def test_a_violation_names_scenario_expectation_and_minimal_example(fast_contract: PytestClientContract) -> None:
    with pytest.raises(ContractViolation) as failure:
        fast_contract.check("syncso", syncso_naive.make_adapter_with({"crop_without_pair"}), "valid_requests")
    text = str(failure.value)
    assert "VIOLATED valid_requests: generated valid requests are sent unchanged and accepted" in text
    assert "expectation: every valid request is sent as valid and accepted" in text
    assert "audioInput.endTime" in text and "minimal example: {'model': 'lipsync-2'" in text
    example = text.split("minimal example: ", 1)[1]
    assert example.count("'startTime'") <= 3, "the example is shrunk to one cropped segment"


def test_the_kling_client_signs_a_new_token_when_the_server_finds_its_token_expired(make_emulator: Any) -> None:
    """Another party moves the emulator's clock past the token between the client's look at
    the clock and its request (two suites on one serve): the 401 1004 makes it sign a new
    token on the clock as it now reads, and retry."""
    server = make_emulator({"clock": "virtual", "kling": {"jwt_clock": "emulator"}})
    cfg = server.app.extensions["lipsync_emulator"].cfg("kling")
    before = server.control.now()
    looks = [before, before]  # signing the first token, then the look just before the request
    client = kling_client.KlingClient(server.url, "", access_key=cfg["access_key"], secret_key=cfg["secret_key"],
                                      clock=lambda: looks.pop(0) if looks else server.control.now(), sleep=lambda s: None)
    first = client.bearer()
    server.advance(1900)  # past the 30-minute token's exp
    assert client.identify_face("https://cdn.example.com/talk.mp4?duration=12")["session_id"]
    assert client.token != first
