"""The emulator's self-contract (issue 6 §2): every valid generated request is accepted, every
one-rule-broken request is rejected with exactly that rule's error, every response conforms
to the provider's schema — in-process (WSGI) and over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lipsync_emulator.contracts.strategies import ExpectedError, Invalid
from lipsync_emulator.contracts.suites.conformance import SelfContract, properties

PROVIDERS = ["syncso", "wavespeed", "lipsyncstudio", "kling"]


@pytest.fixture(scope="module", params=PROVIDERS)
def contract(request: pytest.FixtureRequest, make_app: Callable[..., Any]) -> SelfContract:
    return SelfContract(request.param, make_app())


def test_valid_requests_are_accepted_and_conform(contract: SelfContract) -> None:
    properties(contract, max_examples=25)["valid"]()


def test_schema_rule_breaks_get_exactly_their_error(contract: SelfContract) -> None:
    properties(contract, max_examples=40)["schema"]()


def test_each_cross_field_rule_gets_exactly_its_error(contract: SelfContract) -> None:
    tests = {name: test for name, test in properties(contract, max_examples=20).items() if name.startswith("rule:")}
    assert tests, "every provider has cross-field rules"
    for test in tests.values():
        test()


def test_reads_conform(contract: SelfContract) -> None:
    assert len(contract.check_reads()) == len(contract.profile.reads)


def test_syncso_rules_under_the_stricter_settings(make_app: Callable[..., Any]) -> None:
    """Rules that exist only when configured (reference §12.7, §12.9): overlap, beyond the
    video, zero-length segments."""
    app = make_app({"syncso": {"segment_overlap": "reject", "zero_length_segments": "reject"}})
    contract = SelfContract("syncso", app)
    props = properties(contract, max_examples=10, rules=("segment_overlap", "segment_beyond_video",
                                                        "zero_length_segment"))
    for name in ("rule:segment_overlap", "rule:segment_beyond_video", "rule:zero_length_segment"):
        props[name]()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_self_contract_over_http(self_contract: Callable[[str], SelfContract], provider: str) -> None:
    """The same checks through the pytest plugin's ``self_contract`` fixture, on a real port."""
    contract = self_contract(provider)
    props = properties(contract, max_examples=6)
    props["valid"]()
    props["schema"]()
    contract.check_reads()
    assert contract.checked >= 12


def test_a_wrong_error_is_reported_with_rule_and_example(make_app: Callable[..., Any]) -> None:
    """The self-contract bites: an emulator answering the wrong code fails with the rule id,
    the expected error and the example."""
    app = make_app()

    def wrong_code(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = b"".join(app(environ, _capture := _Capture(start_response)))
        body = body.replace(b"generation_input_segments_invalid", b"generation_input_validation_failed")
        _capture.headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in _capture.headers]
        start_response(_capture.status, _capture.headers)
        return [body]

    contract = SelfContract("syncso", wrong_code)
    body = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://x/v.mp4"},
                                            {"type": "audio", "url": "https://x/a.wav", "refId": "a"}],
            "segments": [{"startTime": 0, "endTime": 1, "audioInput": {"refId": "a", "startTime": 2}}]}
    bad = Invalid("crop_pair", body, ExpectedError(400, "generation_input_segments_invalid", "segments[0].audioInput"))
    with pytest.raises(AssertionError) as failure:
        contract.check_invalid(bad)
    text = str(failure.value)
    assert "rule crop_pair rejected with its error (400 generation_input_segments_invalid)" in text
    assert "code 'generation_input_validation_failed', expected 'generation_input_segments_invalid'" in text
    assert "example: {'model':" in text


class _Capture:
    def __init__(self, start_response: Callable[..., Any]) -> None:
        self.status = "500 INTERNAL SERVER ERROR"
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        self.status, self.headers = status, list(headers)
        return lambda data: None
