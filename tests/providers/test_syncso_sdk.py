"""The official sync.so SDK (syncsdk 0.3.0), unmodified, against a live emulator: every flow
of issue 2 point 2, errors included."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import pytest
from sync import Sync
from sync.common import (
    Audio,
    GenerationOptions,
    GenerationSegment,
    SegmentAudioInput,
    Tts,
    Video,
)
from sync.common.errors import BadRequestError, NotFoundError, UnauthorizedError
from sync.core.api_error import ApiError

VIDEO = Video(url="https://assets.sync.so/docs/example-video.mp4?duration=12")
AUDIO = Audio(url="https://assets.sync.so/docs/example-audio.wav")


@pytest.fixture
def client(emulator) -> Sync:
    return Sync(api_key="sk-sdk", base_url=emulator.url)


def test_sdk_full_json_generation_with_segments_tts_options_webhook(emulator, client, webhook_receiver):
    tts = Tts(provider={"name": "elevenlabs", "voice_id": "EXAVITQu4vr4xnSDxMaL", "script": "Hello there"},
              ref_id="tts_1")
    gen = client.generations.create(
        model="lipsync-2",
        input=[VIDEO, Audio(url="https://assets.sync.so/docs/example-audio.wav", ref_id="audio_1"), tts],
        segments=[
            GenerationSegment(start_time=0, end_time=5,
                              audio_input=SegmentAudioInput(ref_id="audio_1", start_time=2, end_time=5)),
            GenerationSegment(start_time=6, end_time=8, audio_input=SegmentAudioInput(ref_id="tts_1")),
        ],
        options=GenerationOptions(sync_mode="loop", temperature=0.5, occlusion_detection_enabled=True),
        webhook_url=webhook_receiver.url,
        output_file_name="sdk_demo",
    )
    assert gen.status == "PENDING"
    assert gen.segments is not None and gen.segments[1].audio_input.ref_id == "tts_1"
    assert gen.input[2].provider.voice_id == "EXAVITQu4vr4xnSDxMaL"

    emulator.advance(5)
    assert client.generations.get(gen.id).status == "PROCESSING"
    emulator.advance(25)
    done = client.generations.get(gen.id)
    assert done.status == "COMPLETED"
    assert done.output_url == f"{emulator.url}/_emulator/media/syncso/{gen.id}/sdk_demo.mp4"
    assert done.output_duration == 12.0

    hook = webhook_receiver.wait_for(1)[0]
    secret = emulator.control.config()["syncso"]["webhook_secret"]
    t, v1 = (part.split("=", 1)[1] for part in hook.headers["Sync-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{t}.{json.dumps(hook.json(), separators=(',', ':'))}".encode(),
                        hashlib.sha256).hexdigest()
    assert v1 == expected
    assert hook.json()["status"] == "COMPLETED"


def test_sdk_create_with_files(emulator, client):
    video = ("clip.mp4", io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64), "video/mp4")
    audio = ("voice.wav", io.BytesIO(b"RIFF\x00\x00\x00\x00WAVE"), "audio/wav")
    gen = client.generations.create_with_files(model="lipsync-2", video=video, audio=audio,
                                               webhook_url="http://127.0.0.1:9/hook")
    assert gen.status == "PENDING"
    assert [i.type for i in gen.input] == ["video", "audio"]
    assert gen.input[0].url.startswith(f"{emulator.url}/_emulator/files/")
    assert gen.webhook_url == "http://127.0.0.1:9/hook"


def test_sdk_list_with_status_and_ids_filters(emulator, client):
    first = client.generations.create(model="lipsync-2", input=[VIDEO, AUDIO])
    emulator.advance(30)
    second = client.generations.create(model="lipsync-2-pro", input=[VIDEO, AUDIO])
    assert [g.id for g in client.generations.list()] == [second.id, first.id]
    assert [g.id for g in client.generations.list(status="COMPLETED")] == [first.id]
    assert {g.id for g in client.generations.list(status=["PENDING", "COMPLETED"])} == {first.id, second.id}
    assert [g.id for g in client.generations.list(ids=[second.id])] == [second.id]


def test_sdk_estimate_cost_and_models(client):
    [estimate] = client.generations.estimate_cost(model="lipsync-2", input=[VIDEO, AUDIO])
    assert estimate.estimated_frame_count == 300
    assert estimate.estimated_generation_cost == pytest.approx(0.48)
    models = client.models.list()
    assert {m.id for m in models} == {"lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1", "sync-3"}


def test_sdk_failed_generation_carries_error_and_code(emulator, client):
    gen = client.generations.create(
        model="lipsync-2", input=[Video(url="https://e.x/v.mp4?emulator_scenario=failed"), AUDIO])
    emulator.advance(30)
    failed = client.generations.get(gen.id)
    assert failed.status == "FAILED"
    assert failed.error == "An error occurred in the generation pipeline."
    assert failed.error_code == "generation_pipeline_failed"


def test_sdk_bad_request_names_the_field(client):
    with pytest.raises(BadRequestError) as exc:
        client.generations.create(model="bogus-model", input=[VIDEO, AUDIO])
    assert exc.value.status_code == 400
    assert "model" in exc.value.body.message and "bogus-model" in exc.value.body.message

    with pytest.raises(BadRequestError) as exc:
        client.generations.create(
            model="lipsync-2", input=[VIDEO, Audio(url="https://e.x/a.wav", ref_id="a1")],
            segments=[GenerationSegment(start_time=0, end_time=4,
                                        audio_input=SegmentAudioInput(ref_id="a1", start_time=1))])
    assert "segments[0].audioInput.startTime was given without segments[0].audioInput.endTime" in \
        exc.value.body.message


def test_sdk_not_found_and_malformed_id(client):
    with pytest.raises(NotFoundError) as exc:
        client.generations.get("6533643b-aceb-4c40-967e-d9ba9baac39e")
    assert exc.value.body.status_code == 404
    # syncsdk maps no 400 on get: it surfaces as a plain ApiError with the parsed body
    with pytest.raises(ApiError) as bad:
        client.generations.get("not-a-uuid")
    assert bad.value.status_code == 400
    assert bad.value.body["errorCode"] == "invalid_generation_id"


def test_sdk_unauthorized(make_emulator):
    emu = make_emulator({"syncso": {"api_keys": ["sk-right"]}})
    with pytest.raises(UnauthorizedError) as exc:
        Sync(api_key="sk-wrong", base_url=emu.url).models.list()
    assert exc.value.body.message == "Unauthorized"
    with pytest.raises(UnauthorizedError) as missing:
        Sync(api_key="", base_url=emu.url).generations.list()
    assert missing.value.body.message == "Either Cookie or x-api-key header must be provided"


def test_sdk_unmapped_status_is_an_api_error_with_json_body(emulator, client):
    emulator.control.scenario("syncso", "free_tier_exhausted", count=1)
    with pytest.raises(ApiError) as exc:
        client.generations.create(model="lipsync-2", input=[VIDEO, AUDIO])
    assert exc.value.status_code == 402
    assert exc.value.body["errorCode"] == "free_tier_generations_exhausted"
