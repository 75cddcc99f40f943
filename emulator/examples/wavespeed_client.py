"""A small, correct WaveSpeed client — the kind of code the client contract suite is for.

It posts the flat input to ``/api/v3/{model}`` with the webhook as ``?webhook=``, raises the
provider's ``message`` on errors (never retrying a 4xx), retries 429 and transient 5xx with a
pause, polls ``/api/v3/predictions/{id}/result`` until ``completed`` or a failure status
within a timeout (a failed task is still HTTP 200: ``data.status`` decides), and its webhook
handler checks ``webhook-signature`` (v3, HMAC-SHA256 with the secret minus ``whsec_``) and
acts on each prediction's outcome once.

``make_adapter(env)`` plugs it into the contract suite (see contracts.suites.client).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

FAILED = ("failed", "cancelled", "timeout", "deleted")


class WaveSpeedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"WaveSpeed {status}: {message}")
        self.status, self.message = status, message


class PredictionFailed(Exception):
    pass


class PredictionTimeout(Exception):
    pass


class WaveSpeedClient:
    def __init__(self, base_url: str, api_key: str, *, webhook_url: str | None = None, timeout: float = 600.0,
                 poll_interval: float = 5.0, max_retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url, self.api_key, self.webhook_url = base_url.rstrip("/"), api_key, webhook_url
        self.timeout, self.poll_interval, self.max_retries = timeout, poll_interval, max_retries
        self.sleep, self.clock = sleep, clock
        self.http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        retryable = (429, 503) if method == "POST" else (429, 500, 502, 503, 504)
        for attempt in range(self.max_retries + 1):
            resp = self.http.request(method, self.base_url + path, json=body, params=params, timeout=30,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
            if resp.status_code == 200:
                return resp.json()["data"]
            if resp.status_code in retryable and attempt < self.max_retries:
                after = resp.headers.get("Retry-After", "")
                self.sleep(float(after) if after.isdigit() else min(60.0, 2.0 * 2**attempt))
                continue
            try:
                message = resp.json().get("message") or resp.text
            except ValueError:
                message = resp.text
            raise WaveSpeedError(resp.status_code, str(message))
        raise AssertionError("unreachable")

    def run(self, model: str, inputs: Mapping[str, Any]) -> str:
        params = {"webhook": self.webhook_url} if self.webhook_url else None
        return str(self._call("POST", f"/api/v3/{model}", dict(inputs), params)["id"])

    def wait(self, prediction_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            prediction: dict[str, Any] = self._call("GET", f"/api/v3/predictions/{prediction_id}/result")
            status = prediction["status"]
            if status == "completed":
                return prediction
            if status in FAILED:
                raise PredictionFailed(f"prediction {prediction_id} {status}: code {prediction.get('code')}: "
                                       f"{prediction.get('error')}")
            left = deadline - self.clock()
            if left <= 0:
                raise PredictionTimeout(f"prediction {prediction_id} still {status} after {self.timeout:g} s")
            self.sleep(min(self.poll_interval, left))

    def webhook_secret(self) -> str:
        return str(self._call("GET", "/api/v3/webhook/secret")["secret"])


class WebhookHandler:
    """``POST /hooks/wavespeed``: returns the HTTP status; ``outcomes[id]`` is what it acted on."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time, tolerance: float = 300.0) -> None:
        self.key = secret.removeprefix("whsec_").encode()  # used as-is, not base64-decoded [doc: D4]
        self.clock, self.tolerance = clock, tolerance
        self.outcomes: dict[str, list[str]] = {}

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        h = {k.lower(): v for k, v in headers.items()}
        webhook_id, timestamp = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
        if not (webhook_id and timestamp.isdigit()) or abs(self.clock() - int(timestamp)) > self.tolerance:
            return False
        expected = "v3," + hmac.new(self.key, f"{webhook_id}.{timestamp}.".encode() + body,
                                    hashlib.sha256).hexdigest()
        return any(hmac.compare_digest(expected, s) for s in h.get("webhook-signature", "").split())

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        if not self.verify(headers, body):
            return 401
        prediction = json.loads(body)
        seen = self.outcomes.setdefault(prediction["id"], [])
        if not seen:  # duplicates and late copies are acknowledged, not processed again
            seen.append(prediction["status"])
        return 200


class Adapter:
    def __init__(self, env: Any) -> None:
        self.client = WaveSpeedClient(env.base_url, env.api_key, webhook_url=env.webhook_url, timeout=env.timeout,
                                      sleep=env.sleep, clock=env.now)
        # a signature states the real time it was sent: checked against this machine's clock, not env.now
        self.webhooks = WebhookHandler(env.webhook_secret or self.client.webhook_secret())

    def submit(self, request: Any) -> str:
        return self.client.run(request["model"], request["input"])

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        return self.webhooks(headers, body)

    def recorded(self, job_id: str) -> list[str]:
        return self.webhooks.outcomes.get(job_id, [])


make_adapter = Adapter
