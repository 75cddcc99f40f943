"""lipsync.studio state: the job lifecycle declaration, the job object per state, the webhook,
the credit accounts and the pricing rules, and the scenarios.

The job lifecycle is ``processing -> completed | failed`` [seed]: a submit answers
``processing`` at once, there is no queued state. Credits are charged at submit from a per-key
balance using the documented pricing notes [doc: L2]; what the notes leave open (rounding,
refunds, the extend case, the starting balance) is configurable and labelled inferred.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.errors import (
    EmulatorError,
    InternalError,
    PaymentRequired,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from lipsync_emulator.core.jobs import Job, Lifecycle, Outcome
from lipsync_emulator.core.media import probe_url
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.scenarios import ANY, Expect, Probe, ProbeContext, Scenario
from lipsync_emulator.providers.lipsyncstudio import errors

NAME = "lipsyncstudio"
KIND = "job"
LIFECYCLE = Lifecycle(states=("processing", "completed"), terminal=frozenset({"completed", "failed"}))

# operationId -> endpoint name, which is also the job's ``model`` once it has left processing
# ("lipsync-image" [seed]; the other two inferred, reference §4).
ENDPOINTS: dict[str, str] = {
    "createLipsyncVideo": "lipsync-video",
    "createLipsyncImage": "lipsync-image",
    "createLipsyncImageMulti": "lipsync-image-multi",
}
CREATE_OPERATIONS: tuple[str, ...] = tuple(ENDPOINTS)


# -- scenarios and probes ----------------------------------------------------------------------------
# Each scenario declares its effect on the wire (``Expect``), and the probes tell the catalogue
# tooling (catalogue test, ``lipsync-emulator demo``) how to reach each operation.

SLOW = 10.0  # the `slow` scenario's duration factor

def failed_outcome(message: str) -> Outcome:
    return Outcome(status="failed", after="processing", data={"error": message})


def _error(name: str, operations: tuple[str, ...], summary: str, make: Callable[[], EmulatorError]) -> Scenario:
    err = make()
    return Scenario(name, NAME, operations, summary, "inferred", "response", error=make,
                    expect=Expect(status=err.status, body={"error": err.message}, headers=err.headers))


def scenarios(cfg: dict[str, Any]) -> list[Scenario]:
    create = CREATE_OPERATIONS
    message = str(cfg["failure_message"])
    done = float(cfg["durations"]["processing"])
    # Checkpoints 1 s either side of a transition: the tooling advances the clock in steps.
    return [
        Scenario("failed", NAME, create, f"The job ends failed with error {message!r} (the seed's failed "
                 "example; text set by failure_message); the webhook carries the failed job object",
                 "documented", "outcome", outcome=failed_outcome(message),
                 expect=Expect(status=200, body={"id": ANY, "status": "processing"},
                               job=((done - 1, {"status": "processing", "model": "lipsync", "error": ""}),
                                    (done + 1, {"status": "failed", "error": message, "output": None,
                                                "executionTime": None, "timings": None})),
                               webhooks=({"status": "failed", "error": message, "output": None},))),
        Scenario("stuck", NAME, create, "The job never leaves processing", "inferred", "outcome",
                 outcome=Outcome(stuck=True),
                 expect=Expect(status=200, job=((done * 100, {"status": "processing", "output": None}),),
                               webhooks=())),
        Scenario("slow", NAME, create, f"Processing lasts {SLOW:g}x longer than configured", "inferred", "outcome",
                 outcome=Outcome(slow=SLOW),
                 expect=Expect(status=200, job=((done * SLOW - 1, {"status": "processing"}),
                                                (done * SLOW + 1, {"status": "completed", "output": ANY,
                                                                   "executionTime": round(done * SLOW * 1000)})),
                               webhooks=({"status": "completed", "output": ANY},))),
        _error("unauthorized", (), '401 {"error":"Unauthorized"} even with a valid key',
               lambda: Unauthorized(errors.UNAUTHORIZED)),
        _error("insufficient_credits", create, '402 {"error":"Insufficient API credits"} whatever the balance',
               lambda: PaymentRequired(errors.INSUFFICIENT_CREDITS)),
        _error("rate_limited", (), '429 {"error":"Too many requests"} with Retry-After: 10',
               lambda: TooManyRequests(errors.TOO_MANY_REQUESTS, headers={"Retry-After": "10"})),
        _error("internal_error", (), '500 {"error":"Internal server error"}', lambda: InternalError(errors.INTERNAL)),
        _error("service_unavailable", (), '503 {"error":"Service temporarily unavailable"} with Retry-After: 5',
               lambda: ServiceUnavailable(errors.UNAVAILABLE, headers={"Retry-After": "5"})),
    ]


PROBE_FORMS: dict[str, dict[str, str]] = {
    "lipsync-video": {"video": "https://example.com/speaker.mp4", "audio": "https://example.com/voice.mp3"},
    "lipsync-image": {"image": "https://example.com/face.png", "audio": "https://example.com/voice.mp3"},
    "lipsync-image-multi": {"image": "https://example.com/face.png", "left_audio": "https://example.com/left.mp3",
                            "right_audio": "https://example.com/right.mp3", "order": "meanwhile"},
}


def _auth(ctx: ProbeContext) -> dict[str, str]:
    keys = ctx.cfg.get("api_keys") or []
    return {"Authorization": f"Bearer {keys[0] if keys else 'sk_emulator_demo'}"}


def _submit_probe(operation: str) -> Probe:
    endpoint = ENDPOINTS[operation]

    def build(ctx: ProbeContext) -> dict[str, Any]:
        # The magic token rides on an audio URL, where an unmodified client would carry it.
        form = {k: ctx.media(v) if "audio" in k else v for k, v in PROBE_FORMS[endpoint].items()}
        body: dict[str, Any] = {"formState": form}
        if ctx.webhook_url:
            body["webhook"] = ctx.webhook_url
        return {"method": "POST", "path": f"/api/v1/{endpoint}", "headers": _auth(ctx), "json": body}

    return Probe(NAME, operation, build, job_id=lambda body: str(body["id"]), poll="getJob")


def probes() -> list[Probe]:
    return [*(_submit_probe(op) for op in CREATE_OPERATIONS),
            Probe(NAME, "getJob", lambda ctx: {"method": "GET", "path": f"/api/v1/jobs/{ctx.job_id}",
                                               "headers": _auth(ctx)})]


# -- the job object --------------------------------------------------------------------------------

def job_object(job: Job, cfg: dict[str, Any]) -> dict[str, Any]:
    """The flat job object of GET /api/v1/jobs/{id} and of the webhook, all seven keys always
    present [seed]. ``model`` is "lipsync" while processing, as the seed's example shows."""
    endpoint = job.request["endpoint"]
    processing = job.status == "processing"
    completed = job.status == "completed"
    return {
        "id": job.id,
        "model": "lipsync" if processing and cfg["processing_model"] == "lipsync" else endpoint,
        "status": job.status,
        "output": job.data.get("output") if completed else None,
        "error": job.data.get("error", "") if job.status == "failed" else "",
        "executionTime": job.data.get("executionTime") if completed else None,
        "timings": None,
    }


def submit_answer(job: Job, cfg: dict[str, Any]) -> dict[str, Any]:
    """``{"id", "status": "processing"}`` [seed]; ``requestId`` only with the compatibility option."""
    body: dict[str, Any] = {"id": job.id, "status": job.status}
    if cfg["request_id_field"]:
        body["requestId"] = job.id
    return body


# -- pricing [doc: L2 pricing notes] ---------------------------------------------------------------

def duration(url: str) -> float:
    return float(probe_url(url).duration or 0.0)


def quote(endpoint: str, form: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """What a job costs and how long its output is.

    lipsync-video: a longer video is trimmed to the audio and billed on the audio; a longer
    audio extends the video and is billed on "video length" (``extend_billing``).
    lipsync-image-multi: ``order`` "meanwhile" bills the longer audio, any other order the sum.
    Then max(5 s, seconds) x the resolution's rate."""
    resolution = form.get("resolution") or "480p"  # default 480p [seed]
    inputs: dict[str, float] = {}
    adjustment = None
    if endpoint == "lipsync-video":
        audio, video = duration(form["audio"]), duration(form["video"])
        inputs = {"audio": audio, "video": video}
        output = audio
        if video >= audio:
            adjustment = "trimmed" if video > audio else None
            billed = audio
        else:
            adjustment = "extended"
            billed = video if cfg["extend_billing"] == "video" else audio
    elif endpoint == "lipsync-image":
        output = billed = inputs["audio"] = duration(form["audio"])
    else:
        left, right = duration(form["left_audio"]), duration(form["right_audio"])
        inputs = {"left_audio": left, "right_audio": right}
        order = form.get("order") or "meanwhile"  # default inferred (analogue, reference §10)
        output = billed = max(left, right) if order == "meanwhile" else left + right
    seconds = math.ceil(billed - 1e-9) if cfg["billing_rounding"] == "ceil" else billed
    seconds = max(float(cfg["min_billed_seconds"]), float(seconds))
    rate = cfg["credits_per_second"].get(resolution)
    if rate is None:
        rate = cfg["credits_per_second"]["480p"]
    credits = seconds * float(rate)
    return {"endpoint": endpoint, "resolution": resolution, "inputs": inputs, "adjustment": adjustment,
            "output_seconds": output, "billed_seconds": _num(seconds), "credits_per_second": _num(rate),
            "credits": _num(credits)}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 6)


# -- credit accounts ---------------------------------------------------------------------------------

CREDITS = f"{NAME}:credits"
CHARGES = f"{NAME}:charges"  # one record per job, so a create costs the same on a key's 100,000th job
_credit_lock = threading.Lock()


def account(rt: Runtime, api_key: str) -> dict[str, Any]:
    """A key's credit account (totals only), opened with its starting balance on first use."""
    record = rt.store.get(CREDITS, api_key)
    if record is None:
        cfg = rt.cfg(NAME)
        start = cfg["balances"].get(api_key, cfg["initial_credits"])
        record = {"api_key": api_key, "initial": start, "balance": start, "spent": 0, "refunded": 0}
        rt.store.put(CREDITS, api_key, record)
    return record


def accounts(rt: Runtime) -> list[dict[str, Any]]:
    for key in rt.cfg(NAME)["balances"]:
        account(rt, key)
    return list(reversed(list(rt.store.newest(CREDITS))))


def charges(rt: Runtime, api_key: str | None = None, job_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Charges newest first (of one key, or one job, if given): for the control plane, not on
    a create's path."""
    if job_id is not None:
        entry = rt.store.get(CHARGES, job_id)
        return iter([entry] if entry is not None and api_key in (None, entry["api_key"]) else [])
    return rt.store.newest(CHARGES, None if api_key is None else lambda c: c["api_key"] == api_key)


def charge(rt: Runtime, api_key: str, job_id: str, price: dict[str, Any]) -> dict[str, Any]:
    """Take ``price["credits"]`` from the key's balance, or raise 402 (inferred status and body,
    reference §12.27) leaving the balance untouched."""
    with _credit_lock:
        record = account(rt, api_key)
        if record["balance"] < price["credits"]:
            raise PaymentRequired(errors.INSUFFICIENT_CREDITS)
        record["balance"] = _num(record["balance"] - price["credits"])
        record["spent"] = _num(record["spent"] + price["credits"])
        entry = {"api_key": api_key, "job_id": job_id, "at": iso(rt.clock.now()), **price, "refunded": False}
        rt.store.put(CREDITS, api_key, record)
        rt.store.put(CHARGES, job_id, entry)
        return entry


def refund(rt: Runtime, api_key: str, job_id: str) -> None:
    with _credit_lock:
        entry = rt.store.get(CHARGES, job_id)
        if entry is None or entry["api_key"] != api_key or entry["refunded"]:
            return
        record = account(rt, api_key)
        entry["refunded"] = True
        record["balance"] = _num(record["balance"] + entry["credits"])
        record["refunded"] = _num(record["refunded"] + entry["credits"])
        rt.store.put(CHARGES, job_id, entry)
        rt.store.put(CREDITS, api_key, record)


def set_balance(rt: Runtime, api_key: str, *, balance: float | None = None, add: float | None = None) -> dict[str, Any]:
    with _credit_lock:
        record = account(rt, api_key)
        if balance is not None:
            record["balance"] = _num(balance)
        if add is not None:
            record["balance"] = _num(record["balance"] + add)
        rt.store.put(CREDITS, api_key, record)
        return record


# -- lifecycle hook and webhook ----------------------------------------------------------------------

def setup(rt: Runtime) -> None:
    cfg = rt.cfg(NAME)

    def on_enter(job: Job, state: str) -> None:
        if state == "completed":
            job.data["output"] = f"{job.base_url}/_emulator/media/{NAME}/{job.id}/result.mp4"
            started = job.entered("processing")
            job.data["executionTime"] = round((job.updated_at - (started or job.created_at)) * 1000)
        if state == "failed" and cfg["refund_failed"]:
            refund(rt, job.account, job.id)
        # Sent on completion [seed] and on failure (inferred from the example receiver, §12.30);
        # never for processing (§12.31).
        if state in LIFECYCLE.terminal and job.webhook_url:
            send_webhook(rt, job)

    rt.engine.declare(NAME, KIND, LIFECYCLE, on_enter)
    # Deliveries are unsigned (§12.32): a corrupted signature means nothing here.
    rt.catalog.remove(NAME, "webhook_bad_signature")


def send_webhook(rt: Runtime, job: Job) -> None:
    """POST the job object as it is now, ``Content-Type: application/json``, unsigned: no
    signature or auth header is documented (inferred, §12.32). ``job=``: the dispatcher applies
    the job's webhook scenarios (drop, delay, duplicate...)."""
    cfg = rt.cfg(NAME)
    rt.webhooks.send_json(NAME, job, job_object(job, cfg), event=f"job.{job.status}", retry=cfg["webhook_retry"])
