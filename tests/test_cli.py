"""``lipsync-emulator scenarios`` (the catalogue, with evidence labels) and ``demo`` (the error
gallery), run through ``main()`` as the console script does."""

from __future__ import annotations

import json
import re

import pytest
from lipsync_emulator.cli import _settings, main


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_scenarios_table_lists_name_provider_operations_effect_and_evidence(capsys):
    code, out = run(capsys, "scenarios", "--provider", "syncso")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:6] == ["PROVIDER", "SCENARIO", "KIND", "EVIDENCE", "OPERATIONS", "EFFECT"]
    by_name = {r.split()[1]: r for r in rows}
    assert re.match(r"syncso\s+rate_limited\s+response\s+documented\s+\*\s+429 rate_limit_exceeded", by_name["rate_limited"])
    assert re.match(r"syncso\s+failed_timeout\s+outcome\s+documented\s+createGeneration\s+The generation ends FAILED",
                    by_name["failed_timeout"])
    assert "generic" in by_name["connection_reset"] and "inferred" in by_name["stuck"]
    # the provider's own scenarios first, the generic faults last
    kinds = [r.split()[2] for r in rows]
    assert kinds.index("transport") > kinds.index("response") > kinds.index("outcome")


def test_scenarios_json_carries_magic_values_and_expectations(capsys):
    code, out = run(capsys, "scenarios", "--provider", "syncso", "--kind", "response", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["kind"] for r in rows} == {"response"}
    limited = next(r for r in rows if r["name"] == "rate_limited")
    assert limited["magic"] == "emulator_scenario=rate_limited"
    assert limited["expect"]["status"] == 429 and limited["expect"]["headers"] == {"Retry-After": "60"}


def test_scenarios_markdown_is_a_magic_value_table_per_provider(capsys):
    code, out = run(capsys, "scenarios", "--markdown")
    assert code == 0
    assert "#### sync.so (`syncso`)\n\n| magic value | kind | operations | effect | evidence |" in out
    assert "| `emulator_scenario=failed_timeout` | outcome | `createGeneration` |" in out
    # the generic faults once, not once per provider
    assert out.count("| `emulator_scenario=connection_reset` |") == 1
    assert "#### Every provider: faults of the network and of webhook delivery" in out
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert all(line.endswith(" |") or line.endswith("|---|") for line in rows)


def test_unknown_provider_is_an_error(capsys):
    assert main(["scenarios", "--provider", "nope"]) == 2
    assert "unknown provider 'nope'" in capsys.readouterr().err


def test_demo_prints_each_exchange(capsys):
    code, out = run(capsys, "demo", "--provider", "syncso", "--scenario", "rate_limited", "--scenario", "failed",
                    "--scenario", "connection_reset", "--scenario", "webhook_duplicate")
    assert code == 0
    blocks = {b.splitlines()[0]: b for b in out.split("\n\n") if b.startswith("== ")}
    limited = blocks["== syncso / rate_limited  [response, documented]"]
    assert "> X-Emulator-Scenario: rate_limited" in limited and "< 429 TOO MANY REQUESTS" in limited
    assert "< Retry-After: 60" in limited and '"errorCode":"rate_limit_exceeded"' in limited
    failed = blocks["== syncso / failed  [outcome, documented]"]
    assert '@ +29 s  poll -> 200 status="PROCESSING"' in failed
    assert '@ +30 s  poll -> 200 status="FAILED"' in failed and "webhook generation.failed" in failed
    assert "attempt 1 at" in failed and "Sync-Signature: t=" in failed
    reset = blocks["== syncso / connection_reset  [transport, generic]"]
    assert "! client error" in reset and "Connection reset by peer" in reset
    assert "faults={'transport': 'reset'}" in reset
    duplicate = blocks["== syncso / webhook_duplicate  [webhook, generic]"]
    assert duplicate.count("webhook generation.completed") == 2 and "receiver got 2 request(s)" in duplicate


def test_demo_against_a_running_emulator_by_magic_value(capsys, emulator):
    code, out = run(capsys, "demo", "--url", emulator.url, "--provider", "syncso", "--scenario", "internal_error",
                    "--way", "magic")
    assert code == 0 and f"against {emulator.url} (virtual clock)" in out
    assert "emulator_scenario=internal_error" in out and "< 500 INTERNAL SERVER ERROR" in out
    assert "chosen by={'internal_error': 'magic'}" in out


def test_demo_talks_to_loopback_only(capsys):
    assert main(["demo", "--url", "http://example.com:8080"]) == 2
    assert "not a loopback URL" in capsys.readouterr().err


def test_demo_rejects_an_unknown_scenario(capsys):
    assert main(["demo", "--provider", "syncso", "--scenario", "nope"]) == 2
    assert "unknown scenario(s) nope" in capsys.readouterr().err


def test_serve_chaos_flag_reaches_the_settings():
    import argparse

    args = argparse.Namespace(config=None, host=None, port=None, clock=None, seed=None, public_url=None,
                              chaos="seed=3,rate=0.2", api_key=None, set=None)
    assert _settings(args).chaos == "seed=3,rate=0.2"


@pytest.mark.parametrize("spec", ["seed=1,rate=7", "rate"])
def test_serve_rejects_bad_chaos_before_listening(capsys, spec):
    assert main(["serve", "--port", "0", "--chaos", spec]) == 2
    assert "chaos" in capsys.readouterr().err


def test_docs_catalogue_is_the_code_s(capsys):
    """docs/scenarios.md shows the catalogue as the code has it. If this fails, run:
    lipsync-emulator scenarios --markdown --write docs/scenarios.md"""
    from pathlib import Path

    from lipsync_emulator.cli import BEGIN, END

    text = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    code, out = run(capsys, "scenarios", "--markdown")
    assert code == 0 and documented == out.strip()
