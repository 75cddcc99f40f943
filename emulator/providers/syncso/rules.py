"""sync.so rules the OpenAPI file cannot say: how inputs relate to each other and to segments.

Structure (types, enums, required keys, ranges, ``outputFileName`` charset) is in
``schemas/syncso.yaml``; everything here is cross-field. Each rule has a stable id (the
contract strategies name the rule an invalid example breaks) and one error. Evidence per rule
is in shared/reference/syncso.md §7–§8; choices no source confirms are configurable.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from lipsync_emulator.core.errors import BadRequest, EmulatorError, Unprocessable
from lipsync_emulator.core.media import probe_url, split_url

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


def _bad(rule: str, message: str, field: str, code: str = SEGMENTS) -> EmulatorError:
    return BadRequest(message, code=code, field=field, rule=rule)


def check(payload: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Raise the first broken rule's error."""
    inputs: list[dict[str, Any]] = payload["input"]
    segments: list[dict[str, Any]] | None = payload.get("segments")
    # the visual input: a video, or for sync-3 a still image [doc: updates S6]
    videos = [i for i, item in enumerate(inputs) if item.get("type") in ("video", "image")]
    images = [i for i in videos if inputs[i]["type"] == "image"]
    voices = [i for i, item in enumerate(inputs) if item.get("type") in ("audio", "text")]
    texts = [i for i in voices if inputs[i].get("type") == "text"]

    if "dubParams" in payload and voices:
        raise Unprocessable("dubParams cannot be combined with audio or text inputs",
                            code="generation_input_dub_audio_conflict", field="dubParams")
    if not videos:
        raise _bad("video_missing", "No video file was provided in the request. input must contain one item "
                    "of type 'video'", "input", "generation_video_missing")
    if len(videos) > 1:
        noun = "visual (video or image)" if images else "video"
        raise _bad("too_many_visual", f"input must contain exactly one {noun} item, found {len(videos)} "
                   f"(input[{videos[1]}])", f"input[{videos[1]}]", "generation_input_too_many_visual")
    if images and payload["model"] != "sync-3":
        raise _bad("image_model", f"The requested model is not supported for this operation. {payload['model']} "
                   f"does not take image inputs (input[{images[0]}]); only sync-3 does", "model",
                   "generation_unsupported_model")
    if images and (url := inputs[images[0]].get("url")):
        extension = PurePosixPath(split_url(url).path).suffix.lower()
        if extension and extension not in IMAGE_EXTENSIONS:
            raise _bad("image_format", f"input[{images[0]}].url: an image input must be JPEG, PNG or WebP "
                       f"(got {extension})", f"input[{images[0]}].url", INVALID)
    if not voices and "dubParams" not in payload:
        raise _bad("audio_missing", "No audio file was provided in the request. input must contain an item "
                   "of type 'audio' or 'text'", "input", "generation_audio_missing")

    ref_ids = [inputs[i].get("refId") for i in voices]
    if cfg.get("duplicate_ref_ids", "reject") == "reject":
        seen: set[str] = set()
        for i in voices:
            ref = inputs[i].get("refId")
            if ref and ref in seen:
                raise _bad("duplicate_ref_id", f"input[{i}].refId {ref!r} is used by more than one input; "
                           "refId values must be unique", f"input[{i}].refId", INVALID)
            if ref:
                seen.add(ref)

    if not segments:
        if len(voices) > 1:
            kinds = "text" if len(texts) == len(voices) else "audio or text"
            raise _bad("multiple_voices_without_segments", f"Provide a top-level segments array when using "
                       f"multiple audio or text inputs: found {len(voices)} {kinds} inputs and no segments",
                       "segments", INVALID)
        return

    known = {r for r in ref_ids if r}
    if not known:
        raise _bad("segments_without_ref_ids", "segments require at least one audio or text input with a "
                   "refId", "input", SEGMENTS)
    strict_zero = cfg.get("zero_length_segments", "allow") == "reject"
    for n, seg in enumerate(segments):
        where = f"segments[{n}]"
        audio = seg["audioInput"]
        ref = audio.get("refId")
        if ref not in known:
            raise _bad("segment_ref_id_unknown", f"{where}.audioInput.refId {ref!r} does not match the refId of "
                       f"any audio or text input (have: {', '.join(sorted(known))}); refIds must match exactly",
                       f"{where}.audioInput.refId")
        crop_start, crop_end = audio.get("startTime"), audio.get("endTime")
        if (crop_start is None) != (crop_end is None):
            given, missing = ("startTime", "endTime") if crop_end is None else ("endTime", "startTime")
            raise _bad("crop_pair", f"{where}.audioInput.{given} was given without {where}.audioInput.{missing}; "
                       "an audio crop needs both", f"{where}.audioInput.{missing}")
        if crop_start is not None and crop_start >= crop_end:
            raise _bad("crop_order", f"{where}.audioInput.startTime ({crop_start}) must be less than "
                       f"{where}.audioInput.endTime ({crop_end})", f"{where}.audioInput.startTime")
        start, end = seg["startTime"], seg["endTime"]
        if start > end or (strict_zero and start == end):
            op = "less than" if strict_zero else "less than or equal to"
            raise _bad("segment_order", f"{where}.startTime ({start}) must be {op} {where}.endTime ({end})",
                       f"{where}.startTime")

    if cfg.get("segment_overlap", "allow") == "reject":
        ordered = sorted(enumerate(segments), key=lambda s: s[1]["startTime"])
        for (i, a), (j, b) in zip(ordered, ordered[1:], strict=False):
            if b["startTime"] < a["endTime"]:
                raise _bad("segment_overlap", f"segments[{j}] ({b['startTime']}-{b['endTime']}) overlaps "
                           f"segments[{i}] ({a['startTime']}-{a['endTime']})", f"segments[{j}].startTime")
        video = probe_url(inputs[videos[0]].get("url") or "")
        if video.duration is not None and not images:
            for n, seg in enumerate(segments):
                if seg["endTime"] > video.duration:
                    raise _bad("segment_beyond_video", f"segments[{n}].endTime ({seg['endTime']}) is beyond the "
                               f"video's duration ({video.duration})", f"segments[{n}].endTime")


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
