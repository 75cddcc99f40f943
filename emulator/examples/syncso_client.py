"""A small, correct sync.so client — the kind of code the client contract suite is for.

It sends the request body as given with an ``Idempotency-Key`` (so a create whose answer was
lost can be sent again without creating a second generation), raises the provider's error
with its message (never retrying a 4xx), retries 429 after ``Retry-After`` and transient 5xx
with a pause, polls with
a pause until COMPLETED, FAILED or REJECTED within a timeout, and its webhook handler checks
``Sync-Signature`` and processes each generation's outcome once, matched by id.

    client = SyncClient("http://127.0.0.1:8080", "sk_test", webhook_url="https://app/hooks/sync")
    generation_id = client.create({"model": "lipsync-2", "input": [...]})
    generation = client.wait(generation_id)

``make_adapter(env)`` plugs it into the contract suite (see contracts.suites.client).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

TERMINAL_FAILURES = ("FAILED", "REJECTED")
RETRYABLE_POST = (429, 503)  # nothing was created: safe to send again
RETRYABLE_GET = (429, 500, 502, 503, 504)


class ProviderError(Exception):
    """sync.so refused a request. ``str()`` carries the provider's own message."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"sync.so {status} {code or ''}: {message}".replace("  ", " "))
        self.status, self.code, self.message = status, code, message


class GenerationFailed(Exception):
    pass


class GenerationTimeout(Exception):
    pass


class SyncClient:
    def __init__(self, base_url: str, api_key: str, *, webhook_url: str | None = None, timeout: float = 600.0,
                 poll_interval: float = 10.0, max_retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_retries = max_retries
        self.sleep = sleep
        self.clock = clock
        self.http = session or requests.Session()

    def _call(self, method: str, path: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        retryable = RETRYABLE_POST if method == "POST" else RETRYABLE_GET
        headers = {"x-api-key": self.api_key}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for attempt in range(self.max_retries + 1):
            try:
                resp = self.http.request(method, self.base_url + path, json=body, timeout=30, headers=headers)
            except requests.ConnectionError:
                # the answer was lost: a read, or a create carrying its idempotency key, is safe to repeat
                if attempt < self.max_retries and (method == "GET" or idempotency_key):
                    self.sleep(min(60.0, 2.0 * 2**attempt))
                    continue
                raise
            if resp.status_code < 400:
                return resp.json()
            if resp.status_code in retryable and attempt < self.max_retries:
                self.sleep(_retry_after(resp) or min(60.0, 2.0 * 2**attempt))
                continue
            try:
                data = resp.json()
            except ValueError:
                data = {"message": resp.text}
            message = data.get("message")
            if isinstance(message, list):
                message = "; ".join(map(str, message))
            raise ProviderError(resp.status_code, data.get("errorCode") or data.get("error_code"), str(message))
        raise AssertionError("unreachable")

    def create(self, body: Mapping[str, Any]) -> str:
        payload = dict(body)
        if self.webhook_url:
            payload["webhookUrl"] = self.webhook_url
        return str(self._call("POST", "/v2/generate", payload, idempotency_key=str(uuid.uuid4()))["id"])

    def get(self, generation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v2/generate/{generation_id}")
        return result

    def wait(self, generation_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            generation = self.get(generation_id)
            status = generation["status"]
            if status == "COMPLETED":
                return generation
            if status in TERMINAL_FAILURES:
                code = generation.get("error_code") or generation.get("errorCode")
                raise GenerationFailed(f"generation {generation_id} {status}: {code}: {generation.get('error')}")
            left = deadline - self.clock()
            if left <= 0:
                raise GenerationTimeout(f"generation {generation_id} still {status} after {self.timeout:g} s")
            self.sleep(min(self.poll_interval, left))


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None


class WebhookHandler:
    """The application's ``POST /hooks/sync`` endpoint: returns the HTTP status to answer.
    ``outcomes[generation_id]`` lists what it acted on."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time, tolerance: float = 300.0) -> None:
        self.secret = secret.encode()
        self.clock = clock
        self.tolerance = tolerance
        self.outcomes: dict[str, list[str]] = {}

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        header = next((v for k, v in headers.items() if k.lower() == "sync-signature"), "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if not parts.get("t", "").isdigit() or "v1" not in parts:
            return False
        expected = hmac.new(self.secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = abs(self.clock() - int(parts["t"])) <= self.tolerance
        return fresh and hmac.compare_digest(expected, parts["v1"])

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        if not self.verify(headers, body):
            return 401
        event = json.loads(body)
        seen = self.outcomes.setdefault(event["id"], [])
        if seen:  # a duplicate, or a late copy of an outcome already handled: acknowledge only
            return 200
        seen.append(event["status"])
        return 200


class Adapter:
    """Plugs SyncClient and WebhookHandler into the client contract suite."""

    def __init__(self, env: Any) -> None:
        self.client = SyncClient(env.base_url, env.api_key, webhook_url=env.webhook_url, timeout=env.timeout,
                                 sleep=env.sleep, clock=env.now)
        # a signature states the real time it was sent: checked against this machine's clock, not env.now
        self.webhooks = WebhookHandler(env.webhook_secret or "")

    def submit(self, request: Any) -> str:
        return self.client.create(request)

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        return self.webhooks(headers, body)

    def recorded(self, job_id: str) -> list[str]:
        return self.webhooks.outcomes.get(job_id, [])


make_adapter = Adapter
