"""The control plane, under ``/_emulator/`` so it never collides with a provider path.

Everything a test or a person needs to drive and inspect the emulator: health, reset, the
virtual clock, the request journal, webhook deliveries, jobs, scenarios, the effective
configuration, the served schemas and the output media.

Who may use it (``guard``): loopback clients always; any other client only with the control
token (``control_token``, which ``serve`` generates and prints when bound to a non-loopback
address). What it shows never includes a credential (``redact``): API keys, bearer tokens and
signing keys of the providers' clients appear masked in the journal, jobs, rules and config.
The webhook signing secrets stay visible: a receiver under test needs them to verify.
"""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, request
from lipsync_emulator import schemas
from lipsync_emulator.core.auth import redact
from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.errors import BadRequest, EmulatorError, NotFound
from lipsync_emulator.core.http import json_response, page_args, paged, parse_json_body
from lipsync_emulator.core.jobs import Job, Outcome
from lipsync_emulator.core.media import loopback_host, sample_mp4
from lipsync_emulator.core.runtime import runtime
from lipsync_emulator.core.scenarios import WEBHOOK_OPERATION, Chaos, ProbeContext, UnknownScenario
from lipsync_emulator.core.settings import SettingsError
from lipsync_emulator.core.store import DEFAULT_NAMESPACE, NAMESPACE_HEADER, current_namespace, scope

bp = Blueprint("control", __name__, url_prefix="/_emulator")

PREFIX = "/_emulator/"
TOKEN_HEADER = "X-Emulator-Token"
TOKEN_COOKIE = "emulator_token"
# Served to the providers' clients, not to operators: output media and uploads (capability
# URLs handed out in job bodies) and the liveness check an orchestrator probes.
PUBLIC = ("/_emulator/health", "/_emulator/files/", "/_emulator/media/", "/_emulator/kling/cdn/")


def _loopback_peer(environ: dict[str, Any]) -> bool:
    """Whether the request comes straight from this machine. A request that went through a
    proxy (``Forwarded``/``X-Forwarded-For``) is not: the proxy's own address says nothing
    about the client. No peer address at all is an in-process call (a WSGI test client)."""
    if "HTTP_FORWARDED" in environ or "HTTP_X_FORWARDED_FOR" in environ:
        return False
    addr = environ.get("REMOTE_ADDR")
    return not addr or loopback_host(addr)


def _presented_token(environ: dict[str, Any]) -> tuple[str | None, bool]:
    """(the token the request carries, whether it came in the query string)."""
    header = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"))
    if header:
        return header, False
    query = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    if query:
        return query[0], True
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == TOKEN_COOKIE:
            return value, False
    return None, False


def guard(wsgi_app: Callable[..., Any], token: str | None) -> Callable[..., Any]:
    """Refuse the control plane to anyone but loopback clients and holders of ``token``
    (``X-Emulator-Token`` header; ``?token=`` for a browser, which then keeps it in a
    same-site cookie so the dashboard's own requests carry it)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO") or ""
        if not path.startswith(PREFIX) or (path.startswith(PUBLIC) and ".." not in path) \
                or _loopback_peer(environ):
            return wsgi_app(environ, start_response)
        presented, from_query = _presented_token(environ)
        if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
            if not from_query:
                return wsgi_app(environ, start_response)

            def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
                headers.append(("Set-Cookie", f"{TOKEN_COOKIE}={token}; Path=/_emulator; HttpOnly; "
                                              "SameSite=Strict"))
                return start_response(status, headers, *args)

            return wsgi_app(environ, remember)
        if token:
            err = EmulatorError("the control plane needs the token printed by serve: send it in the "
                                f"{TOKEN_HEADER} header (or ?token= in a browser)", status=401, field=TOKEN_HEADER)
        else:
            err = EmulatorError("the control plane answers loopback clients only (serve it on a "
                                "non-loopback address to get a token)", status=403)
        return render_control_error(err)(environ, start_response)

    return app


_SECRET_NAME = ("auth", "api-key", "apikey", "token", "secret", "cookie", "password")
_SECRET_SETTINGS = {"api_keys", "relay_keys", "secret_key", "credentials", "control_token"}
_KEYED_BY_API_KEY = {"balances", "key_levels", "key_balances"}


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (redact(v) if any(n in k.lower() for n in _SECRET_NAME) else v) for k, v in headers.items()}


def redact_settings(section: Any) -> Any:
    """A provider's (or the emulator's) settings with every credential masked."""
    if not isinstance(section, dict):
        return section
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key in _SECRET_SETTINGS:
            out[key] = redact(value)
        elif key in _KEYED_BY_API_KEY and isinstance(value, dict):
            out[key] = {f"{redact(k)} #{n}": v for n, (k, v) in enumerate(value.items(), 1)}
        else:
            out[key] = redact_settings(value)
    return out


def _identifiers() -> set[str]:
    """Accounts that are names, not secrets: access keys (Kling's; their secret keys sign)."""
    rt = runtime()
    names: set[str] = set()
    for provider in rt.providers:
        cfg = rt.cfg(provider)
        names.update(str(k) for k in [cfg.get("access_key"), *(cfg.get("credentials") or {})] if k)
    return names


def _redact_account(row: dict[str, Any], identifiers: set[str]) -> dict[str, Any]:
    """A journal or job row: its account masked when it is an API key, and the namespace too
    when it is that key (a request without a namespace header is partitioned by its key)."""
    account = row.get("account")
    if account and account not in identifiers:
        if row.get("namespace") == account:
            row["namespace"] = redact(account)
        row["account"] = redact(account)
    return row


RECENT = 5000  # the overview counts error answers among this many latest requests


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


def _namespace() -> str | None:
    return request.args.get("namespace") or current_namespace()


def job_view(job: Job, identifiers: set[str] | None = None) -> dict[str, Any]:
    return _redact_account({"provider": job.provider, "kind": job.kind, "id": job.id, "status": job.status,
            "namespace": job.namespace, "account": job.account, "created_at": iso(job.created_at),
            "updated_at": iso(job.updated_at), "webhook_url": job.webhook_url, "scenarios": job.scenarios,
            "history": [{"status": s, "at": iso(t)} for s, t in job.history],
            "next": [{"status": s, "at": iso(t)} for s, t in job.plan]},
        _identifiers() if identifiers is None else identifiers)


def journal_view(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Journal entries as the control plane shows them: credentials masked."""
    identifiers = _identifiers()
    for row in rows:
        _redact_account(row, identifiers)
        for name in ("request_headers", "response_headers"):
            if isinstance(row.get(name), dict):
                row[name] = redact_headers(row[name])
    return rows


@bp.get("/health")
def health() -> Response:
    rt = runtime()
    # up while the data file cannot be written: reads are served, changes wait in memory
    return json_response({"status": "ok", "providers": sorted(rt.providers), "clock": rt.settings.clock,
                          "now": iso(rt.clock.now()), "store": rt.store.kind,
                          "storage": "unwritable" if rt.store.degraded else "ok"})


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
    offset, limit = page_args()
    rows, total = runtime().journal.page(offset, limit, provider=args.get("provider"),
                                         operation=args.get("operation"), job_id=args.get("job_id"),
                                         status=args.get("status"), scenario=args.get("scenario"),
                                         method=args.get("method"), seq=args.get("seq"), namespace=_namespace())
    return paged(journal_view(rows), total, offset, limit)


@bp.get("/webhooks")
def webhooks() -> Response:
    args = request.args
    offset, limit = page_args()
    rows = runtime().webhooks.deliveries(provider=args.get("provider"), job_id=args.get("job_id"), id=args.get("id"),
                                         status=args.get("status"), event=args.get("event"), namespace=_namespace())
    rows.reverse()
    return paged([d.to_dict() for d in rows[offset:offset + limit]], len(rows), offset, limit)


@bp.post("/webhooks/<delivery_id>/redeliver")
def redeliver(delivery_id: str) -> Response:
    delivery = runtime().webhooks.redeliver(delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id!r}", field="delivery_id")
    return json_response(delivery.to_dict(), 202)


def _all_jobs(provider: str | None = None, status: str | None = None) -> Iterator[Job]:
    """Every job of every kind (of ``provider``), newest first, in the current scope."""
    rt = runtime()
    where = None if status is None else (lambda j: j.status == status)
    streams = [rt.engine.jobs(name, kind, where) for (name, kind) in list(rt.engine._declared)
               if provider in (None, name)]
    return heapq.merge(*streams, key=lambda j: j.created_at, reverse=True)


@bp.get("/jobs")
def jobs() -> Response:
    offset, limit = page_args()
    rt = runtime()
    provider, status = request.args.get("provider"), request.args.get("status")
    rows, total = [], 0
    identifiers = _identifiers()
    with scope(_namespace()):
        found = _all_jobs(provider, status)
        if status is None:  # the store counts them: only the page's jobs are read
            rows = [job_view(j, identifiers) for j in itertools.islice(found, offset, offset + limit)]
            total = sum(rt.store.count(rt.engine.collection(p, k)) for (p, k) in list(rt.engine._declared)
                        if provider in (None, p))
        else:
            for total, job in enumerate(found, 1):
                if offset < total <= offset + limit:
                    rows.append(job_view(job, identifiers))
    return paged(rows, total, offset, limit)


def _find_job(provider: str, job_id: str) -> Job:
    rt = runtime()
    with scope(_namespace()):
        job = next((j for (p, k) in list(rt.engine._declared) if p == provider
                    and (j := rt.engine.get(p, k, job_id)) is not None), None)
    if job is None:
        raise NotFound(f"no {provider} job {job_id!r}", field="job_id")
    return job


def _plain(value: Any) -> Any:
    """A JSON-able copy (a stored request may hold bytes or other objects)."""
    return json.loads(json.dumps(value, default=str))


def _poll_request(job: Job) -> dict[str, Any] | None:
    """The request the provider's poll probe makes for ``job``, with the job's own API key
    where the provider uses keys (``job_answer`` sends it; a job's page shows it masked)."""
    rt = runtime()
    submit = rt.catalog.probe(job.provider)
    poll = rt.catalog.probe(job.provider, submit.poll) if submit is not None and submit.poll else None
    if poll is None:
        return None
    cfg = rt.cfg(job.provider)
    if job.account and "api_keys" in cfg:
        cfg = {**cfg, "api_keys": [job.account]}
    built = poll.build(ProbeContext(cfg=cfg, job_id=job.id))
    headers = {k: str(v) for k, v in (built.get("headers") or {}).items()}
    if job.namespace != DEFAULT_NAMESPACE:
        headers[NAMESPACE_HEADER] = job.namespace
    return {"method": built["method"], "path": built["path"], "params": built.get("params") or {},
            "headers": headers}


@bp.get("/jobs/<provider>/<job_id>")
def job_detail(provider: str, job_id: str) -> Response:
    """One job: its request, lifecycle, the scenarios that shaped it, its webhook deliveries
    and how to ask the provider for it."""
    rt = runtime()
    job = _find_job(provider, job_id)
    lifecycle = rt.engine.lifecycle(job.provider, job.kind)
    shaped = [s.describe() for name in job.scenarios if (s := rt.catalog.get(provider, name)) is not None]
    deliveries = rt.webhooks.deliveries(provider=provider, job_id=job.id)
    poll = _poll_request(job)
    return json_response({**job_view(job), "request": _plain(job.request), "outcome": _plain(asdict(job.outcome)),
                          "lifecycle": {"states": list(lifecycle.states), "terminal": sorted(lifecycle.terminal),
                                        "success": lifecycle.success},
                          "scenario_details": shaped, "deliveries": [d.to_dict() for d in deliveries],
                          "poll": poll and {**poll, "headers": redact_headers(poll["headers"])}})


@bp.get("/jobs/<provider>/<job_id>/answer")
def job_answer(provider: str, job_id: str) -> Response:
    """The provider's answer about the job now, asked as the job's own client asks (with its
    key, which the control plane never shows)."""
    poll = _poll_request(_find_job(provider, job_id))
    if poll is None:
        raise NotFound(f"{provider} declares no poll request", field="provider")
    answer = current_app.test_client().open(poll["path"], method=poll["method"], query_string=poll["params"],
                                            headers=poll["headers"])
    return json_response({"method": poll["method"], "path": poll["path"], "status": answer.status_code,
                          "body": answer.get_data(as_text=True)})


@bp.get("/overview")
def overview() -> Response:
    """What the dashboard's first page shows: the clock, jobs per provider and state, the
    latest failures (jobs, deliveries, answers of 400 and above among the last ``RECENT``
    requests)."""
    rt = runtime()
    namespace = _namespace()
    counts: dict[str, dict[str, int]] = {name: {} for name in rt.providers}
    failed: list[Job] = []
    with scope(namespace):
        for (name, kind) in list(rt.engine._declared):
            lifecycle = rt.engine.lifecycle(name, kind)
            bad = lifecycle.terminal - {lifecycle.success}
            per_state = counts.setdefault(name, {})
            for job in rt.engine.jobs(name, kind):
                per_state[job.status] = per_state.get(job.status, 0) + 1
                if job.status in bad:
                    failed.append(job)
    failed.sort(key=lambda j: j.updated_at, reverse=True)
    errors, error_total = rt.journal.page(0, 10, where=lambda e: int(e.get("status") or 0) >= 400,
                                          within=RECENT, namespace=namespace)
    deliveries = rt.webhooks.deliveries(namespace=namespace)
    undelivered = [d for d in reversed(deliveries) if d.status == "failed"]
    return json_response({
        "clock": {"mode": rt.settings.clock, "now": iso(rt.clock.now()), "timestamp": rt.clock.now()},
        "namespace": namespace,
        "jobs": counts, "failed_jobs": [job_view(j) for j in failed[:10]], "failed_job_total": len(failed),
        "errors": journal_view(errors), "error_total": error_total,
        "failed_webhooks": [d.to_dict() for d in undelivered[:10]], "failed_webhook_total": len(undelivered),
        "webhook_total": len(deliveries), "request_total": rt.journal.page(0, 1, namespace=namespace)[1],
    })


@bp.get("/namespaces")
def namespaces() -> Response:
    """Every namespace that holds state (``X-Emulator-Namespace`` partitions, ``default``)."""
    listed = getattr(runtime().store, "namespaces", None)
    return json_response(listed() if listed else [])


@bp.post("/jobs/<provider>/<job_id>/finish")
def finish_job(provider: str, job_id: str) -> Response:
    """Finish a job now: ``{"scenario": "<outcome scenario>"}`` or nothing for success."""
    rt = runtime()
    job = _find_job(provider, job_id)
    name = _body().get("scenario")
    outcome = Outcome()
    if name:
        scenario = rt.catalog.get(provider, name)
        if scenario is None or scenario.outcome is None:
            raise BadRequest(f"{name!r} is not an outcome scenario of {provider}", field="scenario")
        outcome = scenario.outcome
    rt.engine.finish_now(job, outcome)
    with rt.waiting():
        rt.webhooks.wait_idle()
    return json_response(job_view(job))


@bp.get("/scenarios")
def list_scenarios() -> Response:
    rt = runtime()
    provider = request.args.get("provider")
    chaos = rt.scenarios.chaos
    return json_response({"catalog": [s.describe() for s in rt.catalog.list(provider)],
                          "active": [_rule_view(r) for r in rt.scenarios.rules() if provider in (None, r.provider)],
                          "chaos": chaos.describe() if chaos is not None else None})


def _rule_view(rule: Any) -> dict[str, Any]:
    view = rule.to_dict()
    view["api_key"] = redact(view.get("api_key"))
    return view


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
    return json_response(_rule_view(rule), 201)


@bp.post("/scenarios/trigger")
def trigger_scenario() -> Response:
    """Trigger one catalogue entry as ``lipsync-emulator demo`` does — a real request to this
    emulator over loopback, then the job followed on the clock — and return the exchange:
    ``{"provider": ..., "scenario": ..., "way": "header" | "magic" | "rule"}``."""
    from lipsync_emulator.gallery import WAYS, ScenarioClient, play, render
    from lipsync_emulator.receiver import WebhookReceiver

    rt = runtime()
    body = _body()
    provider, name, way = body.get("provider"), body.get("scenario"), body.get("way") or "header"
    scenario = rt.catalog.get(provider, name) if isinstance(provider, str) and isinstance(name, str) else None
    if scenario is None:
        raise BadRequest("'provider' and 'scenario' must name an entry of the catalogue", field="scenario")
    if way not in WAYS:
        raise BadRequest(f"'way' must be one of {list(WAYS)}", field="way")
    client = ScenarioClient(f"http://127.0.0.1:{request.environ['SERVER_PORT']}", rt.catalog,
                            {p: rt.cfg(p) for p in rt.providers}, timeout=10.0)
    receiver = WebhookReceiver()
    try:
        with rt.waiting():  # this emulator answers the requests it makes
            exchange = play(client, scenario, way, webhook_url=receiver.url)
    except (LookupError, OSError, ValueError) as exc:
        raise BadRequest(f"{provider}/{name} cannot be triggered: {exc}", field="scenario") from None
    finally:
        receiver.close()
        client.http.close()
    return json_response({"provider": provider, "scenario": name, "way": way, "status": exchange.status,
                          "error": exchange.error, "job_id": exchange.job_id,
                          "body": exchange.body.decode("utf-8", "replace"), "lines": render(exchange, scenario)})


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


@bp.patch("/config")
def change_config() -> Response:
    """Change providers' settings while running, checked as at start-up (a 400 names the key);
    answers the configuration."""
    try:
        runtime().reconfigure(_body())
    except SettingsError as exc:
        raise BadRequest(str(exc), field=exc.key) from None
    return config()


@bp.get("/config")
def config() -> Response:
    """The effective settings, credentials masked (``redact_settings``)."""
    rt = runtime()
    settings = redact_settings(asdict(rt.settings))
    settings.pop("providers")
    providers = {}
    for name, provider in rt.providers.items():
        cfg = rt.cfg(name)
        providers[name] = redact_settings(provider.public_config(cfg) if provider.public_config else cfg)
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
