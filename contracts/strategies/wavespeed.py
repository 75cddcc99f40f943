"""Hypothesis strategies for WaveSpeed lip-sync submits (shared/reference/wavespeed.md §2).

A request is the SDK's pair ``{"model": <model id>, "input": <flat body>}``: it is sent as
``POST /api/v3/{model}`` with ``input`` as the JSON body (no wrapper). Structure comes from
``schemas/wavespeed.yaml`` (``LipsyncRequest``: ``audio``, ``video``, ``enable_sync_mode``,
``webhook_url``); the one rule the schema cannot say is the media format of each model
(LatentSync: video mp4, audio mp3/aac/wav/m4a [doc: D1]).

    from lipsync_emulator.contracts import strategies as st
    st.wavespeed.create_requests()                        # valid
    st.wavespeed.create_requests(model="bytedance/latentsync")
    st.wavespeed.invalid_requests("format")               # one rule broken, with the 400 it gets
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.strategies._schema import Break, SchemaStrategies
from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid

LATENTSYNC = "bytedance/latentsync"
AUDIO_TO_VIDEO = "bytedance/lipsync/audio-to-video"
MODELS = (LATENTSYNC, AUDIO_TO_VIDEO)
OPERATIONS = {LATENTSYNC: "submitLatentsync", AUDIO_TO_VIDEO: "submitLipsyncAudioToVideo"}
# Formats per model [doc: D1]; audio-to-video documents none (any common video/audio format).
FORMATS = {LATENTSYNC: {"video": ("mp4",), "audio": ("mp3", "aac", "wav", "m4a")},
           AUDIO_TO_VIDEO: {"video": ("mp4", "mov", "webm"), "audio": ("mp3", "aac", "wav", "m4a", "ogg", "flac")}}

SCHEMA = SchemaStrategies(schemas.load("wavespeed"))
FACTS = schemas.rules("wavespeed")  # each cross-field rule's error, as the schema declares it


def media_urls(kind: str, model: str = LATENTSYNC, duration: float | None = None) -> st.SearchStrategy[str]:
    """A public URL of a ``kind`` (video/audio) file in a format ``model`` takes."""
    hint = f"?duration={duration:g}" if duration else ""
    names = {"video": ("speaker", "talk"), "audio": ("voice", "speech")}[kind]
    return st.builds(lambda name, ext: f"https://cdn.example.com/{name}.{ext}{hint}", st.sampled_from(names),
                     st.sampled_from(FORMATS[model][kind]))


@st.composite
def inputs(draw: st.DrawFn, model: str = LATENTSYNC, *, video_duration: float | None = None) -> dict[str, Any]:
    """A valid flat body for ``model``: ``audio`` and ``video`` URLs in supported formats.
    (``enable_sync_mode`` and ``webhook_url`` are the client's business: left out.)"""
    return {"audio": draw(media_urls("audio", model)), "video": draw(media_urls("video", model, video_duration))}


@st.composite
def create_requests(draw: st.DrawFn, model: str | None = None, *, video_duration: float | None = None) -> dict[str, Any]:
    """``{"model", "input"}`` for one of the two lip-sync models (or ``model``)."""
    chosen = model or draw(st.sampled_from(MODELS))
    return {"model": chosen, "input": draw(inputs(chosen, video_duration=video_duration))}


def minimal_request() -> dict[str, Any]:
    """The simplest valid request (what ``create_requests()`` shrinks to)."""
    return {"model": LATENTSYNC, "input": {"audio": "https://cdn.example.com/voice.mp3",
                                           "video": "https://cdn.example.com/speaker.mp4"}}


def feature_examples() -> list[dict[str, Any]]:
    """Small valid requests, one per model and format family, tried first by the client suite."""
    return [minimal_request(),
            {"model": AUDIO_TO_VIDEO, "input": {"audio": "https://cdn.example.com/speech.wav",
                                                "video": "https://cdn.example.com/talk.mov"}}]


# -- invalid requests ------------------------------------------------------------------------------

def schema_error(brk: Break) -> ExpectedError:
    """WaveSpeed answers every schema violation 400, envelope ``code`` 400, a message naming the
    field (the body shape is inferred, reference §10)."""
    return ExpectedError(400, 400, brk.field or "body")


def _invalid(brk: Break, request: dict[str, Any]) -> Invalid:
    return Invalid(brk.rule, {"model": request["model"], "input": brk.apply(request["input"])}, schema_error(brk),
                   field=brk.field, operation=OPERATIONS[request["model"]])


def schema_breaks(request: dict[str, Any]) -> list[Invalid]:
    return [_invalid(b, request) for b in SCHEMA.breaks("LipsyncRequest", request["input"])]


@st.composite
def _schema_rule(draw: st.DrawFn) -> Invalid:
    request = draw(create_requests())
    request["input"].update(draw(st.fixed_dictionaries({}, optional={
        "enable_sync_mode": st.booleans(), "webhook_url": st.just("https://hooks.example.com/ws")})))
    return _invalid(draw(SCHEMA.one_break("LipsyncRequest", request["input"])), request)


@st.composite
def _format(draw: st.DrawFn) -> Invalid:
    """LatentSync takes mp4 video and mp3/aac/wav/m4a audio [doc: D1]: another media extension
    is rejected (400 under the default ``validation: reject``)."""
    request = draw(create_requests(LATENTSYNC))
    field = draw(st.sampled_from(("video", "audio")))
    ext = draw(st.sampled_from(("mov", "webm") if field == "video" else ("ogg", "flac")))
    request["input"][field] = f"https://cdn.example.com/{field}.{ext}"
    fact = FACTS["format"]
    return Invalid(fact.id, request, ExpectedError(fact.status, fact.code, f"{field} must be one of the supported "
                                                   "formats"), field=field, operation=OPERATIONS[LATENTSYNC])


_BUILDERS = {"format": _format}
RULES: tuple[str, ...] = tuple(_BUILDERS)


def rule_ids() -> tuple[str, ...]:
    return RULES


def invalid_requests(rule: str | None = None) -> st.SearchStrategy[Invalid]:
    """Requests breaking exactly one rule: ``"format"``, ``"schema"`` (any schema rule), or any."""
    if rule == "schema":
        return _schema_rule()
    if rule is not None:
        if rule not in _BUILDERS:
            raise KeyError(f"no WaveSpeed rule {rule!r} (have: schema, {', '.join(RULES)})")
        return _BUILDERS[rule]()
    return st.one_of([b() for b in _BUILDERS.values()] + [_schema_rule()])
