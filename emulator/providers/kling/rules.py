"""Kling rules the OpenAPI file cannot say: the numbered checks of reference §8 that relate
fields to each other, to media facts and to state (sessions, faces, tasks).

Structure (types, required keys, ranges, ``face_choose`` length, ``watermark_info``) is in
``schemas/kling.yaml``, whose nodes carry the ``x-rule`` id of the check they enforce, and whose
``x-rules`` declares each check here with its error: code 1201 / HTTP 400 (the parameter-check
convention [doc: S25]; the per-check codes are inferred, reference §11.11), a rule id
(``kling.C14``) and a message that starts with the field it is about. One small function per
check, in the order a request is read; C32 (concurrency) and C36 (an unknown task) are about
state, not a request body, and are raised where they are read.

Media facts come from URL hints (``?duration=12.5&width=1280&height=720&size=1048576``; see
``emulator.core.media``) or, for a Base64 ``sound_file``, from the decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.media import DEFAULT_DURATION, MediaInfo, extension, probe_bytes, probe_url
from lipsync_emulator.core.rules import Broken, Rules
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.providers.kling import models
from lipsync_emulator.providers.kling.errors import CONCURRENCY_MESSAGE, kling_error
from lipsync_emulator.schemas import Rule, rules

MB = 1024 * 1024
VIDEO_FORMATS = ("mp4", "mov")  # [doc: S1, S3]
VIDEO_MAX_BYTES = 100 * MB
AUDIO_MAX_BYTES = 5 * MB
MIN_SECONDS, MAX_SECONDS = 2.0, 60.0
EDGE_MIN, EDGE_MAX = 512, 2160
MIN_TRIM_MS = 2000
MIN_OVERLAP_MS = 2000
DAY = 86400.0


def _error(rule: Rule, broken: Broken) -> EmulatorError:
    """Kling's codes decide the HTTP status (``CODES``), so the error is built from the code."""
    return kling_error(int(rule.code or 1201), broken.message, field=broken.field, rule=rule.id)


FACTS = rules("kling")
IDENTIFY = Rules(FACTS, _error)  # identify-face, before faces are detected
FACES = Rules(FACTS, _error)  # identify-face, once faces are detected
CREATE = Rules(FACTS, _error)  # advanced-lip-sync create


def given(value: Any) -> bool:
    """``""`` means "not given" (the official examples send ``"video_id": ""``) [doc: S1, S3]."""
    return value is not None and value != ""


def _seconds(info: MediaInfo) -> float:
    return float(info.duration if info.duration is not None else DEFAULT_DURATION)


# -- identify-face (C3–C9) ------------------------------------------------------------------------

@dataclass
class Identify:
    """An identify-face request, and what the emulator knows about the video it names."""

    rt: Runtime
    cfg: dict[str, Any]
    account: str
    body: dict[str, Any]

    @cached_property
    def video_id(self) -> str | None:
        value = self.body.get("video_id")
        return str(value) if given(value) else None

    @cached_property
    def url(self) -> str | None:
        value = self.body.get("video_url")
        return None if self.video_id is not None or not given(value) else str(value)

    @cached_property
    def record(self) -> dict[str, Any] | None:
        """The generated video ``video_id`` names, if this account's tasks produced it."""
        record = self.rt.store.get(models.VIDEOS, self.video_id) if self.video_id else None
        return record if record is not None and record["account"] == self.account else None

    @cached_property
    def info(self) -> MediaInfo:
        return probe_url(self.url or "")

    @property
    def video(self) -> models.Video:
        """The video, once every identify check passed."""
        if self.url is not None:
            return models.Video(id=models.numeric_id("video", self.url), url=self.url,
                                duration_ms=int(round(_seconds(self.info) * 1000)), hints_url=self.url)
        if self.record is None:  # an unknown id, accepted (``unknown_video_id: accept``)
            url = f"https://kling.invalid/videos/{self.video_id}.mp4"
            return models.Video(id=str(self.video_id), url=url, duration_ms=int(DEFAULT_DURATION * 1000),
                                hints_url=url)
        return models.Video(id=str(self.video_id), url=self.record["url"], duration_ms=self.record["duration_ms"],
                            hints_url=self.record["hints_url"])


def identify_video(rt: Runtime, cfg: dict[str, Any], account: str, body: dict[str, Any]) -> models.Video:
    """The video an identify-face request names, checked (C3–C8)."""
    request = Identify(rt, cfg, account, body)
    IDENTIFY.check(request)
    return request.video


@IDENTIFY("kling.C3")
def video_source(r: Identify) -> Broken | None:
    if given(r.body.get("video_id")) == given(r.body.get("video_url")):
        both = "both were given" if given(r.body.get("video_id")) else "neither was given"
        return Broken(f"video_id and video_url are mutually exclusive and one of them is required: {both}",
                      "video_id")
    return None


@IDENTIFY("kling.C4")
def generated_video(r: Identify) -> Broken | None:
    """A Kling-generated video (here: an output of this emulator's tasks), at most 30 days old
    and 60 s long. An unknown id is 1201 by default (``unknown_video_id``; inferred)."""
    if r.video_id is None:
        return None
    if r.record is None:
        if r.cfg["unknown_video_id"] == "accept":
            return None
        return Broken(f"video_id '{r.video_id}' does not exist: it must be the id of a video generated by Kling",
                      "video_id")
    if r.rt.clock.now() - r.record["created_at"] > 30 * DAY:
        return Broken(f"video_id '{r.video_id}' is too old: only videos generated within 30 days are supported",
                      "video_id")
    if r.record["duration_ms"] > MAX_SECONDS * 1000:
        return Broken(f"video_id '{r.video_id}' is longer than 60 seconds", "video_id")
    return None


@IDENTIFY("kling.C5")
def video_url(r: Identify) -> Broken | None:
    if r.url is None:
        return None
    if not r.url.lower().startswith(("http://", "https://")):
        return Broken(f"video_url must be an accessible http(s) URL (got {r.url[:80]!r})", "video_url")
    ext = extension(r.url)
    if ext and ext not in VIDEO_FORMATS:
        return Broken(f"video_url format '.{ext}' is not supported; supported formats: .mp4/.mov", "video_url")
    return None


@IDENTIFY("kling.C6")
def video_size(r: Identify) -> Broken | None:
    size = r.info.size if r.url is not None else None
    if size is not None and size > VIDEO_MAX_BYTES:
        return Broken(f"video_url file size {size} bytes exceeds the 100MB limit", "video_url")
    return None


@IDENTIFY("kling.C7")
def video_duration(r: Identify) -> Broken | None:
    if r.url is None:
        return None
    seconds = _seconds(r.info)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        return Broken(f"video_url duration {seconds:g}s is out of range: the video must be 2 to 60 seconds long",
                      "video_url")
    return None


@IDENTIFY("kling.C8")
def video_edges(r: Identify) -> Broken | None:
    if r.url is None:
        return None
    # [3p: S20] the observed text for the height check; the width text mirrors it (inferred).
    for edge, value in (("height", r.info.height), ("width", r.info.width)):
        if value is not None and not EDGE_MIN <= value <= EDGE_MAX:
            return Broken(f"The video {edge} should not be less than {EDGE_MIN}px and larger than {EDGE_MAX}px.",
                          "video_url")
    return None


@dataclass(frozen=True)
class Detected:
    cfg: dict[str, Any]
    face_data: list[dict[str, Any]]


def check_faces(cfg: dict[str, Any], face_data: list[dict[str, Any]]) -> None:
    """The checks of identify-face that read the detected faces."""
    FACES.check(Detected(cfg, face_data))


@FACES("kling.C9")
def human_detected(d: Detected) -> Broken | None:
    """The content check finds no face -> ``The model did not detect a human`` (the text
    [3p: S20]; its placement here is inferred) unless ``no_face`` is ``empty``."""
    if not d.face_data and d.cfg["no_face"] == "error":
        return Broken(models.NO_HUMAN, "video_url")
    return None


# -- advanced-lip-sync (C10–C31) --------------------------------------------------------------

@dataclass(frozen=True)
class Audio:
    source: str  # "audio_id" | "url" | "base64"
    duration_ms: int
    size: int | None
    format: str | None


@dataclass(frozen=True)
class Plan:
    """What a valid create resolves to."""

    session: dict[str, Any]
    face: dict[str, Any]
    audio: Audio
    choice: dict[str, Any]


WHERE = "face_choose[0]"  # the one face_choose item the schema allows


@dataclass
class Create:
    """An advanced-lip-sync create, and what it resolves to (read lazily: each check reads
    only what the checks before it vouched for)."""

    rt: Runtime
    cfg: dict[str, Any]
    surface: models.Surface
    account: str
    body: dict[str, Any]

    @cached_property
    def fixture(self) -> bool:
        """A ``fixture_sessions`` id exists for every account and never expires (emulator-only)."""
        return self.body["session_id"] in (self.cfg.get("fixture_sessions") or {})

    @cached_property
    def session(self) -> dict[str, Any] | None:
        session_id = self.body["session_id"]
        if self.fixture:
            return models.fixture_session(self.rt, session_id, str(self.cfg["fixture_sessions"][session_id]),
                                          self.account)
        session = self.rt.store.get(models.SESSIONS, session_id) if session_id else None
        return session if session is not None and session["account"] == self.account else None

    @cached_property
    def face(self) -> dict[str, Any] | None:
        faces = self.session["faces"] if self.session else []
        return next((f for f in faces if f["face_id"] == self.body["face_choose"][0]["face_id"]), None)

    @cached_property
    def audio_id(self) -> str | None:
        value = self.body["face_choose"][0].get("audio_id")
        return str(value) if given(value) else None

    @cached_property
    def sound_file(self) -> str:
        return str(self.body["face_choose"][0].get("sound_file"))

    @property
    def sound_url(self) -> bool:
        return self.audio_id is None and self.sound_file.lower().startswith(("http://", "https://"))

    @cached_property
    def sound_bytes(self) -> bytes:
        """A Base64 ``sound_file`` decoded (empty: not Base64)."""
        try:
            return base64.b64decode("".join(self.sound_file.split()), validate=True)
        except (binascii.Error, ValueError):
            return b""

    @cached_property
    def tts(self) -> dict[str, Any] | None:
        """What ``audio_id`` names (TTS is not emulated: configured in ``audio_ids``; others are
        ``default_audio_id_duration`` s long under ``unknown_audio_id: accept``, inferred)."""
        known = (self.cfg.get("audio_ids") or {}).get(self.audio_id)
        if known is None and self.cfg["unknown_audio_id"] != "accept":
            return None
        known = {"duration": self.cfg["default_audio_id_duration"]} if known is None else known
        return known if isinstance(known, dict) else {"duration": known}

    @cached_property
    def sound_info(self) -> MediaInfo:
        return probe_url(self.sound_file) if self.sound_url else probe_bytes(self.sound_bytes)

    @cached_property
    def audio_seconds(self) -> float:
        if self.audio_id is not None:
            return float((self.tts or {}).get("duration", self.cfg["default_audio_id_duration"]))
        return _seconds(self.sound_info)

    @cached_property
    def audio(self) -> Audio:
        ms = int(round(self.audio_seconds * 1000))
        if self.audio_id is not None:
            return Audio("audio_id", ms, None, None)
        if self.sound_url:
            return Audio("url", ms, self.sound_info.size, extension(self.sound_file) or None)
        return Audio("base64", ms, len(self.sound_bytes), sniff_audio(self.sound_bytes))

    @property
    def trim(self) -> tuple[int, int, int]:
        """(sound_start_time, sound_end_time, sound_insert_time) in ms."""
        choice = self.body["face_choose"][0]
        return choice["sound_start_time"], choice["sound_end_time"], choice["sound_insert_time"]


def check_create(rt: Runtime, cfg: dict[str, Any], surface: models.Surface, account: str,
                 body: dict[str, Any]) -> Plan:
    """Raise the first broken check (in the order a request is read: session, face, audio,
    trim, placement, uniqueness); return the resolved plan."""
    request = Create(rt, cfg, surface, account, body)
    CREATE.check(request)
    assert request.session is not None and request.face is not None  # vouched for by C10 and C14
    return Plan(session=request.session, face=request.face, audio=request.audio, choice=body["face_choose"][0])


@CREATE("kling.C10")
def session_exists(c: Create) -> Broken | None:
    """Issued by identify-face, to this account."""
    if c.session is None:
        return Broken(f"session_id '{c.body['session_id']}' does not exist: create one with identify-face",
                      "session_id")
    return None


@CREATE("kling.C11")
def session_fresh(c: Create) -> Broken | None:
    """Sessions last 24 h [doc: S8]; the code is inferred."""
    ttl = c.cfg.get("session_ttl_seconds")
    if c.fixture or ttl is None or c.session is None:
        return None
    if c.rt.clock.now() - c.session["created_at"] >= float(ttl):
        return Broken(f"session_id '{c.body['session_id']}' has expired: sessions are valid for "
                      f"{float(ttl) / 3600:g} hours", "session_id")
    return None


@CREATE("kling.C14")
def face_of_session(c: Create) -> Broken | None:
    if c.face is None and c.session is not None:
        face_id = c.body["face_choose"][0]["face_id"]
        known = ", ".join(f["face_id"] for f in c.session["faces"]) or "none"
        return Broken(f"{WHERE}.face_id '{face_id}' is not a face of session {c.session['session_id']} "
                      f"(its face ids: {known})", f"{WHERE}.face_id")
    return None


@CREATE("kling.C15")
def audio_source(c: Create) -> Broken | None:
    choice = c.body["face_choose"][0]
    audio_id, sound_file = choice.get("audio_id"), choice.get("sound_file")
    if given(audio_id) == given(sound_file):
        both = "both were given" if given(audio_id) else "neither was given"
        return Broken(f"{WHERE}.audio_id and {WHERE}.sound_file are mutually exclusive and one of them is "
                      f"required: {both}", f"{WHERE}.audio_id")
    return None


@CREATE("kling.C16")
def tts_audio(c: Create) -> Broken | None:
    """Kling TTS audio, at most 30 days old, 2–60 s."""
    if c.audio_id is None:
        return None
    field = f"{WHERE}.audio_id"
    if c.tts is None:
        return Broken(f"{field} '{c.audio_id}' does not exist: it must be generated by Kling's text-to-speech "
                      "within the last 30 days", field)
    if float(c.tts.get("age_days", 0)) > 30:
        return Broken(f"{field} '{c.audio_id}' is too old: only audio generated within 30 days is supported", field)
    seconds = c.audio_seconds
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        return Broken(f"{field} '{c.audio_id}' duration {seconds:g}s is out of range: the audio must be 2 to 60 "
                      "seconds long", field)
    return None


@CREATE("kling.C17")
def sound_base64(c: Create) -> Broken | None:
    if c.audio_id is None and not c.sound_url and not c.sound_bytes:
        # [3p: S20] the observed text, after the field name
        return Broken(f"{WHERE}.sound_file: File is not in a valid base64 format", f"{WHERE}.sound_file")
    return None


@CREATE("kling.C18")
def sound_format(c: Create) -> Broken | None:
    if c.audio_id is not None:
        return None
    field, formats = f"{WHERE}.sound_file", c.surface.audio_formats(c.cfg)
    listed = "/".join(f".{f}" for f in formats)
    fmt = c.audio.format
    if c.sound_url:
        if fmt and fmt not in formats:
            return Broken(f"{field} format '.{fmt}' is not supported; supported formats: {listed}", field)
    elif fmt is None or fmt not in formats:
        what = f"'.{fmt}'" if fmt else "unrecognised"
        return Broken(f"{field} audio format {what} is not supported; supported formats: {listed}", field)
    return None


@CREATE("kling.C19")
def sound_size(c: Create) -> Broken | None:
    size = c.audio.size if c.audio_id is None else None
    if size is not None and size > AUDIO_MAX_BYTES:
        return Broken(f"{WHERE}.sound_file file size {size} bytes exceeds the 5MB limit", f"{WHERE}.sound_file")
    return None


@CREATE("kling.C20")
def sound_duration(c: Create) -> Broken | None:
    seconds = c.audio_seconds
    if c.audio_id is None and not MIN_SECONDS <= seconds <= MAX_SECONDS:
        return Broken(f"{WHERE}.sound_file duration {seconds:g}s is out of range: the audio must be 2 to 60 "
                      "seconds long", f"{WHERE}.sound_file")
    return None


@CREATE("kling.C25")
def trim_order(c: Create) -> Broken | None:
    """The trim and placement checks C25, C24, C23, C26, C27 [doc: S1, S2] (start >= 0 is in the schema)."""
    start, end, _ = c.trim
    if start >= end:
        return Broken(f"{WHERE}.sound_start_time ({start}) must be less than {WHERE}.sound_end_time ({end})",
                      f"{WHERE}.sound_start_time")
    return None


@CREATE("kling.C24")
def trim_length(c: Create) -> Broken | None:
    start, end, _ = c.trim
    if end - start < MIN_TRIM_MS:
        return Broken(f"{WHERE}.sound_end_time - {WHERE}.sound_start_time = {end - start} ms: the trimmed audio "
                      "must not be shorter than 2 seconds", f"{WHERE}.sound_end_time")
    return None


@CREATE("kling.C23")
def trim_within_audio(c: Create) -> Broken | None:
    _, end, _ = c.trim
    if end > c.audio.duration_ms:
        return Broken(f"{WHERE}.sound_end_time ({end}) must not be later than the audio's duration "
                      f"({c.audio.duration_ms} ms)", f"{WHERE}.sound_end_time")
    return None


@CREATE("kling.C26")
def clip_within_video(c: Create) -> Broken | None:
    start, end, insert = c.trim
    assert c.session is not None  # vouched for by C10
    video: models.Video = c.session["video"]
    if insert + end - start > video.duration_ms:
        return Broken(f"{WHERE}.sound_insert_time ({insert}) + trimmed length ({end - start}) ends at "
                      f"{insert + end - start} ms, after the end of the video ({video.duration_ms} ms)",
                      f"{WHERE}.sound_insert_time")
    return None


@CREATE("kling.C27")
def clip_overlaps_face(c: Create) -> Broken | None:
    start, end, insert = c.trim
    face = c.face
    assert face is not None  # vouched for by C14
    overlap = min(insert + end - start, face["end_time"]) - max(insert, face["start_time"])
    if overlap < MIN_OVERLAP_MS:
        return Broken(f"{WHERE}.sound_insert_time: the inserted audio [{insert}, {insert + end - start}] ms "
                      f"overlaps face {face['face_id']}'s lip-sync interval [{face['start_time']}, "
                      f"{face['end_time']}] ms by {max(0, overlap)} ms; at least 2000 ms are required",
                      f"{WHERE}.sound_insert_time")
    return None


@CREATE("kling.C31")
def external_task_id_unique(c: Create) -> Broken | None:
    external = c.body.get("external_task_id") or ""
    if not external:
        return None
    clash = next(c.rt.engine.jobs(models.NAME, models.KIND, lambda j: j.data.get("external_task_id") == external,
                                  account=c.account), None)
    if clash is not None:
        return Broken(f"external_task_id '{external}' is already used by task {clash.id}; it must be unique per "
                      "account", "external_task_id")
    return None


def sniff_audio(data: bytes) -> str | None:
    """The format of audio bytes, from their magic numbers ("the system checks the content")."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "m4a"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    for magic, name in ((b"OggS", "ogg"), (b"fLaC", "flac")):
        if data[:4] == magic:
            return name
    return None


def check_concurrency(rt: Runtime, cfg: dict[str, Any], account: str) -> None:
    """C32: tasks hold a slot from submitted until they end; beyond the resource pack's limit,
    1303 with the exact documented text [doc: S6, S8]. Queries hold none."""
    limit = cfg.get("concurrency_limit")
    if limit is None:
        return
    active = sum(1 for _ in rt.engine.jobs(models.NAME, models.KIND, lambda j: j.status in models.ACTIVE,
                                           account=account))
    if active >= int(limit):
        raise kling_error(1303, CONCURRENCY_MESSAGE, rule="kling.C32")


def find_task(rt: Runtime, cfg: dict[str, Any], account: str, task_id: str) -> Job:
    """By task_id, else by external_task_id (the docs say tasks "can be queried by it"; the
    mechanism is inferred, §11.7). Unknown: C36 (1203 / HTTP 404 by default; inferred)."""
    job = rt.engine.get(models.NAME, models.KIND, task_id)
    if job is None or job.account != account:
        job = next(rt.engine.jobs(models.NAME, models.KIND, lambda j: j.data.get("external_task_id") == task_id,
                                  account=account), None)
    if job is None:
        code = 1201 if int(cfg["unknown_task"]) == 1201 else 1203
        raise kling_error(code, f"task_id '{task_id}' does not exist", field="task_id", rule="kling.C36")
    return job
