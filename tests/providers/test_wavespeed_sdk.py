"""The official WaveSpeed SDK (``wavespeed`` 2.0.5), unmodified, against a live emulator: ``run``
for both lip-sync models (polling and sync mode), ``upload``, a failed task, an unknown key,
and the SDK's retry behaviour (checklist item 23).

The SDK sleeps ``poll_interval`` between polls, so these tests use an emulator whose task
durations are 0 (the first poll already sees the final status) or a real clock with tiny
durations; the tests themselves never sleep.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import wavespeed
from lipsync_emulator.testing import EmulatorServer
from wavespeed import Client
from wavespeed.api import client as sdk_client

KEY = "ws-sdk-key"
VALID = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}
MODELS = ["bytedance/latentsync", "bytedance/lipsync/audio-to-video"]


@pytest.fixture(scope="module")
def _fast_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer({"wavespeed": {"durations": {"created": 0, "processing": 0}, "api_keys": [KEY]}})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fast(_fast_server: EmulatorServer) -> EmulatorServer:
    """An emulator whose tasks finish at the first poll, reset before the test."""
    _fast_server.reset()
    return _fast_server


@pytest.fixture
def client(fast: EmulatorServer) -> Client:
    return Client(api_key=KEY, base_url=fast.url, retry_interval=0.0)


def ops(emu: EmulatorServer, operation: str) -> list[int]:
    return [r["status"] for r in emu.control.requests(provider="wavespeed", operation=operation)]


@pytest.mark.parametrize("model", MODELS)
def test_sdk_run_polls_to_completion(fast, client, model):
    output = client.run(model, VALID, poll_interval=0.01)
    [job] = fast.control.jobs(provider="wavespeed")
    assert output == {"outputs": [f"{fast.url}/_emulator/media/wavespeed/{job['id']}.mp4"]}
    submit = fast.control.requests(provider="wavespeed", method="POST")[0]
    assert submit["path"] == f"/api/v3/{model}"
    assert submit["request_headers"]["X-Client-Name"] == "wavespeed-python"
    assert submit["request_headers"]["X-Client-Version"] == "2.0.5"
    assert ops(fast, "getPredictionResult") == [200]


@pytest.mark.parametrize("model", MODELS)
def test_sdk_run_sync_mode(fast, client, model):
    output = client.run(model, VALID, enable_sync_mode=True)
    [job] = fast.control.jobs(provider="wavespeed")
    assert job["status"] == "completed"
    assert output == {"outputs": [f"{fast.url}/_emulator/media/wavespeed/{job['id']}.mp4"]}
    assert ops(fast, "getPredictionResult") == []  # one request, no polling


def test_sdk_sync_mode_on_the_default_clock_completes_in_the_request(emulator):
    """With the virtual clock nobody advances time during the request: a task that would finish
    within the sync timeout (22 s < 90 s) is run to its end at once."""
    client = Client(api_key=KEY, base_url=emulator.url)
    output = client.run(MODELS[0], VALID, enable_sync_mode=True)
    assert output["outputs"][0].startswith(f"{emulator.url}/_emulator/media/wavespeed/")


def test_sdk_sync_timeout_raises_with_the_task_id_then_get_result_recovers(emulator):
    client = Client(api_key=KEY, base_url=emulator.url)
    body = {**VALID, "video": "https://e.x/v.mp4?emulator_scenario=sync_timeout"}
    with pytest.raises(RuntimeError) as info:
        client.run(MODELS[0], body, enable_sync_mode=True)
    [job] = emulator.control.jobs(provider="wavespeed")
    assert str(info.value) == (f"Sync mode timed out (task_id: {job['id']}): Sync mode timed out after 90 seconds. "
                               "The prediction is still processing asynchronously. Query the result later at: "
                               f"{emulator.url}/api/v3/predictions/{job['id']}/result")
    no_throw = client.run_no_throw(MODELS[0], body, enable_sync_mode=True)
    assert no_throw["status"] == "processing" and no_throw["outputs"] is None
    emulator.advance(22)
    assert client.get_result(job["id"])["data"]["status"] == "completed"


def wav_bytes(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


def test_sdk_upload_then_run_with_the_uploaded_files(fast, client, tmp_path):
    audio = tmp_path / "voice.wav"
    audio.write_bytes(wav_bytes(1.0))
    audio_url = client.upload(str(audio))
    assert audio_url.startswith(f"{fast.url}/_emulator/files/") and audio_url.endswith("/voice.wav")
    stream = io.BytesIO(b"\0\0\0\x18ftypmp42")
    stream.name = "/tmp/clip.mp4"
    video_url = client.upload(stream)
    assert video_url.endswith("/clip.mp4")
    [ticket, put] = fast.control.requests(provider="wavespeed")[-2:]
    assert ticket["operation"] == "createUpload" and put["operation"] == "putUploadObject"
    assert "Authorization" not in put["request_headers"]  # the SDK sends only the ticket's headers
    assert requests.get(audio_url, timeout=10).content == wav_bytes(1.0)
    output = client.run(MODELS[1], {"audio": audio_url, "video": video_url})
    assert len(output["outputs"]) == 1
    with pytest.raises(RuntimeError) as info:  # a nameless stream has no type
        client.upload(io.BytesIO(b"data"))
    assert str(info.value) == ('Failed to create upload: HTTP 400: {"code":400,"message":"Unsupported file type: '
                               'upload (images, videos and audio files only)","data":null}')


def test_sdk_failed_task_raises_with_the_emulator_error_text(fast, client):
    with pytest.raises(RuntimeError) as info:
        client.run(MODELS[0], {**VALID, "video": "https://media.invalid/v.mp4"}, poll_interval=0.01)
    [job] = fast.control.jobs(provider="wavespeed")
    assert str(info.value) == (f"Prediction failed (task_id: {job['id']}): "
                               "Failed to download video from the provided URL.")
    with pytest.raises(RuntimeError) as info:
        client.run(MODELS[0], {**VALID, "audio": "https://e.x/a.mp3?emulator_scenario=failed_content_moderation"})
    assert str(info.value).endswith("): The input or output was flagged by content moderation (sensitive content).")


@pytest.mark.parametrize("status", ["cancelled", "timeout", "deleted"])
def test_sdk_other_terminal_statuses_raise(fast, client, status):
    with pytest.raises(RuntimeError, match=rf"^Prediction {status} \(task_id: [0-9a-f]{{32}}\): "):
        client.run(MODELS[0], {**VALID, "video": f"https://e.x/v.mp4?emulator_scenario={status}"})


def test_sdk_unknown_key_raises_with_the_401_body(fast):
    with pytest.raises(RuntimeError) as info:
        Client(api_key="wsk_unknown", base_url=fast.url).run(MODELS[0], VALID)
    assert str(info.value) == 'Failed to submit prediction: HTTP 401: {"code":401,"message":"Unauthorized","data":null}'


@pytest.mark.parametrize("scenario,status", [("rate_limited", 429), ("internal_error", 500), ("bad_gateway", 502),
                                             ("service_unavailable", 503), ("gateway_error", 504)])
def test_item_23_sdk_retries_result_gets_but_never_the_submit(fast, client, scenario, status):
    fast.control.scenario("wavespeed", scenario, operation="getPredictionResult", count=2)
    assert len(client.run(MODELS[0], VALID)["outputs"]) == 1
    assert ops(fast, "getPredictionResult") == [status, status, 200]

    fast.control.scenario("wavespeed", scenario, operation="getPredictionResult", count=6)
    with pytest.raises(RuntimeError, match=rf"HTTP {status}"):
        client.run(MODELS[0], VALID)
    assert ops(fast, "getPredictionResult")[3:] == [status] * 6  # 1 + max_connection_retries (5)

    submit_scenario = "gateway_timeout" if scenario == "gateway_error" else scenario
    fast.control.scenario("wavespeed", submit_scenario, operation="submitLatentsync", count=1)
    with pytest.raises(RuntimeError, match=rf"^Failed to submit prediction: HTTP {status}"):
        client.run(MODELS[0], VALID)
    assert ops(fast, "submitLatentsync") == [200, 200, status]  # exactly one POST for the failed run


def test_sdk_webhook_url_in_the_input_is_delivered(fast, client, webhook_receiver):
    client.run(MODELS[0], {**VALID, "webhook_url": webhook_receiver.url})
    hook = webhook_receiver.wait_for(1)[0].json()
    assert hook["status"] == "completed" and hook["model"] == MODELS[0]


def test_sdk_module_level_run_with_configured_base_url(fast, monkeypatch):
    """The README's way: set wavespeed.config.api before the first call."""
    monkeypatch.setattr(sdk_client.api_config, "base_url", fast.url)
    monkeypatch.setattr(sdk_client.api_config, "api_key", KEY)
    monkeypatch.setattr(wavespeed.api, "_default_client", None)
    assert len(wavespeed.run(MODELS[0], VALID)["outputs"]) == 1


def test_sdk_against_a_real_clock(make_emulator):
    emu: Any = make_emulator({"clock": "real", "wavespeed": {"durations": {"created": 0.02, "processing": 0.05},
                                                             "sync_timeout": 1.0}})
    client = Client(api_key=KEY, base_url=emu.url)
    assert len(client.run(MODELS[0], VALID, poll_interval=0.02)["outputs"]) == 1
    assert len(client.run(MODELS[1], VALID, enable_sync_mode=True)["outputs"]) == 1  # the request waits
    slow = make_emulator({"clock": "real", "wavespeed": {"durations": {"created": 5, "processing": 5},
                                                         "sync_timeout": 0.1}})
    result = Client(api_key=KEY, base_url=slow.url).run_no_throw(MODELS[0], VALID, enable_sync_mode=True)
    assert result["status"] == "processing" and "Sync mode timed out after 0.1 seconds" in result["error"]
