"""Kling as the contracts see it (shared/reference/kling.md), official paths.

Creating a task takes two calls: ``POST /v1/videos/identify-face`` (synchronous; a session and
its faces, §4.1) then ``POST /v1/videos/advanced-lip-sync`` with ``session_id`` and
``face_choose`` (§4.2). A contract request is therefore either a full create body (with
``session_id``), or the *client form* ``{"video_url": ..., "face_choose": [{...}]}`` for which
the profile identifies the faces first and fills in ``session_id`` and, where absent, the first
face's ``face_id`` — what a client does. Explicit values (even ``None``) are kept.

Envelope ``{code, message, request_id, data}``, ``code`` 0 on success; errors per the code
table (§5; parameter errors 1201 / HTTP 400). Lifecycle submitted -> processing -> succeed |
failed (§6). Callbacks on every status change (§7), the flat task object, signed the Standard
Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64>``) only
when a webhook secret exists.
"""

from __future__ import annotations

import base64
import binascii
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
from lipsync_emulator.contracts.targets import Response, Target, is_masked, recognise

LIFECYCLE = Lifecycle(states=("submitted", "processing", "succeed"), terminal=frozenset({"succeed", "failed"}))
IDENTIFY = "/v1/videos/identify-face"
CREATE = "/v1/videos/advanced-lip-sync"
DEFAULT_SECRET_KEY = "kling_emulator_secret_key_change_me"  # the emulator's development default


def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def identify(target: Target, body: Mapping[str, Any], headers: dict[str, str]) -> Response:
    return target.request("POST", IDENTIFY, json=dict(body), headers=headers)


def create_body(request: Mapping[str, Any], identified: Mapping[str, Any] | None) -> dict[str, Any]:
    """The create body for a client-form request, given the identify-face ``data``."""
    body = {k: v for k, v in request.items() if k != "video_url"}
    if identified is not None:
        body.setdefault("session_id", identified["session_id"])
        faces = identified.get("face_data") or []
        first = faces[0]["face_id"] if faces else "0"
        choose = body.get("face_choose")
        if isinstance(choose, list):
            body["face_choose"] = [{"face_id": first, **c} if isinstance(c, dict) else c for c in choose]
    return body


def submit(target: Target, request: Mapping[str, Any], headers: dict[str, str], webhook_url: str | None) -> Response:
    identified = None
    if "video_url" in request:
        found = identify(target, {"video_url": request["video_url"]}, headers)
        if found.status != 200:
            return found
        identified = found.json()["data"]
    body = create_body(request, identified)
    if webhook_url is not None:
        body["callback_url"] = webhook_url
    return target.request("POST", CREATE, json=body, headers=headers)


def send(target: Target, operation: str, request: Any, headers: dict[str, str]) -> Response:
    """Invalid examples: a bare identify-face body goes to identify-face; a client-form
    request runs the whole flow (and fails at whichever call refuses it)."""
    if operation == "identifyFace" and isinstance(request, dict) and "face_choose" not in request:
        return identify(target, request, headers)
    return submit(target, request, headers, None)


def poll(target: Target, job_id: str, headers: dict[str, str]) -> Response:
    return target.request("GET", f"{CREATE}/{job_id}", headers=headers)


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def fields(body: Any) -> list[str]:
    data = _data(body)
    if "task_result" not in data:  # the create answer
        return [] if data.get("task_status") == "submitted" else [f"created as {data.get('task_status')}"]
    status = data.get("task_status")
    videos = (data.get("task_result") or {}).get("videos") or []
    problems = []
    if status == "succeed" and not (videos and videos[0].get("url")):
        problems.append("succeed without task_result.videos[0].url")
    if status != "succeed" and videos:
        problems.append(f"task_result.videos while {status}")
    if status == "failed" and not data.get("task_status_msg"):
        problems.append("failed without task_status_msg")
    if status != "failed" and data.get("task_status_msg"):
        problems.append(f"task_status_msg {data['task_status_msg']!r} while {status}")
    return problems


def _key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# Standard Webhooks [doc: S5]
verify, sign, timestamp = standard_webhooks(signature, "v1,base64(HMAC-SHA256(key, id.timestamp.body))")


def credentials(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """The access key and secret key a client signs its JWTs with, when the emulator judges
    their ``exp`` on its own clock (``jwt_clock: emulator``), the clock the suite gives the
    client; on the wall clock a token minted on ``env.now`` would not be valid yet."""
    section = config.get("kling") or {}
    if section.get("jwt_clock") != "emulator" or not section.get("access_key") or not section.get("secret_key"):
        return None
    # shown masked: the emulator's default secret key is recognised, any other one is unknown
    secret = recognise(section["secret_key"], DEFAULT_SECRET_KEY)
    return None if is_masked(secret) else (str(section["access_key"]), str(secret))


def token(access_key: str, secret_key: str, nbf: int, exp: int) -> str:
    """A JWT as Kling's sample code makes it: HS256 over ``{"iss", "exp", "nbf"}`` [doc: S1]."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": access_key, "exp": exp, "nbf": nbf}).encode())
    mac = hmac.new(secret_key.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    return f"{head}.{claims}.{b64(mac)}"


def parse_webhook(body: bytes) -> tuple[str, str]:
    payload = json.loads(body)  # flat, no envelope (§7)
    return str(payload["task_id"]), str(payload["task_status"])


PROFILE = Profile(
    name="kling",
    title="Kling",
    schema="kling",
    lifecycle=LIFECYCLE,
    webhook=WebhookSpec(states=frozenset({"succeed", "failed"}), parse=parse_webhook, verify=verify,
                        signature_headers=("webhook-signature",), secret_setting="webhook_secret",
                        intermediate=True, sign=sign, timestamp=timestamp),
    auth=auth,
    submit=submit,
    poll=poll,
    job_id=lambda body: str(_data(body)["task_id"]),
    status=lambda body: str(_data(body)["task_status"]),
    fields=fields,
    error=envelope_error,
    job_error=lambda body: (None, str(_data(body).get("task_status_msg") or "")),
    send=send,
    credentials=credentials,
    account_setting="credentials",
    token=token,
    wire=lambda request: (CREATE, create_body(request, None)),
    submit_operation="createAdvancedLipSync",
    poll_operation="getAdvancedLipSync",
    submit_status=200,
    api_key="kling_emulator_api_key",
    outcomes={"failed": "failed", "failed_risk_control": "failed", "failed_internal": "failed", "stuck": None,
              "slow": "succeed"},
    reads={
        "listAdvancedLipSync": lambda t, h: t.request("GET", CREATE, headers=h),
        "listAdvancedLipSync?page": lambda t, h: t.request("GET", CREATE, headers=h,
                                                           params={"pageNum": 1, "pageSize": 5}),
    },
    scenarios={"failed": "failed", "rejected": "failed_risk_control", "stuck": "stuck", "rate_limited": "rate_limited",
               "server_error": "internal_error", "unavailable": "service_unavailable"},
)
