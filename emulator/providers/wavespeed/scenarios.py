"""WaveSpeed's scenario catalogue: the documented task failure codes as outcome scenarios, the
other statuses the official clients handle, sync mode, and the account / transient errors as
response scenarios, each with its expected effect on the wire; plus the probes the tooling
(catalogue test, ``lipsync-emulator demo``) uses to reach the operations. The generic
transport and webhook faults (latency, resets, ``webhook_drop``, ``webhook_duplicate``,
``webhook_bad_signature``...) come from ``emulator.core.faults``.

Evidence (reference ``wavespeed.md``): task codes §9 [doc: D11]; statuses §5 [sdk: S1, S3, S4,
S6]; sync mode §7 [doc: D10] [sdk: S2]; HTTP errors §10 (bodies inferred).
"""

from __future__ import annotations

from typing import Any

from lipsync_emulator.core.errors import (
    EmulatorError,
    Forbidden,
    GatewayTimeout,
    InternalError,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from lipsync_emulator.core.jobs import Outcome
from lipsync_emulator.core.scenarios import ANY, Expect, Probe, ProbeContext, Scenario
from lipsync_emulator.core.settings import defaults
from lipsync_emulator.providers.wavespeed.errors import TASK_CODES, TASK_ERRORS
from lipsync_emulator.providers.wavespeed.models import (
    AUDIO_TO_VIDEO,
    LATENTSYNC,
    NAME,
    SUBMIT_OPS,
    task_failure,
)
from lipsync_emulator.providers.wavespeed.settings import Settings

DEFAULTS = defaults(Settings)

SUBMIT = (SUBMIT_OPS[LATENTSYNC], SUBMIT_OPS[AUDIO_TO_VIDEO])
READS = ("getPredictionResult", "getPrediction")
CREATED = float(DEFAULTS["durations"]["created"])
DONE = CREATED + float(DEFAULTS["durations"]["processing"])  # when a default task finishes
SLOW = 10.0
SYNC_TIMEOUT_ERROR = (f"Sync mode timed out after {float(DEFAULTS['sync_timeout']):g} seconds. "
                      "The prediction is still processing asynchronously.")

# Failed tasks by documented task code [doc: D11]. "failed" is the generic one (1403).
FAILURES: dict[str, int] = {
    "failed": 1403,
    "failed_content_moderation": 1200,
    "failed_missing_parameter": 1400,
    "failed_invalid_parameter": 1401,
    "failed_media_access": 1402,
    "failed_task_execution": 1403,
    "failed_task": 1405,
    "failed_internal_error": 5000,
    "failed_service_unavailable": 5003,
    "failed_timeout": 5004,
}

ACCEPTED = {"code": 200, "message": "success", "data.status": "created"}


def _failed(name: str, code: int) -> Scenario:
    error = TASK_ERRORS[code]
    return Scenario(
        name, NAME, SUBMIT, f"The task ends failed with data.code {code} ({TASK_CODES[code]}); the result GET "
        "is still HTTP 200 / code 200", "documented", "outcome", outcome=task_failure(code),
        expect=Expect(status=200, body=ACCEPTED,
                      job=((DONE - 1, {"data.status": "processing", "data.outputs": []}),
                           (DONE, {"code": 200, "data.status": "failed", "data.code": code, "data.error": error,
                                   "data.outputs": []})),
                      webhooks=({"status": "failed", "code": code, "error": error},)))


def _terminal(name: str, outcome: Outcome, summary: str, evidence: str, webhook: bool) -> Scenario:
    final = {"data.status": name, "data.outputs": [], "data.error": outcome.data["error"]}
    if "code" in outcome.data:
        final["data.code"] = outcome.data["code"]
    return Scenario(name, NAME, SUBMIT, summary, evidence, "outcome", outcome=outcome,
                    expect=Expect(status=200, body=ACCEPTED,
                                  job=((DONE, final), (DONE + 3600, final)),
                                  webhooks=({"status": name},) if webhook else ()))


def _error(name: str, operations: tuple[str, ...], summary: str, evidence: str, make: Any) -> Scenario:
    err: EmulatorError = make()
    code = err.code if isinstance(err.code, int) else err.status
    return Scenario(name, NAME, operations, summary, evidence, "response", error=make,
                    expect=Expect(status=err.status, body={"code": code, "message": err.message, "data": None}))


def catalogue() -> list[Scenario]:
    out = [_failed(name, code) for name, code in FAILURES.items()]
    out += [
        _terminal("cancelled", Outcome(status="cancelled", data={"error": "Task cancelled."}),
                  "The task ends cancelled (terminal for the SDKs [sdk: S1, S3]; when WaveSpeed emits it is not "
                  "documented); a webhook is sent (inferred)", "sdk", webhook=True),
        _terminal("timeout", task_failure(5004, "Task timed out.", status="timeout"),
                  "The task ends with status timeout and data.code 5004 [sdk: S1, S4]; a webhook is sent "
                  "(inferred)", "sdk", webhook=True),
        _terminal("deleted", Outcome(status="deleted", data={"error": "Task deleted."}),
                  "The task ends deleted (terminal for SDK 2.0.5 [sdk: S1]); no webhook (inferred)", "sdk",
                  webhook=False),
        Scenario("pending", NAME, SUBMIT, "The task shows status pending and never finishes (pending is in the "
                 "desktop app's types and the SDK tests [sdk: S6, S2]; the SDK keeps polling)", "sdk", "outcome",
                 outcome=Outcome(stuck=True),
                 expect=Expect(status=200, body={"code": 200, "data.status": "pending"},
                               job=((DONE * 100, {"data.status": "pending", "data.outputs": []}),), webhooks=())),
        Scenario("stuck", NAME, SUBMIT, "The task never leaves processing (the SDK has no overall timeout and "
                 "polls forever [sdk: S1])", "inferred", "outcome", outcome=Outcome(stuck=True),
                 expect=Expect(status=200, body=ACCEPTED,
                               job=((DONE * 100, {"data.status": "processing", "data.outputs": []}),),
                               webhooks=())),
        Scenario("slow", NAME, SUBMIT, f"Every state lasts {SLOW:g}x longer (completes at {DONE * SLOW:g} s "
                 f"instead of {DONE:g} s, past the sync-mode timeout)", "inferred", "outcome",
                 outcome=Outcome(slow=SLOW),
                 expect=Expect(status=200, body=ACCEPTED,
                               job=((DONE * SLOW - 1, {"data.status": "processing"}),
                                    (DONE * SLOW, {"data.status": "completed", "data.outputs.0": ANY})),
                               webhooks=({"status": "completed", "outputs.0": ANY},))),
        # Sync mode only: the audio-to-video probe submits in sync mode, so it is listed first.
        Scenario("sync_timeout", NAME, (SUBMIT[1], SUBMIT[0]), "A sync-mode submit answers HTTP 200 with the "
                 "sync-timeout shape (status processing, code 5004 [sdk: S2 fixture]); the task then completes "
                 "and is read by polling", "sdk", "outcome",
                 expect=Expect(status=200, body={"code": 200, "data.status": "processing", "data.code": 5004,
                                                 "data.error": SYNC_TIMEOUT_ERROR, "data.urls.get": ANY},
                               job=((DONE, {"data.status": "completed", "data.outputs.0": ANY}),))),
        Scenario("gateway_timeout", NAME, SUBMIT, "The submit answers 504 after creating the task, which still "
                 "completes and can be read back with GET /api/v3/predictions/{id} [doc: D10]", "documented",
                 "response", expect=Expect(status=504, body={"code": 504, "message": "Gateway Timeout", "data": None})),
        _error("invalid_key", (), "401 as for a missing or unknown key (status [doc: D16]; body inferred)",
               "documented", lambda: Unauthorized("Unauthorized")),
        _error("forbidden", (), "403 naming the key's role and a role that would work [sdk: S4, S5]", "sdk",
               lambda: Forbidden("Permission denied: this API key was created by role 'viewer'; use an API key "
                                 "created by role 'owner' or 'developer'.")),
        _error("no_balance", SUBMIT, "402 insufficient balance (no documented status; status and body inferred)",
               "inferred", lambda: PaymentRequired("insufficient balance")),
        _error("rate_limited", (), "429 beyond the account level's per-minute limit [doc: D12] (body inferred); "
               "the SDK retries result GETs, never the submit [sdk: S1]", "documented",
               lambda: TooManyRequests("Too many requests: rate limit exceeded for your account level.")),
        _error("internal_error", (), "500; the SDK retries result GETs [sdk: S1]", "sdk",
               lambda: InternalError("Internal Server Error")),
        _error("bad_gateway", (), "502 (JSON envelope); the SDK retries result GETs [sdk: S1]", "sdk",
               lambda: EmulatorError("Bad Gateway", status=502)),
        _error("service_unavailable", (), "503; the SDK retries result GETs [sdk: S1]", "sdk",
               lambda: ServiceUnavailable("Service Unavailable")),
        _error("gateway_error", READS, "504 on a result read; the SDK retries [sdk: S1]", "sdk",
               lambda: GatewayTimeout("Gateway Timeout")),
        _error("upload_rejected", ("createUpload",), "HTTP 200 with code 500 \"Upload failed: invalid file type\" "
               "(the SDK test fixture [sdk: S2]; the only answer whose code differs from its HTTP status)", "sdk",
               lambda: EmulatorError("Upload failed: invalid file type", status=200, code=500)),
    ]
    return out


# -- probes -----------------------------------------------------------------------------------------

def _headers(ctx: ProbeContext) -> dict[str, str]:
    keys = ctx.cfg.get("api_keys") or []
    return {"Authorization": f"Bearer {keys[0] if keys else 'ws-emulator-demo'}"}


def _submit(model: str, sync: bool = False) -> Any:
    def build(ctx: ProbeContext) -> dict[str, Any]:
        body: dict[str, Any] = {"audio": "https://example.com/voice.mp3",
                                "video": ctx.media("https://example.com/speaker.mp4")}
        if sync:
            body["enable_sync_mode"] = True
        out: dict[str, Any] = {"method": "POST", "path": f"/api/v3/{model}", "headers": _headers(ctx), "json": body}
        if ctx.webhook_url:
            out["params"] = {"webhook": ctx.webhook_url}
        return out
    return build


def _get(suffix: str) -> Any:
    def build(ctx: ProbeContext) -> dict[str, Any]:
        return {"method": "GET", "path": f"/api/v3/predictions/{ctx.job_id}{suffix}", "headers": _headers(ctx)}
    return build


def _upload(ctx: ProbeContext) -> dict[str, Any]:
    return {"method": "POST", "path": "/api/v3/media/uploads", "headers": _headers(ctx),
            "json": {"filename": "voice.mp3", "size": 1024, "content_type": "audio/mpeg"}}


def _balance(ctx: ProbeContext) -> dict[str, Any]:
    return {"method": "GET", "path": "/api/v3/balance", "headers": _headers(ctx)}


def _job_id(body: Any) -> str:
    return str(body["data"]["id"])


def probes() -> list[Probe]:
    """The async LatentSync submit comes first: it is the provider's default submit probe. The
    audio-to-video probe submits in sync mode (so ``sync_timeout`` can be shown)."""
    return [
        Probe(NAME, SUBMIT[0], _submit(LATENTSYNC), job_id=_job_id, poll="getPredictionResult"),
        Probe(NAME, SUBMIT[1], _submit(AUDIO_TO_VIDEO, sync=True), job_id=_job_id, poll="getPredictionResult"),
        Probe(NAME, "getPredictionResult", _get("/result")),
        Probe(NAME, "getPrediction", _get("")),
        Probe(NAME, "createUpload", _upload),
        Probe(NAME, "getBalance", _balance),
    ]
