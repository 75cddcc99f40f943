"""Batches: ``POST /v2/batch``, ``GET /v2/batch/{id}``, ``GET /v2/batch`` [sdk: batch/raw_client.py]
and the result file behind ``outputUrl``; reference §3.6-3.8, §4.9, §6 and items 60-67.

A batch is a JSON Lines file of ``{"request_id", "endpoint": "/v2/generate", "payload"}``
records [doc: batch26]. Every payload is checked by the very code ``POST /v2/generate`` uses
(``routes.check_line``: normalization, the ``createGeneration`` schema, the cross-field rules,
the media checks); the errors come back per line. Limits (20-500 records, 5 MB, inputs up to
30 s), the plan gate (402) and the batch-concurrency limit (429 ``concurrency_limit_reached``)
are configuration.

Lifecycle on the one engine, as its own kind: ``PENDING -> JOBS_CREATED -> PROCESSING ->
COMPLETED | FAILED`` [sdk: batch_status.py]. On ``JOBS_CREATED`` each line becomes a real
generation in the store (listed, fetched, webhooked like any other; it does not count against
the per-generation concurrency limit: "batch jobs bypass your normal concurrency limit"). The
batch then stays ``PROCESSING`` until its last generation is terminal (an engine observer
follows them) and ends ``COMPLETED``, or ``FAILED`` when no generation succeeded (inferred).
Then ``outputUrl`` (``/v2/batches/{id}/result``, the documented form) answers 302 to a JSONL
file of ``{"request_id", "response": <Generation>}`` lines (line shape inferred), and the
batch webhook is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.errors import BadRequest, EmulatorError, NotFound, PaymentRequired, TooManyRequests
from lipsync_emulator.core.http import loads
from lipsync_emulator.core.jobs import Job, Lifecycle, Outcome
from lipsync_emulator.core.media import probe_url
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.scenarios import UnknownScenario
from lipsync_emulator.core.webhooks import Signer
from lipsync_emulator.providers.syncso import models

KIND = "batch"
LIFECYCLE = Lifecycle(states=("PENDING", "JOBS_CREATED", "PROCESSING", "COMPLETED"),
                      terminal=frozenset({"COMPLETED", "FAILED"}))
ENDPOINT = "/v2/generate"
INVALID = "generation_input_validation_failed"
MAX_LISTED_ERRORS = 5  # in the message; the ``errors`` array lists every line

LineCheck = Callable[[Any], tuple[dict[str, Any], Outcome | None]]
"""A payload -> (normalized payload, media outcome), raising the create endpoint's error."""


# -- request-time checks -------------------------------------------------------------------------

def check_plan(cfg: dict[str, Any]) -> None:
    """"Available only for Scale and Enterprise plans" [sdk]; lower plans get 402 [doc: batch25]."""
    if (cfg.get("plan") or "unlimited") not in cfg["batch_plans"]:
        raise PaymentRequired(f"The Batch API is available only for Scale and Enterprise plans (this key's plan: "
                              f"{cfg.get('plan')}). Upgrade your plan to use batch processing.",
                              code="plan_feature_unavailable")


def check_concurrency(rt: Runtime, account: str, cfg: dict[str, Any]) -> None:
    """A separate per-plan limit on running batches -> 429 [doc: batch26]; the limits per plan
    are unpublished, so the emulator's is one setting (off by default). The extra fields are
    inferred ("the 429 body is a JSON object describing the limit reached")."""
    limit = cfg.get("batch_concurrency")
    if limit is None:
        return
    active = sum(1 for _ in rt.engine.jobs(models.NAME, KIND, lambda j: not rt.engine.is_terminal(j), account=account))
    if active >= int(limit):
        raise TooManyRequests("Batch concurrency limit reached. Please wait for an existing batch to complete "
                              "or upgrade your plan.", code="concurrency_limit_reached",
                              extra={"activeBatches": active, "concurrencyLimit": int(limit)})


def is_dry_run(value: str | None) -> bool:
    return (value or "").lower() == "true"


def parse(rt: Runtime, data: bytes, cfg: dict[str, Any], check: LineCheck, *, account: str,
          select: bool) -> list[dict[str, Any]]:
    """The file's records, each payload checked as a ``POST /v2/generate`` body. Raises one 400
    listing every bad line (``errors``: line, request_id, field, statusCode, errorCode,
    message; the per-line shape is inferred). ``select``: pick each line's outcome scenarios
    (magic values in the line) now; a dry run creates nothing and picks none."""
    limit = int(cfg["batch_max_bytes"])
    if len(data) > limit:
        raise BadRequest(f"input is {len(data)} bytes; the maximum file size is {limit} bytes", field="input",
                         code=INVALID)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("input must be a UTF-8 JSON Lines (.jsonl) file", field="input", code=INVALID) from None
    records = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    low, high = int(cfg["batch_min_records"] or 0), cfg["batch_max_records"]
    if len(records) < low or (high is not None and len(records) > int(high)):
        raise BadRequest(f"input must contain between {low} and {high} records, one JSON object per line "
                         f"(found {len(records)})", field="input", code=INVALID)
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in records:
        request_id: Any = None
        try:
            request_id, payload = _envelope(number, raw, seen)
            try:
                payload, outcome = check(payload)
                _check_durations(payload, cfg)
            except EmulatorError as err:
                err.field = "payload" + ("" if not err.field else "." + err.field)
                raise
            names: list[str] = []
            if select:
                names, chosen = _scenarios(rt, raw, account)
                outcome = chosen or outcome
            lines.append({"line": number, "request_id": request_id, "payload": payload, "outcome": outcome,
                          "scenarios": names})
        except EmulatorError as err:
            errors.append({"line": number, "request_id": request_id if isinstance(request_id, str) else None,
                           "field": err.field, "statusCode": err.status, "errorCode": err.code,
                           "message": err.message})
    if errors:
        listed = "; ".join(f"line {e['line']}: {e['message']}" for e in errors[:MAX_LISTED_ERRORS])
        more = f" (and {len(errors) - MAX_LISTED_ERRORS} more)" if len(errors) > MAX_LISTED_ERRORS else ""
        raise BadRequest(f"{len(errors)} of {len(records)} lines are invalid: {listed}{more}", field="input",
                         code=INVALID, extra={"errors": errors})
    return lines


def _envelope(number: int, raw: str, seen: dict[str, int]) -> tuple[str, Any]:
    try:
        record = loads(raw)
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        raise BadRequest(f"not valid JSON ({msg})", field="line", code=INVALID) from None
    if not isinstance(record, dict):
        raise BadRequest("each line must be a JSON object with request_id, endpoint and payload", field="line",
                         code=INVALID)
    request_id = record.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise BadRequest("request_id is required: a non-empty string, unique in the file", field="request_id",
                         code=INVALID)
    if request_id in seen:
        raise BadRequest(f"request_id {request_id!r} is also used on line {seen[request_id]}; request_id values "
                         "must be unique", field="request_id", code=INVALID)
    seen[request_id] = number
    if record.get("endpoint") != ENDPOINT:
        raise BadRequest(f"endpoint must be \"{ENDPOINT}\" (got {record.get('endpoint')!r})", field="endpoint",
                         code=INVALID)
    if "payload" not in record:
        raise BadRequest("payload is required: the body of a POST /v2/generate request", field="payload",
                         code=INVALID)
    return request_id, record["payload"]


def _check_durations(payload: dict[str, Any], cfg: dict[str, Any]) -> None:
    """"Only generations with inputs up to 30 s are supported" [doc: batch26]; rejecting such a
    line at create time (rather than failing its generation) is inferred."""
    limit = cfg.get("batch_max_input_seconds")
    if limit is None:
        return
    for i, item in enumerate(payload["input"]):
        if item.get("type") in ("video", "audio") and item.get("url"):
            seconds = probe_url(item["url"]).duration or 0.0
            if seconds > float(limit):
                raise BadRequest(f"input[{i}] is {seconds:g} s long; batch processing supports inputs up to "
                                 f"{float(limit):g} s", field=f"input[{i}].url",
                                 code="generation_input_duration_greater_than_max_duration")


def _scenarios(rt: Runtime, raw: str, account: str) -> tuple[list[str], Outcome | None]:
    """A line is a create: magic values in it (and control-plane rules for createGeneration)
    choose its generation's outcome, exactly as for ``POST /v2/generate``."""
    try:
        chosen = rt.scenarios.select(models.NAME, "createGeneration", texts=[raw], api_key=account)
    except UnknownScenario as exc:
        raise BadRequest(str(exc), field="line", code=INVALID) from None
    outcomes = [s for s in chosen if s.outcome is not None]
    return [s.name for s in outcomes], (outcomes[-1].outcome if outcomes else None)


# -- state -----------------------------------------------------------------------------------

def create(rt: Runtime, lines: list[dict[str, Any]], *, account: str, webhook_url: str | None, base_url: str,
           scenarios: list[str]) -> Job:
    # The batch waits in PROCESSING for its generations (the observer in ``setup`` finishes
    # it), so the engine's own plan stops there. How a batch fails is its lines' outcomes.
    return rt.engine.create(
        models.NAME, KIND, f"batch_{rt.ids.hex(24)}", durations=rt.cfg(models.NAME)["batch_durations"],
        outcome=Outcome(stuck=True), request={"lines": lines}, account=account,
        webhook_url=webhook_url, base_url=base_url, scenarios=scenarios,
        data={"generations": {}, "done": {}, "outputUrl": ""})


def find(rt: Runtime, account: str, batch_id: str) -> Job:
    return rt.engine.owned(models.NAME, KIND, batch_id, account,
                           NotFound(f"Batch {batch_id} not found", code="batch_not_found", field="id"))


def listing(rt: Runtime, account: str, *, status: str | None, after: float | None,
            before: float | None) -> list[dict[str, Any]]:
    """Newest first [sdk]; ``created_after``/``created_before`` are exclusive (inferred)."""
    def wanted(job: Job) -> bool:
        return (status in (None, job.status)
                and (after is None or job.created_at > after) and (before is None or job.created_at < before))

    return [response(j) for j in rt.engine.jobs(models.NAME, KIND, wanted, account=account)]


def metrics(job: Job) -> dict[str, int]:
    total = len(job.request["lines"])
    done: dict[str, dict[str, Any]] = job.data["done"]
    success = sum(1 for gen in done.values() if gen["status"] == models.LIFECYCLE.success)
    return {"total_generations": total, "success_count": success, "failed_count": len(done) - success,
            "pending_count": total - len(done)}


def response(job: Job) -> dict[str, Any]:
    """BatchResponse: snake ``created_at``/metrics, camel ``webhookUrl``/``outputUrl`` [sdk];
    ``outputUrl`` is ``""`` until the batch has finished [doc: batchcreate26]."""
    return {"id": job.id, "created_at": iso(job.created_at, millis=False), "status": job.status,
            "metrics": metrics(job), "webhookUrl": job.webhook_url, "outputUrl": job.data.get("outputUrl", "")}


def result_location(rt: Runtime, batch_id: str, base: str) -> str:
    """Where ``outputUrl`` redirects: the JSONL file, kept with the emulator's files."""
    job = rt.engine.get(models.NAME, KIND, batch_id)
    if job is None:
        raise NotFound(f"Batch {batch_id} not found", code="batch_not_found", field="id")
    if not rt.engine.is_terminal(job):
        # like the legacy generation result endpoint's 400 "Generation not completed" [doc: openapi25]
        raise BadRequest(f"Batch {batch_id} not completed (status {job.status})", field="id")
    file_id = job.data.get("result_file")
    if not file_id:  # only a batch finished early through the control plane
        raise NotFound(f"Batch {batch_id} has no result file: none of its generations was created", field="id",
                       code="batch_not_found")
    return f"{base}/_emulator/files/{file_id}/{job.id}.jsonl"


# -- lifecycle ---------------------------------------------------------------------------------

def setup(rt: Runtime) -> None:
    def on_enter(job: Job, state: str) -> None:
        if state == "JOBS_CREATED":
            for line in job.request["lines"]:
                gen = models.start_generation(
                    rt, line["payload"], account=job.account, outcome=line["outcome"], scenarios=line["scenarios"],
                    base_url=job.base_url, namespace=job.namespace,
                    data={"batch_id": job.id, "request_id": line["request_id"]})
                job.data["generations"][line["request_id"]] = gen.id
        elif state in LIFECYCLE.terminal:
            if job.data["generations"]:
                _write_result(rt, job)
                job.data["outputUrl"] = f"{job.base_url}/v2/batches/{job.id}/result"
            if job.webhook_url:
                send_webhook(rt, job)

    def follow(gen: Job, state: str) -> None:
        """A batch generation reached a terminal state: record it; the last one ends the batch."""
        batch_id = gen.data.get("batch_id")
        if not batch_id or gen.kind != models.KIND or state not in models.LIFECYCLE.terminal:
            return
        batch = rt.engine.get(models.NAME, KIND, batch_id)
        if batch is None or rt.engine.is_terminal(batch):
            return
        done = batch.data["done"]
        done[gen.data["request_id"]] = models.generation(gen)
        rt.engine.save(batch)
        if len(done) == len(batch.request["lines"]):
            succeeded = any(g["status"] == models.LIFECYCLE.success for g in done.values())
            rt.engine.finish_now(batch, Outcome() if succeeded else Outcome(status="FAILED"))

    rt.engine.declare(models.NAME, KIND, LIFECYCLE, on_enter)
    rt.engine.observe(follow)


def _write_result(rt: Runtime, job: Job) -> None:
    rows = []
    for line in job.request["lines"]:
        rid = line["request_id"]
        snapshot = job.data["done"].get(rid)
        if snapshot is None:  # finished early through the control plane: the generation as it is
            gen = rt.engine.get(models.NAME, models.KIND, job.data["generations"].get(rid, ""))
            snapshot = models.generation(gen) if gen is not None else None
        rows.append(json.dumps({"request_id": rid, "response": snapshot}, separators=(",", ":")))
    file_id = rt.ids.uuid()
    rt.store.put("files", file_id, {"data": ("\n".join(rows) + "\n").encode(), "name": f"{job.id}.jsonl",
                                    "mimetype": "application/jsonl"})
    job.data["result_file"] = file_id


def notification(job: Job, keys: str) -> dict[str, Any]:
    """The batch webhook body: the field list is snake_case ``{id, created_at, status, metrics,
    outputUrl, webhookUrl}``, the page's example camelCase with ``options: {}`` [doc: batchwh26];
    ``batch_webhook_keys`` picks one."""
    body = response(job)
    if keys != "camel":
        return body
    m = body["metrics"]
    return {"id": body["id"], "status": body["status"],
            "metrics": {"totalGenerations": m["total_generations"], "successCount": m["success_count"],
                        "failedCount": m["failed_count"], "pendingCount": m["pending_count"]},
            "outputUrl": body["outputUrl"], "webhookUrl": body["webhookUrl"], "createdAt": body["created_at"],
            "options": {}}


def send_webhook(rt: Runtime, job: Job) -> None:
    """One POST on COMPLETED or FAILED, signed like generation webhooks with the account's
    secret; the header is ``Sync-Signature`` per the field text or ``X-Signature-Primary`` per
    the header list (``batch_webhook_signature_header``) [doc: batchwh26]."""
    cfg = rt.cfg(models.NAME)
    secret = cfg.get("webhook_secret") or ""
    header = cfg.get("batch_webhook_signature_header") or "Sync-Signature"
    rt.webhooks.send_json(models.NAME, job, notification(job, cfg.get("batch_webhook_keys", "snake")),
                          event=f"batch.{job.status.lower()}", retry=cfg["webhook_retry"],
                          signer=Signer(models.NAME, secret, header=header) if secret else None, job_faults=False)
