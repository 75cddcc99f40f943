"""lipsync.studio as the contracts see it (shared/reference/lipsyncstudio.md).

A request is ``{"endpoint": "lipsync-video" | "lipsync-image" | "lipsync-image-multi",
"formState": {...}}``, sent as ``POST /api/v1/{endpoint}`` with ``{"formState", "webhook"?}``
(§3). The answer is ``{"id", "status": "processing"}`` (§4); ``GET /api/v1/jobs/{id}`` gives the
flat job object with all seven keys (§4). Lifecycle processing -> completed | failed (§5);
``output`` / ``executionTime`` only when completed, ``error`` non-empty only when failed (§4).
The webhook is the job object, on completed and failed, unsigned (§6). Errors ``{"error"}``
(inferred, §7).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lipsync_emulator.contracts.profiles import Lifecycle, Profile, ProviderError, WebhookSpec
from lipsync_emulator.contracts.targets import Response, Target

LIFECYCLE = Lifecycle(states=("processing", "completed"), terminal=frozenset({"completed", "failed"}))
OPERATIONS = {"lipsync-video": "createLipsyncVideo", "lipsync-image": "createLipsyncImage",
              "lipsync-image-multi": "createLipsyncImageMulti"}
KEYS = ("id", "model", "status", "output", "error", "executionTime", "timings")


def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def submit(target: Target, request: Mapping[str, Any], headers: dict[str, str], webhook_url: str | None) -> Response:
    body: dict[str, Any] = {"formState": request["formState"]} if "formState" in request else {}
    if webhook_url is not None:
        body["webhook"] = webhook_url
    for key, value in request.items():  # anything else the request carries goes as is
        if key not in ("endpoint", "formState"):
            body.setdefault(key, value)
    return target.request("POST", f"/api/v1/{request['endpoint']}", json=body, headers=headers)


def poll(target: Target, job_id: str, headers: dict[str, str]) -> Response:
    return target.request("GET", f"/api/v1/jobs/{job_id}", headers=headers)


def fields(body: Mapping[str, Any]) -> list[str]:
    status = body.get("status")
    if "output" not in body:  # the submit answer: {id, status}
        return [] if {"id", "status"} <= set(body) else ["the answer lacks id or status"]
    problems = [f"the job object lacks {key}" for key in KEYS if key not in body]
    if status == "completed":
        if not body.get("output"):
            problems.append("completed without an output")
        if not isinstance(body.get("executionTime"), int):
            problems.append("completed without an integer executionTime")
    else:
        for key in ("output", "executionTime"):
            if body.get(key) is not None:
                problems.append(f"{key} set while {status}")
    if status == "failed" and not body.get("error"):
        problems.append("failed without an error")
    if status != "failed" and body.get("error"):
        problems.append(f"error {body['error']!r} while {status}")
    return problems


def parse_webhook(body: bytes) -> tuple[str, str]:
    payload = json.loads(body)  # the job object, as GET shows it (§6)
    return str(payload["id"]), str(payload["status"])


def error(response: Response) -> ProviderError:
    body = response.json_or_none()
    message = body.get("error") if isinstance(body, dict) else response.text
    return ProviderError(response.status, None, str(message or ""))


PROFILE = Profile(
    name="lipsyncstudio",
    title="lipsync.studio",
    schema="lipsyncstudio",
    lifecycle=LIFECYCLE,
    # the docs ask for an HTTPS callback [seed]
    webhook=WebhookSpec(states=frozenset({"completed", "failed"}), parse=parse_webhook, https_only=True),
    auth=auth,
    submit=submit,
    poll=poll,
    job_id=lambda body: str(body["id"]),
    status=lambda body: str(body["status"]),
    fields=fields,
    error=error,
    job_error=lambda body: (None, str(body.get("error") or "")),
    submit_operation="createLipsyncVideo",
    submit_operations=tuple(OPERATIONS.values()),
    submit_op_for=lambda request: OPERATIONS.get(request.get("endpoint"), "createLipsyncVideo"),
    poll_operation="getJob",
    submit_status=200,
    outcomes={"failed": "failed", "stuck": None, "slow": "completed"},
    scenarios={"failed": "failed", "stuck": "stuck", "rate_limited": "rate_limited",
               "server_error": "internal_error", "unavailable": "service_unavailable"},
)
