"""The control plane, under ``/_emulator/`` so it never collides with a provider path.

Everything a test or a person needs to drive and inspect the emulator: health, reset, the
virtual clock, the request journal, webhook deliveries, jobs, scenarios, the effective
configuration, the served schemas and the output media.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, request
from lipsync_emulator import schemas
from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.errors import BadRequest, EmulatorError, NotFound
from lipsync_emulator.core.http import json_response, parse_json_body
from lipsync_emulator.core.jobs import Job, Outcome
from lipsync_emulator.core.media import sample_mp4
from lipsync_emulator.core.runtime import runtime
from lipsync_emulator.core.scenarios import WEBHOOK_OPERATION, Chaos, UnknownScenario
from lipsync_emulator.core.store import NAMESPACE_HEADER, current_namespace, scope

bp = Blueprint("control", __name__, url_prefix="/_emulator")


def render_control_error(err: EmulatorError) -> Response:
    body = {"error": err.reason, "message": err.message, "status": err.status}
    if err.field:
        body["field"] = err.field
    return json_response(body, err.status, err.headers)


def _body() -> dict[str, Any]:
    body = parse_json_body() if request.content_length else {}
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    return body


def job_view(job: Job) -> dict[str, Any]:
    return {"provider": job.provider, "kind": job.kind, "id": job.id, "status": job.status,
            "namespace": job.namespace, "account": job.account, "created_at": iso(job.created_at),
            "updated_at": iso(job.updated_at), "webhook_url": job.webhook_url, "scenarios": job.scenarios,
            "history": [{"status": s, "at": iso(t)} for s, t in job.history],
            "next": [{"status": s, "at": iso(t)} for s, t in job.plan]}


@bp.get("/health")
def health() -> Response:
    rt = runtime()
    return json_response({"status": "ok", "providers": sorted(rt.providers), "clock": rt.settings.clock,
                          "now": iso(rt.clock.now()), "store": "sqlite" if rt.shared else "memory"})


@bp.post("/reset")
def reset() -> Response:
    """Everything, or one namespace (``{"namespace": ...}``, ``?namespace=`` or the
    ``X-Emulator-Namespace`` header): a parallel CI job resets only its own state."""
    namespace = _body().get("namespace") or request.args.get("namespace") or request.headers.get(NAMESPACE_HEADER)
    if namespace is not None and not isinstance(namespace, str):
        raise BadRequest("'namespace' must be a string", field="namespace")
    runtime().reset(namespace or None)
    return json_response({"status": "reset", "namespace": namespace or None})


@bp.get("/clock")
def clock() -> Response:
    rt = runtime()
    return json_response({"mode": rt.settings.clock, "now": iso(rt.clock.now()), "timestamp": rt.clock.now()})


@bp.post("/clock/advance")
def advance() -> Response:
    seconds: Any = _body().get("seconds", request.args.get("seconds"))
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise BadRequest("'seconds' must be a number of seconds to advance", field="seconds") from None
    if not 0 <= value <= 10 * 365 * 86400:
        raise BadRequest("'seconds' must be between 0 and ten years", field="seconds")
    try:
        return json_response(runtime().advance(value))
    except ValueError as exc:
        raise BadRequest(str(exc), field="clock") from None


@bp.get("/requests")
def requests_journal() -> Response:
    args = request.args
    limit = args.get("limit", type=int)
    rows = runtime().journal.query(limit=limit, provider=args.get("provider"), operation=args.get("operation"),
                                   job_id=args.get("job_id"), status=args.get("status"),
                                   scenario=args.get("scenario"), method=args.get("method"),
                                   namespace=args.get("namespace") or current_namespace())
    return json_response(rows)


@bp.get("/webhooks")
def webhooks() -> Response:
    args = request.args
    rows = runtime().webhooks.deliveries(provider=args.get("provider"), job_id=args.get("job_id"),
                                         status=args.get("status"), event=args.get("event"),
                                         namespace=args.get("namespace") or current_namespace())
    return json_response([d.to_dict() for d in rows])


@bp.post("/webhooks/<delivery_id>/redeliver")
def redeliver(delivery_id: str) -> Response:
    delivery = runtime().webhooks.redeliver(delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id!r}", field="delivery_id")
    return json_response(delivery.to_dict(), 202)


@bp.get("/jobs")
def jobs() -> Response:
    rt = runtime()
    provider = request.args.get("provider")
    status = request.args.get("status")
    namespace = request.args.get("namespace") or current_namespace()
    rows = []
    with scope(namespace):
        for (name, kind) in list(rt.engine._declared):
            if provider in (None, name):
                rows += [job_view(j) for j in rt.engine.jobs(name, kind) if status in (None, j.status)]
    return json_response(rows)


@bp.post("/jobs/<provider>/<job_id>/finish")
def finish_job(provider: str, job_id: str) -> Response:
    """Finish a job now: ``{"scenario": "<outcome scenario>"}`` or nothing for success."""
    rt = runtime()
    job = next((rt.engine.get(p, k, job_id) for (p, k) in rt.engine._declared if p == provider
                and rt.engine.get(p, k, job_id) is not None), None)
    if job is None:
        raise NotFound(f"no {provider} job {job_id!r}", field="job_id")
    name = _body().get("scenario")
    outcome = Outcome()
    if name:
        scenario = rt.catalog.get(provider, name)
        if scenario is None or scenario.outcome is None:
            raise BadRequest(f"{name!r} is not an outcome scenario of {provider}", field="scenario")
        outcome = scenario.outcome
    rt.engine.finish_now(job, outcome)
    rt.webhooks.wait_idle()
    return json_response(job_view(job))


@bp.get("/scenarios")
def list_scenarios() -> Response:
    rt = runtime()
    provider = request.args.get("provider")
    chaos = rt.scenarios.chaos
    return json_response({"catalog": [s.describe() for s in rt.catalog.list(provider)],
                          "active": [r.to_dict() for r in rt.scenarios.rules() if provider in (None, r.provider)],
                          "chaos": chaos.describe() if chaos is not None else None})


def _operations(provider: str) -> set[str]:
    """The provider's operationIds (its view endpoints), plus ``webhook`` for send-time rules."""
    prefix = f"{provider}."
    return {r.endpoint[len(prefix):] for r in current_app.url_map.iter_rules()
            if r.endpoint.startswith(prefix)} | {WEBHOOK_OPERATION}


@bp.post("/scenarios")
def add_scenario() -> Response:
    body = _body()
    provider = body.get("provider")
    if not isinstance(provider, str) or provider not in runtime().providers:
        raise BadRequest(f"'provider' must be one of {sorted(runtime().providers)}", field="provider")
    names = body.get("scenarios", body.get("scenario"))
    if isinstance(names, str):
        names = [names]
    if not names or not all(isinstance(n, str) for n in names):
        raise BadRequest("'scenario' (a name) or 'scenarios' (a list of names) is required", field="scenario")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise BadRequest("'count' must be a positive integer", field="count")
    operation = body.get("operation")
    known = _operations(provider)
    if operation is not None and (not isinstance(operation, str) or operation not in known):
        raise BadRequest(f"'operation' must be one of {sorted(known)}", field="operation")
    for key in ("job_id", "api_key"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise BadRequest(f"'{key}' must be a string", field=key)
    try:
        rule = runtime().scenarios.add_rule(provider, names, operation=body.get("operation"),
                                            job_id=body.get("job_id"), api_key=body.get("api_key"), count=count)
    except UnknownScenario as exc:
        raise BadRequest(str(exc), field="scenario") from None
    return json_response(rule.to_dict(), 201)


@bp.delete("/scenarios")
def clear_scenarios() -> Response:
    return json_response({"deleted": runtime().scenarios.delete()})


@bp.put("/chaos")
def set_chaos() -> Response:
    """Turn chaos on (or change it) at runtime: ``{"seed": 1, "rate": 0.1, "kinds": [...]}``."""
    try:
        chaos = Chaos.parse(_body() or None)
    except ValueError as exc:
        raise BadRequest(str(exc), field="chaos") from None
    runtime().scenarios.set_chaos(chaos)
    return json_response({"chaos": chaos.describe() if chaos is not None else None})


@bp.delete("/chaos")
def clear_chaos() -> Response:
    runtime().scenarios.set_chaos(None)
    return json_response({"chaos": None})


@bp.delete("/scenarios/<rule_id>")
def delete_scenario(rule_id: str) -> Response:
    if not runtime().scenarios.delete(rule_id):
        raise NotFound(f"no active scenario rule {rule_id!r}", field="rule_id")
    return json_response({"deleted": 1})


@bp.get("/config")
def config() -> Response:
    rt = runtime()
    settings = asdict(rt.settings)
    settings.pop("providers")
    providers = {}
    for name, provider in rt.providers.items():
        cfg = rt.cfg(name)
        providers[name] = provider.public_config(cfg) if provider.public_config else cfg
    return json_response({**settings, "providers": providers, **providers})


@bp.get("/schemas")
def schema_index() -> Response:
    return json_response({name: f"/_emulator/schemas/{name}.yaml" for name, p in runtime().providers.items()
                          if p.schema})


@bp.get("/schemas/<name>.yaml")
def schema_file(name: str) -> Response:
    """A provider's schema, by the provider's name."""
    provider = runtime().providers.get(name)
    if provider is None or provider.schema is None:
        known = ", ".join(n for n, p in runtime().providers.items() if p.schema)
        raise NotFound(f"no schema named {name!r} (have: {known})", field="name")
    return Response(schemas.text(provider.schema), mimetype="application/yaml")


@bp.get("/files/<file_id>/<name>")
def uploaded_file(file_id: str, name: str) -> Response:
    """Bytes uploaded to any provider (multipart creates, upload endpoints)."""
    record = runtime().store.get("files", file_id)
    if record is None:
        raise NotFound(f"no uploaded file {file_id!r}", field="file_id")
    resp = Response(record["data"], mimetype=record["mimetype"])
    resp.make_conditional(request, accept_ranges=True, complete_length=len(record["data"]))
    return resp


@bp.get("/media/<path:name>")
def media(name: str) -> Response:
    """Every output video: the bundled playable MP4, with Range support for players."""
    if not name.lower().endswith(".mp4"):
        raise NotFound(f"no media {name!r}", field="name")
    data = sample_mp4()
    resp = Response(data, mimetype="video/mp4")
    resp.make_conditional(request, accept_ranges=True, complete_length=len(data))
    return resp
