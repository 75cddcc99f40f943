"""Typed provider settings: an unknown key or a bad value is refused at start-up, with a message
naming the key — through ``create_app`` (the fixture, a user's own app) and the CLI's ``--set``."""

from __future__ import annotations

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.cli import main
from lipsync_emulator.core.settings import SettingsError


@pytest.mark.parametrize(("config", "message"), [
    ({"syncsoo": {"api_keys": ["k"]}}, "unknown setting 'syncsoo': neither an emulator setting nor a provider"),
    ({"providers": {"klingg": {}}}, "unknown setting 'klingg'"),
    ({"syncso": {"durationz": {"PENDING": 1}}}, "unknown setting syncso.durationz (known: api_keys,"),
    ({"syncso": {"durations": {"PENDNG": 1}}}, "unknown setting syncso.durations.PENDNG (known: PENDING, PROCESSING)"),
    ({"syncso": {"error_body": "nest"}}, "syncso.error_body must be one of 'nestjs', 'coded', 'both', not 'nest'"),
    ({"kling": {"webhook_retry": {"max_attempts": "3"}}}, "kling.webhook_retry.max_attempts must be an integer, not '3'"),
    ({"kling": {"unknown_task": "1201"}}, "kling.unknown_task must be one of 1203, 1201, not '1201'"),
    ({"wavespeed": {"key_levels": {"wsk_a": "platinum"}}}, "wavespeed.key_levels.wsk_a must be one of 'bronze',"),
    ({"wavespeed": {"balance": True}}, "wavespeed.balance must be a number, not true"),
    ({"lipsyncstudio": {"extra_resolutions": "360p"}}, "lipsyncstudio.extra_resolutions must be a list, not '360p'"),
    ({"lipsyncstudio": {"webhook_retry": {"schedule": [1, "x"]}}},
     "lipsyncstudio.webhook_retry.schedule[1] must be a number, not 'x'"),
    ({"syncso": ["not", "a", "section"]}, "syncso must be an object of settings, not a list"),
])
def test_create_app_refuses_a_bad_setting_naming_it(config, message):
    with pytest.raises(SettingsError) as refused:
        create_app({"clock": "virtual", **config})
    assert message in str(refused.value)


def test_good_settings_are_typed_and_merged_over_the_defaults():
    app = create_app({"clock": "virtual", "syncso": {"durations": {"PENDING": 1}, "rate_limit_per_minute": 60},
                      "kling": {"fixture_sessions": None}, "api_keys": ["sk_shared"]})
    client = app.test_client()
    config = client.get("/_emulator/config").get_json()
    assert config["syncso"]["durations"] == {"PENDING": 1, "PROCESSING": 25.0}
    assert config["syncso"]["rate_limit_per_minute"] == 60
    assert config["kling"]["fixture_sessions"] is None
    # shared keys reach every way in that takes keys (the control plane shows them masked)
    rt = app.extensions["lipsync_emulator"]
    assert {tuple(rt.cfg(name)["api_keys"]) for name in ("syncso", "wavespeed", "lipsyncstudio", "kling")} \
        == {("sk_shared",)}
    assert rt.cfg("kling")["relay_keys"] == ["sk_shared"]
    assert client.get("/v2/models", headers={"x-api-key": "sk_other"}).status_code == 401
    assert client.get("/v2/models", headers={"x-api-key": "sk_shared"}).status_code == 200


@pytest.mark.parametrize(("flag", "message"), [
    ("syncso.error_body=nest", "syncso.error_body must be one of 'nestjs', 'coded', 'both', not 'nest'"),
    ("syncso.webhook_retry.max_attempts=many", "syncso.webhook_retry.max_attempts must be an integer, not 'many'"),
    ("wavespeed.levle=gold", "unknown setting wavespeed.levle"),
    ("synso.plan=free", "unknown setting 'synso'"),
])
def test_serve_refuses_a_bad_set_flag_before_listening(capsys, flag, message):
    assert main(["serve", "--port", "0", "--memory", "--set", flag]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lipsync-emulator: ") and message in err


def test_the_pytest_plugin_reports_a_bad_setting(make_emulator):
    with pytest.raises(SettingsError, match="syncso.plan must be one of"):
        make_emulator({"syncso": {"plan": "platinum"}})
    # the fixture still serves good configurations afterwards
    server = make_emulator({"syncso": {"plan": "free"}})
    assert requests.get(f"{server.url}/_emulator/config", timeout=5).json()["syncso"]["plan"] == "free"


def test_the_control_plane_changes_settings_checked_as_at_start_up(make_emulator):
    server = make_emulator({"syncso": {"durations": {"PROCESSING": 7}}})
    url = f"{server.url}/_emulator/config"
    changed = requests.patch(url, json={"syncso": {"durations": {"PENDING": 1}, "error_body": "coded"}}, timeout=5)
    assert changed.status_code == 200
    assert changed.json()["syncso"]["durations"] == {"PENDING": 1, "PROCESSING": 7}
    assert changed.json()["syncso"]["error_body"] == "coded"
    # a new generation follows the new durations
    created = requests.post(f"{server.url}/v2/generate", headers={"x-api-key": "k"}, timeout=5, json={
        "model": "lipsync-2", "input": [{"type": "video", "url": "https://x.test/v.mp4"},
                                        {"type": "audio", "url": "https://x.test/a.mp3"}]})
    assert created.status_code == 201, created.text
    server.advance(1.5)
    polled = requests.get(f"{server.url}/v2/generate/{created.json()['id']}", headers={"x-api-key": "k"}, timeout=5)
    assert polled.json()["status"] == "PROCESSING"
    for body, field, message in [
        ({"syncso": {"error_body": "nest"}}, "syncso.error_body", "must be one of 'nestjs', 'coded', 'both'"),
        ({"syncso": {"durations": {"PENDNG": 1}}}, "syncso.durations.PENDNG", "unknown setting"),
        ({"kling": {"webhook_retry": {"max_attempts": 1.5}}}, "kling.webhook_retry.max_attempts", "an integer"),
        ({"clock": "real"}, "clock", "the emulator's own settings are fixed at start-up"),
        ({"syncso": [1]}, "syncso", "must be an object"),
        ([], "body", "must be a JSON object"),
    ]:
        refused = requests.patch(url, json=body, timeout=5)
        assert refused.status_code == 400, body
        assert refused.json()["field"] == field and message in refused.json()["message"], refused.json()
    # all or nothing: a refused change leaves every setting as it was
    both = requests.patch(url, json={"syncso": {"plan": "free"}, "wavespeed": {"level": "platinum"}}, timeout=5)
    assert both.status_code == 400 and both.json()["field"] == "wavespeed.level"
    assert requests.get(url, timeout=5).json()["syncso"]["plan"] == "unlimited"
