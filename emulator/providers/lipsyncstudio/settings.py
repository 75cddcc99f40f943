"""lipsync.studio's settings: their types, defaults and evidence (reference
shared/reference/lipsyncstudio.md). ``--set lipsyncstudio.KEY=VALUE``, the ``lipsyncstudio``
section of a config file or ``create_app``'s dict override them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

from lipsync_emulator.core.settings import Retry, default


class Durations(TypedDict):
    processing: float


@dataclass(frozen=True)
class Settings:
    api_keys: list[str] = default([])  # empty: any non-empty Bearer key is accepted; the sk_ shape is never enforced (inferred)
    # 12.345 s of processing makes executionTime 12345, the seed's example value.
    durations: Durations = default({"processing": 12.345})
    # lipsync (the seed's processing example) | endpoint (inferred alternative)
    processing_model: Literal["lipsync", "endpoint"] = "lipsync"
    failure_message: str = "Invalid audio format"  # the `failed` scenario's error text [seed]
    submit_status: int = 200  # undocumented; 200 inferred
    request_id_field: bool = False  # True: the submit answer also carries requestId (3p clients look for it)
    # http:// webhooks: "loopback" = only to loopback hosts (local receivers), "allow" = any host,
    # "reject" = never. The docs say HTTPS [seed]; the 400 for http is inferred.
    webhook_http: Literal["loopback", "allow", "reject"] = "loopback"
    # No retries are documented: one attempt unless configured (inferred, §12.33).
    webhook_retry: Retry = default({"max_attempts": 1, "backoff": 10.0, "factor": 2.0, "max_delay": 3600.0})
    # leaf ("video is required") | dotted ("formState.video is required")
    error_field_names: Literal["leaf", "dotted"] = "leaf"
    extra_resolutions: list[str] = default([])  # permissive mode: e.g. ["360p"] (a 3p client sends it, §12.10)
    # Pricing [doc: L2]: 5 s minimum, credits per second by resolution (360p's rate inferred).
    min_billed_seconds: float = 5
    credits_per_second: dict[str, float] = default({"480p": 2, "720p": 4, "360p": 1})
    billing_rounding: Literal["ceil", "exact"] = "ceil"  # undocumented (inferred)
    # lipsync-video when the audio is longer than the video: the notes bill "video length for
    # extend cases" [doc]; "video" reads that as the source video, "audio" as the extended output.
    extend_billing: Literal["video", "audio"] = "video"
    refund_failed: bool = True  # a failed job's credits are returned (inferred)
    initial_credits: float = 10000  # each key's starting balance (inferred; real keys buy credits)
    balances: dict[str, float] = default({})  # per-key starting balances, overriding initial_credits
