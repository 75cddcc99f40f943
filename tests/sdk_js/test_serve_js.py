"""Both TypeScript SDKs against a ``lipsync-emulator serve`` process (SQLite state, virtual
clock), as a user's CI would run them: sync.so create (JSON and with files, one
``input`` part per item), list with JSON-encoded filters, get after the clock moves, count;
WaveSpeed run (polling and sync mode) and upload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability.serving import Served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # tasks that finish at the first poll: the WaveSpeed SDK polls on the wall clock
    with Served(str(tmp_path_factory.mktemp("serve-js")), "--set", "wavespeed.durations.created=0",
                "--set", "wavespeed.durations.processing=0") as server:
        yield server


def ok(result: dict[str, Any]) -> Any:
    assert result["ok"], result["error"]
    return result["data"]


def test_js_sync_sdk_against_serve(served, run_js, tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    options = {"baseUrl": served.url, "apiKey": "sk-serve-js"}
    video = {"type": "video", "url": "https://e.x/v.mp4?duration=12"}
    audio = {"type": "audio", "url": "https://e.x/a.wav"}
    created, with_files = run_js("sync", options, [
        ("generations.create", {"model": "lipsync-2", "input": [video, audio]}),
        ("generations.createWithFiles", {"$file": str(tmp_path / "clip.mp4")}, None,
         {"model": "lipsync-2", "input": [audio]})])
    first, second = ok(created), ok(with_files)
    assert [i["type"] for i in second["input"]] == ["audio", "video"]
    served.advance(30)
    got, completed, pending, by_ids = run_js("sync", options, [
        ("generations.get", first["id"]), ("generations.list", {"status": ["COMPLETED"]}),
        ("generations.list", {"status": ["PENDING"]}), ("generations.list", {"ids": [second["id"]]})])
    assert ok(got)["status"] == "COMPLETED" and ok(got)["outputDuration"] == 12.0
    assert {g["id"] for g in ok(completed)} == {first["id"], second["id"]}
    assert ok(pending) == []
    assert [g["id"] for g in ok(by_ids)] == [second["id"]]
    count = requests.get(f"{served.url}/v2/generations/count?status=COMPLETED",
                         headers={"x-api-key": "sk-serve-js"}, timeout=10)
    assert count.json() == {"count": 2}


def test_js_wavespeed_sdk_against_serve(served, run_js, tmp_path):
    (tmp_path / "voice.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    options = {"apiKey": "ws-serve-js", "baseUrl": served.url, "retryInterval": 0}
    body = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}
    polled, sync_mode, uploaded = run_js("wavespeed", options, [
        ("run", "bytedance/latentsync", body, {"pollInterval": 0.01}),
        ("run", "bytedance/lipsync/audio-to-video", body, {"enableSyncMode": True}),
        ("upload", str(tmp_path / "voice.wav"))])
    assert ok(polled)["outputs"][0].startswith(f"{served.url}/_emulator/media/wavespeed/")
    assert ok(sync_mode)["outputs"][0].startswith(f"{served.url}/_emulator/media/wavespeed/")
    url = ok(uploaded)
    assert url.endswith("/voice.wav") and requests.get(url, timeout=10).content == (tmp_path / "voice.wav").read_bytes()
