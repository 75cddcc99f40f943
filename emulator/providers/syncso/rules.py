"""sync.so rules the OpenAPI file cannot say: how inputs relate to each other and to segments.

Structure (types, enums, required keys, ranges, ``outputFileName`` charset) is in
``schemas/syncso.yaml``; everything here is cross-field: one small function per rule, in
the order they are checked. Each rule's id and error (status, code) are declared once, in the
schema's ``x-rules``, which the contract strategies read too. Evidence per rule is in
shared/reference/syncso.md §7–§8; choices no source confirms are configurable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from lipsync_emulator.core.errors import Unprocessable
from lipsync_emulator.core.media import probe_url, split_url
from lipsync_emulator.core.rules import Broken, Rules
from lipsync_emulator.schemas import rules

SEGMENTS = "generation_input_segments_invalid"
INVALID = "generation_input_validation_failed"
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})

SNAKE = {"start_time": "startTime", "end_time": "endTime", "audio_input": "audioInput", "ref_id": "refId",
         "asset_id": "assetId", "voice_id": "voiceId", "similarity_boost": "similarityBoost",
         "options_override": "optionsOverride"}


def camelize(value: Any) -> Any:
    """Raw snake_case keys (the seed's dict examples) read as the camelCase the SDK sends."""
    if isinstance(value, list):
        return [camelize(v) for v in value]
    if isinstance(value, dict):
        return {SNAKE.get(k, k): camelize(v) for k, v in value.items()}
    return value


def has_snake_keys(value: Any) -> bool:
    if isinstance(value, list):
        return any(has_snake_keys(v) for v in value)
    if isinstance(value, dict):
        return any(k in SNAKE or has_snake_keys(v) for k, v in value.items())
    return False


@dataclass(frozen=True)
class Generation:
    """A create body read once for the rules: which inputs are visual, voices, images, texts."""

    payload: dict[str, Any]
    cfg: dict[str, Any]
    inputs: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    videos: list[int]  # the visual inputs: a video, or for sync-3 a still image [doc: updates S6]
    images: list[int]
    voices: list[int]
    texts: list[int]

    @classmethod
    def read(cls, payload: dict[str, Any], cfg: dict[str, Any]) -> Generation:
        inputs: list[dict[str, Any]] = payload["input"]
        videos = [i for i, item in enumerate(inputs) if item.get("type") in ("video", "image")]
        voices = [i for i, item in enumerate(inputs) if item.get("type") in ("audio", "text")]
        return cls(payload, cfg, inputs, payload.get("segments") or [], videos,
                   [i for i in videos if inputs[i]["type"] == "image"], voices,
                   [i for i in voices if inputs[i].get("type") == "text"])

    @property
    def ref_ids(self) -> set[str]:
        return {ref for i in self.voices if (ref := self.inputs[i].get("refId"))}


RULES = Rules(rules("syncso"))


def check(payload: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Raise the first broken rule's error."""
    RULES.check(Generation.read(payload, cfg))


@RULES("dub_audio_conflict")
def dub_audio_conflict(g: Generation) -> Broken | None:
    if "dubParams" in g.payload and g.voices:
        return Broken("dubParams cannot be combined with audio or text inputs", "dubParams")
    return None


@RULES("video_missing")
def video_missing(g: Generation) -> Broken | None:
    if not g.videos:
        return Broken(f"{RULES.facts['video_missing'].message} input must contain one item of type 'video'",
                      "input")
    return None


@RULES("too_many_visual")
def too_many_visual(g: Generation) -> Broken | None:
    if len(g.videos) > 1:
        noun = "visual (video or image)" if g.images else "video"
        where = f"input[{g.videos[1]}]"
        return Broken(f"input must contain exactly one {noun} item, found {len(g.videos)} ({where})", where)
    return None


@RULES("image_model")
def image_model(g: Generation) -> Broken | None:
    model = g.payload["model"] if g.images else None
    if model is not None and model != "sync-3":
        return Broken(f"{RULES.facts['image_model'].message} {model} does not take image inputs "
                      f"(input[{g.images[0]}]); only sync-3 does", "model")
    return None


@RULES("image_format")
def image_format(g: Generation) -> Broken | None:
    url = g.inputs[g.images[0]].get("url") if g.images else None
    extension = PurePosixPath(split_url(url).path).suffix.lower() if url else ""
    if extension and extension not in IMAGE_EXTENSIONS:
        where = f"input[{g.images[0]}].url"
        return Broken(f"{where}: an image input must be JPEG, PNG or WebP (got {extension})", where)
    return None


@RULES("audio_missing")
def audio_missing(g: Generation) -> Broken | None:
    if not g.voices and "dubParams" not in g.payload:
        return Broken(f"{RULES.facts['audio_missing'].message} input must contain an item of type 'audio' "
                      "or 'text'", "input")
    return None


@RULES("duplicate_ref_id")
def duplicate_ref_id(g: Generation) -> Broken | None:
    if g.cfg.get("duplicate_ref_ids", "reject") != "reject":
        return None
    seen: set[str] = set()
    for i in g.voices:
        ref = g.inputs[i].get("refId")
        if ref and ref in seen:
            return Broken(f"input[{i}].refId {ref!r} is used by more than one input; refId values must be unique",
                          f"input[{i}].refId")
        if ref:
            seen.add(ref)
    return None


@RULES("multiple_voices_without_segments")
def multiple_voices_without_segments(g: Generation) -> Broken | None:
    if not g.segments and len(g.voices) > 1:
        kinds = "text" if len(g.texts) == len(g.voices) else "audio or text"
        return Broken(f"{RULES.facts['multiple_voices_without_segments'].message} when using multiple audio or "
                      f"text inputs: found {len(g.voices)} {kinds} inputs and no segments", "segments")
    return None


@RULES("segments_without_ref_ids")
def segments_without_ref_ids(g: Generation) -> Broken | None:
    if g.segments and not g.ref_ids:
        return Broken("segments require at least one audio or text input with a refId", "input")
    return None


def numbered_segments(g: Generation) -> list[tuple[str, dict[str, Any]]]:
    """Each segment with the path its errors name (``segments[2]``)."""
    return [(f"segments[{n}]", seg) for n, seg in enumerate(g.segments)]


@RULES("segment_ref_id_unknown", each=numbered_segments)
def segment_ref_id_unknown(g: Generation, segment: tuple[str, dict[str, Any]]) -> Broken | None:
    where, seg = segment
    ref, known = seg["audioInput"].get("refId"), g.ref_ids
    if ref not in known:
        return Broken(f"{where}.audioInput.refId {ref!r} does not match the refId of any audio or text input "
                      f"(have: {', '.join(sorted(known))}); refIds must match exactly", f"{where}.audioInput.refId")
    return None


@RULES("crop_pair", each=numbered_segments)
def crop_pair(g: Generation, segment: tuple[str, dict[str, Any]]) -> Broken | None:
    where, seg = segment
    start, end = seg["audioInput"].get("startTime"), seg["audioInput"].get("endTime")
    if (start is None) != (end is None):
        given, missing = ("startTime", "endTime") if end is None else ("endTime", "startTime")
        return Broken(f"{where}.audioInput.{given} was given without {where}.audioInput.{missing}; an audio crop "
                      "needs both", f"{where}.audioInput.{missing}")
    return None


@RULES("crop_order", each=numbered_segments)
def crop_order(g: Generation, segment: tuple[str, dict[str, Any]]) -> Broken | None:
    where, seg = segment
    start, end = seg["audioInput"].get("startTime"), seg["audioInput"].get("endTime")
    if start is not None and start >= end:
        return Broken(f"{where}.audioInput.startTime ({start}) must be less than {where}.audioInput.endTime "
                      f"({end})", f"{where}.audioInput.startTime")
    return None


def _zero_length_rejected(g: Generation) -> bool:
    return bool(g.cfg.get("zero_length_segments", "allow") == "reject")


@RULES("segment_order", each=numbered_segments)
def segment_order(g: Generation, segment: tuple[str, dict[str, Any]]) -> Broken | None:
    where, seg = segment
    if seg["startTime"] > seg["endTime"]:
        op = "less than" if _zero_length_rejected(g) else "less than or equal to"
        return Broken(f"{where}.startTime ({seg['startTime']}) must be {op} {where}.endTime ({seg['endTime']})",
                      f"{where}.startTime")
    return None


@RULES("zero_length_segment", each=numbered_segments)
def zero_length_segment(g: Generation, segment: tuple[str, dict[str, Any]]) -> Broken | None:
    where, seg = segment
    if _zero_length_rejected(g) and seg["startTime"] == seg["endTime"]:
        return Broken(f"{where}.startTime ({seg['startTime']}) must be less than {where}.endTime ({seg['endTime']})",
                      f"{where}.startTime")
    return None


def _overlap_rejected(g: Generation) -> bool:
    return bool(g.segments) and g.cfg.get("segment_overlap", "allow") == "reject"


@RULES("segment_overlap")
def segment_overlap(g: Generation) -> Broken | None:
    if not _overlap_rejected(g):
        return None
    ordered = sorted(enumerate(g.segments), key=lambda s: s[1]["startTime"])
    for (i, a), (j, b) in zip(ordered, ordered[1:], strict=False):
        if b["startTime"] < a["endTime"]:
            return Broken(f"segments[{j}] ({b['startTime']}-{b['endTime']}) overlaps segments[{i}] "
                          f"({a['startTime']}-{a['endTime']})", f"segments[{j}].startTime")
    return None


@RULES("segment_beyond_video")
def segment_beyond_video(g: Generation) -> Broken | None:
    """Rejected with overlaps (one setting): both read the segments against each other and the video."""
    if not _overlap_rejected(g) or g.images:
        return None
    video = probe_url(g.inputs[g.videos[0]].get("url") or "")
    for n, seg in enumerate(g.segments):
        if video.duration is not None and seg["endTime"] > video.duration:
            return Broken(f"segments[{n}].endTime ({seg['endTime']}) is beyond the video's duration "
                          f"({video.duration})", f"segments[{n}].endTime")
    return None


def check_media(payload: dict[str, Any]) -> None:
    """Media whose duration cannot be resolved to a finite positive value: 422 [doc: changelog].
    The emulator reads durations from URL hints, so ``?duration=0`` triggers it."""
    for i, item in enumerate(payload["input"]):
        url = item.get("url")
        if item.get("type") not in ("video", "audio") or not url:
            continue
        duration = probe_url(url).duration
        if duration is not None and (not math.isfinite(duration) or duration <= 0):
            raise Unprocessable(f"Could not resolve a finite positive duration for input[{i}] ({item['type']}): "
                                f"{duration}", code=f"generation_input_{item['type']}_invalid", field=f"input[{i}].url")
