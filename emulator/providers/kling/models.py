"""Kling state: the two surfaces (official and relay) as one parameterisation, the settings,
identify-face sessions and their faces, the task lifecycle declaration, serializers per
state, the callback payload and its Standard Webhooks signature, and the scenarios.

Evidence labels refer to shared/reference/kling.md (section numbers, source keys S1...).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from lipsync_emulator.core.jobs import Job, Lifecycle
from lipsync_emulator.core.media import probe_url, split_url
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.webhooks import Signer, signature_scheme
from lipsync_emulator.providers.kling.errors import NAME, kling_error
from lipsync_emulator.schemas import rules

KIND = "advanced-lip-sync"
# [doc: S1, S2, S5] the legacy spelling "succeed" (never "succeeded").
LIFECYCLE = Lifecycle(states=("submitted", "processing", "succeed"), terminal=frozenset({"succeed", "failed"}))
ACTIVE = frozenset({"submitted", "processing"})

# [3p: S20]; identify-face's C9 error and a failed task's message say the same words
NO_HUMAN = rules("kling")["kling.C9"].message
RISK_CONTROL = "Failure to pass the risk control system"  # [doc: S25]


@dataclass(frozen=True)
class Surface:
    """One way in: the official API or a relay. Everything else (rules, lifecycle, bodies) is
    shared; a surface only changes the path prefix, the credential, the audio formats and
    (through its operationIds) which schema the body is checked against."""

    name: str
    prefix: str
    audio_formats_setting: str
    identify_op: str
    create_op: str
    get_op: str
    list_op: str

    def audio_formats(self, cfg: dict[str, Any]) -> list[str]:
        return [str(f).lower().lstrip(".") for f in cfg[self.audio_formats_setting]]


OFFICIAL = Surface("official", "", "audio_formats", "identifyFace", "createAdvancedLipSync",
                   "getAdvancedLipSync", "listAdvancedLipSync")
RELAY = Surface("relay", "/kling", "relay_audio_formats", "relayIdentifyFace", "relayCreateAdvancedLipSync",
                "relayGetAdvancedLipSync", "relayListAdvancedLipSync")
SURFACES = (OFFICIAL, RELAY)
IDENTIFY_OPS = ("identifyFace", "identifyFaceLegacyPath", "relayIdentifyFace")
CREATE_OPS = ("createAdvancedLipSync", "relayCreateAdvancedLipSync")


def surface_for(path: str) -> Surface:
    return RELAY if path == RELAY.prefix or path.startswith(RELAY.prefix + "/") else OFFICIAL


# -- small formats ------------------------------------------------------------------------------

def ms(ts: float) -> int:
    """Unix milliseconds [doc: S1, S2]."""
    return int(round(ts * 1000))


def seconds_text(seconds: float) -> str:
    """Durations are strings of seconds [doc: S2]; the number format is inferred."""
    return f"{round(seconds, 3):g}"


def numeric_id(*parts: str) -> str:
    """An 18-digit id derived from ``parts`` (ids look like "850508686686064678" [doc: S1])."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return str(10**17 + int(digest, 16) % (9 * 10**17))


def _png(width: int = 64, height: int = 64) -> bytes:
    """A small flat-colour PNG: the face thumbnail every face_image URL serves."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes((224, 184, 160)) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


FACE_PNG = _png()


# -- faces (identify-face) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Video:
    """The video a session is about: its id (parent_video.id), URL, length, and the URL whose
    hints decide its faces (a Kling-generated video keeps its source's faces)."""

    id: str
    url: str
    duration_ms: int
    hints_url: str


def face_intervals(video: Video) -> list[tuple[int, int]]:
    """The faces' lip-syncable intervals (ms), from the hints of the video URL, so the same
    video always has the same faces:

    * ``faces=N`` — N faces (0..20), each present for the whole video (default 1);
    * ``face_ms=S-E[,S-E...]`` — one face per interval, e.g. ``face_ms=0-1500`` for a face
      too short to lip-sync, ``face_ms=0-4000,5500-10000`` for one person seen twice more
      than 1 s apart (two face ids [doc: S8]). Intervals are clipped to the video.

    >>> face_intervals(Video("1", "https://e.x/v.mp4?faces=2", 8000, "https://e.x/v.mp4?faces=2"))
    [(0, 8000), (0, 8000)]
    >>> face_intervals(Video("1", "u", 10000, "https://e.x/v.mp4?face_ms=0-1500,3000-20000"))
    [(0, 1500), (3000, 10000)]
    """
    query = parse_qs(split_url(video.hints_url).query)
    if "face_ms" in query:
        out = []
        for part in ",".join(query["face_ms"]).split(","):
            start_text, dash, end_text = part.strip().partition("-")
            try:
                start, end = int(float(start_text)), int(float(end_text))
            except ValueError:
                raise kling_error(1201, f"video_url hint face_ms must be START-END[,START-END...] in ms "
                                  f"(got {part!r})", field="video_url") from None
            end = min(end, video.duration_ms)
            if not dash or start < 0 or start >= end:
                raise kling_error(1201, f"video_url hint face_ms interval {part!r} is empty or outside the "
                                  f"video (0-{video.duration_ms} ms)", field="video_url")
            out.append((start, end))
        return out
    try:
        count = int(query.get("faces", ["1"])[0])
    except ValueError:
        raise kling_error(1201, "video_url hint faces must be an integer", field="video_url") from None
    return [(0, video.duration_ms)] * max(0, min(count, 20))


def faces(rt: Runtime, video: Video, base: str) -> list[dict[str, Any]]:
    """face_data entries: ids "0", "1"... (the official example's id is "0" [doc: S1]) and a
    face_image URL that serves a PNG (stored under a key derived from the video, so the same
    video gives the same URLs)."""
    out = []
    key = hashlib.sha256(video.hints_url.encode()).hexdigest()[:16]
    for n, (start, end) in enumerate(face_intervals(video)):
        file_id = f"kling-face-{key}-{n}"
        rt.store.put("files", file_id, {"data": FACE_PNG, "name": f"face_{n}.png", "mimetype": "image/png"})
        out.append({"face_id": str(n), "face_image": f"{base}/_emulator/files/{file_id}/face_{n}.png",
                    "start_time": start, "end_time": end})
    return out


SESSIONS = f"{NAME}:session"
CDN = "/_emulator/kling/cdn"  # where result videos are served (``routes.result_video``)
VIDEOS = f"{NAME}:video"


def open_session(rt: Runtime, account: str, video: Video, face_data: list[dict[str, Any]]) -> dict[str, Any]:
    session: dict[str, Any] = {"session_id": rt.ids.digits(18), "account": account, "created_at": rt.clock.now(),
               "video": video, "faces": face_data}
    rt.store.put(SESSIONS, session["session_id"], session)
    return session


def fixture_session(rt: Runtime, session_id: str, video_url: str, account: str) -> dict[str, Any]:
    """A configured fixture session, as identify-face would have opened it for ``video_url``
    (its faces follow the URL's hints; media facts default like any URL's)."""
    duration = probe_url(video_url).duration or 10.0
    video = Video(id=numeric_id("video", video_url), url=video_url, duration_ms=int(round(duration * 1000)),
                  hints_url=video_url)
    base = rt.settings.public_url or ""
    return {"session_id": session_id, "account": account, "created_at": rt.clock.now(), "video": video,
            "faces": faces(rt, video, base.rstrip("/"))}


# -- tasks -------------------------------------------------------------------------------------

def deduction(units: str) -> dict[str, str]:
    return {"quota": units, "list_price": units}


def task_videos(job: Job, *, watermark: bool) -> list[dict[str, Any]]:
    out = []
    for video in job.data.get("videos", []):
        item = {"id": video["id"], "url": video["url"]}
        if watermark:
            # [doc: S2] query results carry watermark_url (a URL only when a watermark was asked for; inferred)
            item["watermark_url"] = video["watermark_url"]
        item["duration"] = video["duration"]
        out.append(item)
    return out


def task(job: Job) -> dict[str, Any]:
    """The query/list task object [doc: S2]: task_info holds only parent_video (§4.3)."""
    units = job.data.get("units", "0")
    return {
        "task_id": job.id,
        "task_status": job.status,
        "task_status_msg": job.data.get("task_status_msg", ""),
        "task_info": {"parent_video": job.data["parent_video"]},
        "task_result": {"videos": task_videos(job, watermark=True)},
        "watermark_info": job.data["watermark_info"],
        "final_unit_deduction": units,
        "final_balance_deduction": deduction(units),
        "created_at": ms(job.created_at),
        "updated_at": ms(job.updated_at),
    }


def resource_packs(rt: Runtime, cfg: dict[str, Any], account: str, now: float) -> list[dict[str, Any]]:
    """The account's packs as ``GET /account/costs`` shows them: the units its tasks used are
    taken from the packs in order (inferred); a time left ``None`` dates from the account's
    first look (then valid for a year)."""
    first = rt.store.get("kling:packs_since", account)
    if first is None:
        first = now
        rt.store.put("kling:packs_since", account, first)
    used = sum(float(j.data.get("units") or 0) for j in rt.engine.jobs(NAME, KIND, account=account))
    since, out = ms(first), []
    for pack in cfg["resource_packs"]:
        effective = pack["effective_time"] if pack["effective_time"] is not None else since
        invalid = pack["invalid_time"] if pack["invalid_time"] is not None else effective + 365 * 86_400_000
        total = float(pack["total_quantity"])
        taken = min(total, used)
        used -= taken
        remaining = total - taken
        status = ("toBeOnline" if ms(now) < effective else "expired" if ms(now) >= invalid
                  else "runOut" if remaining <= 0 else "online")
        out.append({"resource_pack_name": pack["resource_pack_name"], "resource_pack_id": pack["resource_pack_id"],
                    "resource_pack_type": pack["resource_pack_type"], "total_quantity": total,
                    "remaining_quantity": remaining,
                    "purchase_time": pack["purchase_time"] if pack["purchase_time"] is not None else effective,
                    "effective_time": effective, "invalid_time": invalid, "status": status})
    return out


def created(job: Job) -> dict[str, Any]:
    """The create response [doc: S1, S2]."""
    return {"task_id": job.id, "task_info": {"external_task_id": job.data["external_task_id"]},
            "task_status": job.status, "created_at": ms(job.created_at), "updated_at": ms(job.updated_at)}


def callback(job: Job, cfg: dict[str, Any]) -> dict[str, Any]:
    """The flat legacy callback payload [doc: S5]; that it applies to lip-sync is inferred (§7).
    ``final_unit_deduction`` and no ``final_balance_deduction``, as the English page has it; the
    Chinese page's extra field is ``callback_balance_deduction`` [doc: updates K4]."""
    units = job.data.get("units", "0")
    body: dict[str, Any] = {
        "task_id": job.id,
        "task_status": job.status,
        "task_status_msg": job.data.get("task_status_msg", ""),
        "created_at": ms(job.created_at),
        "updated_at": ms(job.updated_at),
        "final_unit_deduction": units,
        "task_info": {"parent_video": job.data["parent_video"], "external_task_id": job.data["external_task_id"]},
        "task_result": {"videos": task_videos(job, watermark=False)},
    }
    if cfg["callback_balance_deduction"]:
        body["final_balance_deduction"] = deduction(units)
    return body


NEW_API_STATUS = {"submitted": ("SUBMITTED", "0%"), "processing": ("IN_PROGRESS", "50%"),
                  "succeed": ("SUCCESS", "100%"), "failed": ("FAILURE", "100%")}


def new_api_wrap(job: Job, envelope: dict[str, Any]) -> dict[str, Any]:
    """The new-api relay's query wrapper [3p: S24] (status/progress mapping inferred)."""
    status, progress = NEW_API_STATUS[job.status]
    return {"code": "success", "message": "", "data": {"status": status, "progress": progress, "data": envelope}}


def _finish(rt: Runtime, job: Job, cfg: dict[str, Any]) -> None:
    seconds = job.data["duration_ms"] / 1000.0
    video_id = rt.ids.digits(18)
    base = f"{job.base_url}{CDN}/{job.id}/{video_id}"
    watermark = bool(job.data["watermark_info"].get("enabled"))
    job.data["videos"] = [{"id": video_id, "url": f"{base}.mp4", "duration": seconds_text(seconds),
                           "watermark_url": f"{base}-watermark.mp4" if watermark else ""}]
    job.data["units"] = f"{math.ceil(seconds / 5) * cfg['units_per_5s']:g}"
    # A Kling-generated video: identify-face accepts its id as video_id (C4) for 30 days.
    rt.store.put(VIDEOS, video_id, {"id": video_id, "url": f"{base}.mp4", "duration_ms": job.data["duration_ms"],
                                    "hints_url": job.data["hints_url"], "account": job.account,
                                    "created_at": rt.clock.now()})


# -- callbacks ---------------------------------------------------------------------------------

def webhook_key(secret: str) -> bytes:
    """Standard Webhooks: the key is the base64 after ``whsec_`` (raw text if it is not base64)."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) [doc: S5].

    >>> sign("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "9876543210", 1781080794,
    ...      b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
    ...      b'"update_time":1781080794151}')
    'v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4='
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(webhook_key(secret), signed, hashlib.sha256).digest()).decode()


def signer(cfg: dict[str, Any], started: float) -> Signer | None:
    """Headers per attempt: webhook-id (the delivery id, unchanged across retries),
    webhook-timestamp (unix seconds of the attempt), webhook-signature (space-separated ``v1,``
    signatures: the current secret's, and the previous one's during the rotation grace)."""
    secret = cfg.get("webhook_secret")
    if not secret:
        return None
    rotated = cfg.get("webhook_rotated_at")
    grace_until = (float(rotated) if rotated is not None else started) + float(cfg["webhook_rotation_grace_seconds"])
    return Signer(NAME, secret, previous=cfg.get("webhook_previous_secret") or None, previous_until=grace_until)


@signature_scheme(NAME)
def _signature(signer: Signer, body: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
    stamp = int(timestamp)
    sigs = [sign(signer.secret, delivery_id, stamp, body)]
    if signer.previous:  # the Signer dropped it once its grace ran out
        sigs.append(sign(signer.previous, delivery_id, stamp, body))
    return {"webhook-id": delivery_id, "webhook-timestamp": str(stamp), "webhook-signature": " ".join(sigs)}


def send_callback(rt: Runtime, job: Job, cfg: dict[str, Any], sign_with: Signer | None) -> None:
    rt.webhooks.send_json(NAME, job, callback(job, cfg), event=f"task.{job.status}", retry=cfg["webhook_retry"],
                          signer=sign_with, headers={"Content-Type": "application/json; charset=utf-8"},
                          ensure_ascii=False)


# -- setup -------------------------------------------------------------------------------------

def setup(rt: Runtime) -> None:
    cfg = rt.cfg(NAME)
    started = rt.clock.now()

    def on_enter(job: Job, state: str) -> None:
        if state == "succeed":
            _finish(rt, job, cfg)
        if job.webhook_url and state in cfg["callback_states"]:
            send_callback(rt, job, cfg, signer(cfg, started))

    rt.engine.declare(NAME, KIND, LIFECYCLE, on_enter)
