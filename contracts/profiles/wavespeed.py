"""WaveSpeed as the contracts see it (shared/reference/wavespeed.md).

A request is ``{"model": "bytedance/latentsync", "input": {"audio": ..., "video": ...}}`` — the
SDK's ``(model, input)`` pair: ``POST /api/v3/{model}`` with the flat input body (§2), the
webhook as ``?webhook=`` (§2.3). Every answer is the envelope ``{code, message, data}`` (§4);
errors ``{code: <status>, message, data: null}`` (inferred). Lifecycle created -> processing ->
completed, or failed / cancelled / timeout / deleted (§5). ``outputs`` only when completed
(§4). Webhooks on the final status, a bare prediction, signed ``webhook-signature: v3,<hex>``
= HMAC-SHA256(secret without ``whsec_``, ``{id}.{timestamp}.{body}``) (§8); the secret comes
from ``GET /api/v3/webhook/secret``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from lipsync_emulator.contracts.profiles import (
    Lifecycle,
    Profile,
    WebhookSpec,
    envelope_error,
    standard_webhooks,
)
from lipsync_emulator.contracts.targets import Response, Target

LIFECYCLE = Lifecycle(states=("created", "processing", "completed"),
                      terminal=frozenset({"completed", "failed", "cancelled", "timeout", "deleted"}))
FAILURES = frozenset({"failed", "cancelled", "timeout", "deleted"})
SUBMIT_OPS = {"bytedance/latentsync": "submitLatentsync", "bytedance/lipsync/audio-to-video": "submitLipsyncAudioToVideo"}


def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def submit(target: Target, request: Mapping[str, Any], headers: dict[str, str], webhook_url: str | None) -> Response:
    params = {"webhook": webhook_url} if webhook_url else None
    return target.request("POST", f"/api/v3/{request['model']}", json=request["input"], headers=headers,
                          params=params)


def poll(target: Target, job_id: str, headers: dict[str, str]) -> Response:
    return target.request("GET", f"/api/v3/predictions/{job_id}/result", headers=headers)


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def fields(body: Any) -> list[str]:
    data = _data(body)
    status = data.get("status")
    problems = []
    outputs = data.get("outputs") or []
    if status == "completed" and not outputs:
        problems.append("completed without outputs")
    if status != "completed" and outputs:
        problems.append(f"outputs while {status}")
    if len(data.get("has_nsfw_contents") or []) != len(outputs):
        problems.append("has_nsfw_contents does not have one entry per output")
    if status in FAILURES and status != "deleted" and not data.get("error"):
        problems.append(f"{status} without an error")
    if status not in FAILURES and data.get("error"):
        problems.append(f"error {data['error']!r} while {status}")
    if body.get("code") != 200:
        problems.append(f"envelope code {body.get('code')} on a successful read")
    return problems


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = secret.removeprefix("whsec_").encode()
    return "v3," + hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


verify, sign, timestamp = standard_webhooks(signature, "v3,HMAC-SHA256(secret, id.timestamp.body)")


def parse_webhook(body: bytes) -> tuple[str, str]:
    payload = json.loads(body)  # the bare prediction, no envelope (§8)
    return str(payload["id"]), str(payload["status"])


def fetch_secret(target: Target, headers: dict[str, str]) -> str | None:
    resp = target.request("GET", "/api/v3/webhook/secret", headers=headers)
    data = _data(resp.json_or_none()) if resp.status == 200 else {}
    return str(data["secret"]) if data.get("secret") else None


PROFILE = Profile(
    name="wavespeed",
    title="WaveSpeed",
    schema="wavespeed",
    lifecycle=LIFECYCLE,
    webhook=WebhookSpec(states=frozenset({"completed", "failed", "cancelled", "timeout"}), parse=parse_webhook,
                        verify=verify, signature_headers=("webhook-signature",), fetch_secret=fetch_secret,
                        sign=sign, timestamp=timestamp),
    auth=auth,
    submit=submit,
    poll=poll,
    job_id=lambda body: str(_data(body)["id"]),
    status=lambda body: str(_data(body)["status"]),
    fields=fields,
    error=envelope_error,
    job_error=lambda body: (_data(body).get("code"), str(_data(body).get("error") or "")),
    submit_operation="submitLatentsync",
    submit_operations=tuple(SUBMIT_OPS.values()),
    submit_op_for=lambda request: SUBMIT_OPS.get(request.get("model"), "submitLatentsync"),
    poll_operation="getPredictionResult",
    submit_status=200,
    outcomes={"failed": "failed", "failed_content_moderation": "failed", "failed_media_access": "failed",
              "cancelled": "cancelled", "timeout": "timeout", "stuck": None, "slow": "completed"},
    reads={
        "getBalance": lambda t, h: t.request("GET", "/api/v3/balance", headers=h),
        "getWebhookSecret": lambda t, h: t.request("GET", "/api/v3/webhook/secret", headers=h),
        "listModels": lambda t, h: t.request("GET", "/api/v3/models", headers=h),
        "listPredictions": lambda t, h: t.request("POST", "/api/v3/predictions", headers=h,
                                                  json={"page": 1, "page_size": 10}),
    },
    scenarios={"failed": "failed", "rejected": "failed_content_moderation",
               "timeout_after_commit": "gateway_timeout", "stuck": "stuck",
               "rate_limited": "rate_limited", "server_error": "internal_error", "unavailable": "service_unavailable"},
)
