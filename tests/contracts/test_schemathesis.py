"""Schemathesis (a peer tool) against every schema the emulator serves, on a live emulator,
with a fixed seed and bounded examples: no server error, no schema violation, schema-invalid
requests rejected (issue 6 §2)."""

from __future__ import annotations

import pytest

import schemas
from contracts.profiles import get
from contracts.suites.fuzz import run


@pytest.mark.parametrize("name", schemas.names())
def test_schemathesis_finds_no_server_error_and_no_schema_violation(emulator, name: str) -> None:
    report = run(emulator.url, name, headers=get(name).headers(), max_examples=6)
    assert report.operations and report.examples
    assert report.ok, report.text()
