"""sync.so as the contracts see it (shared/reference/syncso.md).

Lifecycle PENDING -> PROCESSING -> COMPLETED, or FAILED / REJECTED, all three terminal (§5).
``outputUrl`` / ``outputDuration`` only on COMPLETED; ``error`` + error code on FAILED or
REJECTED (§5, §13.49–51). One webhook per generation on COMPLETED or FAILED (§6, §13.54),
signed ``Sync-Signature: t=<unix>,v1=hex(HMAC_SHA256(secret, f"{t}.{body}"))`` (§6, §13.57).
Errors ``{message, statusCode, errorCode?, error?}`` (§2).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from lipsync_emulator.contracts.profiles import TOLERANCE, Lifecycle, Profile, ProviderError, WebhookSpec
from lipsync_emulator.contracts.profiles import header as find_header
from lipsync_emulator.contracts.targets import Response, Target

# CANCELED: the legacy cancel endpoint's status (reference §12.13)
LIFECYCLE = Lifecycle(states=("PENDING", "PROCESSING", "COMPLETED"),
                      terminal=frozenset({"COMPLETED", "FAILED", "REJECTED", "CANCELED"}))


def auth(api_key: str) -> dict[str, str]:
    return {"x-api-key": api_key}  # [doc: auth26] not a Bearer token


def submit(target: Target, request: Mapping[str, Any], headers: dict[str, str], webhook_url: str | None) -> Response:
    body = dict(request)
    if webhook_url is not None:
        body["webhookUrl"] = webhook_url
    return target.request("POST", "/v2/generate", json=body, headers=headers)


def poll(target: Target, job_id: str, headers: dict[str, str]) -> Response:
    return target.request("GET", f"/v2/generate/{job_id}", headers=headers)


def fields(body: Mapping[str, Any]) -> list[str]:
    """Problems with the state-dependent fields of a Generation."""
    status = body.get("status")
    problems = []
    done = status == "COMPLETED"
    if done and not (isinstance(body.get("outputUrl"), str) and body["outputUrl"]):
        problems.append("COMPLETED without an outputUrl")
    if done and not isinstance(body.get("outputDuration"), int | float):
        problems.append("COMPLETED without a numeric outputDuration")
    if not done:
        for key in ("outputUrl", "outputDuration"):
            if body.get(key) is not None:
                problems.append(f"{key} present while {status}")
    failed = status in ("FAILED", "REJECTED")
    code = body.get("error_code") or body.get("errorCode")
    if failed and not (body.get("error") and code):
        problems.append(f"{status} without error and error code")
    if status in ("PENDING", "PROCESSING", "COMPLETED") and (body.get("error") is not None or code is not None):
        problems.append(f"error fields present while {status}")
    return problems


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None) -> str | None:
    """None when ``Sync-Signature`` is valid for ``body`` (and, given ``now``, no more than
    ``TOLERANCE`` seconds old), else the reason."""
    header = find_header(headers, "sync-signature")
    if not header:
        return "no Sync-Signature header"
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return f"malformed Sync-Signature {header!r}"
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        return "Sync-Signature v1 does not match HMAC-SHA256(secret, t.body)"
    if now is not None and abs(now - timestamp) > TOLERANCE:
        return f"Sync-Signature timestamp {timestamp} is {now - timestamp:.0f} s away from now"
    return None


def sign(secret: str, headers: Mapping[str, str], body: bytes, timestamp: int) -> dict[str, str]:
    kept = {k: v for k, v in headers.items() if k.lower() != "sync-signature"}
    return {**kept, "Sync-Signature": signature(secret, body, timestamp)}


def timestamp(headers: Mapping[str, str]) -> int | None:
    header = find_header(headers, "sync-signature") or ""
    value = dict(p.split("=", 1) for p in header.split(",") if "=" in p).get("t", "")
    return int(value) if value.isdigit() else None


def parse_webhook(body: bytes) -> tuple[str, str]:
    payload = json.loads(body)
    return str(payload["id"]), str(payload["status"])


def error(response: Response) -> ProviderError:
    body = response.json_or_none()
    if not isinstance(body, dict):
        return ProviderError(response.status, None, response.text)
    message = body.get("message")
    if isinstance(message, list):
        message = "; ".join(map(str, message))
    return ProviderError(response.status, body.get("errorCode") or body.get("error_code"), str(message or ""))


PROFILE = Profile(
    name="syncso",
    title="sync.so",
    schema="syncso",
    lifecycle=LIFECYCLE,
    webhook=WebhookSpec(states=frozenset({"COMPLETED", "FAILED"}), parse=parse_webhook, verify=verify,
                        signature_headers=("Sync-Signature",), secret_setting="webhook_secret",
                        sign=sign, timestamp=timestamp),
    auth=auth,
    submit=submit,
    poll=poll,
    job_id=lambda body: str(body["id"]),
    status=lambda body: str(body["status"]),
    fields=fields,
    error=error,
    job_error=lambda body: (body.get("error_code") or body.get("errorCode"), str(body.get("error") or "")),
    submit_operation="createGeneration",
    poll_operation="getGeneration",
    submit_status=201,
    outcomes={"failed": "FAILED", "rejected": "REJECTED", "stuck": None, "slow": "COMPLETED",
              "failed_timeout": "FAILED", "failed_pipeline_failed": "FAILED"},
    reads={
        "listGenerations": lambda t, h: t.request("GET", "/v2/generations", headers=h),
        "listGenerations?status": lambda t, h: t.request("GET", "/v2/generations", headers=h,
                                                         params=[("status", "PENDING"), ("status", "COMPLETED")]),
        "listGenerations?limit": lambda t, h: t.request("GET", "/v2/generations", headers=h, params={"limit": 2}),
        "listModels": lambda t, h: t.request("GET", "/v2/models", headers=h),
        "listErrors": lambda t, h: t.request("GET", "/v2/errors"),
    },
    scenarios={"failed": "failed", "rejected": "rejected", "stuck": "stuck", "rate_limited": "rate_limited",
               "server_error": "internal_error", "unavailable": "service_unavailable"},
)
