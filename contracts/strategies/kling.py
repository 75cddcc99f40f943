"""Hypothesis strategies for Kling advanced lip-sync (shared/reference/kling.md §4, §8).

Kling needs an identify-face result before a task can be created, so there are two levels:

* ``face_choose(identified, video_duration_ms=...)`` — a ``face_choose`` list consistent with
  an identify-face ``data`` object: a face of the session long enough to lip-sync, a trim of
  the audio of at least 2 s and within its length, an insert time that keeps the clip inside
  the video and overlapping the face's interval by at least 2 s, volumes in [0, 2], and the
  audio as a URL or as Base64 WAV bytes (C14–C29)::

      data = client.identify_face(video_url)["data"]
      @given(st.kling.face_choose(data, video_duration_ms=10_000))

* ``create_requests()`` — the *client form* ``{"video_url", "face_choose": [{...}]}`` (no
  ``session_id`` / ``face_id``): what a client is asked to lip-sync; it identifies the faces and
  fills those two in. Videos have one face for their whole length, so any face is consistent.

Structure (types, ranges, ``face_choose`` length, ``watermark_info``) comes from
``schemas/kling.yaml``; the cross-field checks are hand-written here, named by the reference's
check numbers (``C15``, ``C27``...). Every invalid example carries code 1201 / HTTP 400 and a
message fragment naming the field (Kling's convention [doc: S25]).
"""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.strategies._schema import Break, SchemaStrategies
from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid

CREATE = "createAdvancedLipSync"
IDENTIFY = "identifyFace"
MIN_MS = 2000  # trimmed audio, overlap with the face, shortest video/audio (§8 C20 C24 C27)
SCHEMA = SchemaStrategies(schemas.load("kling"))
VIDEOS = ("https://cdn.example.com/talk.mp4", "https://cdn.example.com/interview.mov")
AUDIOS = ("https://cdn.example.com/voice.mp3", "https://cdn.example.com/speech.wav")


def wav_base64(seconds: float, rate: int = 200) -> str:
    """Base64 of a silent 8-bit mono WAV ``seconds`` long (real bytes: any server can read the
    length from the header)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(rate * seconds))
    return base64.b64encode(buffer.getvalue()).decode()


def video_url(seconds: float, faces: str | None = None) -> str:
    """A video URL whose length (and, for the emulator, faces) ride as hints: ``?duration=``
    and ``face_ms=`` (harmless query parameters to anything else)."""
    hint = f"?duration={seconds:g}" + (f"&face_ms={faces}" if faces else "")
    return VIDEOS[0] + hint


@st.composite
def audio(draw: st.DrawFn, min_ms: int = MIN_MS, max_ms: int = 20_000) -> tuple[str, int]:
    """``(sound_file, duration in ms)``: a URL with a duration hint, or Base64 WAV bytes."""
    seconds = draw(st.integers(max(2, -(-min_ms // 1000)), max(2, max_ms // 1000)))
    if draw(st.booleans()):
        return f"{AUDIOS[0]}?duration={seconds}", seconds * 1000
    seconds = min(seconds, 4)  # Base64 bytes grow fast: keep them small
    return wav_base64(seconds), seconds * 1000


def _hundreds(low: int, high: int) -> st.SearchStrategy[int]:
    """Milliseconds on a 100 ms grid in [low, high] (readable, and what a UI would send)."""
    lo, hi = -(-low // 100), high // 100
    return st.integers(lo, max(lo, hi)).map(lambda n: n * 100)


@st.composite
def timing(draw: st.DrawFn, video_ms: int, face: tuple[int, int], audio_ms: int) -> dict[str, int]:
    """``sound_start_time`` / ``sound_end_time`` / ``sound_insert_time`` valid for a face
    present during ``face`` (ms) in a ``video_ms`` video and an ``audio_ms`` audio: trim >= 2 s
    within the audio (C23–C25), the clip inside the video (C26), >= 2 s overlap (C27)."""
    start_face, end_face = face
    longest = min(audio_ms, video_ms)
    length = draw(_hundreds(MIN_MS, longest))
    start = draw(_hundreds(0, audio_ms - length))
    low = max(0, start_face + MIN_MS - length)
    high = min(video_ms - length, end_face - MIN_MS)
    insert = draw(_hundreds(low, high).filter(lambda i: low <= i <= high))
    return {"sound_start_time": start, "sound_end_time": start + length, "sound_insert_time": insert}


@st.composite
def _choice(draw: st.DrawFn, video_ms: int, face: tuple[int, int], face_id: str | None) -> dict[str, Any]:
    sound_file, audio_ms = draw(audio())
    choice: dict[str, Any] = {} if face_id is None else {"face_id": face_id}
    choice["sound_file"] = sound_file
    choice.update(draw(timing(video_ms, face, audio_ms)))
    choice.update(draw(st.fixed_dictionaries({}, optional={
        "sound_volume": SCHEMA.strategy({"type": "number", "minimum": 0, "maximum": 2}),
        "original_audio_volume": SCHEMA.strategy({"type": "number", "minimum": 0, "maximum": 2})})))
    return choice


@st.composite
def face_choose(draw: st.DrawFn, identified: dict[str, Any], video_duration_ms: int | None = None) -> list[dict[str, Any]]:
    """A one-element ``face_choose`` consistent with an identify-face ``data`` object (a face
    at least 2 s long). ``video_duration_ms``: the video's length; without it, the chosen
    face's ``end_time`` bounds the clip (Kling's end times run slightly long, §4.1)."""
    faces = [f for f in identified.get("face_data") or [] if f["end_time"] - f["start_time"] >= MIN_MS]
    if not faces:
        raise ValueError("no face of this session is long enough (2 s) to lip-sync")
    face = draw(st.sampled_from(faces))
    video_ms = video_duration_ms if video_duration_ms is not None else int(face["end_time"])
    end = min(int(face["end_time"]), video_ms)
    return [draw(_choice(video_ms, (int(face["start_time"]), end), str(face["face_id"])))]


@st.composite
def create_requests(draw: st.DrawFn, video_seconds: float | None = None) -> dict[str, Any]:
    """Client-form requests: ``{"video_url", "face_choose": [{...}]}`` with no ``session_id`` or
    ``face_id`` (the client identifies the faces first), plus optional ``watermark_info``."""
    seconds = video_seconds if video_seconds is not None else draw(st.integers(2, 60))
    video_ms = int(seconds * 1000)
    body: dict[str, Any] = {"video_url": video_url(seconds),
                            "face_choose": [draw(_choice(video_ms, (0, video_ms), None))]}
    if draw(st.booleans()):
        body["watermark_info"] = {"enabled": draw(st.booleans())}
    return body


def minimal_request() -> dict[str, Any]:
    return {"video_url": video_url(10), "face_choose": [{"sound_file": f"{AUDIOS[0]}?duration=5",
                                                         "sound_start_time": 0, "sound_end_time": 2000,
                                                         "sound_insert_time": 0}]}


def feature_examples() -> list[dict[str, Any]]:
    """Base64 audio, volumes, a later insert, the watermark switch."""
    return [
        minimal_request(),
        {"video_url": video_url(8), "face_choose": [{"sound_file": wav_base64(3), "sound_start_time": 500,
                                                     "sound_end_time": 3000, "sound_insert_time": 4000,
                                                     "sound_volume": 1.5, "original_audio_volume": 0.2}],
         "watermark_info": {"enabled": True}},
    ]


# -- invalid requests ------------------------------------------------------------------------------

FACTS = schemas.rules("kling")  # each check's error, as the schema declares it


def _bad(rule: str, request: dict[str, Any], field: str, operation: str = CREATE, mention: str | None = None) -> Invalid:
    """The message carries the check's documented wording, else ``mention`` (default: the field)."""
    fact = FACTS[f"kling.{rule}"]
    return Invalid(fact.id, request, ExpectedError(fact.status, fact.code, fact.message or mention or field),
                   field=field, operation=operation)


def _where(key: str) -> str:
    return f"face_choose[0].{key}"


@st.composite
def _video_source(draw: st.DrawFn) -> Invalid:
    """A bare identify-face body naming both a video id and a URL, or neither."""
    body = {"video_id": "850508686686064678", "video_url": video_url(10)} if draw(st.booleans()) else {}
    return _bad("C3", body, "video_id", IDENTIFY)


@st.composite
def _unknown_video(draw: st.DrawFn) -> Invalid:
    """A bare identify-face body naming a video Kling did not generate."""
    return _bad("C4", {"video_id": draw(st.sampled_from(("850508686686064678", "1")))}, "video_id", IDENTIFY)


@st.composite
def _video_size(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    body["video_url"] = video_url(10) + f"&size={100 * 1024 * 1024 + draw(st.integers(1, 10**8))}"
    return _bad("C6", body, "video_url", IDENTIFY)


@st.composite
def _video_edges(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    edge = draw(st.sampled_from(("width", "height")))
    body["video_url"] = video_url(10) + f"&{edge}={draw(st.sampled_from((240, 511, 2161, 4096)))}"
    # the observed wording [3p: S20] names the edge, not the field
    return _bad("C8", body, "video_url", IDENTIFY, f"The video {edge} should not be less than")


@st.composite
def _video_format(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    body["video_url"] = f"https://cdn.example.com/talk.{draw(st.sampled_from(('avi', 'mkv', 'webm')))}?duration=10"
    return _bad("C5", body, "video_url", IDENTIFY)


@st.composite
def _video_duration(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    body["video_url"] = video_url(draw(st.sampled_from((1, 61, 90))))
    return _bad("C7", body, "video_url", IDENTIFY)


@st.composite
def _no_face(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    body["video_url"] = VIDEOS[0] + "?duration=10&faces=0"
    return _bad("C9", body, "video_url", IDENTIFY)


@st.composite
def _session(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests())
    body["session_id"] = draw(st.sampled_from(("000000000000000001", "unknown-session")))
    return _bad("C10", body, "session_id")


@st.composite
def _face(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests())
    body["face_choose"][0]["face_id"] = draw(st.sampled_from(("7", "99", "-1")))
    return _bad("C14", body, _where("face_id"))


@st.composite
def _audio_source(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests())
    choice = body["face_choose"][0]
    if draw(st.booleans()):
        choice["audio_id"] = "825451760499568680"  # both given
    else:
        del choice["sound_file"]  # neither
    return _bad("C15", body, _where("audio_id"))


@st.composite
def _base64(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests())
    body["face_choose"][0]["sound_file"] = draw(st.sampled_from(("not base64!", "%%%%")))
    return _bad("C17", body, _where("sound_file"))


@st.composite
def _audio_format(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests())
    body["face_choose"][0]["sound_file"] = f"https://cdn.example.com/voice.{draw(st.sampled_from(('ogg', 'flac')))}"
    return _bad("C18", body, _where("sound_file"))


@st.composite
def _audio_size(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    choice = body["face_choose"][0]
    choice["sound_file"] = f"{AUDIOS[0]}?duration=5&size={5 * 1024 * 1024 + draw(st.integers(1, 10**7))}"
    choice.update(sound_start_time=0, sound_end_time=2000, sound_insert_time=0)
    return _bad("C19", body, _where("sound_file"))


@st.composite
def _audio_duration(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    choice = body["face_choose"][0]
    choice["sound_file"] = wav_base64(1) if draw(st.booleans()) else f"{AUDIOS[0]}?duration=61"
    choice.update(sound_start_time=0, sound_end_time=1000, sound_insert_time=0)
    return _bad("C20", body, _where("sound_file"))


@st.composite
def _end_after_audio(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(20))
    choice = body["face_choose"][0]
    choice["sound_file"] = f"{AUDIOS[0]}?duration=5"
    choice.update(sound_start_time=0, sound_end_time=draw(_hundreds(5100, 9000)), sound_insert_time=0)
    return _bad("C23", body, _where("sound_end_time"))


@st.composite
def _short_trim(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    choice = body["face_choose"][0]
    choice["sound_file"] = f"{AUDIOS[0]}?duration=10"
    start = draw(_hundreds(0, 5000))
    choice.update(sound_start_time=start, sound_end_time=start + draw(_hundreds(100, 1900)), sound_insert_time=0)
    return _bad("C24", body, _where("sound_end_time"))


@st.composite
def _start_after_end(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    choice = body["face_choose"][0]
    end = draw(_hundreds(0, 4000))
    choice.update(sound_start_time=end + draw(_hundreds(0, 2000)), sound_end_time=end)
    return _bad("C25", body, _where("sound_start_time"))


@st.composite
def _outside_video(draw: st.DrawFn) -> Invalid:
    body = draw(create_requests(10))
    choice = body["face_choose"][0]
    choice["sound_file"] = f"{AUDIOS[0]}?duration=5"
    choice.update(sound_start_time=0, sound_end_time=4000, sound_insert_time=draw(_hundreds(6100, 9000)))
    return _bad("C26", body, _where("sound_insert_time"))


@st.composite
def _no_overlap(draw: st.DrawFn) -> Invalid:
    """The face is on screen for the first 3 s only; the clip is inserted later."""
    body = draw(create_requests(10))
    body["video_url"] = video_url(10, faces="0-3000")
    choice = body["face_choose"][0]
    choice["sound_file"] = f"{AUDIOS[0]}?duration=5"
    choice.update(sound_start_time=0, sound_end_time=3000, sound_insert_time=draw(_hundreds(2000, 7000)))
    return _bad("C27", body, _where("sound_insert_time"))


_BUILDERS = {"C3": _video_source, "C4": _unknown_video, "C5": _video_format, "C6": _video_size,
             "C7": _video_duration, "C8": _video_edges, "C9": _no_face, "C10": _session, "C14": _face,
             "C15": _audio_source, "C17": _base64, "C18": _audio_format, "C19": _audio_size, "C20": _audio_duration,
             "C23": _end_after_audio, "C24": _short_trim, "C25": _start_after_end, "C26": _outside_video,
             "C27": _no_overlap}
RULES: tuple[str, ...] = tuple(f"kling.{r}" for r in _BUILDERS)


def rule_ids() -> tuple[str, ...]:
    return RULES


def client_rule_ids() -> tuple[str, ...]:
    """Rules a client's request can break: C3 and C4 are broken by bare identify-face bodies
    (a video id), not by the client form a client is asked to lip-sync."""
    return tuple(r for r in RULES if r not in ("kling.C3", "kling.C4"))


def schema_error(brk: Break) -> ExpectedError:
    """1201 / HTTP 400 with a message that starts with the field; a body that is not even an
    object is 1200 (§5; the per-check codes are inferred, §11.11)."""
    if not brk.field:
        return ExpectedError(400, 1200, "body")
    return ExpectedError(400, 1201, brk.field)


def _full(request: dict[str, Any]) -> dict[str, Any]:
    full = {"session_id": "S", **{k: v for k, v in request.items() if k != "video_url"}}
    full["face_choose"] = [{"face_id": "F", **c} for c in request["face_choose"]]
    return full


def _skip(path: tuple[str | int, ...]) -> bool:
    return path[:1] == ("callback_url",)  # the client's own callback, not part of the request


def _invalid(brk: Break, request: dict[str, Any]) -> Invalid | None:
    broken = brk.apply(_full(request))
    if not isinstance(broken, dict):
        return None
    client = {"video_url": request["video_url"], **broken}
    if client.get("session_id") == "S":
        del client["session_id"]
    elif "session_id" not in client:
        client["session_id"] = None
    choices = client.get("face_choose")
    if isinstance(choices, list):
        fixed = []
        for c in choices:
            if isinstance(c, dict):
                c = dict(c)
                if c.get("face_id") == "F":
                    del c["face_id"]
                elif "face_id" not in c:
                    c["face_id"] = None
            fixed.append(c)
        client["face_choose"] = fixed
    return Invalid(f"kling.{brk.rule}", client, schema_error(brk), field=brk.field, operation=CREATE)


def schema_breaks(request: dict[str, Any]) -> list[Invalid]:
    """Single schema-rule breaks of a client-form request, computed on the full create body
    with placeholder ids; a removed ``session_id`` / ``face_id`` is sent as ``null`` (Kling
    reads ``null`` as absent) so the client's fill-in does not repair it."""
    out = [_invalid(b, request) for b in SCHEMA.breaks("AdvancedLipSyncRequest", _full(request), skip=_skip)]
    return [i for i in out if i is not None]


@st.composite
def _schema_rule(draw: st.DrawFn) -> Invalid:
    request = draw(create_requests())
    brk = draw(SCHEMA.one_break("AdvancedLipSyncRequest", _full(request), skip=_skip).filter(
        lambda b: isinstance(b.apply(_full(request)), dict)))
    found = _invalid(brk, request)
    assert found is not None
    return found


def invalid_requests(rule: str | None = None) -> st.SearchStrategy[Invalid]:
    """Requests breaking exactly one check: ``"kling.C15"`` (or ``"C15"``), ``"schema"``, or any."""
    if rule == "schema":
        return _schema_rule()
    if rule is not None:
        key = rule.removeprefix("kling.")
        if key not in _BUILDERS:
            raise KeyError(f"no Kling rule {rule!r} (have: schema, {', '.join(RULES)})")
        return _BUILDERS[key]()
    return st.one_of([b() for b in _BUILDERS.values()] + [_schema_rule()])
