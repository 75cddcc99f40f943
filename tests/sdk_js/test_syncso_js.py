"""The official sync.so TypeScript SDK (``@sync.so/sdk`` 0.3.0), unmodified, against a live
emulator: every call it offers (generations create / createWithFiles / get / list /
estimateCost, models, batch, assets) and the errors it maps.

The SDK encodes two things unlike the Python one [sdk: updates S9]: ``createWithFiles`` sends
one multipart ``input`` part per item, and list filters go as one JSON-encoded value
(``status=["COMPLETED"]``). The request journal shows what went over the wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

KEY = "sk-js"
VIDEO = {"type": "video", "url": "https://assets.sync.so/docs/example-video.mp4?duration=12"}
AUDIO = {"type": "audio", "url": "https://assets.sync.so/docs/example-audio.wav"}
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
WAV = b"RIFF\x00\x00\x00\x00WAVE"


@pytest.fixture
def sync(emulator: Any, run_js: Any) -> Any:
    """``sync(("generations.get", id), ...)``: the SDK's results, one per call."""

    def calls(*steps: tuple[Any, ...], key: str = KEY) -> list[dict[str, Any]]:
        return run_js("sync", {"baseUrl": emulator.url, "apiKey": key}, list(steps))

    return calls


def ok(result: dict[str, Any]) -> Any:
    assert result["ok"], result["error"]
    return result["data"]


def files(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    (tmp_path / "clip.mp4").write_bytes(MP4)
    (tmp_path / "voice.wav").write_bytes(WAV)
    return {"$file": str(tmp_path / "clip.mp4")}, {"$file": str(tmp_path / "voice.wav")}


def test_js_create_get_and_complete(emulator, sync, webhook_receiver):
    [created] = sync(("generations.create", {"model": "lipsync-2", "input": [VIDEO, AUDIO],
                                             "options": {"sync_mode": "bounce", "temperature": 0.5},
                                             "webhookUrl": webhook_receiver.url, "outputFileName": "js_demo"}))
    gen = ok(created)
    assert gen["status"] == "PENDING" and gen["input"] == [VIDEO, AUDIO]
    assert gen["options"] == {"sync_mode": "bounce", "temperature": 0.5}
    emulator.advance(5)
    [processing] = sync(("generations.get", gen["id"]))
    assert ok(processing)["status"] == "PROCESSING"
    emulator.advance(25)
    [done] = sync(("generations.get", gen["id"]))
    done = ok(done)
    assert done["status"] == "COMPLETED"
    assert done["outputUrl"] == f"{emulator.url}/_emulator/media/syncso/{gen['id']}/js_demo.mp4"
    assert done["outputDuration"] == 12.0
    assert webhook_receiver.wait_for(1)[0].json()["status"] == "COMPLETED"
    [create] = emulator.control.requests(provider="syncso", method="POST")
    assert create["request_headers"]["X-Fern-Sdk-Name"] == "@sync.so/sdk"
    assert create["request_headers"]["X-Fern-Sdk-Version"] == "0.3.0"


def test_js_create_with_files(emulator, sync, tmp_path):
    video, audio = files(tmp_path)
    [result] = sync(("generations.createWithFiles", video, audio, {"model": "lipsync-2",
                                                                  "webhookUrl": "http://127.0.0.1:9/hook"}))
    gen = ok(result)
    assert [i["type"] for i in gen["input"]] == ["video", "audio"]
    assert gen["input"][0]["url"].startswith(f"{emulator.url}/_emulator/files/")
    assert gen["input"][0]["url"].endswith("/clip.mp4") and gen["input"][1]["url"].endswith("/voice.wav")
    assert gen["webhookUrl"] == "http://127.0.0.1:9/hook"


def test_js_create_with_files_sends_one_input_part_per_item_and_combines_files_with_urls(emulator, sync,
                                                                                     tmp_path):
    """A video file with an audio URL, then a video file with a TTS input and a segment-free
    audio: each ``input`` item is its own multipart part, each a JSON object."""
    video, _ = files(tmp_path)
    tts = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "EXAVITQu4vr4xnSDxMaL",
                                        "script": "Hello there"}}
    one, two, bad = sync(
        ("generations.createWithFiles", video, None, {"model": "lipsync-2", "input": [AUDIO]}),
        ("generations.createWithFiles", video, None, {"model": "lipsync-2-pro", "input": [tts],
                                                      "options": {"sync_mode": "loop"}}),
        ("generations.createWithFiles", video, None, {"model": "lipsync-2", "input": [AUDIO, tts]}))
    first = ok(one)
    assert first["input"][0] == AUDIO
    assert first["input"][1]["type"] == "video" and first["input"][1]["url"].endswith("/clip.mp4")
    second = ok(two)
    assert second["input"][0] == tts and second["options"] == {"sync_mode": "loop"}
    # two voices without segments: still the rule POST /v2/generate enforces, item by item
    assert bad["error"]["statusCode"] == 400
    assert bad["error"]["body"]["message"] == ("Provide a top-level segments array when using multiple audio or "
                                               "text inputs: found 2 audio or text inputs and no segments")
    posts = emulator.control.requests(provider="syncso", method="POST")
    assert [p["status"] for p in posts] == [201, 201, 400]


def test_js_list_filters_go_as_one_json_encoded_value(emulator, sync):
    first = ok(sync(("generations.create", {"model": "lipsync-2", "input": [VIDEO, AUDIO]}))[0])
    emulator.advance(30)
    second = ok(sync(("generations.create", {"model": "lipsync-2-pro", "input": [VIDEO, AUDIO]}))[0])
    everything, completed, both, by_id, by_ids, none = sync(
        ("generations.list",), ("generations.list", {"status": ["COMPLETED"]}),
        ("generations.list", {"status": ["PENDING", "COMPLETED"]}), ("generations.list", {"ids": [second["id"]]}),
        ("generations.list", {"ids": [first["id"], second["id"]], "status": ["COMPLETED"]}),
        ("generations.list", {"ids": ["6533643b-aceb-4c40-967e-d9ba9baac39e"]}))
    assert [g["id"] for g in ok(everything)] == [second["id"], first["id"]]
    assert [g["id"] for g in ok(completed)] == [first["id"]]
    assert [g["id"] for g in ok(both)] == [second["id"], first["id"]]
    assert [g["id"] for g in ok(by_id)] == [second["id"]]
    assert [g["id"] for g in ok(by_ids)] == [first["id"]]
    assert ok(none) == []
    queries = [unquote(r["query"]) for r in emulator.control.requests(provider="syncso", method="GET")]
    assert queries[1:4] == ['status=["COMPLETED"]', 'status=["PENDING","COMPLETED"]', f'ids=["{second["id"]}"]']


def test_js_bad_filter_values_are_400s_naming_them(sync):
    bad_status, bad_type = sync(("generations.list", {"status": ["DONE"]}), ("assets.list", {"types": ["MOVIE"]}))
    assert bad_status["error"]["statusCode"] == 400
    assert bad_status["error"]["body"]["message"] == ("status[0] must be one of: PENDING, PROCESSING, COMPLETED, "
                                                      "FAILED, REJECTED, CANCELED (got 'DONE')")
    assert bad_type["error"]["body"]["message"] == "types[0] must be one of: AUDIO, VIDEO, IMAGE (got 'MOVIE')"


def test_js_estimate_cost_and_models(sync):
    cost, models = sync(("generations.estimateCost", {"model": "lipsync-2", "input": [VIDEO, AUDIO]}),
                        ("models.list",))
    assert ok(cost) == [{"estimatedFrameCount": 300, "estimatedGenerationCost": 0.48}]
    assert [m["id"] for m in ok(models)] == ["lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1", "sync-3"]


def jsonl(path: Path, count: int) -> dict[str, str]:
    line = {"endpoint": "/v2/generate", "payload": {"model": "lipsync-2", "input": [VIDEO, AUDIO]}}
    path.write_text("".join(json.dumps({"request_id": f"req_{i:03d}", **line}) + "\n" for i in range(count)))
    return {"$file": str(path)}


def test_js_batch_create_dry_run_get_and_list(emulator, sync, tmp_path):
    batch_file = jsonl(tmp_path / "batch.jsonl", 20)
    dry, created, short = sync(("batch.create", batch_file, {"dry_run": True}),
                               ("batch.create", batch_file, {"webhook_url": "http://127.0.0.1:9/b"}),
                               ("batch.create", jsonl(tmp_path / "short.jsonl", 3), {}))
    assert ok(dry) == {"status": "VALIDATED"}
    batch = ok(created)
    assert batch["status"] == "PENDING"
    assert short["error"]["name"] == "BadRequestError" and short["error"]["statusCode"] == 400
    emulator.advance(40)
    got, listed, filtered = sync(("batch.get", batch["id"]), ("batch.list",),
                                 ("batch.list", {"status": "FAILED"}))
    done = ok(got)
    assert done["status"] == "COMPLETED" and done["metrics"]["success_count"] == 20
    assert done["outputUrl"] == f"{emulator.url}/v2/batches/{batch['id']}/result"
    assert [b["id"] for b in ok(listed)] == [batch["id"]]
    assert ok(filtered) == []


def test_js_assets_list_with_types_and_get(emulator, sync):
    gen = ok(sync(("generations.create", {"model": "lipsync-2", "input": [VIDEO, AUDIO]}))[0])
    emulator.advance(30)
    videos, audio, page = sync(("assets.list", {"types": ["VIDEO"], "sortBy": "dateAsc"}),
                               ("assets.list", {"types": ["AUDIO"]}), ("assets.list", {"limit": 1}))
    videos = ok(videos)
    assert videos["totalCount"] == 2
    assert [a["url"] for a in videos["items"]] == [VIDEO["url"], ok(sync(("generations.get", gen["id"]))[0])["outputUrl"]]
    assert [a["type"] for a in ok(audio)["items"]] == ["AUDIO"]
    assert ok(page)["totalCount"] == 3 and "nextCursor" in ok(page)
    [one] = sync(("assets.get", videos["items"][0]["id"]))
    assert ok(one) == videos["items"][0]


def test_js_errors_are_the_sdk_error_classes(make_emulator, run_js):
    emu = make_emulator({"syncso": {"api_keys": [KEY], "plan": "free"}})
    options = {"baseUrl": emu.url, "apiKey": KEY}
    bad, missing, malformed, *plan = run_js("sync", options, [
        ("generations.create", {"model": "bogus-model", "input": [VIDEO, AUDIO]}),
        ("generations.get", "6533643b-aceb-4c40-967e-d9ba9baac39e"),
        ("generations.get", "not-a-uuid"),
        # maxRetries 0: the SDK would retry the 429 after 1 s and 2 s of wall-clock time
        *[("generations.create", {"model": "lipsync-2", "input": [VIDEO, AUDIO]}, {"maxRetries": 0})] * 2])
    assert bad["error"]["name"] == "BadRequestError"
    assert "bogus-model" in bad["error"]["body"]["message"]
    assert missing["error"]["name"] == "NotFoundError"
    assert missing["error"]["body"] == {"message": "Generation 6533643b-aceb-4c40-967e-d9ba9baac39e not found",
                                        "statusCode": 404, "error": "Not Found", "errorCode": "generation_not_found"}
    assert malformed["error"]["name"] == "SyncError" and malformed["error"]["statusCode"] == 400
    assert malformed["error"]["body"]["errorCode"] == "invalid_generation_id"
    assert plan[0]["ok"]
    assert plan[1]["error"]["statusCode"] == 429  # the free plan's concurrency of 1
    assert plan[1]["error"]["body"]["errorCode"] == "concurrency_limit_reached"
    [wrong] = run_js("sync", {**options, "apiKey": "sk-wrong"}, [("models.list",)])
    assert wrong["error"]["name"] == "UnauthorizedError"
    assert wrong["error"]["body"] == {"message": "Unauthorized", "statusCode": 401}
