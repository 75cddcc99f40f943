"""A naive sync.so client with the integration bugs the client contract suite exists to catch.

Each bug is a switch, so the project's tests can prove the suite catches every one of them
alone (``make_adapter_with({"polls_forever"})``); ``make_adapter`` turns them all on — that is
the client whose failure report the README shows. With no bug switched on it behaves like
``lipsync_emulator.examples.syncso_client``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

BUGS: dict[str, str] = {
    "crop_without_pair": "audio crops are sent with startTime only (the endTime is dropped when mapping segments)",
    "swallows_errors": "a refused submit is logged and returns None instead of raising",
    "drops_provider_message": "errors are raised as 'request failed (400)', without the provider's message",
    "retries_4xx": "every failed request is retried, validation errors included",
    "ignores_failed_status": "wait() returns as soon as the status is no longer PENDING or PROCESSING",
    "polls_forever": "wait() has no timeout",
    "no_poll_interval": "wait() polls again immediately, without a pause",
    "no_retry_after": "a 429 is retried at once, ignoring Retry-After",
    "gives_up_on_5xx": "any 5xx is raised at once; nothing is retried",
    "skips_signature_check": "webhooks are trusted without checking Sync-Signature",
    "duplicates_as_new": "every webhook delivery is processed, duplicates included",
    "matches_latest_job": "a webhook is applied to the most recently submitted job, not to the id it names",
    "rejects_known_outcomes": "a webhook for an outcome already seen by polling is answered 409 Conflict",
}
ALL = frozenset(BUGS)


class RequestFailed(Exception):
    pass


class NaiveSyncClient:
    def __init__(self, base_url: str, api_key: str, *, bugs: Iterable[str] = ALL, webhook_url: str | None = None,
                 timeout: float = 600.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.bugs = frozenset(bugs)
        self.webhook_url = webhook_url
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.http = requests.Session()
        self.submitted: list[str] = []
        self.completed: set[str] = set()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        for attempt in range(5):
            resp = self.http.request(method, self.base_url + path, json=body, headers={"x-api-key": self.api_key},
                                     timeout=30)
            if resp.status_code < 400:
                return resp.json()
            status = resp.status_code
            if status == 429 and attempt < 4:
                if "no_retry_after" not in self.bugs:
                    self.sleep(float(resp.headers.get("Retry-After") or 5))
                continue
            if status >= 500 and "gives_up_on_5xx" not in self.bugs and attempt < 4 and (
                    method == "GET" or status == 503):
                self.sleep(2.0 * 2**attempt)
                continue
            if 400 <= status < 500 and "retries_4xx" in self.bugs and attempt < 4:
                continue
            if "drops_provider_message" in self.bugs:
                raise RequestFailed(f"request failed ({status})")
            raise RequestFailed(f"sync.so {status}: {resp.json().get('message')}")
        raise RequestFailed("too many attempts")

    def _body(self, request: Mapping[str, Any]) -> dict[str, Any]:
        body = dict(request)
        if "crop_without_pair" in self.bugs and body.get("segments"):
            body["segments"] = [{**seg, "audioInput": {k: v for k, v in seg["audioInput"].items() if k != "endTime"}}
                                for seg in body["segments"]]
        if self.webhook_url:
            body["webhookUrl"] = self.webhook_url
        return body

    def create(self, request: Mapping[str, Any]) -> str | None:
        try:
            generation = self._call("POST", "/v2/generate", self._body(request))
        except RequestFailed as exc:
            if "swallows_errors" in self.bugs:
                print(f"sync.so create failed: {exc}")
                return None
            raise
        self.submitted.append(generation["id"])
        return str(generation["id"])

    def wait(self, generation_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            generation = self._call("GET", f"/v2/generate/{generation_id}")
            status = generation["status"]
            if "ignores_failed_status" in self.bugs and status not in ("PENDING", "PROCESSING"):
                self.completed.add(generation_id)
                return generation
            if status == "COMPLETED":
                self.completed.add(generation_id)
                return generation
            if status in ("FAILED", "REJECTED"):
                raise RequestFailed(f"generation {status}: {generation.get('error_code')}: {generation.get('error')}")
            if "polls_forever" not in self.bugs and self.clock() >= deadline:
                raise TimeoutError(f"generation {generation_id} still {status}")
            if "no_poll_interval" not in self.bugs:
                self.sleep(10.0)


class NaiveWebhookHandler:
    def __init__(self, client: NaiveSyncClient, secret: str) -> None:
        self.client = client
        self.secret = secret.encode()
        self.outcomes: dict[str, list[str]] = {}

    def _verified(self, headers: Mapping[str, str], body: bytes) -> bool:
        header = next((v for k, v in headers.items() if k.lower() == "sync-signature"), "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        digest = hmac.new(self.secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(digest, parts.get("v1", ""))

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        bugs = self.client.bugs
        if "skips_signature_check" not in bugs and not self._verified(headers, body):
            return 401
        event = json.loads(body)
        job_id = event["id"]
        if "matches_latest_job" in bugs and self.client.submitted:
            job_id = self.client.submitted[-1]
        if "rejects_known_outcomes" in bugs and job_id in self.client.completed:
            return 409
        seen = self.outcomes.setdefault(job_id, [])
        if seen and "duplicates_as_new" not in bugs:
            return 200
        seen.append(event["status"])
        return 200


class Adapter:
    def __init__(self, env: Any, bugs: Iterable[str] = ALL) -> None:
        self.client = NaiveSyncClient(env.base_url, env.api_key, bugs=bugs, webhook_url=env.webhook_url,
                                      timeout=env.timeout, sleep=env.sleep, clock=env.now)
        self.webhooks = NaiveWebhookHandler(self.client, env.webhook_secret or "")

    def submit(self, request: Any) -> str | None:
        return self.client.create(request)

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        return self.webhooks(headers, body)

    def recorded(self, job_id: str) -> list[str]:
        return self.webhooks.outcomes.get(job_id, [])


def make_adapter_with(bugs: Iterable[str]) -> Callable[[Any], Adapter]:
    """An adapter factory for a client with only ``bugs`` switched on."""
    chosen = frozenset(bugs)
    unknown = chosen - ALL
    if unknown:
        raise KeyError(f"unknown bugs {sorted(unknown)} (have: {sorted(ALL)})")
    return lambda env: Adapter(env, chosen)


make_adapter = make_adapter_with(ALL)
