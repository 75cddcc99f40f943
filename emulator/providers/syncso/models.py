"""sync.so state: the generation lifecycle declaration, serializers per state, webhook
payload and signature, cost estimates, models, plan limits, and the outcome scenarios.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.jobs import Job, Lifecycle, Outcome
from lipsync_emulator.core.media import probe_url
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.webhooks import Signer, signature_scheme
from lipsync_emulator.providers.syncso.errors import message_for

NAME = "syncso"
KIND = "generation"
# CANCELED: the legacy (2024-25) state of a canceled pending generation [doc: openapi25].
LIFECYCLE = Lifecycle(states=("PENDING", "PROCESSING", "COMPLETED"),
                      terminal=frozenset({"COMPLETED", "FAILED", "REJECTED", "CANCELED"}))
FPS = 25.0

# Per-plan limits [doc: docsv2 rate-limits.mdx] [doc: faq]: concurrency = PENDING + PROCESSING
# generations; max_seconds = longest generation allowed. "unlimited" is the emulator's default.
PLANS: dict[str, dict[str, Any]] = {
    "unlimited": {"concurrency": None, "max_seconds": None, "monthly": None},
    "free": {"concurrency": 1, "max_seconds": 20, "monthly": 3},
    "hobbyist": {"concurrency": 1, "max_seconds": 60, "monthly": None},
    "creator": {"concurrency": 3, "max_seconds": 300, "monthly": None},
    "growth": {"concurrency": 6, "max_seconds": 600, "monthly": None},
    "scale": {"concurrency": 15, "max_seconds": 1800, "monthly": None},
    "enterprise": {"concurrency": None, "max_seconds": None, "monthly": None},
}

MODELS: tuple[dict[str, Any], ...] = (
    {"id": "lipsync-2", "name": "lipsync-2", "type": "lipsync", "version": "2.0",
     "description": "Zero-shot lip-sync that preserves the speaker's style."},
    {"id": "lipsync-2-pro", "name": "lipsync-2-pro", "type": "lipsync", "version": "2.0",
     "description": "Higher-fidelity lip-sync for close-ups and detail."},
    {"id": "lipsync-1.9.0-beta", "name": "lipsync-1.9.0-beta", "type": "lipsync", "version": "1.9.0",
     "description": "Fast lip-sync model."},
    {"id": "react-1", "name": "react-1", "type": "react", "version": "1.0",
     "description": "Re-animates expressions and head motion to match the audio."},
    {"id": "sync-3", "name": "sync-3", "type": "lipsync", "version": "3.0",
     "description": "Lip-sync for video and still images."},
    {"id": "lipsync-1.8.0", "name": "lipsync-1.8.0", "type": "lipsync", "version": "1.8.0",
     "deprecatedAt": "2025-06-01T00:00:00.000Z"},
)


def outcome(code: str, status: str = "FAILED", after: str | None = None, message: str | None = None) -> Outcome:
    text = message or message_for(code)
    return Outcome(status=status, after=after, data={"error": text, "error_code": code})


REJECTED = outcome("generation_rejected", "REJECTED", after="PENDING",
                   message="The generation was rejected before processing.")


# -- serializers -------------------------------------------------------------------------------

def output_name(job: Job) -> str:
    return job.request.get("outputFileName") or job.id


DEFAULT_OPTIONS = {"sync_mode": "loop"}


def generation(job: Job, *, progress_at: float | None = None) -> dict[str, Any]:
    """The Generation object in the job's current state. Fields that do not apply yet are
    ``null``, and a request without options shows the default ``sync_mode`` [3p: updates S8];
    ``errorCode`` is the 2026 spelling [doc: updates S3], ``error_code`` the SDK's."""
    req = job.request
    body: dict[str, Any] = {
        "id": job.id,
        "createdAt": iso(job.created_at),
        "status": job.status,
        "model": req["model"],
        "input": req["input"],
        "options": req.get("options") or DEFAULT_OPTIONS,
        "segments": req.get("segments"),
        "webhookUrl": req.get("webhookUrl"),
        "outputFileName": req.get("outputFileName"),
        "outputUrl": job.data.get("outputUrl"),
        "outputDuration": job.data.get("outputDuration"),
        "segmentOutputUrl": None,
        "error": job.data.get("error"),
        "error_code": job.data.get("error_code"),
        "errorCode": job.data.get("error_code"),
    }
    if progress_at is not None:
        body["progress_percent"] = progress_percent(job, progress_at)
    return body


def notification(job: Job) -> dict[str, Any]:
    """GenerationNotification: the webhook body (no ``segments`` key) [sdk]."""
    body = {k: v for k, v in generation(job).items() if k not in ("segments", "errorCode")}
    return {k: v for k, v in body.items() if v is not None}


def progress_percent(job: Job, now: float) -> float:
    if job.status in LIFECYCLE.terminal:
        return 100.0
    started = job.entered("PROCESSING")
    if started is None:
        return 0.0
    total = float(job.durations.get("PROCESSING", 0)) * job.outcome.slow
    if total <= 0 or job.outcome.stuck:
        return 50.0
    return round(min(99.0, 100.0 * (now - started) / total), 1)


def output_duration(payload: dict[str, Any]) -> float:
    """The video's duration; for a still image (sync-3), the voice's (inferred)."""
    visual = next(i for i in payload["input"] if i.get("type") in ("video", "image"))
    if visual["type"] == "image":
        visual = next((i for i in payload["input"] if i.get("type") == "audio"), {})
    return float(probe_url(visual.get("url") or "").duration or 0.0)


def estimate(payload: dict[str, Any], cfg: dict[str, Any]) -> list[dict[str, float]]:
    seconds = output_duration(payload)
    per_second = float(cfg["pricing_per_second"].get(payload["model"], 0.05))
    return [{"estimatedFrameCount": round(seconds * FPS), "estimatedGenerationCost": round(seconds * per_second, 4)}]


def sign(secret: str, body: bytes, timestamp: float) -> str:
    """``Sync-Signature: t=<unix>,v1=hex(HMAC_SHA256(secret, f"{t}.{body}"))`` [doc: docsv2 webhooks.mdx]."""
    t = int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@signature_scheme(NAME)
def _signature(signer: Signer, body: bytes, timestamp: float, _message_id: str) -> dict[str, str]:
    return {signer.header or "Sync-Signature": sign(signer.secret, body, timestamp)}


def start_generation(rt: Runtime, payload: dict[str, Any], *, account: str, outcome: Outcome | None,
                     scenarios: list[str], base_url: str, namespace: str = "default",
                     data: dict[str, Any] | None = None) -> Job:
    """Store a new generation and start its lifecycle: a direct create and a batch line alike."""
    return rt.engine.create(NAME, KIND, rt.ids.uuid(), durations=rt.cfg(NAME)["durations"], outcome=outcome,
                            request=payload, account=account, namespace=namespace,
                            webhook_url=payload.get("webhookUrl"), base_url=base_url, scenarios=scenarios,
                            data=dict(data or {}))


# -- lifecycle hook ------------------------------------------------------------------------------

def setup(rt: Runtime) -> None:
    cfg = rt.cfg(NAME)

    def on_enter(job: Job, state: str) -> None:
        if state == "COMPLETED":
            job.data["outputUrl"] = f"{job.base_url}/_emulator/media/syncso/{job.id}/{output_name(job)}.mp4"
            job.data["outputDuration"] = output_duration(job.request)
        webhook_states = {"COMPLETED", "FAILED"} | ({"REJECTED"} if cfg["webhook_on_rejected"] else set())
        if state in webhook_states and job.webhook_url:
            send_webhook(rt, job)

    rt.engine.declare(NAME, KIND, LIFECYCLE, on_enter)


def send_webhook(rt: Runtime, job: Job) -> None:
    cfg = rt.cfg(NAME)
    secret = cfg.get("webhook_secret") or ""
    rt.webhooks.send_json(NAME, job, notification(job), event=f"generation.{job.status.lower()}",
                          retry=cfg["webhook_retry"], signer=Signer(NAME, secret) if secret else None)
