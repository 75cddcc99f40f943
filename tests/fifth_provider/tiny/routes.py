"""Tiny Lip's views, one per operationId."""

from __future__ import annotations

from flask import Response
from lipsync_emulator.core.auth import bearer_token, key_allowed
from lipsync_emulator.core.errors import BadRequest, EmulatorError, NotFound, Unauthorized
from lipsync_emulator.core.http import Call, Operations, json_response
from lipsync_emulator.core.openapi import SchemaViolation
from lipsync_emulator.core.runtime import Runtime, runtime
from werkzeug.wrappers import Request

from tiny import models, rules
from tiny.errors import NAME

ops = Operations(NAME, __name__)


def authenticate(rt: Runtime, req: Request) -> str:
    key = bearer_token(req)
    if not key or not key_allowed(key, rt.cfg(NAME)["api_keys"]):
        raise Unauthorized("a valid bearer key is required")
    return key


def on_violation(v: SchemaViolation, operation_id: str) -> EmulatorError:
    return BadRequest(v.describe(), field=v.field)


@ops.route("/tiny/v1/jobs", "createJob", ("POST",))
def create_job(call: Call) -> Response:
    rt = runtime()
    rules.check(call.body)
    job = rt.engine.create(NAME, models.KIND, rt.ids.uuid(), durations=rt.cfg(NAME)["durations"],
                           outcome=call.outcome, request=call.body, account=call.account,
                           webhook_url=call.body.get("webhook_url"), base_url=call.base_url,
                           scenarios=call.scenario_names)
    call.job_id = job.id
    return json_response(models.job_object(job), 201)


@ops.route("/tiny/v1/jobs/<job_id>", "getJob")
def get_job(call: Call, job_id: str) -> Response:
    job = runtime().engine.get(NAME, models.KIND, job_id)
    if job is None or job.account != call.account:
        raise NotFound(f"no job {job_id}", field="job_id")
    call.job_id = job.id
    return json_response(models.job_object(job))
