"""Hypothesis strategies for sync.so ``POST /v2/generate`` (and ``/v2/analyze/cost``) bodies.

Structure comes from ``schemas/syncso.yaml`` (models, options, input variants, TTS provider,
``outputFileName``); this module hand-writes only what the schema cannot say — the rules of
shared/reference/syncso.md §7–§8: one video, one voice unless there are segments, refIds
unique and matched exactly by segments, audio crops given as a pair with start < end,
segment start <= end.

Valid requests::

    from hypothesis import given
    from lipsync_emulator.contracts import strategies as st

    @given(st.syncso.create_requests(video_duration=30))
    def test_my_client_accepts(body): ...

    st.syncso.segments(video_duration=30, ref_ids=("host", "guest"))   # just the segments

Invalid requests, each breaking exactly one named rule and carrying the error sync.so
returns for it::

    @given(st.syncso.invalid_requests())           # any rule
    @given(st.syncso.invalid_requests("crop_pair"))  # one rule
    def test_my_client_surfaces(bad):
        bad.rule, bad.request, bad.expected.status, bad.expected.code, bad.expected.message

Rule ids: ``RULES`` (cross-field) plus ``schema:<keyword>:<field>`` for schema rules.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.strategies._schema import Break, SchemaStrategies
from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid

SEGMENTS = "generation_input_segments_invalid"
INVALID = "generation_input_validation_failed"
OPERATION = "createGeneration"
DEFAULT_VIDEO_SECONDS = 10.0  # what sync.so media probing assumes nothing about; our default length

VIDEO_URLS = ("https://cdn.example.com/talk.mp4", "https://cdn.example.com/interview.mov")
AUDIO_URLS = ("https://cdn.example.com/voice.wav", "https://cdn.example.com/speech.mp3")
IMAGE_URLS = ("https://cdn.example.com/face.png", "https://cdn.example.com/portrait.jpg")


@dataclass(frozen=True)
class Config:
    """The provider choices no source settles (reference §12), named like the emulator's
    settings. Defaults: what the emulator does by default."""

    duplicate_ref_ids: str = "reject"  # reject | allow   (§7.10, [3p])
    segment_overlap: str = "allow"  # allow | reject    (§7.12; reject also: beyond the video)
    zero_length_segments: str = "allow"  # allow | reject  (§7.6)


SCHEMA = SchemaStrategies(
    schemas.load("syncso"),
    overrides={
        "Video.url": st.sampled_from(VIDEO_URLS),
        "Audio.url": st.sampled_from(AUDIO_URLS),
        "Video.assetId": st.sampled_from(("asset-video-1", "asset-video-2")),
        "Audio.assetId": st.sampled_from(("asset-audio-1", "asset-audio-2")),
        "ElevenLabs.voiceId": st.sampled_from(("voice-1", "21m00Tcm4TlvDq8ikWAM")),
    },
)

_REF_ALPHABET = string.ascii_lowercase + string.digits


# -- valid pieces ---------------------------------------------------------------------------------

def models() -> st.SearchStrategy[str]:
    """A supported model id (from the schema's enum)."""
    return SCHEMA.strategy("Model")


def options() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``options`` object (GenerationOptions, from the schema)."""
    return SCHEMA.strategy("GenerationOptions")


def ref_ids() -> st.SearchStrategy[str]:
    """A readable refId (``a``, ``b1``...)."""
    return st.text(_REF_ALPHABET, min_size=1, max_size=4)


def video_inputs(video_duration: float | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A ``{"type": "video", ...}`` input. With ``video_duration``, the URL carries a
    ``?duration=`` hint (read by the emulator's media probe; a harmless query elsewhere) and
    the item has a URL (an asset's length is unknown)."""
    if video_duration is None:
        return SCHEMA.strategy("Video", exclude=("refId",))
    hint = f"?duration={video_duration:g}"
    return st.tuples(SCHEMA.strategy("Video", exclude=("refId",)), st.sampled_from(VIDEO_URLS)).map(
        lambda pair: {**pair[0], "url": pair[1] + hint})


def voice_inputs(ref_id: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """An ``audio`` or ``text`` (TTS) input, with ``refId`` set when given."""
    items = st.one_of(SCHEMA.strategy("Audio", exclude=("refId",)), SCHEMA.strategy("Tts", exclude=("refId",)))
    if ref_id is None:
        return items
    return items.map(lambda item: {**item, "refId": ref_id})


def _tenths(value: float) -> int:
    return int(round(value * 10))


def _seconds(tenths: int) -> float | int:
    return tenths // 10 if tenths % 10 == 0 else tenths / 10


@st.composite
def segments(draw: st.DrawFn, video_duration: float = DEFAULT_VIDEO_SECONDS, ref_ids: Sequence[str] = ("a",), *,
             min_size: int = 1, max_size: int = 3, crops: bool = True, ordered: bool = False,
             options_override: bool = True) -> list[dict[str, Any]]:
    """Valid ``segments``: non-overlapping windows of positive length inside
    ``[0, video_duration]`` with gaps between them (times in tenths of a second), each naming
    one of ``ref_ids`` (every refId is used at least once when there are enough segments),
    optionally cropping its audio (``startTime < endTime``, both given) and overriding options.
    ``ordered=False`` also shuffles the list (sync.so does not require chronological order)."""
    refs = list(ref_ids)
    if not refs:
        raise ValueError("segments need at least one refId")
    span = _tenths(video_duration)
    low = max(min_size, 1)
    high = max(low, min(max_size, span // 2))
    count = draw(st.integers(max(low, min(len(refs), high)), high))
    points = sorted(draw(st.lists(st.integers(0, span), min_size=2 * count, max_size=2 * count, unique=True)))
    out = []
    for n in range(count):
        ref = refs[n] if n < len(refs) else draw(st.sampled_from(refs))
        audio: dict[str, Any] = {"refId": ref}
        if crops and draw(st.booleans()):
            start, end = sorted(draw(st.lists(st.integers(0, 600), min_size=2, max_size=2, unique=True)))
            audio.update(startTime=_seconds(start), endTime=_seconds(end))
        segment: dict[str, Any] = {"startTime": _seconds(points[2 * n]), "endTime": _seconds(points[2 * n + 1]),
                                   "audioInput": audio}
        if options_override and draw(st.booleans()):
            segment["optionsOverride"] = draw(options())
        out.append(segment)
    return out if ordered else list(draw(st.permutations(out)))


@st.composite
def create_requests(draw: st.DrawFn, video_duration: float | None = None, *, segmented: bool | None = None,
                    max_voices: int = 3, min_voices: int = 1, webhook_url: str | None = None,
                    shuffle: bool = True) -> dict[str, Any]:
    """A valid ``POST /v2/generate`` JSON body. Without segments: one video and one audio or
    TTS input. With segments (``segmented=True``; drawn when ``None``): ``min_voices`` to
    ``max_voices`` voices with unique refIds and segments over ``video_duration`` seconds
    (10 when not given). ``webhook_url`` is set as ``webhookUrl`` when given."""
    duration = video_duration or DEFAULT_VIDEO_SECONDS
    video = draw(video_inputs(video_duration))
    use_segments = draw(st.booleans()) if segmented is None else segmented
    segs = None
    if use_segments:
        refs = draw(st.lists(ref_ids(), min_size=max(1, min_voices), max_size=max(max_voices, min_voices),
                             unique=True))
        voices = [draw(voice_inputs(ref)) for ref in refs]
        segs = draw(segments(duration, refs))
    else:
        voices = [draw(voice_inputs(draw(st.none() | ref_ids())))]
    items = [video, *voices]
    if shuffle:
        items = list(draw(st.permutations(items)))
    body: dict[str, Any] = {"model": draw(models()), "input": items}
    if draw(st.booleans()):
        body["options"] = draw(options())
    if segs is not None:
        body["segments"] = segs
    if webhook_url is not None:
        body["webhookUrl"] = webhook_url
    if draw(st.booleans()):
        body["outputFileName"] = draw(_FILE_NAMES)
    return body


# outputFileName's schema node, derived once (a regex strategy is costly to build)
_FILE_NAMES = SCHEMA.strategy(SCHEMA.component("CreateGenerationDto")["properties"]["outputFileName"])


def minimal_request() -> dict[str, Any]:
    """The simplest valid body (what Hypothesis shrinks ``create_requests()`` to): one video,
    one audio, the default model. The client suite's fixed scenarios send it."""
    return {"model": "lipsync-2", "input": [{"type": "video", "url": VIDEO_URLS[0]},
                                            {"type": "audio", "url": AUDIO_URLS[0]}]}


def feature_examples() -> list[dict[str, Any]]:
    """Small valid bodies, one per feature a client must carry unchanged (segments with an
    audio crop, several voices with gaps between segments, TTS with options and an output
    name). The client suite tries them before generated ones."""
    video = {"type": "video", "url": VIDEO_URLS[0]}
    return [
        minimal_request(),
        {"model": "lipsync-2", "input": [video, {"type": "audio", "url": AUDIO_URLS[0], "refId": "a"}],
         "segments": [{"startTime": 0, "endTime": 5, "audioInput": {"refId": "a", "startTime": 1, "endTime": 6}}]},
        {"model": "lipsync-2-pro", "input": [video, {"type": "audio", "url": AUDIO_URLS[0], "refId": "host"},
                                             {"type": "text", "refId": "guest", "provider": {
                                                 "name": "elevenlabs", "voiceId": "voice-1", "script": "Hello"}}],
         "segments": [{"startTime": 0, "endTime": 4, "audioInput": {"refId": "host"}},
                      {"startTime": 6, "endTime": 9, "audioInput": {"refId": "guest"},
                       "optionsOverride": {"sync_mode": "cut_off"}}]},
        {"model": "react-1", "input": [video, {"type": "text", "provider": {
            "name": "elevenlabs", "voiceId": "voice-1", "script": "Hi there", "stability": 0.5}}],
         "options": {"sync_mode": "loop", "model_mode": "face", "prompt": "happy", "temperature": 0.5},
         "outputFileName": "greeting_01"},
    ]


# -- invalid requests --------------------------------------------------------------------------

# Each rule's status and code (and documented wording) as the schema declares them (x-rules).
FACTS = schemas.rules("syncso")


def _bad(rule: str, request: dict[str, Any], field: str, mention: str | None = None) -> Invalid:
    """The message must carry the rule's documented wording, else ``mention`` (default: the field)."""
    fact = FACTS[rule]
    return Invalid(rule, request, ExpectedError(fact.status, fact.code, fact.message or mention or field),
                   field=field, operation=OPERATION)


def _voices(body: dict[str, Any]) -> list[int]:
    return [i for i, item in enumerate(body["input"]) if item.get("type") in ("audio", "text")]


def _video(body: dict[str, Any]) -> int:
    return next(i for i, item in enumerate(body["input"]) if item.get("type") == "video")


@st.composite
def _video_missing(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration))
    del body["input"][_video(body)]
    return _bad("video_missing", body, "input")


@st.composite
def _too_many_visual(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration))
    extra = draw(video_inputs(duration))
    at = draw(st.integers(0, len(body["input"])))
    body["input"].insert(at, extra)
    second = [i for i, item in enumerate(body["input"]) if item.get("type") == "video"][1]
    return _bad("too_many_visual", body, f"input[{second}]")


def _as_image(body: dict[str, Any], url: str) -> str:
    """Swap the video input for a still image at ``url``; return the image's path."""
    at = _video(body)
    body["input"][at] = {"type": "image", "url": url}
    return f"input[{at}]"


@st.composite
def _image_model(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    """Only sync-3 takes a still image as the visual input [doc: updates S6]."""
    body = draw(create_requests(duration))
    body["model"] = draw(models().filter(lambda model: model != "sync-3"))
    _as_image(body, draw(st.sampled_from(IMAGE_URLS)))
    return _bad("image_model", body, "model")


@st.composite
def _image_format(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    """An image input must be JPEG, PNG or WebP [doc: updates S6]."""
    body = draw(create_requests(duration))
    body["model"] = "sync-3"
    where = _as_image(body, draw(st.sampled_from(("https://cdn.example.com/face.gif",
                                                  "https://cdn.example.com/face.bmp"))))
    return _bad("image_format", body, f"{where}.url")


@st.composite
def _audio_missing(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration))
    body["input"] = [item for item in body["input"] if item.get("type") == "video"]
    body.pop("segments", None)
    return _bad("audio_missing", body, "input")


@st.composite
def _duplicate_ref_id(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True, min_voices=2))
    voices = _voices(body)
    first, second = body["input"][voices[0]], body["input"][voices[1]]
    old = second["refId"]
    second["refId"] = first["refId"]
    for seg in body["segments"]:  # keep every segment pointing at an existing refId: one rule broken
        if seg["audioInput"]["refId"] == old:
            seg["audioInput"]["refId"] = first["refId"]
    return _bad("duplicate_ref_id", body, f"input[{voices[1]}].refId")


@st.composite
def _multiple_voices_without_segments(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True, min_voices=2))
    del body["segments"]
    return _bad("multiple_voices_without_segments", body, "segments")


@st.composite
def _segments_without_ref_ids(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True, max_voices=1))
    for i in _voices(body):
        if draw(st.booleans()):
            body["input"][i].pop("refId")
        else:
            body["input"][i]["refId"] = ""
    return _bad("segments_without_ref_ids", body, "input", "refId")


def _segment(draw: st.DrawFn, body: dict[str, Any]) -> int:
    return draw(st.integers(0, len(body["segments"]) - 1))


@st.composite
def _segment_ref_id_unknown(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    n = _segment(draw, body)
    known = {body["input"][i].get("refId") for i in _voices(body)}
    ref = body["segments"][n]["audioInput"]["refId"]
    # refIds match exactly (§7.3): a different case is as unknown as a different name
    candidates = [c for c in (ref.upper(), ref + "x", "unknown") if c not in known]
    body["segments"][n]["audioInput"]["refId"] = draw(st.sampled_from(candidates))
    where = f"segments[{n}].audioInput.refId"
    return _bad("segment_ref_id_unknown", body, where)


@st.composite
def _crop_pair(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    n = _segment(draw, body)
    audio = body["segments"][n]["audioInput"]
    given = draw(st.sampled_from(("startTime", "endTime")))
    audio.pop("startTime", None)
    audio.pop("endTime", None)
    audio[given] = _seconds(draw(st.integers(0, 600)))
    missing = "endTime" if given == "startTime" else "startTime"
    return _bad("crop_pair", body, f"segments[{n}].audioInput.{missing}", f"segments[{n}].audioInput")


@st.composite
def _crop_order(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    n = _segment(draw, body)
    end = draw(st.integers(0, 600))
    start = draw(st.integers(end, 601))
    body["segments"][n]["audioInput"].update(startTime=_seconds(start), endTime=_seconds(end))
    where = f"segments[{n}].audioInput.startTime"
    return _bad("crop_order", body, where)


@st.composite
def _segment_order(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    n = _segment(draw, body)
    seg = body["segments"][n]
    seg["startTime"], seg["endTime"] = seg["endTime"], seg["startTime"]
    where = f"segments[{n}].startTime"
    return _bad("segment_order", body, where)


@st.composite
def _zero_length_segment(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    n = _segment(draw, body)
    body["segments"][n]["endTime"] = body["segments"][n]["startTime"]
    where = f"segments[{n}].startTime"
    return _bad("zero_length_segment", body, where)


@st.composite
def _segment_overlap(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration, segmented=True))
    segs = sorted(body["segments"], key=lambda s: s["startTime"])
    if len(segs) < 2:
        segs.append({"startTime": segs[0]["startTime"], "endTime": segs[0]["endTime"],
                     "audioInput": {"refId": segs[0]["audioInput"]["refId"]}})
    else:
        first, second = segs[0], segs[1]
        second["startTime"] = _seconds((_tenths(first["startTime"]) + _tenths(first["endTime"])) // 2)
    body["segments"] = segs
    return _bad("segment_overlap", body, "segments[1].startTime", "segments[1]")


@st.composite
def _segment_beyond_video(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    length = duration or DEFAULT_VIDEO_SECONDS
    body = draw(create_requests(length, segmented=True))
    segs = sorted(body["segments"], key=lambda s: s["startTime"])
    segs[-1]["endTime"] = _seconds(_tenths(length) + draw(st.integers(1, 50)))
    body["segments"] = segs
    n = len(segs) - 1
    return _bad("segment_beyond_video", body, f"segments[{n}].endTime")


@st.composite
def _dub_audio_conflict(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration))
    body["dubParams"] = {"providerName": "elevenlabs", "targetLang": draw(st.sampled_from(("es", "fr", "de")))}
    return _bad("dub_audio_conflict", body, "dubParams")


_BUILDERS = {
    "video_missing": _video_missing,
    "too_many_visual": _too_many_visual,
    "image_model": _image_model,
    "image_format": _image_format,
    "audio_missing": _audio_missing,
    "duplicate_ref_id": _duplicate_ref_id,
    "multiple_voices_without_segments": _multiple_voices_without_segments,
    "segments_without_ref_ids": _segments_without_ref_ids,
    "segment_ref_id_unknown": _segment_ref_id_unknown,
    "crop_pair": _crop_pair,
    "crop_order": _crop_order,
    "segment_order": _segment_order,
    "zero_length_segment": _zero_length_segment,
    "segment_overlap": _segment_overlap,
    "segment_beyond_video": _segment_beyond_video,
    "dub_audio_conflict": _dub_audio_conflict,
}

RULES: tuple[str, ...] = tuple(_BUILDERS)
"""Every cross-field rule id (which apply depends on ``Config``: see ``rule_ids``)."""


def rule_ids(config: Config = Config()) -> tuple[str, ...]:
    """The cross-field rules that are rules under ``config``."""
    off = set()
    if config.duplicate_ref_ids != "reject":
        off.add("duplicate_ref_id")
    if config.segment_overlap != "reject":
        off |= {"segment_overlap", "segment_beyond_video"}
    if config.zero_length_segments != "reject":
        off.add("zero_length_segment")
    return tuple(r for r in RULES if r not in off)


def schema_error(brk: Break) -> ExpectedError:
    """The error sync.so returns for a schema rule broken at ``brk.field`` (400; the field is
    named in the message). Codes: an unsupported model -> ``generation_unsupported_model``;
    a TTS script of 5000+ characters -> ``generation_text_length_exceeded`` (§8.12);
    anything under ``segments`` -> ``generation_input_segments_invalid`` (§7); otherwise
    ``generation_input_validation_failed``."""
    hint = brk.hints.get("x-error-code")
    if hint == "generation_unsupported_model" and brk.keyword in ("enum", "type"):
        code = hint
    elif hint == "generation_text_length_exceeded" and brk.keyword == "maxLength":
        code = hint
    elif brk.field.startswith("segments"):
        code = SEGMENTS
    else:
        code = INVALID
    return ExpectedError(400, code, brk.field)


def _invalid(brk: Break, request: dict[str, Any]) -> Invalid:
    return Invalid(brk.rule, brk.apply(request), schema_error(brk), field=brk.field, operation=OPERATION)


def schema_breaks(request: dict[str, Any]) -> list[Invalid]:
    """Every single-schema-rule break of a valid create body, with sync.so's error for it."""
    return [_invalid(b, request) for b in SCHEMA.breaks("CreateGenerationDto", request)]


@st.composite
def _schema_rule(draw: st.DrawFn, duration: float | None, cfg: Config) -> Invalid:
    body = draw(create_requests(duration))
    return _invalid(draw(SCHEMA.one_break("CreateGenerationDto", body)), body)


def invalid_requests(rule: str | None = None, *, video_duration: float | None = None,
                     config: Config = Config()) -> st.SearchStrategy[Invalid]:
    """Create bodies that break exactly one rule, each carrying the rule id and sync.so's
    error. ``rule``: a cross-field rule id (``RULES``), ``"schema"`` for any schema rule, or
    ``None`` for any rule that applies under ``config``."""
    if rule == "schema":
        return _schema_rule(video_duration, config)
    if rule is not None:
        if rule not in _BUILDERS:
            raise KeyError(f"no sync.so rule {rule!r} (have: schema, {', '.join(RULES)})")
        return _BUILDERS[rule](video_duration, config)
    return st.one_of([_BUILDERS[r](video_duration, config) for r in rule_ids(config)]
                     + [_schema_rule(video_duration, config)])
