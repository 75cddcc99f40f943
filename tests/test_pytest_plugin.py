"""The pytest plugin's fixtures, as a user's test suite uses them."""

from __future__ import annotations

import pytest
import requests


def test_emulator_fixture_is_live_and_reset(emulator):
    assert requests.get(f"{emulator.url}/_emulator/health", timeout=5).json()["clock"] == "virtual"
    assert emulator.control.jobs() == [] and emulator.control.requests() == []


@pytest.mark.emulator_config({"syncso": {"api_keys": ["sk-marked"]}})
def test_emulator_config_marker_gives_a_configured_server(emulator):
    assert emulator.control.config()["syncso"]["api_keys"] == ["<redacted>"]  # the control plane masks keys
    resp = requests.get(f"{emulator.url}/v2/models", headers={"x-api-key": "sk-other"}, timeout=5)
    assert resp.status_code == 401
    assert requests.get(f"{emulator.url}/v2/models", headers={"x-api-key": "sk-marked"}, timeout=5).status_code == 200


@pytest.mark.emulator_config({"syncso": {"api_keys": ["sk-marked"]}})
def test_same_config_shares_one_server(emulator, _emulator_servers):
    assert len([s for s in _emulator_servers.values() if s is emulator]) == 1


def test_plugin_fixtures_are_registered(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("lipsync_emulator")
    assert any("emulator_config" in line for line in pytestconfig.getini("markers"))


def test_stopping_an_emulator_or_a_receiver_does_not_wait_for_a_poll_interval():
    """``serve_forever`` checked for a stop every 0.5 s: each stop of a fixture's server or
    receiver cost half a second. The bound is a fifth of that interval; the best of three
    runs is taken so a busy machine's one slow moment does not decide."""
    import time

    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

    stops, closes = [], []
    for _ in range(3):
        server, receiver = EmulatorServer().start(), WebhookReceiver()
        assert requests.post(receiver.url, json={}, timeout=5).status_code == 200  # both serve, then stop
        assert requests.get(f"{server.url}/_emulator/health", timeout=5).status_code == 200
        started = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - started)
        started = time.perf_counter()
        receiver.close()
        closes.append(time.perf_counter() - started)
        try:
            requests.get(f"{server.url}/_emulator/health", timeout=5)
        except requests.ConnectionError:
            pass
        else:
            raise AssertionError("the stopped server still answers")
    assert min(stops) < 0.1 and min(closes) < 0.1, (stops, closes)


HEAVY = ("flask", "werkzeug", "jsonschema", "openapi_core", "hypothesis", "yaml", "lipsync_emulator.app",
         "lipsync_emulator.testing", "lipsync_emulator.contracts.suites")


def test_an_unrelated_pytest_session_does_not_import_the_emulator(tmp_path):
    """pytest loads both plugins in every session of the environment: loading them imports
    nothing heavy (Flask, jsonschema, openapi-core, Hypothesis...) until a fixture is used.
    schemathesis' own plugin (a test extra of this project) imports Hypothesis itself, so it
    is switched off here."""
    import subprocess
    import sys

    (tmp_path / "test_unrelated.py").write_text(
        "import sys\n\n\ndef test_nothing_heavy_was_imported():\n"
        "    assert 'lipsync_emulator.pytest_plugin' in sys.modules\n"
        "    assert 'lipsync_emulator.contracts.pytest_plugin' in sys.modules\n"
        f"    assert [m for m in {HEAVY!r} if m in sys.modules] == []\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:schemathesis", "-p", "no:cacheprovider",
                          str(tmp_path / "test_unrelated.py")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "1 passed" in run.stdout
