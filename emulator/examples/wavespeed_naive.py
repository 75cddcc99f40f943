"""A naive WaveSpeed client with integration bugs the client contract suite catches. Each bug
is a switch (``make_adapter_with({...})``); ``make_adapter`` turns them all on. With none on it
behaves like ``lipsync_emulator.examples.wavespeed_client``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

BUGS: dict[str, str] = {
    "wraps_input": "the inputs are sent wrapped as {\"input\": {...}} (another provider's shape)",
    "trusts_http_200": "a result read answered HTTP 200 is success: data.status 'failed' is not looked at",
    "polls_forever": "wait() has no timeout (like the official SDK's default)",
    "first_read_is_final": "wait() returns the first result read, whatever its status",
    "gives_up_on_5xx": "any 5xx is raised at once",
    "base64_secret": "the webhook secret is base64-decoded before signing (the Standard Webhooks habit)",
    "duplicates_as_new": "every webhook delivery is processed, duplicates included",
}
ALL = frozenset(BUGS)


class NaiveWaveSpeedClient:
    def __init__(self, env: Any, bugs: Iterable[str]) -> None:
        self.env, self.bugs = env, frozenset(bugs)
        self.base = env.base_url.rstrip("/")
        self.http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        for attempt in range(5):
            resp = self.http.request(method, self.base + path, json=body, params=params, timeout=30,
                                     headers={"Authorization": f"Bearer {self.env.api_key}"})
            if resp.status_code == 200:
                return resp.json()["data"]
            if resp.status_code == 429 and attempt < 4:
                self.env.sleep(float(resp.headers.get("Retry-After") or 5))
                continue
            if resp.status_code >= 500 and "gives_up_on_5xx" not in self.bugs and attempt < 4 and (
                    method == "GET" or resp.status_code == 503):
                self.env.sleep(2.0 * 2**attempt)
                continue
            raise RuntimeError(f"WaveSpeed {resp.status_code}: {resp.json().get('message')}")
        raise RuntimeError("too many attempts")

    def run(self, model: str, inputs: Mapping[str, Any]) -> str:
        body = {"input": dict(inputs)} if "wraps_input" in self.bugs else dict(inputs)
        return str(self._call("POST", f"/api/v3/{model}", body, {"webhook": self.env.webhook_url})["id"])

    def wait(self, prediction_id: str) -> dict[str, Any]:
        deadline = self.env.now() + self.env.timeout
        while True:
            prediction: dict[str, Any] = self._call("GET", f"/api/v3/predictions/{prediction_id}/result")
            status = prediction["status"]
            if status == "completed" or ("trusts_http_200" in self.bugs and status not in ("created", "processing")):
                return prediction
            if "first_read_is_final" in self.bugs:
                return prediction
            if status in ("failed", "cancelled", "timeout", "deleted"):
                raise RuntimeError(f"prediction {status}: code {prediction.get('code')}: {prediction.get('error')}")
            if "polls_forever" not in self.bugs and self.env.now() >= deadline:
                raise TimeoutError(f"prediction {prediction_id} still {status}")
            self.env.sleep(5.0)


class Adapter:
    def __init__(self, env: Any, bugs: Iterable[str] = ALL) -> None:
        self.client = NaiveWaveSpeedClient(env, bugs)
        self.bugs = self.client.bugs
        self.env = env
        self.outcomes: dict[str, list[str]] = {}

    def submit(self, request: Any) -> str:
        return self.client.run(request["model"], request["input"])

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def _key(self) -> bytes:
        secret = (self.env.webhook_secret or "").removeprefix("whsec_")
        if "base64_secret" in self.bugs:
            try:
                return base64.b64decode(secret)
            except (binascii.Error, ValueError):
                return b""
        return secret.encode()

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        h = {k.lower(): v for k, v in headers.items()}
        signed = f"{h.get('webhook-id')}.{h.get('webhook-timestamp')}.".encode() + body
        expected = "v3," + hmac.new(self._key(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, h.get("webhook-signature", "")):
            return 401
        prediction = json.loads(body)
        seen = self.outcomes.setdefault(prediction["id"], [])
        if not seen or "duplicates_as_new" in self.bugs:
            seen.append(prediction["status"])
        return 200

    def recorded(self, job_id: str) -> list[str]:
        return self.outcomes.get(job_id, [])


def make_adapter_with(bugs: Iterable[str]) -> Callable[[Any], Adapter]:
    chosen = frozenset(bugs)
    if chosen - ALL:
        raise KeyError(f"unknown bugs {sorted(chosen - ALL)}")
    return lambda env: Adapter(env, chosen)


make_adapter = make_adapter_with(ALL)
