"""sync.so's scenario catalogue: every documented failure, each with its expected effect on
the wire, and the probes the tooling (catalogue test, ``lipsync-emulator demo``) uses to
reach createGeneration / getGeneration. The generic transport and webhook faults come from
``emulator.core.faults``; this file has what is sync.so's own.

Evidence, reference ``syncso.md``: error codes and messages §9 ([doc: docsv2
error-handling.mdx]; the 62-code runtime list is [3p: unmodel]), error bodies §2, 401 bodies
§1 [3p], limits §10, REJECTED §5 (no official definition), webhooks §6.
"""

from __future__ import annotations

from typing import Any

from lipsync_emulator.core.errors import (
    EmulatorError,
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
from lipsync_emulator.providers.syncso.errors import message_for
from lipsync_emulator.providers.syncso.models import NAME, REJECTED, outcome
from lipsync_emulator.providers.syncso.settings import Settings

DEFAULTS = defaults(Settings)

CREATE = ("createGeneration",)
PENDING = float(DEFAULTS["durations"]["PENDING"])
DONE = PENDING + float(DEFAULTS["durations"]["PROCESSING"])  # when a default generation finishes
SLOW = 10.0

# FAILED outcomes: (scenario name, code, evidence). The five system codes and the two media
# codes are in the official list [doc: docsv2 error-handling.mdx]; that the media ones end the
# generation FAILED rather than failing the create is inferred (reference §13.19). The rest
# are codes of the runtime catalogue [3p: unmodel] that describe a generation's own failure;
# whether each surfaces as FAILED is inferred.
FAILED_CODES: tuple[tuple[str, str, str], ...] = (
    ("failed", "generation_pipeline_failed", "documented"),
    ("failed_pipeline_failed", "generation_pipeline_failed", "documented"),
    ("failed_timeout", "generation_timeout", "documented"),
    ("failed_database_error", "generation_database_error", "documented"),
    ("failed_internal_auth", "generation_internal_auth", "documented"),
    ("failed_unhandled_error", "generation_unhandled_error", "documented"),
    ("failed_audio_length_exceeded", "generation_audio_length_exceeded", "documented"),
    ("failed_media_metadata_missing", "generation_media_metadata_missing", "documented"),
    ("failed_input_resolution_unsupported", "generation_input_resolution_unsupported", "3p"),
    ("failed_unknown_error", "generation_unknown_error", "3p"),
    ("failed_infra_storage_error", "generation_infra_storage_error", "3p"),
    ("failed_infra_resource_exhausted", "generation_infra_resource_exhausted", "3p"),
    ("failed_infra_service_unavailable", "generation_infra_service_unavailable", "3p"),
    ("failed_input_video_inaccessible", "generation_input_video_inaccessible", "3p"),
    ("failed_input_audio_inaccessible", "generation_input_audio_inaccessible", "3p"),
    ("failed_input_video_invalid", "generation_input_video_invalid", "3p"),
    ("failed_input_audio_invalid", "generation_input_audio_invalid", "3p"),
)

CONTENT_POLICY = Outcome(status="REJECTED", after="PENDING", data={
    "error": "The generation was rejected by content moderation.", "error_code": "generation_rejected"})


def _failed(name: str, code: str, evidence: str) -> Scenario:
    message = message_for(code)
    timing = "" if evidence == "documented" and code in (
        "generation_pipeline_failed", "generation_timeout", "generation_database_error",
        "generation_internal_auth", "generation_unhandled_error") else "; FAILED (not a create error) is inferred"
    return Scenario(
        name, NAME, CREATE, f"The generation ends FAILED with {code}{timing}", evidence, "outcome",
        outcome=outcome(code),
        expect=Expect(status=201, body={"status": "PENDING"},
                      job=((DONE - 1, {"status": "PROCESSING", "error_code": None}),
                           (DONE, {"status": "FAILED", "error": message, "error_code": code, "errorCode": code,
                                   "outputUrl": None})),
                      webhooks=({"status": "FAILED", "error": message, "error_code": code},)))


def _error(name: str, operations: tuple[str, ...], summary: str, evidence: str,
           make: Any, body: dict[str, Any], headers: dict[str, Any] | None = None) -> Scenario:
    err: EmulatorError = make()
    return Scenario(name, NAME, operations, summary, evidence, "response", error=make,
                    expect=Expect(status=err.status, body={"statusCode": err.status, **body}, headers=headers or {}))


def catalogue() -> list[Scenario]:
    out = [_failed(*row) for row in FAILED_CODES]
    reject_message = REJECTED.data["error"]
    out += [
        # [3p: skill] "validation/policy rejection before processing"; timing, code and message inferred.
        Scenario("rejected", NAME, CREATE, "The generation goes PENDING -> REJECTED (never processed); the "
                 "REJECTED timing and its error code are inferred; no webhook (webhook_on_rejected)", "inferred",
                 "outcome", outcome=REJECTED,
                 expect=Expect(status=201, job=((PENDING - 1, {"status": "PENDING"}),
                                                (PENDING, {"status": "REJECTED", "error": reject_message,
                                                           "errorCode": "generation_rejected", "outputUrl": None})),
                               webhooks=())),
        Scenario("content_policy_rejected", NAME, CREATE, "Content moderation: PENDING -> REJECTED with a "
                 "moderation message ([3p: unmodel] REJECTED = moderation; code and message inferred)",
                 "inferred", "outcome", outcome=CONTENT_POLICY,
                 expect=Expect(status=201, job=((PENDING, {"status": "REJECTED",
                                                           "error": CONTENT_POLICY.data["error"],
                                                           "error_code": "generation_rejected"}),),
                               webhooks=())),
        Scenario("stuck", NAME, CREATE, "The generation never leaves PROCESSING (troubleshooting: report "
                 "one PENDING after 5 minutes)", "inferred", "outcome", outcome=Outcome(stuck=True),
                 expect=Expect(status=201, job=((DONE * 100, {"status": "PROCESSING", "outputUrl": None}),),
                               webhooks=())),
        Scenario("slow", NAME, CREATE, f"Every state lasts {SLOW:g}x longer than configured (completes at "
                 f"{DONE * SLOW:g} s instead of {DONE:g} s)", "inferred", "outcome", outcome=Outcome(slow=SLOW),
                 expect=Expect(status=201, job=((DONE * SLOW - 1, {"status": "PROCESSING"}),
                                                (DONE * SLOW, {"status": "COMPLETED", "outputUrl": ANY})),
                               webhooks=({"status": "COMPLETED", "outputUrl": ANY},))),
        # -- request errors ------------------------------------------------------------------
        _error("unauthorized_missing_key", (), "401 as with no x-api-key header [3p: unmodel, probed live]",
               "3p", lambda: Unauthorized("Either Cookie or x-api-key header must be provided"),
               {"message": "Either Cookie or x-api-key header must be provided", "error": "Unauthorized"}),
        _error("unauthorized_invalid_key", (), "401 as with an unknown key: {message, statusCode} only "
               "[3p: unmodel]", "3p", lambda: Unauthorized("Unauthorized", extra={"error": None}),
               {"message": "Unauthorized", "error": None, "errorCode": None}),
        _error("free_tier_exhausted", CREATE, "402 free_tier_generations_exhausted: 3 generations a month on "
               "the free tier [doc: err26]; code [3p]", "documented",
               lambda: PaymentRequired("Free tier generations exhausted. Upgrade your plan to continue.",
                                       code="free_tier_generations_exhausted"),
               {"errorCode": "free_tier_generations_exhausted", "error": "Payment Required"}),
        _error("plan_duration_exceeded", CREATE, "402 generation_plan_duration_exceeded: longer than the plan "
               "allows [doc: faq] (code [3p], status inferred)", "3p",
               lambda: PaymentRequired("Generations on the free plan are limited to 20 s",
                                       code="generation_plan_duration_exceeded"),
               {"errorCode": "generation_plan_duration_exceeded"}),
        _error("payment_required", CREATE, "402 account_payment_required: no credit left (code [3p], status "
               "inferred)", "3p",
               lambda: PaymentRequired("Payment required: add a payment method or credits to continue.",
                                       code="account_payment_required"),
               {"errorCode": "account_payment_required"}),
        _error("rate_limited", (), "429 rate_limit_exceeded, the documented body [doc: rl26]; Retry-After: 60 "
               "is inferred", "documented",
               lambda: TooManyRequests("Rate limit exceeded. Please try again later.", code="rate_limit_exceeded",
                                       headers={"Retry-After": "60"}),
               {"errorCode": "rate_limit_exceeded", "message": "Rate limit exceeded. Please try again later.",
                "error": "Too Many Requests"}, {"Retry-After": "60"}),
        _error("concurrency_limit", CREATE, "429 concurrency_limit_reached: PENDING + PROCESSING at the plan's "
               "limit [doc: rate-limits.mdx]; extra fields [3p: unmodel]; Retry-After inferred", "documented",
               lambda: TooManyRequests(
                   "Concurrency limit reached: 1 generations are pending or processing (limit 1).",
                   code="concurrency_limit_reached", headers={"Retry-After": "10"},
                   extra={"activeGenerations": 1, "concurrencyLimit": 1, "retryAfterSeconds": 10,
                          "upgradeUrl": "https://sync.so/billing/subscription"}),
               {"errorCode": "concurrency_limit_reached", "activeGenerations": 1, "concurrencyLimit": 1,
                "retryAfterSeconds": 10, "upgradeUrl": ANY}, {"Retry-After": "10"}),
        _error("internal_error", (), "500 with errorCode internal_error and a requestId [doc: errapi26]",
               "documented", lambda: InternalError("Internal server error", code="internal_error"),
               {"errorCode": "internal_error", "requestId": ANY, "error": "Internal Server Error"}),
        _error("service_unavailable", (), "503 controller_unavailable (code [3p]); Retry-After inferred", "3p",
               lambda: ServiceUnavailable("Service temporarily unavailable. Please retry.",
                                          code="controller_unavailable", headers={"Retry-After": "5"}),
               {"errorCode": "controller_unavailable", "requestId": ANY}, {"Retry-After": "5"}),
        _error("gateway_timeout", (), "504 controller_timeout (code [3p], status inferred)", "3p",
               lambda: GatewayTimeout("The request timed out. Please retry.", code="controller_timeout"),
               {"errorCode": "controller_timeout", "requestId": ANY}),
    ]
    return out


# -- probes -----------------------------------------------------------------------------------------

def _headers(ctx: ProbeContext) -> dict[str, str]:
    keys = ctx.cfg.get("api_keys") or []
    return {"x-api-key": keys[0] if keys else "sk-emulator-demo"}


def _create(ctx: ProbeContext) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "lipsync-2", "input": [
        {"type": "video", "url": ctx.media("https://example.com/speaker.mp4")},
        {"type": "audio", "url": "https://example.com/voice.wav"}]}
    if ctx.webhook_url:
        body["webhookUrl"] = ctx.webhook_url
    return {"method": "POST", "path": "/v2/generate", "headers": _headers(ctx), "json": body}


def _get(ctx: ProbeContext) -> dict[str, Any]:
    return {"method": "GET", "path": f"/v2/generate/{ctx.job_id}", "headers": _headers(ctx)}


def probes() -> list[Probe]:
    return [Probe(NAME, "createGeneration", _create, job_id=lambda body: body["id"], poll="getGeneration"),
            Probe(NAME, "getGeneration", _get)]
