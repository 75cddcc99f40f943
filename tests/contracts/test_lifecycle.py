"""Lifecycle state machines (issue 6 §2): submit / poll / advance clock / force finish / reads /
reset against the emulator, checking after every step that status only moves forward, a
terminal status is final, outputs appear only when the provider says, one terminal webhook per
job (more only under webhook_duplicate), and that signatures verify. Plus mutants of the
emulator that the machine must catch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from lipsync_emulator.contracts.checks import ContractFailure
from lipsync_emulator.contracts.receiver import Receiver
from lipsync_emulator.contracts.suites.lifecycle import machine, settle_settings

PROVIDERS = ["syncso", "wavespeed", "lipsyncstudio", "kling"]
KLING_SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="  # the official test vector's secret


def mutant_settings(max_examples: int, steps: int) -> settings:
    """Mutants only need the failure found, not shrunk (stateful shrinking is slow)."""
    return settings(settle_settings(max_examples, steps), phases=[Phase.generate], report_multiple_bugs=False)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_lifecycle_state_machine(provider: str, make_app: Callable[..., Any], receiver: Receiver) -> None:
    cls = machine(provider, make_app(), receiver)
    run_state_machine_as_test(cls, settings=settle_settings(max_examples=20, steps=20))
    assert cls.stats["submit"] > 20 and cls.stats["poll"] > 20 and cls.stats["advance"] > 20
    assert cls.stats["finish"] and cls.stats["reset"]


def test_kling_lifecycle_with_signed_callbacks(make_app: Callable[..., Any], receiver: Receiver) -> None:
    """Kling signs callbacks only when a webhook secret exists [doc: S5]: with one, every
    callback (submitted, processing, succeed/failed) must verify."""
    cls = machine("kling", make_app({"kling": {"webhook_secret": KLING_SECRET}}), receiver)
    run_state_machine_as_test(cls, settings=settle_settings(max_examples=12, steps=15))
    assert cls.stats["submit"] > 10


def _rewrite(app: Any, change: Callable[[str, str, bytes], bytes]) -> Callable[..., Any]:
    """A WSGI mutant: ``change(method, path, body)`` rewrites response bodies."""

    def mutant(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(app(environ, capture))
        body = change(environ["REQUEST_METHOD"], environ["PATH_INFO"], body)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in captured["headers"]]
        start_response(captured["status"], headers)
        return [body]

    return mutant


def test_catches_a_status_that_goes_back(make_app: Callable[..., Any], receiver: Receiver) -> None:
    seen: set[str] = set()

    def back(method: str, path: str, body: bytes) -> bytes:
        if method == "GET" and re.fullmatch(r"/v2/generate/[0-9a-f-]{36}", path) and b'"COMPLETED"' in body:
            if path in seen:
                return body.replace(b'"status":"COMPLETED"', b'"status":"PROCESSING"')
            seen.add(path)
        return body

    cls = machine("syncso", _rewrite(make_app(), back), receiver)
    with pytest.raises(ContractFailure) as failure:
        run_state_machine_as_test(cls, settings=mutant_settings(30, 20))
    assert "moves forward along the lifecycle" in str(failure.value) or "shows the fields" in str(failure.value)


def test_catches_outputs_before_completion(make_app: Callable[..., Any], receiver: Receiver) -> None:
    def early(method: str, path: str, body: bytes) -> bytes:
        return body.replace(b'"outputUrl":null', b'"outputUrl":"https://x/early.mp4"')

    cls = machine("syncso", _rewrite(make_app(), early), receiver)
    with pytest.raises(ContractFailure, match="outputUrl present while PENDING"):
        run_state_machine_as_test(cls, settings=mutant_settings(10, 5))


def test_catches_a_webhook_for_an_unsent_status(make_app: Callable[..., Any], receiver: Receiver) -> None:
    """sync.so sends webhooks for COMPLETED and FAILED only (reference §6); an emulator set to
    also send one for REJECTED breaks the contract."""
    cls = machine("syncso", make_app({"syncso": {"webhook_on_rejected": True}}), receiver, outcomes=["rejected"],
                  faults=[])
    with pytest.raises(ContractFailure, match="webhook with status REJECTED"):
        run_state_machine_as_test(cls, settings=mutant_settings(40, 12))


def test_catches_signatures_that_do_not_verify(make_app: Callable[..., Any], receiver: Receiver) -> None:
    def other_secret(method: str, path: str, body: bytes) -> bytes:
        if path == "/_emulator/config":
            data = json.loads(body)
            data["providers"]["syncso"]["webhook_secret"] = "whsec_not_the_one"
            data.get("syncso", {}).update(webhook_secret="whsec_not_the_one")
            return json.dumps(data).encode()
        return body

    cls = machine("syncso", _rewrite(make_app(), other_secret), receiver)
    with pytest.raises(ContractFailure, match="Sync-Signature v1 does not match"):
        run_state_machine_as_test(cls, settings=mutant_settings(40, 12))
