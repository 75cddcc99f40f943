"""Kling's scenario catalogue, each with its expected effect on the wire, and the probes the
tooling (catalogue test, ``lipsync-emulator demo``, contract harness) uses to reach every
operation. The generic transport and webhook faults (``webhook_drop``, ``webhook_delay``,
``webhook_duplicate``, ``webhook_out_of_order``, ``webhook_bad_signature``...) come from
``emulator.core.faults``; this file has what is Kling's own.

Evidence, reference ``kling.md``: error codes §5 [doc: S7]; 1303 body [doc: S6, S8]; the task
failure texts [3p: S20] and [doc: S25]; callbacks §7.

The create probe needs a session, and a probe is one request: it uses the fixture session
(``fixture_sessions`` setting), which exists for every account without an identify-face call.
"""

from __future__ import annotations

import time
from typing import Any

from lipsync_emulator.core.jobs import Outcome
from lipsync_emulator.core.scenarios import ANY, Expect, Probe, ProbeContext, Scenario
from lipsync_emulator.core.settings import defaults
from lipsync_emulator.providers.kling import auth
from lipsync_emulator.providers.kling.errors import CODES, CONCURRENCY_MESSAGE, NAME, kling_error
from lipsync_emulator.providers.kling.models import (
    CREATE_OPS,
    IDENTIFY_OPS,
    NO_HUMAN,
    OFFICIAL,
    RELAY,
    RISK_CONTROL,
    Surface,
)
from lipsync_emulator.providers.kling.settings import Settings

DEFAULTS = defaults(Settings)

SUBMITTED = float(DEFAULTS["durations"]["submitted"])
DONE = SUBMITTED + float(DEFAULTS["durations"]["processing"])  # when a default task finishes
SLOW = 10.0
INTERNAL = "Internal error, please try again"  # [inferred] no source gives the text


def _failed(name: str, message: str, summary: str, evidence: str) -> Scenario:
    return Scenario(
        name, NAME, CREATE_OPS, summary, evidence, "outcome",
        outcome=Outcome(status="failed", data={"task_status_msg": message}),
        expect=Expect(status=200, body={"code": 0, "data.task_status": "submitted"},
                      job=((DONE - 1, {"data.task_status": "processing", "data.task_status_msg": ""}),
                           (DONE, {"data.task_status": "failed", "data.task_status_msg": message,
                                   "data.task_result.videos": [], "data.final_unit_deduction": "0"})),
                      webhooks=({"task_status": "submitted"}, {"task_status": "processing"},
                                {"task_status": "failed", "task_status_msg": message,
                                 "task_result.videos": []})))


def _error(name: str, operations: tuple[str, ...], code: int, summary: str, evidence: str,
           message: str | None = None, field: str | None = None, rule: str | None = None) -> Scenario:
    def make() -> Any:
        return kling_error(code, message, field=field, rule=rule)

    text = message or CODES[code][1]
    return Scenario(name, NAME, operations, summary, evidence, "response", error=make,
                    expect=Expect(status=CODES[code][0],
                                  body={"code": code, "message": text, "request_id": ANY, "data": None}))


def catalogue() -> list[Scenario]:
    every: tuple[str, ...] = ()
    return [
        # -- how a task ends -----------------------------------------------------------------------
        _failed("failed", NO_HUMAN, f"The task fails: task_status_msg {NO_HUMAN!r}, 0 units [3p: S20]", "3p"),
        _failed("failed_risk_control", RISK_CONTROL, f"The task fails on content risk control: "
                f"task_status_msg {RISK_CONTROL!r} (the text of another official feature page)", "documented"),
        _failed("failed_internal", INTERNAL, "The task fails with an internal-error message (text inferred)",
                "inferred"),
        Scenario("stuck", NAME, CREATE_OPS, "The task never leaves processing", "inferred", "outcome",
                 outcome=Outcome(stuck=True),
                 expect=Expect(status=200, job=((DONE * 100, {"data.task_status": "processing",
                                                              "data.task_result.videos": []}),),
                               webhooks=({"task_status": "submitted"}, {"task_status": "processing"}))),
        Scenario("slow", NAME, CREATE_OPS, f"Every state lasts {SLOW:g}x longer than configured (succeeds at "
                 f"{DONE * SLOW:g} s instead of {DONE:g} s)", "inferred", "outcome", outcome=Outcome(slow=SLOW),
                 expect=Expect(status=200,
                               job=((DONE * SLOW - 1, {"data.task_status": "processing"}),
                                    (DONE * SLOW, {"data.task_status": "succeed",
                                                   "data.task_result.videos.0.url": ANY})),
                               webhooks=({"task_status": "submitted"}, {"task_status": "processing"},
                                         {"task_status": "succeed", "task_result.videos.0.url": ANY}))),
        # -- error answers [doc: S7] ---------------------------------------------------------------
        _error("no_face", IDENTIFY_OPS, 1201, f"identify-face: 400 1201 {NO_HUMAN!r} (the text [3p: S20]; "
               "its placement on identify-face is inferred)", "inferred", NO_HUMAN, "video_url", "kling.C9"),
        _error("auth_failed", every, 1000, "401 1000 Authentication failed", "documented"),
        _error("account_exception", every, 1100, "429 1100 Account exception", "documented"),
        _error("arrears", every, 1101, "429 1101 account in arrears (postpaid)", "documented"),
        _error("pack_depleted", every, 1102, "429 1102 resource pack depleted or expired (balance, prepaid)",
               "documented"),
        _error("no_permission", every, 1103, "403 1103 no access to the requested API/model", "documented"),
        _error("content_rejected", CREATE_OPS, 1301, f"create: 400 1301 {RISK_CONTROL!r} (the audio content "
               "check, C21; placement inferred)", "inferred", RISK_CONTROL, rule="kling.C21"),
        _error("rate_limited", every, 1302, "429 1302 request too fast (Kling sets no QPS limit [doc: S6], so "
               "only on demand)", "documented"),
        _error("concurrency_limit", CREATE_OPS, 1303, f"create: 429 1303 {CONCURRENCY_MESSAGE!r}, the exact "
               "documented body [doc: S6, S8]", "documented", CONCURRENCY_MESSAGE, rule="kling.C32"),
        _error("ip_whitelist", every, 1304, "429 1304 IP whitelisting policy", "documented"),
        _error("internal_error", every, 5000, "500 5000 Server internal error", "documented"),
        _error("service_unavailable", every, 5001, "503 5001 temporarily unavailable (maintenance)",
               "documented"),
        _error("server_timeout", every, 5002, "504 5002 internal timeout (backlog)", "documented"),
    ]


# -- probes -------------------------------------------------------------------------------------

FIXTURE_VIDEO = "https://example.com/emulator-fixture.mp4"


def _headers(ctx: ProbeContext, surface: Surface) -> dict[str, str]:
    if surface is RELAY:
        keys = ctx.cfg.get("relay_keys") or []
        return {"Authorization": f"Bearer {keys[0] if keys else 'sk-emulator-relay'}"}
    keys = ctx.cfg.get("api_keys") or []
    if keys:
        return {"Authorization": f"Bearer {keys[0]}"}
    now = int(time.time())  # a token on the client's (wall) clock, as jwt_clock "wall" expects
    token = auth.encode_hs256({"iss": ctx.cfg["access_key"], "exp": now + 1800, "nbf": now - 5},
                              str(ctx.cfg["secret_key"]))
    return {"Authorization": f"Bearer {token}"}


def _fixture_session(ctx: ProbeContext) -> str:
    sessions = ctx.cfg.get("fixture_sessions") or {}
    if not sessions:
        raise LookupError("kling.fixture_sessions is empty: the create probe needs a session")
    return str(next(iter(sessions)))


def _probes(surface: Surface) -> list[Probe]:
    base = f"{surface.prefix}/v1/videos"

    def identify(ctx: ProbeContext) -> dict[str, Any]:
        return {"method": "POST", "path": f"{base}/identify-face", "headers": _headers(ctx, surface),
                "json": {"video_url": ctx.media(FIXTURE_VIDEO), "video_id": ""}}

    def create(ctx: ProbeContext) -> dict[str, Any]:
        item = {"face_id": "0", "sound_file": ctx.media("https://example.com/emulator-voice.mp3"),
                "sound_start_time": 0, "sound_end_time": 3000, "sound_insert_time": 0, "sound_volume": 1,
                "original_audio_volume": 1}
        return {"method": "POST", "path": f"{base}/advanced-lip-sync", "headers": _headers(ctx, surface),
                "json": {"session_id": _fixture_session(ctx), "face_choose": [item], "external_task_id": "",
                         "callback_url": ctx.webhook_url or ""}}

    def get(ctx: ProbeContext) -> dict[str, Any]:
        return {"method": "GET", "path": f"{base}/advanced-lip-sync/{ctx.job_id}", "headers": _headers(ctx, surface)}

    def listing(ctx: ProbeContext) -> dict[str, Any]:
        return {"method": "GET", "path": f"{base}/advanced-lip-sync", "headers": _headers(ctx, surface),
                "params": {"pageNum": 1, "pageSize": 30}}

    return [Probe(NAME, surface.create_op, create, job_id=lambda body: str(body["data"]["task_id"]),
                  poll=surface.get_op),
            Probe(NAME, surface.get_op, get),
            Probe(NAME, surface.list_op, listing),
            Probe(NAME, surface.identify_op, identify)]


def probes() -> list[Probe]:
    """The official create first: it is the provider's submit probe."""
    legacy = Probe(NAME, "identifyFaceLegacyPath", lambda ctx: {
        **_probes(OFFICIAL)[3].build(ctx), "path": "/v1/videos/Identify-face"})
    return [*_probes(OFFICIAL), legacy, *_probes(RELAY)]
