"""A small, correct Kling lip-sync client — the kind of code the client contract suite is for.

Lip-syncing takes two calls: identify-face (synchronous: a session and its faces), then
advanced-lip-sync with the session and the chosen face. This client picks the first face,
sends the rest of ``face_choose`` unchanged (times in milliseconds, volumes as floats), raises
Kling's ``message`` and ``code`` on errors (never retrying a 1201), retries rate limits and
transient 5xx with a pause, polls until ``succeed`` or ``failed`` within a timeout, and its
callback handler verifies the Standard Webhooks signature when a secret is configured, ignores
intermediate statuses and acts on each task's outcome once, by task id.

It authenticates with a static API key, or with an access key and secret key: then it signs
its own 30-minute JWTs (HS256, as Kling's sample code does) on its clock and signs a new one
a minute before the old one expires, so a long job never meets an expired token; should the
server still find one expired (its clock ahead of the client's), it signs a new one and retries.

``make_adapter(env)`` plugs it into the contract suite (see contracts.suites.client).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

TERMINAL = ("succeed", "failed")


class KlingError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"Kling {status} code {code}: {message}")
        self.status, self.code, self.message = status, code, message


class TaskFailed(Exception):
    pass


class TaskTimeout(Exception):
    pass


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(access_key: str, secret_key: str, now: float, life: float = 1800.0) -> str:
    """Kling's token: HS256 over ``{"iss": access_key, "exp": now + life, "nbf": now - 5}``."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"iss": access_key, "exp": int(now + life), "nbf": int(now - 5)}).encode())
    signature = hmac.new(secret_key.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    return f"{head}.{claims}.{_b64url(signature)}"


class KlingClient:
    def __init__(self, base_url: str, api_key: str, *, callback_url: str | None = None, timeout: float = 600.0,
                 poll_interval: float = 10.0, max_retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, access_key: str | None = None,
                 secret_key: str | None = None) -> None:
        self.base_url, self.api_key, self.callback_url = base_url.rstrip("/"), api_key, callback_url
        self.timeout, self.poll_interval, self.max_retries = timeout, poll_interval, max_retries
        self.sleep, self.clock = sleep, clock
        self.access_key, self.secret_key = access_key, secret_key
        self.token, self.token_expires = "", 0.0
        self.http = requests.Session()
        self.tasks: set[str] = set()

    def bearer(self) -> str:
        if not (self.access_key and self.secret_key):
            return self.api_key
        now = self.clock()
        if now > self.token_expires - 60:  # renew a minute early
            self.token, self.token_expires = jwt(self.access_key, self.secret_key, now), now + 1800
        return self.token

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        retryable = (429, 503) if method == "POST" else (429, 500, 502, 503, 504)
        for attempt in range(self.max_retries + 1):
            resp = self.http.request(method, self.base_url + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.bearer()}"})
            try:
                data = resp.json()
            except ValueError:
                data = {"code": None, "message": resp.text}
            if resp.status_code == 200 and data.get("code") == 0:
                return data["data"]
            if (resp.status_code == 401 and data.get("code") == 1004 and self.secret_key
                    and attempt < self.max_retries):
                # expired on the server's clock, which may run ahead of ours: sign a new one now
                self.token_expires = 0.0
                continue
            if resp.status_code in retryable and attempt < self.max_retries:
                after = resp.headers.get("Retry-After", "")
                self.sleep(float(after) if after.isdigit() else min(60.0, 2.0 * 2**attempt))
                continue
            raise KlingError(resp.status_code, data.get("code"), str(data.get("message")))
        raise AssertionError("unreachable")

    def identify_face(self, video_url: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/v1/videos/identify-face", {"video_url": video_url})
        return result

    def lip_sync(self, video_url: str, face_choose: list[dict[str, Any]], **extra: Any) -> str:
        session = self.identify_face(video_url)
        faces = session["face_data"]
        if not faces:
            raise KlingError(200, None, "no face found in the video")
        choose = [{"face_id": faces[0]["face_id"], **choice} for choice in face_choose]
        body: dict[str, Any] = {"session_id": session["session_id"], "face_choose": choose, **extra}
        if self.callback_url:
            body["callback_url"] = self.callback_url
        task_id = str(self._call("POST", "/v1/videos/advanced-lip-sync", body)["task_id"])
        self.tasks.add(task_id)
        return task_id

    def get(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self._call("GET", f"/v1/videos/advanced-lip-sync/{task_id}")
        return task

    def wait(self, task_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            task = self.get(task_id)
            if task["task_status"] == "succeed":
                return task
            if task["task_status"] == "failed":
                raise TaskFailed(f"task {task_id} failed: {task.get('task_status_msg')}")
            left = deadline - self.clock()
            if left <= 0:
                raise TaskTimeout(f"task {task_id} still {task['task_status']} after {self.timeout:g} s")
            self.sleep(min(self.poll_interval, left))


class CallbackHandler:
    """``POST /hooks/kling``. Standard Webhooks verification when a secret is set; otherwise
    only task ids this client created are believed, and their outcome is read from the API."""

    def __init__(self, client: KlingClient, secret: str | None, clock: Callable[[], float] = time.time,
                 tolerance: float = 300.0) -> None:
        self.client, self.secret, self.clock, self.tolerance = client, secret, clock, tolerance
        self.outcomes: dict[str, list[str]] = {}

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        h = {k.lower(): v for k, v in headers.items()}
        msg_id, stamp = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
        if not (msg_id and stamp.isdigit()) or abs(self.clock() - int(stamp)) > self.tolerance:
            return False
        raw = (self.secret or "").removeprefix("whsec_")
        try:
            key = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            key = raw.encode()
        digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(digest).decode()
        return any(hmac.compare_digest(expected, s) for s in h.get("webhook-signature", "").split())

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        if self.secret and not self.verify(headers, body):
            return 401
        task = json.loads(body)
        if task["task_id"] not in self.client.tasks:
            return 404
        seen = self.outcomes.setdefault(task["task_id"], [])
        if task["task_status"] in TERMINAL and not seen:  # intermediate, duplicate, late: acknowledge only
            status = task["task_status"] if self.secret else self.client.get(task["task_id"])["task_status"]
            if status in TERMINAL:
                seen.append(status)
        return 200


class Adapter:
    def __init__(self, env: Any) -> None:
        self.client = KlingClient(env.base_url, env.api_key, callback_url=env.webhook_url, timeout=env.timeout,
                                  sleep=env.sleep, clock=env.now, access_key=env.access_key,
                                  secret_key=env.secret_key)
        # a signature states the real time it was sent: checked against this machine's clock, not env.now
        self.callbacks = CallbackHandler(self.client, env.webhook_secret)

    def submit(self, request: Any) -> str:
        extra = {k: v for k, v in request.items() if k not in ("video_url", "face_choose")}
        return self.client.lip_sync(request["video_url"], request["face_choose"], **extra)

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        return self.callbacks(headers, body)

    def recorded(self, job_id: str) -> list[str]:
        return self.callbacks.outcomes.get(job_id, [])


make_adapter = Adapter
