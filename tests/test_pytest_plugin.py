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
