"""sync.so v2 views, one per operationId: parse -> rules -> model -> serialize."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Response
from lipsync_emulator.core.auth import key_allowed
from lipsync_emulator.core.clock import parse_iso
from lipsync_emulator.core.errors import (
    BadRequest,
    Conflict,
    EmulatorError,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    TooManyRequests,
    Unauthorized,
)
from lipsync_emulator.core.http import Call, Operations, json_response, loads
from lipsync_emulator.core.jobs import Job, Outcome
from lipsync_emulator.core.limits import take
from lipsync_emulator.core.media import probe_url, save_upload
from lipsync_emulator.core.openapi import SchemaViolation
from lipsync_emulator.core.runtime import Runtime, runtime
from lipsync_emulator.providers.syncso import assets, batch, idempotency, longpoll, models, rules
from lipsync_emulator.providers.syncso.errors import MESSAGES, catalog
from werkzeug.wrappers import Request

ops = Operations(models.NAME, __name__)

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FILE_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")


# -- auth and schema errors ------------------------------------------------------------------

def authenticate(rt: Runtime, req: Request) -> str:
    """``x-api-key`` only; a Bearer token alone is not accepted (inferred, reference §13.3).
    Bodies: [3p: unmodel], probed live; both parse in syncsdk 0.3.0."""
    key = req.headers.get("x-api-key", "")
    if not key:
        raise Unauthorized("Either Cookie or x-api-key header must be provided")
    if not key_allowed(key, rt.cfg(models.NAME)["api_keys"]):
        raise Unauthorized("Unauthorized", extra={"error": None})
    return key


def on_violation(v: SchemaViolation, operation_id: str) -> EmulatorError:
    code = v.hints.get("x-error-code")
    if code == "generation_text_length_exceeded" and v.keyword != "maxLength":
        # only a script of 5000+ characters is a length error [doc: err26]; a missing, empty
        # or non-string script is a plain validation failure
        code = None
    if v.location == "path":
        code = code or "invalid_generation_id"
        noun = "asset" if code == "invalid_asset_id_format" else "generation"
        return BadRequest(f"Invalid {noun} id {v.value!r}: expected a UUID", code=code, field=v.field)
    if v.keyword == "content_type":
        kinds = "multipart/form-data" if operation_id == "createBatch" else "application/json or multipart/form-data"
        return BadRequest(f"Content-Type must be {kinds}", field="Content-Type", code=rules.INVALID)
    if code == "generation_unsupported_model":
        return BadRequest(f"The requested model is not supported for this operation. {v.describe()}",
                          code=code, field=v.field)
    if v.field.startswith("segments"):
        code = rules.SEGMENTS
    official = MESSAGES.get(code or "")
    message = f"{official} {v.describe()}" if official and code != rules.INVALID else v.describe()
    return BadRequest(message, code=code or rules.INVALID, field=v.field)


def normalize_create(body: Any) -> Any:
    """``null`` means absent (syncsdk sends ``"segments":null``), snake_case keys read as
    camelCase, and ``outputFileName`` is sanitized: spaces become ``_``, other characters
    outside letters, digits, ``-`` and ``_`` are dropped [doc: updates S2]. A name with nothing
    left is ``""``, which the schema rejects as empty (inferred); over 255 characters stays a 400."""
    if not isinstance(body, dict):
        return body
    cfg = runtime().cfg(models.NAME)
    body = {k: v for k, v in body.items() if v is not None}
    if cfg["snake_case_keys"] == "accept":
        for key in ("input", "segments"):
            if rules.has_snake_keys(body.get(key)):
                body[key] = rules.camelize(body[key])
    name = body.get("outputFileName")
    if isinstance(name, str):
        body["outputFileName"] = FILE_NAME_RE.sub("", name.replace(" ", "_"))
    return body


# -- views -------------------------------------------------------------------------------------

def _payload(call: Call) -> dict[str, Any]:
    if call.request.mimetype == "multipart/form-data":
        return _multipart_payload(call)
    return call.body


def _multipart_payload(call: Call) -> dict[str, Any]:
    """A multipart create becomes the equivalent JSON payload: uploaded files are kept by the
    emulator and referenced by URL; a file takes precedence over a URL input of its kind
    [doc: cwf26]. The payload is then checked against the same JSON schema."""
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    request = call.request
    form = request.form
    payload: dict[str, Any] = {"model": form.get("model")}
    for key in ("input", "options", "segments"):
        parts = [part for part in form.getlist(key) if part]
        try:
            values = [loads(part) for part in parts]
        except ValueError:
            raise BadRequest(f"{key} must be valid JSON", field=key, code=rules.INVALID) from None
        if key == "input" and (len(values) > 1 or (values and isinstance(values[0], dict))):
            # one part per item, each a JSON object: the TypeScript SDK's encoding [sdk: S9]
            payload[key] = values
        elif values:
            payload[key] = values[0]
    for key in ("webhookUrl", "outputFileName"):
        if form.get(key):
            payload[key] = form[key]
    given = payload.get("input", [])
    inputs: list[Any] = given if isinstance(given, list) else []
    for kind in ("video", "audio"):
        upload = request.files.get(kind)
        if upload is None:
            continue
        data = upload.read()
        if len(data) >= cfg["max_upload_bytes"]:
            raise PayloadTooLarge(f"{kind} file is {len(data)} bytes; files must be smaller than "
                                  f"{cfg['max_upload_bytes']} bytes (pass larger media as URLs in input)",
                                  field=kind, code="file_size_exceeds_plan_limit")
        url = save_upload(rt, data, upload.filename or kind, call.base_url)
        existing = next((i for i in inputs if isinstance(i, dict) and i.get("type") == kind), None)
        if existing is not None:
            existing.pop("assetId", None)
            existing["url"] = url
        else:
            inputs.append({"type": kind, "url": url})
    # an input that is not an array stays as sent, for the schema check below to name
    payload["input"] = inputs if isinstance(given, list) else given
    payload = normalize_create(payload)
    violations = rt.specs[models.NAME].violations(request, "createGeneration",
                                                  body=json.dumps(payload).encode(),
                                                  content_type="application/json")
    if violations:
        raise on_violation(violations[0], "createGeneration")
    return payload


def _limits(rt: Runtime, account: str, payload: dict[str, Any]) -> None:
    cfg = rt.cfg(models.NAME)
    now = rt.clock.now()
    per_minute = cfg.get("rate_limit_per_minute")
    if per_minute and (wait := take(rt.store, "syncso:rate", account, limit=int(per_minute), now=now)) is not None:
        raise TooManyRequests("Rate limit exceeded. Please try again later.", code="rate_limit_exceeded",
                              headers={"Retry-After": str(max(1, int(wait) + 1))})
    plan = models.PLANS.get(cfg.get("plan") or "unlimited", models.PLANS["unlimited"])
    # batch generations bypass the per-generation concurrency limit [doc: batch26]
    # (listed only when a plan limit needs them: a scan of the key's jobs on every create is
    # O(its jobs))
    counted = plan["monthly"] is not None or plan["concurrency"] is not None
    mine = list(rt.engine.jobs(models.NAME, models.KIND, lambda j: not j.data.get("batch_id"),
                               account=account)) if counted else []
    if plan["monthly"] is not None:
        month = [j for j in mine if j.created_at > now - 30 * 86400]
        if len(month) >= plan["monthly"]:
            raise PaymentRequired(f"Free tier limit reached: {plan['monthly']} generations per month. "
                                  "Upgrade your plan to continue.", code="free_tier_generations_exhausted")
    if plan["max_seconds"] is not None and models.output_duration(payload) > plan["max_seconds"]:
        raise PaymentRequired(f"Generations on the {cfg['plan']} plan are limited to {plan['max_seconds']} s",
                              code="generation_plan_duration_exceeded")
    if plan["concurrency"] is not None:
        active = sum(1 for j in mine if j.status not in models.LIFECYCLE.terminal)
        if active >= plan["concurrency"]:
            raise TooManyRequests(
                f"Concurrency limit reached: {active} generations are pending or processing "
                f"(limit {plan['concurrency']}).", code="concurrency_limit_reached",
                headers={"Retry-After": "10"},
                extra={"activeGenerations": active, "concurrencyLimit": plan["concurrency"],
                       "retryAfterSeconds": 10, "upgradeUrl": "https://sync.so/billing/subscription"})


def _media_outcome(payload: dict[str, Any], cfg: dict[str, Any]) -> Outcome | None:
    """Media checks that need the file (audio > 300 s, video above 4K) end the generation
    FAILED by default (timing inferred, reference §13.19) or reject it at create."""
    problem = None
    for item in payload["input"]:
        info = probe_url(item.get("url") or "")
        if item.get("type") == "audio" and (info.duration or 0) > 300:
            problem = "generation_audio_length_exceeded"
        if item.get("type") == "video" and ((info.width or 0) > 4096 or (info.height or 0) > 2160):
            problem = "generation_input_resolution_unsupported"
    if problem is None:
        return None
    if cfg["media_checks"] == "reject":
        raise BadRequest(models.outcome(problem).data["error"], code=problem, field="input")
    return models.outcome(problem)


@ops.route("/v2/generate", "createGeneration", ("POST",), normalize=normalize_create)
def create_generation(call: Call) -> Response:
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    payload = _payload(call)
    _check_rules(payload, cfg)
    with idempotency.claim(rt, call.account, call.request, payload) as claim:
        if claim.replay is not None:
            call.job_id = claim.replay.id
            return json_response(models.generation(claim.replay), 201)
        _limits(rt, call.account, payload)
        outcome = call.outcome or _media_outcome(payload, cfg)
        job = models.start_generation(rt, payload, account=call.account, outcome=outcome,
                                      scenarios=call.scenario_names, base_url=call.base_url,
                                      data={"source": call.request.headers.get("x-sync-source") or None})
        claim.remember(job)
    call.job_id = job.id
    return json_response(models.generation(job), 201)


def _check_rules(payload: dict[str, Any], cfg: dict[str, Any]) -> None:
    rules.check(payload, cfg)
    rules.check_media(payload)


def check_line(payload: Any) -> tuple[dict[str, Any], Outcome | None]:
    """A batch line's payload, checked by exactly what ``POST /v2/generate`` runs on a JSON body:
    ``normalize_create``, the ``createGeneration`` schema, the cross-field rules, the media
    checks. Returns the normalized payload and its media outcome."""
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    payload = normalize_create(payload)
    violations = rt.specs[models.NAME].body_violations("createGeneration", json.dumps(payload).encode())
    if violations:
        raise on_violation(violations[0], "createGeneration")
    _check_rules(payload, cfg)
    return payload, _media_outcome(payload, cfg)


def find(call: Call, generation_id: str) -> Job:
    job = runtime().engine.owned(models.NAME, models.KIND, generation_id, call.account, NotFound(
        f"Generation {generation_id} not found", code="generation_not_found", field="id"))
    call.job_id = job.id
    return job


@ops.route("/v2/generate/<id>", "getGeneration")
def get_generation(call: Call, id: str) -> Response:  # noqa: A002 - the path parameter's documented name
    request = call.request
    include = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    job = find(call, id)
    if request.args.get("wait", "").lower() == "true":
        if "progress" in include:
            # "cannot be combined" [doc: get26]; the 400 is inferred
            raise BadRequest("wait=true cannot be combined with include=progress", field="include",
                             code=rules.INVALID)
        rt = runtime()
        timeout = float(request.args.get("timeout") or longpoll.DEFAULT_TIMEOUT)
        if not math.isfinite(timeout):  # NaN slips past minimum/maximum
            raise BadRequest(f"timeout must be a number from 1 to 10 (got {request.args['timeout']!r})",
                             field="timeout", code=rules.INVALID)
        waited = longpoll.wait(rt, lambda: rt.engine.get(models.NAME, models.KIND, job.id), timeout)
        if waited is None:
            raise NotFound(f"Generation {id} not found", code="generation_not_found", field="id")
        return json_response(models.generation(waited), headers=longpoll.headers(timeout))
    now = runtime().clock.now()
    return json_response(models.generation(job, progress_at=now if "progress" in include else None))


@ops.route("/v2/generate/<id>/cancel", "cancelGeneration", ("POST",))
def cancel_generation(call: Call, id: str) -> Response:  # noqa: A002
    """Legacy [doc: openapi25]: "You can cancel a generation that is still pending at no cost";
    otherwise 400 "Invalid job ID or job not cancelable". No webhook for CANCELED (inferred)."""
    rt = runtime()
    job = find(call, id)
    if job.status not in rt.cfg(models.NAME)["cancelable_states"]:
        raise BadRequest(f"Invalid job ID or job not cancelable: generation {id} is {job.status}", field="id")
    rt.engine.finish_now(job, Outcome(status="CANCELED", after=job.status))
    return json_response(models.generation(job))


@ops.route("/v2/generate/<id>", "deleteGeneration", ("DELETE",))
def delete_generation(call: Call, id: str) -> Response:  # noqa: A002
    return _delete(call, id)


@ops.route("/v2/generations/<id>", "deleteGenerationById", ("DELETE",))
def delete_generation_by_id(call: Call, id: str) -> Response:  # noqa: A002
    return _delete(call, id)


def _delete(call: Call, generation_id: str) -> Response:
    """Only terminal generations can be deleted; one still processing -> 409 [sdk: mcp], code
    [3p]. The 200 with the deleted generation is inferred."""
    rt = runtime()
    job = find(call, generation_id)
    if not rt.engine.is_terminal(job):
        raise Conflict(f"Generation {generation_id} is {job.status} and cannot be deleted while processing; "
                       "only COMPLETED, FAILED or REJECTED generations can be deleted",
                       code="generation_not_deletable_while_processing", field="id")
    body = models.generation(job)
    rt.engine.delete(job)
    return json_response(body)


def _filter(call: Call) -> tuple[Any, Any]:
    """The query as validated, and the test of a generation against its filters: ``status``,
    ``ids``, ``projectId`` (a project of no generation of this key lists nothing [doc: list26]),
    ``source`` and ``generationSource`` (the ``x-sync-source`` header it was created with,
    inferred), ``type`` (every emulated generation is an ``api`` one; the Studio's playground is
    not emulated)."""
    query = runtime().specs[models.NAME].query(call.request, call.operation)
    statuses, ids = set(query.getlist("status")), set(query.getlist("ids"))
    project, kind = query.get("projectId"), query.get("type")
    sources = {query[name] for name in ("source", "generationSource") if name in query}

    def wanted(job: Job) -> bool:
        return ((not statuses or job.status in statuses)
                and (not ids or job.id in ids) and (project is None or job.request.get("projectId") == project)
                and all(job.data.get("source") == source for source in sources) and kind in (None, "api"))

    return query, wanted


@ops.route("/v2/generations", "listGenerations")
def list_generations(call: Call) -> Response:
    rt = runtime()
    query, wanted = _filter(call)
    limit = query.get("limit", type=int)
    cursor = query.get("cursor")
    if cursor and limit is None:
        raise BadRequest("cursor requires limit", field="cursor", code=rules.INVALID)

    rows: list[dict[str, Any]] = []
    skipping = cursor is not None
    for job in rt.engine.jobs(models.NAME, models.KIND, wanted, account=call.account):
        if skipping:
            skipping = job.id != cursor
            continue
        rows.append(models.generation(job))
        if limit is not None and len(rows) >= limit:
            break
    return json_response(rows)


@ops.route("/v2/generations/count", "countGenerations")
def count_generations(call: Call) -> Response:
    """``{"count": n}`` with the list's filters [doc: updates S5]; ``currentUserOnly`` changes
    nothing for an API key, whose generations are all its own (inferred)."""
    _, wanted = _filter(call)
    return json_response({"count": sum(1 for _ in runtime().engine.jobs(models.NAME, models.KIND, wanted,
                                                                        account=call.account))})


@ops.route("/v2/generations/<id>/download", "downloadGeneration")
def download_generation(call: Call, id: str) -> Response:  # noqa: A002
    """The output's URL as ``text/plain``, unquoted [doc: updates S1]; a generation without an
    output is a 400 "Generation not completed" (the legacy result endpoint's answer, inferred)."""
    job = find(call, id)
    url = job.data.get("outputUrl")
    if job.status != "COMPLETED" or not url:
        raise BadRequest(f"Generation not completed: generation {id} is {job.status}", field="id", code=rules.INVALID)
    return Response(url, 200, mimetype="text/plain")


@ops.route("/v2/healthcheck", "healthcheck", auth=False)
def healthcheck(call: Call) -> Response:
    """No key needed [doc: updates S7]; the body is inferred."""
    return json_response({"status": "ok"})


@ops.route("/v2/batch", "createBatch", ("POST",))
def create_batch(call: Call) -> Response:
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    batch.check_plan(cfg)
    request = call.request
    upload = request.files.get("input")
    data = upload.read() if upload is not None else request.form.get("input", "").encode()
    dry_run = batch.is_dry_run(request.form.get("dry_run"))
    lines = batch.parse(rt, data, cfg, check_line, account=call.account, select=not dry_run)
    if dry_run:
        return json_response({"status": "VALIDATED"})
    batch.check_concurrency(rt, call.account, cfg)
    job = batch.create(rt, lines, account=call.account, webhook_url=request.form.get("webhook_url") or None,
                       base_url=call.base_url,
                       scenarios=call.scenario_names)
    call.job_id = job.id
    return json_response(batch.response(job))


@ops.route("/v2/batch", "listBatches")
def list_batches(call: Call) -> Response:
    args = call.request.args
    bounds: dict[str, float | None] = {}
    for name in ("created_after", "created_before"):
        raw = args.get(name)
        try:
            bounds[name] = parse_iso(raw) if raw else None
        except ValueError:
            raise BadRequest(f"{name} must be an ISO 8601 date-time (got {raw!r})", field=name,
                             code=rules.INVALID) from None
    return json_response(batch.listing(runtime(), call.account, status=args.get("status") or None,
                                       after=bounds["created_after"], before=bounds["created_before"]))


@ops.route("/v2/batch/<id>", "getBatch")
def get_batch(call: Call, id: str) -> Response:  # noqa: A002
    job = batch.find(runtime(), call.account, id)
    call.job_id = job.id
    return json_response(batch.response(job))


@ops.route("/v2/batches/<id>/result", "getBatchResult", auth=False)
def get_batch_result(call: Call, id: str) -> Response:  # noqa: A002
    location = batch.result_location(runtime(), id, call.base_url)
    return Response(status=302, headers={"Location": location})


@ops.route("/v2/assets", "listAssets")
def list_assets(call: Call) -> Response:
    rt = runtime()
    query = rt.specs[models.NAME].query(call.request, call.operation)
    return json_response(assets.page(
        rt, call.account, project_id=query.get("projectId"), limit=query.get("limit", type=int),
        cursor=query.get("cursor") or None, search=query.get("searchQuery"), sort_by=query.get("sortBy"),
        types=query.getlist("types")))


@ops.route("/v2/assets/<id>", "getAsset")
def get_asset(call: Call, id: str) -> Response:  # noqa: A002
    return json_response(assets.get(runtime(), call.account, id))


@ops.route("/v2/analyze/cost", "estimateCost", ("POST",), normalize=normalize_create)
def estimate_cost(call: Call) -> Response:
    payload = call.body
    rules.check(payload, runtime().cfg(models.NAME))
    return json_response(models.estimate(payload, runtime().cfg(models.NAME)))


@ops.route("/v2/models", "listModels")
def list_models(call: Call) -> Response:
    return json_response([m for m in models.MODELS if not m.get("deprecatedAt")])


@ops.route("/v2/errors", "listErrors", auth=False)
def list_errors(call: Call) -> Response:
    return json_response(catalog())
