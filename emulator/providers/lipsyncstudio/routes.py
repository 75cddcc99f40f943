"""lipsync.studio views, one per operationId (submit x3, get job), plus the emulator's credit
introspection under ``/_emulator/lipsyncstudio/`` (not part of the provider's API).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Response, request
from lipsync_emulator.core.auth import bearer_token, key_allowed, redact
from lipsync_emulator.core.errors import BadRequest, EmulatorError, NotFound, Unauthorized
from lipsync_emulator.core.http import Call, Operations, json_response, page_args, paged, parse_json_body
from lipsync_emulator.core.openapi import SchemaViolation
from lipsync_emulator.core.runtime import Runtime, runtime
from lipsync_emulator.providers.lipsyncstudio import errors, models, rules
from werkzeug.wrappers import Request

ops = Operations(models.NAME, __name__)


# -- auth and schema errors ------------------------------------------------------------------

def authenticate(rt: Runtime, req: Request) -> str:
    """``Authorization: Bearer <key>`` [seed]. A missing header, another scheme or a key not in
    ``api_keys`` (when configured) is 401 ``{"error":"Unauthorized"}`` (inferred, §12.1-2); the
    ``sk_XXXX_YYYY`` shape is not checked (inferred, §12.3)."""
    key = bearer_token(req)
    if not key or not key_allowed(key, rt.cfg(models.NAME)["api_keys"]):
        raise Unauthorized(errors.UNAUTHORIZED)
    return key


def field_name(dotted: str) -> str:
    """``formState.video`` is reported as ``video`` by default (the reference's "<field> is
    required", §12.8), or in full with ``error_field_names: dotted``."""
    if runtime().cfg(models.NAME)["error_field_names"] == "leaf" and dotted.startswith("formState."):
        return dotted.removeprefix("formState.")
    return dotted


def on_violation(v: SchemaViolation, operation_id: str) -> EmulatorError:
    """Every schema violation is a 400 ``{"error": "<field> ..."}`` naming the field (status and
    texts inferred, §12.7-12)."""
    if v.keyword == "content_type":
        return BadRequest("Content-Type must be application/json", field="Content-Type")
    if v.keyword == "missing_body" or (v.field == "body" and v.value is None):
        return BadRequest("formState is required", field="formState")
    if v.field == "body":
        return BadRequest("Request body must be a JSON object", field="body")
    name = field_name(v.field)
    if v.keyword == "required":
        return BadRequest(f"{name} is required", field=v.field)
    if v.keyword == "pattern" and "x-expected" in v.hints:
        return BadRequest(f"{name} must be {v.hints['x-expected']}", field=v.field)
    return BadRequest(dataclasses.replace(v, field=name, hints={}).describe(), field=v.field)


def normalize(body: Any) -> Any:
    """``null`` means absent (JS clients send ``webhook: null``), as does an empty ``webhook``
    (an unset environment variable); both inferred. In the permissive mode a resolution listed
    in ``extra_resolutions`` (e.g. "360p", §12.10) is set aside so the documented enum still
    validates everything else; the view puts back what was sent (``sent_resolution``)."""
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items() if v is not None and not (k == "webhook" and v == "")}
    form = body.get("formState")
    if isinstance(form, dict):
        form = {k: v for k, v in form.items() if v is not None}
        if permissive(form.get("resolution"), runtime().cfg(models.NAME)):
            del form["resolution"]
        body["formState"] = form
    return body


def permissive(resolution: Any, cfg: dict[str, Any]) -> bool:
    return isinstance(resolution, str) and resolution in cfg["extra_resolutions"]


def sent_resolution(call: Call, cfg: dict[str, Any]) -> str | None:
    """The permissive resolution ``normalize`` set aside, from the body as sent."""
    if not cfg["extra_resolutions"] or "resolution" in call.body["formState"]:
        return None
    resolution = parse_json_body(call.request)["formState"].get("resolution")
    return resolution if permissive(resolution, cfg) else None


# -- views -------------------------------------------------------------------------------------

def submit(call: Call) -> Response:
    rt = runtime()
    cfg = rt.cfg(models.NAME)
    body: dict[str, Any] = call.body
    endpoint = models.ENDPOINTS[call.operation]
    form = dict(body["formState"])
    if resolution := sent_resolution(call, cfg):
        form["resolution"] = resolution
    rules.check(body, cfg)
    webhook = body.get("webhook")
    price = models.quote(endpoint, form, cfg)
    job_id = rt.ids.uuid()
    models.charge(rt, call.account, job_id, price)
    job = rt.engine.create(
        models.NAME, models.KIND, job_id, durations=cfg["durations"], outcome=call.outcome,
        request={"endpoint": endpoint, "formState": form, "webhook": webhook}, account=call.account,
        webhook_url=webhook,
        base_url=call.base_url, scenarios=call.scenario_names, data={"billing": price})
    call.job_id = job.id
    return json_response(models.submit_answer(job, cfg), int(cfg["submit_status"]))


for _operation, _endpoint in models.ENDPOINTS.items():
    ops.route(f"/api/v1/{_endpoint}", _operation, ("POST",), normalize=normalize)(submit)


@ops.route("/api/v1/jobs/<requestId>", "getJob")
def get_job(call: Call, requestId: str) -> Response:  # noqa: N803 - the documented path parameter name
    """Another key's job is indistinguishable from an unknown one: 404 (inferred, §12.21-22)."""
    rt = runtime()
    job = rt.engine.owned(models.NAME, models.KIND, requestId, call.account, NotFound(errors.JOB_NOT_FOUND,
                                                                                      field="requestId"))
    call.job_id = job.id
    return json_response(models.job_object(job, rt.cfg(models.NAME)))


# -- emulator introspection: credits (errors here use the control plane's shape) ------------------

CONTROL = f"/_emulator/{models.NAME}"


def _account_view(record: dict[str, Any]) -> dict[str, Any]:
    """An account's totals, its API key masked as the control plane shows every credential;
    its charges are a listing of their own (``charges?api_key=``): they grow with every job."""
    return {**{k: record[k] for k in ("initial", "balance", "spent", "refunded")}, "api_key": redact(record["api_key"])}


def credits_index() -> Response:
    """Every credit account opened so far (and every configured balance)."""
    return json_response({"accounts": [_account_view(r) for r in models.accounts(runtime())]})


def credits_account(api_key: str) -> Response:
    """GET: one key's balance. POST ``{"balance": n}`` sets it, ``{"add": n}`` tops it up."""
    rt = runtime()
    if request.method == "POST":
        body = parse_json_body() if request.content_length else None
        if not isinstance(body, dict) or not ({"balance", "add"} & set(body)):
            raise BadRequest("the body must be {\"balance\": number} or {\"add\": number}", field="balance")
        for key in ("balance", "add"):
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise BadRequest(f"'{key}' must be a number", field=key)
        return json_response(_account_view(models.set_balance(rt, api_key, balance=body.get("balance"),
                                                              add=body.get("add"))))
    return json_response(_account_view(models.account(rt, api_key)))


def charges() -> Response:
    """Charges newest first, a page at a time as the control plane's listings, optionally
    filtered by ``?job_id=`` and ``?api_key=``."""
    offset, limit = page_args()
    rt, job_id, api_key = runtime(), request.args.get("job_id"), request.args.get("api_key")
    rows, total = [], 0
    for total, charge in enumerate(models.charges(rt, api_key, job_id), 1):
        if offset < total <= offset + limit:
            rows.append({**charge, "api_key": redact(charge["api_key"])})
    return paged(rows, total, offset, limit)


ops.blueprint.add_url_rule(f"{CONTROL}/credits", "control_credits", credits_index, methods=["GET"])
ops.blueprint.add_url_rule(f"{CONTROL}/credits/<path:api_key>", "control_credits_account", credits_account,
                           methods=["GET", "POST"])
ops.blueprint.add_url_rule(f"{CONTROL}/charges", "control_charges", charges, methods=["GET"])
