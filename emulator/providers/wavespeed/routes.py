"""WaveSpeed v3 views, one per operationId: validate -> rules -> model -> envelope.

A POST to any other path under /api/v3 is a submit to an unknown model: the app's routing 404
reaches ``errors.render_error``, which words it "model not found".
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from flask import Response, request
from lipsync_emulator.core.auth import bearer_token, key_allowed
from lipsync_emulator.core.clock import iso, parse_iso
from lipsync_emulator.core.errors import (
    BadRequest,
    EmulatorError,
    Forbidden,
    GatewayTimeout,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    TooManyRequests,
    Unauthorized,
)
from lipsync_emulator.core.http import Call, Operations, json_response, parse_json_body
from lipsync_emulator.core.jobs import Job, Outcome
from lipsync_emulator.core.limits import take
from lipsync_emulator.core.media import mimetype_for, save_upload
from lipsync_emulator.core.openapi import MISSING, SchemaViolation
from lipsync_emulator.core.runtime import Runtime, runtime
from lipsync_emulator.providers.wavespeed import models, rules
from lipsync_emulator.providers.wavespeed.errors import envelope
from werkzeug.wrappers import Request

ops = Operations(models.NAME, __name__)


# -- auth and schema errors ------------------------------------------------------------------

def authenticate(rt: Runtime, req: Request) -> str:
    """``Authorization: Bearer <key>`` only [doc: D15] [sdk: S1]; ``X-API-Key`` and the like get
    401 [doc: D16]. The body ``{"code":401,"message":"Unauthorized","data":null}`` is inferred
    (the SDK tests mock the text ``Unauthorized`` [sdk: S2])."""
    key = bearer_token(req)
    if not key or not key_allowed(key, rt.cfg(models.NAME)["api_keys"]):
        raise Unauthorized("Unauthorized")
    return key


def on_violation(v: SchemaViolation, operation_id: str) -> EmulatorError:
    """Every schema violation is a 400 whose message names the field (inferred shape, §13.1)."""
    if v.keyword == "content_type":
        return BadRequest("Content-Type must be application/json", field="Content-Type")
    if v.field == "body" and v.keyword in ("type", "missing_body"):
        return BadRequest("request body must be a JSON object", field="body")
    if v.keyword == "format":
        kind = "an ISO-8601 date-time" if v.expected == "date-time" else f"a valid {v.expected}"
        return BadRequest(f"{v.field} must be {kind} (got {v.value!r})", field=v.field)
    return BadRequest(v.describe(), field=v.field)


def _body(call: Call) -> Any:
    """The JSON body. A body sent without a JSON Content-Type is still read as JSON (inferred:
    a lenient server, like curl users expect); an empty body is ``None``."""
    if call.body is not MISSING:
        return call.body
    if call.request.mimetype == "multipart/form-data" or not call.request.get_data(cache=True):
        return None
    return parse_json_body(call.request)


def _json_violations(call: Call, operation_id: str, body: Any) -> list[SchemaViolation]:
    return runtime().specs[models.NAME].violations(call.request, operation_id, json.dumps(body).encode(),
                                                   content_type="application/json")


# -- submit ------------------------------------------------------------------------------------

def _rate_limit(rt: Runtime, account: str) -> None:
    """Videos per minute of the key's account level [doc: D12]: a submit beyond it is 429
    (message inferred). Only accepted submits count."""
    cfg = rt.cfg(models.NAME)
    per_minute = models.level_of(cfg, account)["videos_per_minute"]
    if not per_minute:
        return
    if take(rt.store, "wavespeed:rate", account, limit=int(per_minute), now=rt.clock.now()) is not None:
        name = cfg["key_levels"].get(account) or cfg["level"]
        raise TooManyRequests(f"Too many requests: your account level ({name}) allows {per_minute} video "
                              "tasks per minute. Please retry later.")


def _submit(call: Call, model: str) -> Response:
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    body = _body(call)
    outcome: Outcome | None = None
    violations = _json_violations(call, models.SUBMIT_OPS[model], body)
    if violations:
        v = violations[0]
        on_field = isinstance(body, dict) and v.location == "body" and v.field in ("audio", "video")
        if cfg["validation"] != "fail_task" or not on_field:
            raise on_violation(v, models.SUBMIT_OPS[model])
        outcome = rules.violation_outcome(v)
    payload: dict[str, Any] = dict(body)
    outcome = outcome or rules.check_formats(payload, model, cfg)
    # The webhook URL: the ``webhook`` query parameter [doc: D3, D5], or the ``webhook_url`` body
    # field of "How to Submit Task" [doc: D6]; the query wins when both are given.
    webhook = call.request.args.get("webhook") or payload.get("webhook_url")
    sync = payload.get("enable_sync_mode") is True
    inputs = {k: v for k, v in payload.items() if k not in ("enable_sync_mode", "webhook_url")}
    video_seconds = rules.duration(rt, payload.get("video"))
    account = call.account
    _rate_limit(rt, account)
    cost = models.price(cfg, model, video_seconds)
    if models.balance(rt, account) < cost:
        # No documented status for insufficient credits (§10): 402 is inferred.
        raise PaymentRequired("insufficient balance")
    outcome = outcome or call.outcome or rules.check_reachable(rt, payload)
    limit = models.level_of(cfg, account)["concurrency"]
    job = rt.engine.create(
        models.NAME, models.KIND, rt.ids.hex(32), durations=cfg["durations"], outcome=outcome,
        queue=(f"wavespeed:{account}", int(limit)) if limit else None,
        request={"model": model, "input": inputs}, data={"video_seconds": video_seconds},
        account=account,
        webhook_url=webhook or None, base_url=call.base_url, scenarios=call.scenario_names)
    call.job_id = job.id
    names = set(call.scenario_names)
    if "gateway_timeout" in names:
        # The gateway gives up, the task carries on [doc: D10].
        raise GatewayTimeout("Gateway Timeout")
    if sync:
        return json_response(envelope(_await_sync(rt, job, force_timeout="sync_timeout" in names)))
    return json_response(envelope(models.prediction(job, cfg)))


def _await_sync(rt: Runtime, job: Job, *, force_timeout: bool = False) -> dict[str, Any]:
    """Sync mode [doc: D10]: the answer waits for the result, on the emulator's clock.

    With a real clock the request really waits, up to ``sync_timeout`` seconds. A virtual
    clock only moves when a test advances it, so nobody would move it during this request:
    instead, a task that would finish within ``sync_timeout`` (its remaining planned time) is
    run to its end at once, and one that would not (stuck, slowed, or queued behind the
    concurrency limit) answers the sync-timeout shape at once and keeps running on the clock.
    Either way the client sees what the real service would show after the wait."""
    cfg = rt.cfg(models.NAME)
    timeout = float(cfg["sync_timeout"])
    if force_timeout:
        return models.sync_timeout(job, cfg)
    if not rt.clock.virtual:
        deadline = time.monotonic() + timeout
        with rt.waiting():
            while not rt.engine.is_terminal(job) and time.monotonic() < deadline:
                time.sleep(0.02)  # the server waits, not a test: this is the documented behaviour
                job = rt.engine.get(models.NAME, models.KIND, job.id) or job
        return models.prediction(job, cfg) if rt.engine.is_terminal(job) else models.sync_timeout(job, cfg)
    queued = job.started_at is None
    if job.outcome.stuck or queued:
        return models.sync_timeout(job, cfg)
    remaining = (job.plan[-1][1] - rt.clock.now()) if job.plan else 0.0
    if remaining > timeout:
        return models.sync_timeout(job, cfg)
    rt.engine.finish_now(job, job.outcome)
    return models.prediction(job, cfg)


@ops.route("/api/v3/bytedance/latentsync", "submitLatentsync", ("POST",), validate=False)
def submit_latentsync(call: Call) -> Response:
    return _submit(call, models.LATENTSYNC)


@ops.route("/api/v3/bytedance/lipsync/audio-to-video", "submitLipsyncAudioToVideo", ("POST",), validate=False)
def submit_lipsync_audio_to_video(call: Call) -> Response:
    return _submit(call, models.AUDIO_TO_VIDEO)


# -- predictions -------------------------------------------------------------------------------

def _visible(rt: Runtime, call: Call, job: Job) -> bool:
    """Predictions are kept 7 days [doc: D8, D9] (the 404 after that is inferred)."""
    days = float(rt.cfg(models.NAME)["retention_days"])
    return job.account == call.account and job.created_at > rt.clock.now() - days * 86400


def find(call: Call, prediction_id: str) -> Job:
    """Unknown, expired or another key's prediction: 404 (status and message inferred, §13.3)."""
    rt = runtime()
    job = rt.engine.owned(models.NAME, models.KIND, prediction_id, call.account,
                          NotFound("prediction not found", field="id"), lambda j: _visible(rt, call, j))
    call.job_id = job.id
    return job


@ops.route("/api/v3/predictions/<id>/result", "getPredictionResult")
def get_prediction_result(call: Call, id: str) -> Response:  # noqa: A002 - the documented parameter name
    return json_response(envelope(models.prediction(find(call, id), runtime().cfg(models.NAME))))


@ops.route("/api/v3/predictions/<id>", "getPrediction")
def get_prediction(call: Call, id: str) -> Response:  # noqa: A002 - the documented parameter name
    return json_response(envelope(models.prediction(find(call, id), runtime().cfg(models.NAME))))


def _time_filter(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 date-time (got {value!r})", field=name) from None


@ops.route("/api/v3/predictions", "listPredictions", ("POST",), validate=False)
def list_predictions(call: Call) -> Response:
    """History [doc: D9], filters in a JSON body."""
    body = _body(call)
    body = {} if body is None and not call.request.get_data(cache=True) else body
    violations = _json_violations(call, "listPredictions", body)
    if violations:
        raise on_violation(violations[0], "listPredictions")
    return _listing(call, body)


@ops.route("/api/v3/predictions", "listPredictionsQuery")
def list_predictions_query(call: Call) -> Response:
    """The same history as a plain GET, filters in the query [doc: updates W1]."""
    query = call.request.args
    filters: dict[str, Any] = {name: query[name] for name in ("model", "status", "created_after", "created_before")
                               if name in query}
    filters.update({name: int(query[name]) for name in ("page", "page_size") if name in query})
    return _listing(call, filters)


def _listing(call: Call, filters: dict[str, Any]) -> Response:
    """The key's predictions of the retention window, newest first, filtered by model, status
    and creation time (``created_after`` inclusive [doc: updates W2]), paged by ``page`` /
    ``page_size``."""
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    page, size = int(filters.get("page", 1)), int(filters.get("page_size", 100))
    after, before = _time_filter(filters, "created_after"), _time_filter(filters, "created_before")

    def wanted(job: Job) -> bool:
        status = models.status_of(job)
        return (_visible(rt, call, job) and status != "deleted"
                and filters.get("model") in (None, job.request["model"])
                and filters.get("status") in (None, status)
                and (after is None or job.created_at >= after)
                and (before is None or job.created_at <= before))

    rows = list(rt.engine.jobs(models.NAME, models.KIND, wanted, account=call.account))
    items = [models.prediction(j, cfg) for j in rows[(page - 1) * size: page * size]]
    return json_response(envelope({"page": page, "total": len(rows), "items": items}))


@ops.route("/api/v3/predictions/delete", "deletePredictions", ("POST",))
def delete_predictions(call: Call) -> Response:
    """Undocumented [sdk: S4]: the ids become ``deleted`` (terminal for the SDK [sdk: S1]);
    unknown ids are ignored; ``data`` is null (all inferred)."""
    rt = runtime()
    for prediction_id in call.body["ids"]:
        job = rt.engine.get(models.NAME, models.KIND, prediction_id)
        if job is not None and _visible(rt, call, job):
            job.data["deleted"] = True
            rt.store.put(rt.engine.collection(models.NAME, models.KIND), job.id, job)
    return json_response(envelope(None))


# -- uploads -----------------------------------------------------------------------------------

UPLOADS = frozenset({"wavespeed.putUploadObject", "wavespeed.uploadBinary"})
MULTIPART_SLACK = 1024 * 1024  # room for a multipart body's boundaries and headers


@ops.blueprint.before_app_request  # app-wide, not per blueprint: that would cost every request Flask's slow path
def _upload_body_cap() -> None:
    """The server-wide body cap must not refuse a file the per-type limits allow [doc: updates
    W4]: an upload may be as large as the largest limit; ``_check_upload`` then applies its type's."""
    if request.endpoint in UPLOADS:
        limits = runtime().cfg(models.NAME)["upload_limits"].values()
        request.max_content_length = max(int(limit) for limit in limits) + MULTIPART_SLACK


def _check_upload(filename: str, content_type: str | None, size: int) -> str:
    kind = rules.upload_type(filename, content_type)
    if kind is None:
        raise BadRequest(f"Unsupported file type: {filename} (images, videos and audio files only)",
                         field="filename")
    limit = int(runtime().cfg(models.NAME)["upload_limits"][kind])
    if size > limit:
        # Per-type limits and the 413 come from one doc variant [doc: D13 variant].
        raise PayloadTooLarge(f"File too large: {kind} files are limited to {limit // models.MB} MB "
                              f"(got {size} bytes)", field="file")
    return kind


@ops.route("/api/v3/media/uploads", "createUpload", ("POST",))
def create_upload(call: Call) -> Response:
    """Step 1 of the SDK's upload [sdk: S1, S2, S3]: a PUT instruction and the future URL."""
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    body = call.body
    filename = body["filename"]
    content_type = body.get("content_type")
    kind = _check_upload(filename, content_type, int(body["size"]))
    upload_id, file_id, signature = rt.ids.hex(32), rt.ids.uuid(), rt.ids.token(length=32)
    expires = rt.clock.now() + float(cfg["upload_ticket_seconds"])
    name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "upload"
    rt.store.put("wavespeed:upload", upload_id, {
        "file_id": file_id, "name": name, "type": kind, "signature": signature, "expires": expires,
        "mimetype": content_type or mimetype_for(name)})
    headers = {"Content-Type": content_type or "application/octet-stream"}
    return json_response(envelope({
        "upload": {"method": "PUT", "url": f"{call.base_url}/api/v3/media/uploads/{upload_id}?signature={signature}",
                   "headers": headers, "expires_at": iso(expires)},
        "download_url": f"{call.base_url}/_emulator/files/{file_id}/{quote(name)}",
        "type": kind, "filename": name, "size": int(body["size"]),
    }))


@ops.route("/api/v3/media/uploads/<upload_id>", "putUploadObject", ("PUT",), auth=False, validate=False)
def put_upload_object(call: Call, upload_id: str) -> Response:
    """Step 2: the presigned-URL stand-in. Any 2xx is success for the SDK [sdk: S1]."""
    rt = runtime()
    ticket = rt.store.get("wavespeed:upload", upload_id)
    if ticket is None:
        raise NotFound("upload not found", field="upload_id")
    if call.request.args.get("signature") != ticket["signature"]:
        raise Forbidden("Upload URL signature does not match", field="signature")
    if rt.clock.now() > ticket["expires"]:
        raise Forbidden("Upload URL has expired", field="signature")
    data = call.request.get_data(cache=True)
    _check_upload(ticket["name"], ticket["mimetype"], len(data))
    rt.store.put("files", ticket["file_id"], {"data": data, "name": ticket["name"], "mimetype": ticket["mimetype"]})
    return json_response(envelope(None))


@ops.route("/api/v3/media/upload/binary", "uploadBinary", ("POST",))
def upload_binary(call: Call) -> Response:
    """One-step multipart upload, field ``file`` [doc: D13]."""
    rt = runtime()
    upload = call.request.files["file"]
    data = upload.read()
    filename = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1] or "upload"
    kind = _check_upload(filename, upload.mimetype, len(data))
    url = save_upload(rt, data, filename, call.base_url)
    return json_response(envelope({"type": kind, "download_url": url, "filename": filename, "size": len(data)}))


# -- account -----------------------------------------------------------------------------------

@ops.route("/api/v3/balance", "getBalance")
def get_balance(call: Call) -> Response:
    return json_response(envelope({"balance": round(models.balance(runtime(), call.account), 6)}))


@ops.route("/api/v3/webhook/secret", "getWebhookSecret")
def get_webhook_secret(call: Call) -> Response:
    return json_response(envelope({"secret": models.webhook_secret(runtime().cfg(models.NAME), call.account)}))


@ops.route("/api/v3/models", "listModels")
def list_models(call: Call) -> Response:
    """The two lip-sync models, each with its request schema taken from schemas/wavespeed.yaml."""
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    request_schema = rt.specs[models.NAME].spec["components"]["schemas"]["LipsyncRequest"]
    data = [{"model_id": model_id, "name": info["name"], "description": info["description"], "type": info["type"],
             "base_price": models.price(cfg, model_id, 5.0),
             "api_schema": {"api_schemas": [{"type": "model_run", "api_path": f"/api/v3/{model_id}",
                                             "request_schema": request_schema}]}}
            for model_id, info in models.MODELS.items()]
    return json_response(envelope(data))


@ops.route("/api/v3/model/price", "getModelPrice", ("POST",))
def get_model_price(call: Call) -> Response:
    """Price of one run [sdk: S4]: LatentSync $0.15 per started 5 s of video [doc: D1]."""
    rt = runtime()
    body = call.body
    model_id = body["model_id"]
    if model_id not in models.MODELS:
        raise NotFound("model not found", field="model_id")
    inputs = body.get("inputs") or {}
    amount = models.price(rt.cfg(models.NAME), model_id, rules.duration(rt, inputs.get("video")))
    return json_response(envelope({"model_id": model_id, "price": amount, "discounted_price": amount,
                                   "currency": "USD"}))


__all__ = ["authenticate", "on_violation", "ops"]
