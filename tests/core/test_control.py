"""The /_emulator control plane over HTTP."""

from __future__ import annotations

import threading

import pytest
import requests
import yaml
from lipsync_emulator import schemas
from lipsync_emulator.app import create_app
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.providers.syncso import longpoll

KEY = {"x-api-key": "k"}
BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e/v.mp4"},
                                        {"type": "audio", "url": "https://e/a.wav"}]}


def test_health_lists_providers_and_clock(emulator):
    body = requests.get(f"{emulator.url}/_emulator/health", timeout=5).json()
    assert body["status"] == "ok"
    assert "syncso" in body["providers"]
    assert body["clock"] == "virtual"


def test_reset_clears_jobs_journal_webhooks_and_rules(emulator):
    requests.post(f"{emulator.url}/v2/generate", json={**BODY, "webhookUrl": "http://127.0.0.1:9/x"},
                  headers=KEY, timeout=5)
    emulator.control.scenario("syncso", "failed")
    emulator.advance(60)
    assert emulator.control.jobs() and emulator.control.requests() and emulator.control.webhooks()
    emulator.reset()
    assert emulator.control.jobs() == []
    assert emulator.control.requests() == []
    assert emulator.control.webhooks() == []
    assert requests.get(f"{emulator.url}/_emulator/scenarios", timeout=5).json()["active"] == []


def test_clock_advance_moves_time_and_validates_input(emulator):
    before = emulator.control.now()
    assert emulator.advance(90)["timestamp"] == before + 90
    for bad in ({"seconds": "soon"}, {"seconds": -1}, {}):
        resp = requests.post(f"{emulator.url}/_emulator/clock/advance", json=bad, timeout=5)
        assert resp.status_code == 400
        assert resp.json()["field"] == "seconds"
    resp = requests.post(f"{emulator.url}/_emulator/clock/advance", data="{", timeout=5,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/json"


def test_real_clock_cannot_be_advanced(make_emulator):
    emu = make_emulator({"clock": "real"})
    resp = requests.post(f"{emu.url}/_emulator/clock/advance", json={"seconds": 1}, timeout=5)
    assert resp.status_code == 400
    assert "--clock virtual" in resp.json()["message"]


def test_config_shows_effective_settings_with_credentials_masked_and_webhook_secrets(make_emulator):
    emu = make_emulator({"syncso": {"api_keys": ["sk-a", "sk-live-0123456789abcdef"], "durations": {"PENDING": 1}}})
    cfg = emu.control.config()
    assert cfg["clock"] == "virtual"
    assert cfg["syncso"]["api_keys"] == ["<redacted>", "<redacted ...cdef>"]
    assert cfg["syncso"]["webhook_secret"] == "whsec_emulator_syncso_dev"
    assert cfg["syncso"]["durations"] == {"PENDING": 1, "PROCESSING": 25.0}
    assert cfg["providers"]["syncso"] == cfg["syncso"]


def test_schemas_are_served(emulator):
    index = requests.get(f"{emulator.url}/_emulator/schemas", timeout=5).json()
    assert index["syncso"] == "/_emulator/schemas/syncso.yaml"
    resp = requests.get(f"{emulator.url}/_emulator/schemas/syncso.yaml", timeout=5)
    assert resp.status_code == 200
    assert yaml.safe_load(resp.text) == schemas.load("syncso")
    for name in ("nope", "a" * 300):  # a name longer than the file system takes was a 500
        resp = requests.get(f"{emulator.url}/_emulator/schemas/{name}.yaml", timeout=5)
        assert resp.status_code == 404 and resp.json()["field"] == "name"


def test_scenario_rules_crud_and_validation(emulator):
    url = f"{emulator.url}/_emulator/scenarios"
    rule = requests.post(url, json={"provider": "syncso", "scenario": "failed", "count": 2}, timeout=5)
    assert rule.status_code == 201
    listed = requests.get(url, params={"provider": "syncso"}, timeout=5).json()
    assert [r["id"] for r in listed["active"]] == [rule.json()["id"]]
    assert any(s["name"] == "failed" and s["magic"] == "emulator_scenario=failed" for s in listed["catalog"])
    for bad, field in (({"provider": "nope", "scenario": "failed"}, "provider"),
                       ({"provider": "syncso", "scenario": "nope"}, "scenario"),
                       ({"provider": "syncso"}, "scenario"),
                       ({"provider": "syncso", "scenario": "failed", "count": 0}, "count"),
                       ({"provider": [], "scenario": "failed"}, "provider"),  # unhashable: was a 500
                       ({"provider": "syncso", "scenario": "failed", "operation": {}}, "operation")):
        resp = requests.post(url, json=bad, timeout=5)
        assert resp.status_code == 400 and resp.json()["field"] == field
    assert requests.delete(f"{url}/{rule.json()['id']}", timeout=5).json() == {"deleted": 1}
    assert requests.delete(f"{url}/{rule.json()['id']}", timeout=5).status_code == 404


def test_count_rule_applies_to_the_next_n_requests_only(emulator):
    emulator.control.scenario("syncso", "internal_error", operation="listModels", count=2)
    codes = [requests.get(f"{emulator.url}/v2/models", headers=KEY, timeout=5).status_code for _ in range(3)]
    assert codes == [500, 500, 200]


def test_finish_job_and_unknown_job(emulator):
    gid = requests.post(f"{emulator.url}/v2/generate", json=BODY, headers=KEY, timeout=5).json()["id"]
    done = emulator.control.finish("syncso", gid)
    assert done["status"] == "COMPLETED"
    resp = requests.post(f"{emulator.url}/_emulator/jobs/syncso/nope/finish", json={}, timeout=5)
    assert resp.status_code == 404
    resp = requests.post(f"{emulator.url}/_emulator/jobs/syncso/{gid}/finish", json={"scenario": "rate_limited"},
                         timeout=5)
    assert resp.status_code == 400


def test_unknown_control_path_is_json(emulator):
    resp = requests.get(f"{emulator.url}/_emulator/nothing", timeout=5)
    assert resp.status_code == 404
    assert resp.json()["error"] == "Not Found"
    resp = requests.get(f"{emulator.url}/not-a-provider", timeout=5)
    assert resp.status_code == 404 and resp.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path, allow", [("/v2/generate", "OPTIONS, POST"),
                                         ("/api/v3/predictions/abc/result", "GET, HEAD, OPTIONS"),
                                         ("/kling/v1/videos/identify-face", "OPTIONS, POST"),
                                         ("/_emulator/health", "GET, HEAD, OPTIONS")])
def test_options_answers_no_content_and_the_allowed_methods(emulator, path, allow):
    """Not an empty text/html page (Flask's default): 204, ``Allow``, no body, no content type."""
    resp = requests.options(emulator.url + path, timeout=5)
    assert (resp.status_code, resp.content, resp.headers.get("Content-Type")) == (204, b"", None)
    assert sorted(resp.headers["Allow"].split(", ")) == allow.split(", ")
    unknown = requests.options(f"{emulator.url}/not-a-provider", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["message"] == "Cannot OPTIONS /not-a-provider"


def test_output_media_supports_ranges(emulator):
    resp = requests.get(f"{emulator.url}/_emulator/media/syncso/x/y.mp4", headers={"Range": "bytes=0-7"}, timeout=5)
    assert resp.status_code == 206
    assert resp.content[4:8] == b"ftyp"
    assert requests.get(f"{emulator.url}/_emulator/media/x.txt", timeout=5).status_code == 404


def test_control_plane_reads_run_beside_a_request_in_its_turn():
    """One request at a time runs in its turn; the control plane's reads (the dashboard's
    polling, journal pages) do not wait for it, and a change does."""
    app = create_app({"clock": "virtual"})
    rt = app.extensions[EXTENSION]
    answered: dict[str, int] = {}
    done = {name: threading.Event() for name in ("read", "change")}

    def send(name: str, method: str, path: str) -> None:
        answered[name] = app.test_client().open(path, method=method).status_code
        done[name].set()

    with rt.turn():  # another request's turn, held
        threading.Thread(target=send, args=("read", "GET", "/_emulator/requests"), daemon=True).start()
        threading.Thread(target=send, args=("change", "POST", "/_emulator/reset"), daemon=True).start()
        assert done["read"].wait(30) and answered["read"] == 200
        assert not done["change"].is_set()
    assert done["change"].wait(30) and answered["change"] == 200


def test_a_request_in_flight_during_a_reset_is_not_journaled_after_it():
    """A long poll waiting when the emulator is reset ends then (its generation is gone); its
    entry belongs to what was reset, not to the journal the next test reads."""
    app = create_app({"clock": "virtual", "syncso": {"long_poll_wall_seconds": 30}})
    rt = app.extensions[EXTENSION]
    key = {"x-api-key": "sk_test"}
    body = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                            {"type": "audio", "url": "https://e.x/a.wav"}]}
    job = app.test_client().post("/v2/generate", json=body, headers=key).get_json()["id"]
    answered: list[int] = []

    def poll() -> None:
        answered.append(app.test_client().get(f"/v2/generate/{job}", query_string={"wait": "true", "timeout": "10"},
                                              headers=key).status_code)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with rt.changed:
        assert rt.changed.wait_for(lambda: longpoll.waiting(rt) > 0, timeout=30)
    assert app.test_client().post("/_emulator/reset").status_code == 200
    poller.join(30)
    assert answered == [404]
    assert app.test_client().get("/_emulator/requests").get_json() == []
