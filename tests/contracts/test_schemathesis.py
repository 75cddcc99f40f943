"""Schemathesis (a peer tool) against every schema the emulator serves, on a live emulator,
with a fixed seed and bounded examples: no server error, no schema violation, schema-invalid
requests rejected (issue 6 §2)."""

from __future__ import annotations

import pytest
from lipsync_emulator import schemas
from lipsync_emulator.contracts.profiles import get
from lipsync_emulator.contracts.suites.fuzz import run


@pytest.mark.parametrize("name", schemas.names())
def test_schemathesis_finds_no_server_error_and_no_schema_violation(emulator, name: str) -> None:
    report = run(emulator.url, name, headers=get(name).headers(), max_examples=6)
    assert report.operations and report.examples
    assert report.ok, report.text()


@pytest.mark.parametrize("name, operation", [("syncso", "GET /v2/batch"),
                                             ("kling", "GET /v1/videos/advanced-lip-sync")])
def test_a_negative_case_that_leaves_out_the_credentials_is_sent_without_them(emulator, name: str,
                                                                              operation: str) -> None:
    """Schemathesis negates a required security header by omitting it; the harness used to put
    the caller's key back and then report the (valid) request's 200 as a schema-violating
    request accepted. These seeds generate such cases (found by a longer run)."""
    report = run(emulator.url, name, headers=get(name).headers(), max_examples=60, seed_value=1,
                 modes=("negative",), operations=(operation,))
    assert report.examples == 60
    assert report.ok, report.text()
