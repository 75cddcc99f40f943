"""The emulator's self-contract, request by request: every valid generated request is accepted,
every one-rule-broken request is rejected with exactly that rule's error, and every response
conforms to the provider's schema.

    >>> from lipsync_emulator.contracts.suites.conformance import SelfContract
    >>> contract = SelfContract("syncso", "http://127.0.0.1:8080")   # or a WSGI app
    >>> # contract.check_valid(body); contract.check_invalid(bad)

``properties(contract)`` gives the same checks as ready-made Hypothesis tests (with bounded,
derandomized settings), which is what this project's CI and ``bench/`` run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as hst
from lipsync_emulator.contracts import checks, profiles
from lipsync_emulator.contracts.schema import ContractSchema
from lipsync_emulator.contracts.strategies import Invalid, for_provider
from lipsync_emulator.contracts.targets import Response, Target, connect


class SelfContract:
    """Checks one provider on one target. ``api_key``: the key to send (the profile's
    default otherwise)."""

    def __init__(self, provider: str, target: Any, *, api_key: str | None = None,
                 schema: ContractSchema | None = None) -> None:
        self.profile = profiles.get(provider)
        self.target: Target = connect(target)
        self.schema = schema or ContractSchema.load(self.profile.schema)
        self.headers = self.profile.headers(api_key)
        self.checked = 0

    def submit(self, request: Any, webhook_url: str | None = None, headers: dict[str, str] | None = None) -> Response:
        return self.profile.submit(self.target, request, {**self.headers, **(headers or {})}, webhook_url)

    def check_valid(self, request: Any) -> Response:
        """A valid request is accepted with the provider's submit status; the answer conforms."""
        resp = self.submit(request)
        self.checked += 1
        checks.require("valid request accepted",
                       checks.status_in(resp, self.profile.submit_status) + checks.conforms(self.schema, resp),
                       request, resp)
        return resp

    def check_invalid(self, bad: Invalid) -> Response:
        """A request breaking ``bad.rule`` is rejected with exactly that rule's error; the
        error body conforms."""
        resp = self.profile.deliver(self.target, bad.operation, bad.request, self.headers)
        self.checked += 1
        checks.require(f"rule {bad.rule} rejected with its error ({bad.expected.status} {bad.expected.code})",
                       checks.error_is(self.profile, resp, bad.expected) + checks.conforms(self.schema, resp),
                       bad.request, resp)
        return resp

    def check_reads(self) -> list[Response]:
        """Every job-independent read (lists, catalogues) answers without a server error and
        conforms."""
        out = []
        for name, read in self.profile.reads.items():
            resp = read(self.target, self.headers)
            checks.require(f"read {name} conforms", checks.no_server_error(resp) + checks.conforms(self.schema, resp),
                           None, resp)
            out.append(resp)
        return out


def default_settings(max_examples: int = 25) -> settings:
    """Bounded and derandomized: CI runs the same examples every time."""
    return settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def properties(contract: SelfContract, *, max_examples: int = 25,
               rules: tuple[str, ...] | None = None) -> dict[str, Callable[[], None]]:
    """Named, ready-to-call Hypothesis tests of the self-contract for ``contract``'s provider:
    ``valid``, ``schema`` (any schema rule), and one per cross-field rule (``rule:<id>``)."""
    mod = for_provider(contract.profile.name)
    cfg = settings(default_settings(max_examples))
    out: dict[str, Callable[[], None]] = {}

    @cfg
    @given(mod.create_requests())
    def valid(request: Any) -> None:
        contract.check_valid(request)

    for body in getattr(mod, "feature_examples", list)():
        valid = example(body)(valid)
    out["valid"] = valid

    @cfg
    @given(mod.invalid_requests("schema"))
    def schema_rules(bad: Invalid) -> None:
        contract.check_invalid(bad)

    out["schema"] = schema_rules
    for rule in rules if rules is not None else mod.rule_ids():
        out[f"rule:{rule}"] = _rule_test(contract, mod.invalid_requests(rule), max(3, max_examples // 5))
    return out


def _rule_test(contract: SelfContract, strategy: hst.SearchStrategy[Invalid], max_examples: int) -> Callable[[], None]:
    @default_settings(max_examples)
    @given(strategy)
    def test(bad: Invalid) -> None:
        contract.check_invalid(bad)

    return test
