"""WaveSpeed rules the OpenAPI file cannot say: media formats, media reachability, and what a
schema violation becomes under the ``validation`` setting.

Structure (required ``audio``/``video``, string types, the list filters' ranges) is in
``schemas/wavespeed.yaml``, which also declares each rule's id and error (``x-rules``).
Whether WaveSpeed rejects bad inputs at submit (HTTP 400) or accepts them and fails the task
(``data.code`` 1400/1401/1402) is not documented (reference §9, §13.2): ``validation`` = ``reject`` | ``fail_task`` chooses, and an
unreachable URL always fails the task, as documented for code 1402 [doc: D11].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lipsync_emulator.core.jobs import Outcome
from lipsync_emulator.core.media import (
    AUDIO_EXT,
    IMAGE_EXT,
    VIDEO_EXT,
    extension,
    probe_bytes,
    probe_url,
    split_url,
)
from lipsync_emulator.core.openapi import SchemaViolation
from lipsync_emulator.core.rules import Broken, Rules
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.providers.wavespeed.models import task_failure
from lipsync_emulator.schemas import rules

MEDIA_EXT = VIDEO_EXT | AUDIO_EXT | IMAGE_EXT
FILE_PATH = re.compile(r"/_emulator/files/([^/]+)/")


def violation_outcome(v: SchemaViolation) -> Outcome:
    """``fail_task`` mode: a missing input fails the task with 1400, any other input problem
    with 1401 [doc: D11]."""
    if v.keyword == "required":
        return task_failure(1400, f"A required parameter is missing: {v.field}.")
    return task_failure(1401, f"The parameter value is invalid: {v.describe()}.")


@dataclass(frozen=True)
class Submit:
    payload: dict[str, Any]
    model: str
    cfg: dict[str, Any]


RULES = Rules(rules("wavespeed"))


def check_formats(payload: dict[str, Any], model: str, cfg: dict[str, Any]) -> Outcome | None:
    """The first broken rule: raised under ``validation: reject``, else the task fails with 1401."""
    error = RULES.first(Submit(payload, model, cfg))
    if error is None:
        return None
    if cfg["validation"] == "reject":
        raise error
    return task_failure(1401, f"The parameter value is invalid: {error.message}.")


@RULES("format")
def media_format(submit: Submit) -> Broken | None:
    """An input whose URL ends in a media extension the model does not take [doc: D1]. URLs
    without a known media extension pass: a signed URL need not have one."""
    allowed = submit.cfg["formats"].get(submit.model) or {}
    for name in ("video", "audio"):
        url = submit.payload.get(name)
        ext = extension(url) if isinstance(url, str) else None
        if ext in MEDIA_EXT and ext not in allowed.get(name, ()):
            return Broken(f"{name} must be one of the supported formats: {', '.join(allowed.get(name, ()))} "
                          f"(got {ext})", name)
    return None


def _stored_file(rt: Runtime, url: str) -> dict[str, Any] | None | bool:
    """The emulator-upload record behind ``url``: the record, ``None`` if it is an emulator
    upload URL whose file does not exist, ``False`` if it is not an emulator upload URL."""
    match = FILE_PATH.search(split_url(url).path)
    if match is None:
        return False
    record = rt.store.get("files", match.group(1))
    return record if isinstance(record, dict) else None


def check_reachable(rt: Runtime, payload: dict[str, Any]) -> Outcome | None:
    """Rule ``reachable``: the task fails with 1402 "Failed to download <field> from the provided
    URL." [doc: D11] when a URL can never be fetched: not http(s), a ``.invalid`` host (reserved
    by RFC 2606, so it is the emulator's "unreachable URL"), or an emulator upload that does not
    exist. The emulator never downloads anything."""
    for name in ("video", "audio"):
        url = payload.get(name)
        if not isinstance(url, str):
            continue
        parts = split_url(url)
        host = (parts.hostname or "").lower()
        bad = (parts.scheme.lower() not in ("http", "https") or not host or host == "invalid"
               or host.endswith(".invalid") or _stored_file(rt, url) is None)
        if bad:
            return task_failure(1402, f"Failed to download {name} from the provided URL.")
    return None


def duration(rt: Runtime, url: Any) -> float:
    """Seconds of a medium: read from the bytes of an emulator upload, else the URL's hints."""
    if not isinstance(url, str):
        return probe_url("").duration or 0.0
    record = _stored_file(rt, url)
    if isinstance(record, dict):
        info = probe_bytes(record["data"])
        if info.duration:
            return float(info.duration)
    return float(probe_url(url).duration or 0.0)


def upload_type(filename: str, content_type: str | None) -> str | None:
    """image | video | audio, from the MIME type, else the file name's extension [doc: D13]."""
    major = (content_type or "").split("/", 1)[0].lower()
    if major in ("image", "video", "audio"):
        return major
    ext = extension("x/" + filename)
    for kind, exts in (("video", VIDEO_EXT | {"wmv", "flv", "3gp", "ogv"}), ("audio", AUDIO_EXT),
                       ("image", IMAGE_EXT | {"tiff", "tif"})):
        if ext in exts:
            return kind
    return None
