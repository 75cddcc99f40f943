"""sync.so's settings: their types, defaults and evidence. ``--set syncso.KEY=VALUE``, the
``syncso`` section of a config file or ``create_app``'s dict override them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

from lipsync_emulator.core.settings import Retry, default

Plan = Literal["unlimited", "free", "hobbyist", "creator", "growth", "scale", "enterprise"]


class Durations(TypedDict):
    PENDING: float
    PROCESSING: float


class BatchDurations(TypedDict):
    PENDING: float
    JOBS_CREATED: float


@dataclass(frozen=True)
class Settings:
    api_keys: list[str] = default([])  # empty: any non-empty x-api-key is accepted
    webhook_secret: str | None = "whsec_emulator_syncso_dev"
    durations: Durations = default({"PENDING": 5.0, "PROCESSING": 25.0})
    # sync.so documents no webhook retries [3p: skill]: one attempt unless configured.
    webhook_retry: Retry = default({"max_attempts": 1, "backoff": 5.0, "factor": 2.0, "max_delay": 3600.0})
    webhook_on_rejected: bool = False
    error_body: Literal["nestjs", "coded", "both"] = "both"
    duplicate_ref_ids: Literal["reject", "allow"] = "reject"
    segment_overlap: Literal["allow", "reject"] = "allow"  # reject also rejects segments beyond the video
    zero_length_segments: Literal["allow", "reject"] = "allow"
    snake_case_keys: Literal["accept", "reject"] = "accept"
    media_checks: Literal["fail", "reject"] = "fail"  # fail (FAILED generation) | reject (422 at create)
    plan: Plan = "unlimited"
    rate_limit_per_minute: int | None = None  # 60 documented, 100 per [3p]; None: off
    max_upload_bytes: int = 20 * 1024 * 1024
    # USD per output second (inferred: public price list, not an API source)
    pricing_per_second: dict[str, float] = default({
        "lipsync-1.9.0-beta": 0.02, "lipsync-2": 0.04, "lipsync-2-pro": 0.067, "react-1": 0.1, "sync-3": 0.1})
    # batch, long poll, idempotency, cancel (evidence in the fidelity table of docs/syncso.md)
    batch_plans: list[Plan] = default(["unlimited", "scale", "enterprise"])  # others get 402; 2025: growth too
    batch_min_records: int = 20  # 2026 docs; 2025: no minimum
    batch_max_records: int = 500  # 2026 docs; 2025: 1000
    batch_max_bytes: int = 5 * 1024 * 1024
    batch_max_input_seconds: float | None = 30.0  # "inputs up to 30 s"; None: no limit
    batch_concurrency: int | None = None  # active batches per key before 429; per-plan values unpublished
    batch_durations: BatchDurations = default({"PENDING": 5.0, "JOBS_CREATED": 5.0})  # then PROCESSING
    batch_webhook_keys: Literal["snake", "camel"] = "snake"  # snake (field table) | camel (the page's example)
    batch_webhook_signature_header: str = "Sync-Signature"  # or X-Signature-Primary
    long_poll_wall_seconds: float | None = 2.0  # virtual clock: real seconds a long poll waits; None: the timeout
    idempotency_ttl_seconds: float = 86400.0
    cancelable_states: list[str] = default(["PENDING"])  # "cancel a generation that is still pending"
