"""WaveSpeed state: the prediction lifecycle declaration, the prediction serializer per state,
pricing and balances, account levels, the signed webhook, and the scenario catalogue.

Evidence keys ([doc: D7], [sdk: S1] ...) refer to shared/reference/wavespeed.md §0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from datetime import UTC, datetime
from typing import Any

from lipsync_emulator.core.jobs import Job, Lifecycle, Outcome
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.webhooks import Signer, signature_scheme
from lipsync_emulator.providers.wavespeed.errors import TASK_ERRORS

NAME = "wavespeed"
KIND = "prediction"
# created -> processing -> completed | failed [doc: D7, D8]; cancelled / timeout / deleted are
# terminal statuses the official clients handle [sdk: S1, S3, S4].
LIFECYCLE = Lifecycle(states=("created", "processing", "completed"),
                      terminal=frozenset({"completed", "failed", "cancelled", "timeout", "deleted"}))
FAILURES = ("failed", "cancelled", "timeout", "deleted")

LATENTSYNC = "bytedance/latentsync"
AUDIO_TO_VIDEO = "bytedance/lipsync/audio-to-video"
SUBMIT_OPS = {LATENTSYNC: "submitLatentsync", AUDIO_TO_VIDEO: "submitLipsyncAudioToVideo"}

MB = 1024 * 1024

# Account levels [doc: D12]: videos per minute (submits beyond it get 429) and concurrency
# (tasks beyond it wait in `created`). "unlimited" is the emulator's default level, so a
# test suite that submits a few tasks is not throttled; set "bronze" to get a new account.
LEVELS: dict[str, dict[str, int | None]] = {
    "bronze": {"videos_per_minute": 2, "concurrency": 2},
    "silver": {"videos_per_minute": 500, "concurrency": 300},
    "gold": {"videos_per_minute": 3000, "concurrency": 3000},
    "ultra": {"videos_per_minute": 5000, "concurrency": 10000},
    "unlimited": {"videos_per_minute": None, "concurrency": None},
}


# -- models catalogue --------------------------------------------------------------------------

MODELS: dict[str, dict[str, str]] = {
    LATENTSYNC: {"name": "Bytedance Latentsync", "type": "video-to-video",
                 "description": "Latent Sync: audio-conditioned latent diffusion lip synchronization "
                                "(mp4 video; mp3/aac/wav/m4a audio)."},
    AUDIO_TO_VIDEO: {"name": "Bytedance Lipsync Audio To Video", "type": "video-to-video",
                     "description": "Lifelike lip movements synchronized with the given audio."},
}


# -- account, balance, pricing -----------------------------------------------------------------

def level_of(cfg: dict[str, Any], account: str) -> dict[str, int | None]:
    name = cfg["key_levels"].get(account) or cfg["level"]
    return cfg["levels"].get(name, LEVELS["unlimited"])


def price(cfg: dict[str, Any], model: str, video_seconds: float) -> float:
    plan = cfg["pricing"].get(model) or {"price": 0.15, "per_seconds": 5.0}
    blocks = max(1, math.ceil(max(0.0, video_seconds) / float(plan["per_seconds"]) - 1e-9))
    return round(blocks * float(plan["price"]), 6)


def balance(rt: Runtime, account: str) -> float:
    stored = rt.store.get("wavespeed:balance", account)
    if stored is None:
        cfg = rt.cfg(NAME)
        stored = float(cfg["key_balances"].get(account, cfg["balance"]))
    return float(stored)


def charge(rt: Runtime, account: str, amount: float) -> None:
    rt.store.put("wavespeed:balance", account, round(balance(rt, account) - amount, 6))


def webhook_secret(cfg: dict[str, Any], account: str) -> str:
    """Stable per API key [3p: T1]: derived from the key, in the documented ``whsec_`` + base64 look."""
    if cfg.get("webhook_secret"):
        return str(cfg["webhook_secret"])
    digest = hmac.new(str(cfg["webhook_secret_seed"]).encode(), account.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


# -- serializers -------------------------------------------------------------------------------

def iso_ns(ts: float) -> str:
    """ISO-8601 UTC with nanoseconds, like the real samples ``2025-05-19T06:09:15.948268264Z`` [doc: D9]."""
    whole = math.floor(ts)
    nanos = min(999_999_999, int(round((ts - whole) * 1e9)))
    return datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def result_url(job: Job, cfg: dict[str, Any]) -> str:
    suffix = "/result" if cfg["urls_get"] == "result" else ""
    return f"{job.base_url}/api/v3/predictions/{job.id}{suffix}"


def status_of(job: Job) -> str:
    """The status shown: deletion is a flag on the record; ``pending`` (seen in the desktop
    app's types and the SDK tests [sdk: S6, S2]) is shown while a "pending" job waits."""
    if job.data.get("deleted"):
        return "deleted"
    if "pending" in job.scenarios and job.status not in LIFECYCLE.terminal:
        return "pending"
    return job.status


def inference_ms(job: Job) -> int:
    """``timings.inference`` and ``executionTime`` (equal in every sample [doc: D4, D9]): the
    configured processing time once completed, 0 before (the value before completion is inferred)."""
    if job.status != "completed":
        return 0
    return int(round(float(job.durations.get("processing", 0)) * job.outcome.slow * 1000))


def prediction(job: Job, cfg: dict[str, Any], *, include_input: bool = False) -> dict[str, Any]:
    """The prediction object [doc: D1, D4, D14]. Outputs only when completed [doc: D1];
    ``code`` only on a failed task [doc: D11] (whether it appears otherwise is not documented)."""
    status = status_of(job)
    outputs = list(job.data.get("outputs", [])) if status == "completed" else []
    ms = inference_ms(job) if status == "completed" else 0
    body: dict[str, Any] = {"id": job.id, "model": job.request["model"]}
    if include_input:
        body["input"] = job.request["input"]
    body.update({
        "outputs": outputs,
        "urls": {"get": result_url(job, cfg)},
        "has_nsfw_contents": [False] * len(outputs),
        "status": status,
        "created_at": iso_ns(job.created_at),
        "error": job.data.get("error", "") if status in FAILURES else "",
        "executionTime": ms,
        "timings": {"inference": ms},
    })
    if status in FAILURES and job.data.get("code") is not None:
        body["code"] = job.data["code"]
    return body


def sync_timeout(job: Job, cfg: dict[str, Any]) -> dict[str, Any]:
    """The server-side sync-mode timeout payload the SDK expects [sdk: S2 test fixture, S1]:
    still ``processing``, ``code`` 5004, and the documented error text."""
    body = prediction(job, cfg)
    body.update({"status": "processing", "code": 5004,
                 "error": f"Sync mode timed out after {float(cfg['sync_timeout']):g} seconds. "
                          "The prediction is still processing asynchronously."})
    return body


# -- webhooks ----------------------------------------------------------------------------------

def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature: v3,<hex>``, hex = HMAC-SHA256(key = the secret without ``whsec_``,
    as UTF-8 bytes, NOT base64-decoded; msg = ``{id}.{timestamp}.{raw body}``) [doc: D4]."""
    key = secret.removeprefix("whsec_").encode()
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v3,{digest}"


@signature_scheme(NAME)
def _signature(signer: Signer, body: bytes, timestamp: float, delivery_id: str) -> dict[str, str]:
    # One webhook-id per delivery, reused on its retries (inferred, like Standard Webhooks);
    # the timestamp is the attempt's, so a retry is signed afresh.
    webhook_id = delivery_id.replace("-", "")
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": sign(signer.secret, webhook_id, int(timestamp), body)}


def send_webhook(rt: Runtime, job: Job) -> None:
    cfg = rt.cfg(NAME)
    secret = webhook_secret(cfg, job.account)
    # The body is the bare prediction object, no envelope [doc: D3, D4, D5]; ``outputs`` only
    # when completed [doc: updates W5].
    payload = prediction(job, cfg, include_input=cfg["webhook_include_input"])
    if payload["status"] != "completed":
        del payload["outputs"]
    rt.webhooks.send_json(NAME, job, payload, event=f"prediction.{job.status}", retry=cfg["webhook_retry"],
                          signer=Signer(NAME, secret))


# -- task failures -----------------------------------------------------------------------------

def task_failure(code: int, error: str | None = None, status: str = "failed") -> Outcome:
    """How a task ends with task code ``code`` [doc: D11] (``data.code`` and ``data.error``)."""
    return Outcome(status=status, data={"code": code, "error": error or TASK_ERRORS[code]})


# -- lifecycle hook ----------------------------------------------------------------------------

def setup(rt: Runtime) -> None:
    def on_enter(job: Job, state: str) -> None:
        if state == "completed":
            job.data["outputs"] = [f"{job.base_url}/_emulator/media/wavespeed/{job.id}.mp4"]
            cost = price(rt.cfg(NAME), job.request["model"], float(job.data.get("video_seconds", 0.0)))
            job.data["cost"] = cost
            # Charged as the task completes; failed tasks cost nothing (inferred; [3p: T1] says
            # credits are refunded after failed webhook retries, so failures are not billed).
            charge(rt, job.account, cost)
        # Deliveries only on the final status [doc: D3, D5]; not for a task deleted by the client.
        if state in LIFECYCLE.terminal and state != "deleted" and job.webhook_url and not job.data.get("deleted"):
            send_webhook(rt, job)

    rt.engine.declare(NAME, KIND, LIFECYCLE, on_enter)
