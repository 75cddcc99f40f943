"""The official WaveSpeed TypeScript SDK (``wavespeed`` 0.3.2, npm), unmodified, against a live
emulator: ``run`` for both lip-sync models (polling and sync mode), ``runNoThrow``, ``upload``
(ticket + PUT), failed and other terminal tasks, a bad key, and its retries.

The SDK waits ``pollInterval`` seconds of wall-clock time between polls, so the polling tests
use an emulator whose tasks finish at the first poll (durations 0); nothing here sleeps.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import pytest
import requests

KEY = "ws-js-key"
VALID = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}
MODELS = ["bytedance/latentsync", "bytedance/lipsync/audio-to-video"]
FAST = pytest.mark.emulator_config({"wavespeed": {"durations": {"created": 0, "processing": 0}, "api_keys": [KEY]}})


@pytest.fixture
def ws(emulator: Any, run_js: Any) -> Any:
    """``ws(("run", model, input), ...)``: the SDK's results, one per call (retries without waits)."""

    def calls(*steps: tuple[Any, ...], key: str = KEY) -> list[dict[str, Any]]:
        return run_js("wavespeed", {"apiKey": key, "baseUrl": emulator.url, "retryInterval": 0}, list(steps))

    return calls


def ok(result: dict[str, Any]) -> Any:
    assert result["ok"], result["error"]
    return result["data"]


def statuses(emu: Any, operation: str) -> list[int]:
    return [r["status"] for r in emu.control.requests(provider="wavespeed", operation=operation)]


@FAST
@pytest.mark.parametrize("model", MODELS)
def test_js_run_polls_to_completion(emulator, ws, model):
    [result] = ws(("run", model, VALID, {"pollInterval": 0.01}))
    [job] = emulator.control.jobs(provider="wavespeed")
    assert ok(result) == {"outputs": [f"{emulator.url}/_emulator/media/wavespeed/{job['id']}.mp4"]}
    [submit] = emulator.control.requests(provider="wavespeed", method="POST")
    assert submit["path"] == f"/api/v3/{model}"
    assert submit["request_headers"]["X-Client-Name"] == "wavespeed-js"
    assert submit["request_headers"]["X-Client-Version"] == "0.3.2"
    assert statuses(emulator, "getPredictionResult") == [200]


@pytest.mark.parametrize("model", MODELS)
def test_js_run_sync_mode_is_one_request(emulator, ws, model):
    """On the virtual clock a task that finishes within the sync timeout completes in the request."""
    [result] = ws(("run", model, VALID, {"enableSyncMode": True}))
    [job] = emulator.control.jobs(provider="wavespeed")
    assert job["status"] == "completed"
    assert ok(result) == {"outputs": [f"{emulator.url}/_emulator/media/wavespeed/{job['id']}.mp4"]}
    assert statuses(emulator, "getPredictionResult") == []


def test_js_sync_timeout_then_the_result_url_recovers(emulator, ws):
    body = {**VALID, "video": "https://e.x/v.mp4?emulator_scenario=sync_timeout"}
    thrown, no_throw = ws(("run", MODELS[0], body, {"enableSyncMode": True}),
                          ("runNoThrow", MODELS[0], body, {"enableSyncMode": True}))
    first, second = emulator.control.jobs(provider="wavespeed")[::-1]
    result_url = f"{emulator.url}/api/v3/predictions/{first['id']}/result"
    assert thrown["error"]["name"] == "WavespeedSyncTimeoutException"
    assert thrown["error"]["message"] == (
        f"Sync mode timed out (task_id: {first['id']}): Sync mode timed out after 90 seconds. The prediction is "
        f"still processing asynchronously. Query the result later at: {result_url}")
    assert thrown["error"]["resultUrl"] == result_url
    detail = no_throw["data"]["detail"]
    assert no_throw["data"]["outputs"] is None
    assert (detail["taskId"], detail["status"], detail["error"]["name"]) == \
        (second["id"], "processing", "WavespeedSyncTimeoutException")
    emulator.advance(22)
    later = requests.get(result_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
    assert later["data"]["status"] == "completed"


def wav_bytes(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


@FAST
def test_js_upload_then_run_with_the_uploaded_files(emulator, ws, tmp_path: Path):
    (tmp_path / "voice.wav").write_bytes(wav_bytes(1.0))
    (tmp_path / "clip.mp4").write_bytes(b"\0\0\0\x18ftypmp42")
    (tmp_path / "notes.bin").write_bytes(b"data")
    audio, video, unknown, missing = ws(("upload", str(tmp_path / "voice.wav")), ("upload", str(tmp_path / "clip.mp4")),
                                        ("upload", str(tmp_path / "notes.bin")), ("upload", str(tmp_path / "none.wav")))
    audio_url, video_url = ok(audio), ok(video)
    assert audio_url.startswith(f"{emulator.url}/_emulator/files/") and audio_url.endswith("/voice.wav")
    assert video_url.endswith("/clip.mp4")
    ticket, put = emulator.control.requests(provider="wavespeed")[:2]
    assert ticket["operation"] == "createUpload" and put["operation"] == "putUploadObject"
    assert "Authorization" not in put["request_headers"]  # only the ticket's headers go with the PUT
    assert requests.get(audio_url, timeout=10).content == wav_bytes(1.0)
    assert unknown["error"]["message"] == (
        'Failed to upload file: HTTP 400: {"code":400,"message":"Unsupported file type: notes.bin '
        '(images, videos and audio files only)","data":null}')
    assert missing["error"]["message"] == f"File not found: {tmp_path / 'none.wav'}"
    [run] = ws(("run", MODELS[1], {"audio": audio_url, "video": video_url}, {"pollInterval": 0.01}))
    assert len(ok(run)["outputs"]) == 1


@FAST
def test_js_failed_task_raises_with_the_emulator_error_text(emulator, ws):
    failed, moderated, no_throw = ws(
        ("run", MODELS[0], {**VALID, "video": "https://media.invalid/v.mp4"}, {"pollInterval": 0.01}),
        ("run", MODELS[0], {**VALID, "audio": "https://e.x/a.mp3?emulator_scenario=failed_content_moderation"}),
        ("runNoThrow", MODELS[0], {**VALID, "video": "https://media.invalid/v.mp4"}))
    first, _, third = emulator.control.jobs(provider="wavespeed")[::-1]
    assert failed["error"]["message"] == (f"Prediction failed (task_id: {first['id']}): "
                                          "Failed to download video from the provided URL.")
    assert moderated["error"]["message"].endswith(
        "): The input or output was flagged by content moderation (sensitive content).")
    detail = no_throw["data"]["detail"]
    assert (no_throw["data"]["outputs"], detail["taskId"], detail["status"]) == (None, third["id"], "failed")
    assert detail["error"] == {"name": "WavespeedPredictionException", "taskId": third["id"], "model": MODELS[0],
                               "message": "Prediction failed: Failed to download video from the provided URL."}


@FAST
@pytest.mark.parametrize("status", ["cancelled", "timeout", "deleted"])
def test_js_other_terminal_statuses_stop_polling(emulator, ws, status):
    [result] = ws(("run", MODELS[0], {**VALID, "video": f"https://e.x/v.mp4?emulator_scenario={status}"}))
    [job] = emulator.control.jobs(provider="wavespeed")
    assert result["error"]["message"].startswith(f"Prediction failed (task_id: {job['id']}): ")
    assert statuses(emulator, "getPredictionResult") == [200]


@FAST
def test_js_bad_key_and_invalid_input_are_submission_errors(ws):
    [unknown] = ws(("run", MODELS[0], VALID), key="wsk_unknown")
    assert unknown["error"]["name"] == "WavespeedSubmissionException"
    assert unknown["error"]["message"] == (
        'Prediction submission failed: HTTP 401: {"code":401,"message":"Unauthorized","data":null}. The task may '
        "already have been created, so the SDK will not retry the POST automatically.")
    [missing_audio] = ws(("run", MODELS[0], {"video": VALID["video"]}))
    assert missing_audio["error"]["message"].startswith("Prediction submission failed: HTTP 400: ")
    assert '"message":"audio is required"' in missing_audio["error"]["message"]


@FAST
@pytest.mark.parametrize("scenario,status", [("rate_limited", 429), ("internal_error", 500), ("bad_gateway", 502),
                                             ("service_unavailable", 503), ("gateway_error", 504)])
def test_js_retries_result_gets_but_never_the_submit(emulator, ws, scenario, status):
    emulator.control.scenario("wavespeed", scenario, operation="getPredictionResult", count=2)
    [recovered] = ws(("run", MODELS[0], VALID, {"pollInterval": 0.01}))
    assert len(ok(recovered)["outputs"]) == 1
    assert statuses(emulator, "getPredictionResult") == [status, status, 200]

    emulator.control.scenario("wavespeed", scenario, operation="getPredictionResult", count=6)
    [exhausted] = ws(("run", MODELS[0], VALID, {"pollInterval": 0.01}))
    assert f"HTTP {status}" in exhausted["error"]["message"]
    assert statuses(emulator, "getPredictionResult")[3:] == [status] * 6  # 1 + maxConnectionRetries (5)

    submit_scenario = "gateway_timeout" if scenario == "gateway_error" else scenario
    emulator.control.scenario("wavespeed", submit_scenario, operation="submitLatentsync", count=1)
    [refused] = ws(("run", MODELS[0], VALID))
    assert refused["error"]["message"].startswith(f"Prediction submission failed: HTTP {status}")
    assert statuses(emulator, "submitLatentsync") == [200, 200, status]


@FAST
def test_js_webhook_url_in_the_input_is_delivered(ws, webhook_receiver):
    ok(ws(("run", MODELS[0], {**VALID, "webhook_url": webhook_receiver.url}, {"pollInterval": 0.01}))[0])
    hook = webhook_receiver.wait_for(1)[0].json()
    assert hook["status"] == "completed" and hook["model"] == MODELS[0]
