"""Request bodies, read the same way by every provider (``emulator.core.http.loads``), and the
URLs in them (``emulator.core.media.split_url``)."""

from __future__ import annotations

import json

import pytest
import requests
from lipsync_emulator.gallery import ScenarioClient

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("half", ["\\udc80", "\\uD800"])
def test_a_lone_surrogate_escape_is_a_400_and_stores_nothing(emulator, provider, half):
    """JSON's grammar admits ``"\\udc80"``, half a UTF-16 pair no UTF-8 answer can hold: it was a
    500, and a job stored with one broke every later listing of its key (found by a fuzzer)."""
    client = ScenarioClient.for_server(emulator)
    kwargs = client.catalog.probe(provider).build(client.context(provider))
    method, path, payload = kwargs.pop("method"), kwargs.pop("path"), kwargs.pop("json")
    body = json.dumps(payload)[:-1] + f', "note": "{half}"}}'
    headers = {**kwargs.pop("headers", {}), "Content-Type": "application/json"}
    resp = requests.request(method, emulator.url + path, data=body.encode(), headers=headers, timeout=10, **kwargs)
    assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/json"
    message = f"Malformed JSON in request body: {half.lower()} is half a UTF-16 surrogate pair, not a character"
    assert message in resp.json().values()  # under each provider's own key: message, error...
    assert emulator.control.jobs(provider=provider) == []
    assert requests.get(f"{emulator.url}/_emulator/requests", timeout=10).status_code == 200
    assert client.submit(provider)  # the same request, valid, still goes through


def test_a_paired_surrogate_escape_is_the_character_it_encodes(emulator):
    body = '{"provider": "syncso", "scenario": "failed", "job_id": "job-\\ud83d\\ude00"}'
    resp = requests.post(f"{emulator.url}/_emulator/scenarios", data=body.encode(), timeout=10,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 201 and resp.json()["job_id"] == "job-\U0001f600"


def test_a_lone_surrogate_in_a_multipart_json_field_is_a_400(emulator):
    resp = requests.post(f"{emulator.url}/v2/generate", headers={"x-api-key": "sk_test"}, timeout=10,
                         data={"model": "lipsync-2", "input": '[{"type": "video", "url": "https://e.x/\\udc80.mp4"}]'},
                         files={"audio": ("a.wav", b"RIFF0000WAVE", "audio/wav")})
    assert (resp.status_code, resp.json()["message"]) == (400, "input must be valid JSON")
    assert emulator.control.jobs(provider="syncso") == []


MALFORMED = "http://[::1/v.mp4"  # urlsplit raises ValueError("Invalid IPv6 URL") on it


@pytest.mark.parametrize("path, headers, body, status", [
    ("/v2/generate", {"x-api-key": "sk"},
     {"model": "lipsync-2", "input": [{"type": "video", "url": MALFORMED}, {"type": "audio", "url": "https://e.x/a.wav"}]},
     201),
    ("/api/v3/bytedance/latentsync", {"Authorization": "Bearer sk"}, {"video": MALFORMED, "audio": MALFORMED}, 200),
    ("/api/v1/lipsync-image", {"Authorization": "Bearer sk"}, {"formState": {"image": MALFORMED, "audio": MALFORMED}},
     200),
    ("/kling/v1/videos/identify-face", {"Authorization": "Bearer kling_emulator_api_key"}, {"video_url": MALFORMED}, 200),
])
def test_a_media_url_with_a_malformed_host_is_never_a_500(emulator, path, headers, body, status):
    """It was a 500 on three providers (the media facts read its query, WaveSpeed its host)."""
    resp = requests.post(emulator.url + path, json=body, headers=headers, timeout=10)
    assert resp.status_code == status, resp.text
    emulator.advance(3600)
    assert all(j["status"] in ("COMPLETED", "completed", "failed", "succeed") for j in emulator.control.jobs())
