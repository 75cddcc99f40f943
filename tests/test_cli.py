"""``lipsync-emulator scenarios`` (the catalogue, with evidence labels) and ``demo`` (the error
gallery), run through ``main()`` as the console script does."""

from __future__ import annotations

import gc
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


def test_a_serve_worker_builds_every_validator_beside_its_first_requests(monkeypatch):
    """granian's factory: the app answers at once, and a background thread builds what a
    first create and a first invalid request would otherwise build while others wait."""
    import dataclasses
    import threading

    from lipsync_emulator.cli import SERVE_ENV, wsgi_app
    from lipsync_emulator.config import Settings
    from lipsync_emulator.core.runtime import EXTENSION

    settings = dataclasses.asdict(Settings.build({"clock": "virtual"}))
    monkeypatch.setenv(SERVE_ENV, json.dumps({"settings": settings, "database": None}))
    before = set(threading.enumerate())
    try:
        app = wsgi_app()
        for thread in set(threading.enumerate()) - before:
            if thread.name == "emulator-warm":
                thread.join(30)
        rt = app.app.extensions[EXTENSION]
        for spec in rt.specs.values():
            assert set(spec.fast._ops) == set(spec.operations)
            assert spec._openapi_instance is not None
        # ...then frozen, and only then does the worker's idle-time collection start: its first
        # one no longer scans them (a 20-40 ms pause in a worker's first seconds)
        assert app.armed is True
        unfrozen = {id(obj) for obj in gc.get_objects()}
        assert not any(id(spec._openapi_instance) in unfrozen for spec in rt.specs.values())
        statuses = []
        body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/v2/models", "SERVER_NAME": "127.0.0.1",
                             "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_X_API_KEY": "sk_1",
                             "wsgi.input": __import__("io").BytesIO()}, lambda s, h, e=None: statuses.append(s)))
        assert statuses == ["200 OK"] and json.loads(body)
        rt.stop()
    finally:
        gc.unfreeze()  # the factory froze this test process's objects


def test_freeze_when_idle_waits_until_armed():
    from lipsync_emulator.cli import FreezeWhenIdle

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    wrapped = FreezeWhenIdle(app, every=0, armed=False)
    try:
        frozen = gc.get_freeze_count()
        assert wrapped({}, lambda *a: None) == [b"ok"]
        assert gc.get_freeze_count() == frozen  # not armed: no collection, no freeze
        wrapped.armed = True
        assert wrapped({}, lambda *a: None) == [b"ok"]
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_freeze_when_idle_never_freezes_a_request_in_flight():
    """Frozen garbage is never freed: a reference cycle a running request holds (an
    exception's traceback) must not be frozen by another request's end."""
    import threading
    import weakref

    from lipsync_emulator.cli import FreezeWhenIdle

    class Node:
        me: Node | None = None

    inside, release, witness = threading.Event(), threading.Event(), []

    def app(environ, start_response):
        if environ.get("hold"):
            node = Node()
            node.me = node  # garbage, in a cycle, once this request ends
            witness.append(weakref.ref(node))
            inside.set()
            release.wait(10)
        start_response("200 OK", [])
        return [b"ok"]

    wrapped = FreezeWhenIdle(app, every=0)
    held = threading.Thread(target=lambda: wrapped({"hold": True}, lambda *a: None))
    try:
        held.start()
        assert inside.wait(10)
        frozen = gc.get_freeze_count()
        assert wrapped({}, lambda *a: None) == [b"ok"]
        assert gc.get_freeze_count() <= frozen  # one request still in flight: nothing frozen
        release.set()
        held.join(10)
        gc.collect()
        assert witness[0]() is None  # the cycle was collected, not kept frozen
        assert wrapped({}, lambda *a: None) == [b"ok"]
        assert gc.get_freeze_count() > frozen  # idle: this request's end froze the survivors
    finally:
        release.set()
        gc.unfreeze()
