"""Schemathesis (a peer tool: https://schemathesis.readthedocs.io) run against a served
schema, with a fixed seed and a bounded number of examples per operation and mode.

    from lipsync_emulator.contracts.suites.fuzz import run
    report = run("http://127.0.0.1:8080", "syncso", headers={"x-api-key": "sk_test"})
    assert report.ok, report.text()

Checks kept: no server error, status code / content type / headers / body conform to the
schema, schema-violating requests are rejected (``negative_data_rejection``). Left out, with
reasons: ``positive_data_acceptance`` — cross-field rules (one video, refIds, crop pairs...)
rightly reject requests that are schema-valid, which the schema cannot say; the stateful
checks (``use_after_free``...) — the lifecycle state machines cover jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

CHECK_NAMES = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
               "response_headers_conformance", "response_schema_conformance", "negative_data_rejection")
SEED = 20240917


@dataclass(frozen=True)
class FuzzFailure:
    operation: str
    mode: str
    text: str  # Schemathesis' own report: failure kind, response, a curl line to reproduce


@dataclass
class FuzzReport:
    provider: str
    examples: int = 0
    operations: int = 0
    failures: list[FuzzFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def text(self) -> str:
        lines = [f"Schemathesis on {self.provider}: {self.operations} operations, {self.examples} requests, "
                 f"{len(self.failures)} failure(s)"]
        for f in self.failures:
            lines += [f"--- {f.operation} ({f.mode})", f.text]
        return "\n".join(lines)


def _checks() -> list[Any]:
    from schemathesis import checks

    return [getattr(checks, name) for name in CHECK_NAMES]


def run(base_url: str, name: str, *, headers: dict[str, str] | None = None, max_examples: int = 8,
        seed_value: int = SEED, modes: tuple[str, ...] = ("positive", "negative"),
        operations: tuple[str, ...] | None = None) -> FuzzReport:
    """Fuzz every operation of ``/_emulator/schemas/<name>.yaml`` served at ``base_url``.
    ``operations`` limits the run to labels like ``POST /v2/generate``."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{base_url.rstrip('/')}/_emulator/schemas/{name}.yaml")
    report = FuzzReport(name)
    checks = _checks()
    for result in schema.get_all_operations():
        get = getattr(result, "ok", None)
        if get is None:  # an operation Schemathesis could not read
            report.skipped.append(f"unreadable operation: {result!r}")
            continue
        operation = get()
        if operations is not None and operation.label not in operations:
            continue
        report.operations += 1
        for mode in modes:
            failures: dict[str, str] = {}
            strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

            fuzz = _fuzz_test(strategy, base_url, headers or {}, checks, failures, report, max_examples, seed_value)
            try:
                fuzz()
            except (Unsatisfiable, FailedHealthCheck):
                report.skipped.append(f"{operation.label} ({mode}): no {mode} data can be generated")
            report.failures += [FuzzFailure(operation.label, mode, text) for text in failures.values()]
    return report


def _fuzz_test(strategy: Any, base_url: str, headers: dict[str, str], checks: list[Any], failures: dict[str, str],
               report: FuzzReport, max_examples: int, seed_value: int) -> Any:
    @seed(seed_value)
    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def fuzz(case: Any) -> None:
        report.examples += 1
        try:
            case.call_and_validate(base_url=base_url, headers=_headers_for(case, headers), checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # Schemathesis raises a FailureGroup (a BaseExceptionGroup)
            text = str(exc)
            failures.setdefault(text.split("\n\n")[1] if "\n\n" in text else text, text[:2500])

    return fuzz


def _headers_for(case: Any, headers: dict[str, str]) -> dict[str, str]:
    """The caller's headers (credentials), less those a negative case left out on purpose:
    Schemathesis negates a required security header by omitting it, and putting ours back
    would send a valid request that the check then expects to be rejected."""
    from schemathesis.core.parameters import ParameterLocation

    component = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if component is None or not component.mode.is_negative:
        return headers
    sent = {name.lower() for name in case.headers or {}}
    return {name: value for name, value in headers.items() if name.lower() in sent}
