"""WaveSpeed's settings: their types, defaults and evidence (keys [doc: D7] ... refer to
shared/reference/wavespeed.md §0). ``--set wavespeed.KEY=VALUE``, the ``wavespeed`` section of
a config file or ``create_app``'s dict override them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

from lipsync_emulator.core.media import AUDIO_EXT, VIDEO_EXT
from lipsync_emulator.core.settings import Retry, default
from lipsync_emulator.providers.wavespeed.models import AUDIO_TO_VIDEO, LATENTSYNC, LEVELS, MB

Level = Literal["bronze", "silver", "gold", "ultra", "unlimited"]


class Durations(TypedDict):
    created: float
    processing: float


class Price(TypedDict):
    price: float
    per_seconds: float


class Formats(TypedDict):
    video: list[str]
    audio: list[str]


class Limits(TypedDict):
    videos_per_minute: int | None
    concurrency: int | None


class UploadLimits(TypedDict):
    image: int
    video: int
    audio: int


@dataclass(frozen=True)
class Settings:
    api_keys: list[str] = default([])  # empty: any non-empty Bearer key is accepted (no `wsk_` format check, inferred)
    # Seconds per state. Not documented; the docs suggest polling video tasks every >= 5 s [doc: D7].
    durations: Durations = default({"created": 2.0, "processing": 20.0})
    level: Level = "unlimited"
    key_levels: dict[str, Level] = default({})  # per-key level, e.g. {"wsk_new": "bronze"}
    levels: dict[str, Limits] = default(LEVELS)
    # Starting balance per key in USD (new real accounts get $1 of trial credit [doc: D12]).
    balance: float = 100.0
    key_balances: dict[str, float] = default({})
    # $0.15 per 5 s of video for LatentSync [doc: D1 older page]; audio-to-video's price is not
    # documented (inferred: the same). A started 5-second block is charged in full (inferred).
    pricing: dict[str, Price] = default({LATENTSYNC: {"price": 0.15, "per_seconds": 5.0},
                                         AUDIO_TO_VIDEO: {"price": 0.15, "per_seconds": 5.0}})
    # Documented formats: LatentSync video mp4, audio mp3/aac/wav/m4a [doc: D1]. Audio-to-video
    # documents none: any video / audio extension (inferred). URLs without a known media
    # extension are accepted (a signed URL need not have one).
    formats: dict[str, Formats] = default({
        LATENTSYNC: {"video": ["mp4"], "audio": ["mp3", "aac", "wav", "m4a"]},
        AUDIO_TO_VIDEO: {"video": sorted(VIDEO_EXT), "audio": sorted(AUDIO_EXT)}})
    # Missing / wrongly typed inputs: "reject" = HTTP 400 at submit, "fail_task" = accept, then
    # fail the task with data.code 1400 / 1401. Which one WaveSpeed does is not documented.
    validation: Literal["reject", "fail_task"] = "reject"
    # Sync mode [doc: D10]: the request holds until the result, or answers the sync-timeout shape
    # after this many seconds (90 s: the SDK test fixture's text [sdk: S2]).
    sync_timeout: float = 90.0
    # Webhooks: "retry up to 3 times with exponential backoff" [doc: D3]; 1, 2, 4 s inferred.
    webhook_retry: Retry = default({"max_attempts": 4, "backoff": 1.0, "factor": 2.0, "max_delay": 3600.0})
    webhook_include_input: bool = False  # `input` is in D3's example, not in D4's real sample
    webhook_secret: str | None = None  # one fixed whsec_ secret for every key; None: one per key
    webhook_secret_seed: str = "lipsync-emulator-wavespeed"
    # result: .../predictions/{id}/result [doc: D3, D4, D9] | prediction [doc: D6, D8]
    urls_get: Literal["result", "prediction"] = "result"
    retention_days: float = 7  # predictions are kept 7 days [doc: D8, D9]
    # Per-type upload limits of one doc variant [doc: D13 variant]: larger uploads get 413.
    upload_limits: UploadLimits = default({"image": 20 * MB, "video": 100 * MB, "audio": 50 * MB})
    upload_ticket_seconds: float = 3600  # validity of an upload URL (inferred)
