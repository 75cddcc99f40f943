"""A small, correct lipsync.studio client — the kind of code the client contract suite is for.

It posts ``{"formState", "webhook"}`` to ``/api/v1/{endpoint}`` and reads the job id from
``id`` (the prose says "requestId", the JSON says ``id``), raises the provider's ``error`` text
(never retrying a 4xx), retries 429 after ``Retry-After`` and transient 5xx with a pause, polls
``/api/v1/jobs/{id}`` every few seconds until ``completed`` or ``failed`` within a timeout, and
its webhook handler acts on each job's outcome once (lipsync.studio does not sign webhooks:
the handler trusts only ids it submitted itself, and reads the outcome from the API, so a
forged webhook cannot complete a job).

``make_adapter(env)`` plugs it into the contract suite (see contracts.suites.client).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests


class LipsyncStudioError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"lipsync.studio {status}: {message}")
        self.status, self.message = status, message


class JobFailed(Exception):
    pass


class JobTimeout(Exception):
    pass


class LipsyncStudioClient:
    def __init__(self, base_url: str, api_key: str, *, webhook_url: str | None = None, timeout: float = 600.0,
                 poll_interval: float = 5.0, max_retries: int = 4, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url, self.api_key, self.webhook_url = base_url.rstrip("/"), api_key, webhook_url
        self.timeout, self.poll_interval, self.max_retries = timeout, poll_interval, max_retries
        self.sleep, self.clock = sleep, clock
        self.http = requests.Session()
        self.submitted: set[str] = set()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        retryable = (429, 503) if method == "POST" else (429, 500, 502, 503, 504)
        for attempt in range(self.max_retries + 1):
            resp = self.http.request(method, self.base_url + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.api_key}"})
            if resp.status_code < 400:
                return resp.json()
            if resp.status_code in retryable and attempt < self.max_retries:
                after = resp.headers.get("Retry-After", "")
                self.sleep(float(after) if after.isdigit() else min(60.0, 2.0 * 2**attempt))
                continue
            try:
                message = resp.json().get("error") or resp.text
            except ValueError:
                message = resp.text
            raise LipsyncStudioError(resp.status_code, str(message))
        raise AssertionError("unreachable")

    def submit(self, endpoint: str, form_state: Mapping[str, Any]) -> str:
        body: dict[str, Any] = {"formState": dict(form_state)}
        if self.webhook_url:
            body["webhook"] = self.webhook_url
        job_id = str(self._call("POST", f"/api/v1/{endpoint}", body)["id"])
        self.submitted.add(job_id)
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._call("GET", f"/api/v1/jobs/{job_id}")
        return job

    def wait(self, job_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            job = self.get(job_id)
            if job["status"] == "completed":
                return job
            if job["status"] == "failed":
                raise JobFailed(f"job {job_id} failed: {job.get('error')}")
            left = deadline - self.clock()
            if left <= 0:
                raise JobTimeout(f"job {job_id} still {job['status']} after {self.timeout:g} s")
            self.sleep(min(self.poll_interval, left))


class WebhookHandler:
    """``POST /hooks/lipsync``: the job object; unsigned, so only jobs we submitted count."""

    def __init__(self, client: LipsyncStudioClient) -> None:
        self.client = client
        self.outcomes: dict[str, list[str]] = {}

    def __call__(self, headers: Mapping[str, str], body: bytes) -> int:
        job = json.loads(body)
        if job.get("id") not in self.client.submitted:
            return 404
        seen = self.outcomes.setdefault(job["id"], [])
        if not seen and job.get("status") in ("completed", "failed"):
            status = self.client.get(job["id"])["status"]  # unsigned: believe the API, not the body
            if status in ("completed", "failed"):
                seen.append(status)
        return 200


class Adapter:
    def __init__(self, env: Any) -> None:
        self.client = LipsyncStudioClient(env.base_url, env.api_key, webhook_url=env.webhook_url, timeout=env.timeout,
                                          sleep=env.sleep, clock=env.now)
        self.webhooks = WebhookHandler(self.client)

    def submit(self, request: Any) -> str:
        return self.client.submit(request["endpoint"], request["formState"])

    def wait(self, job_id: str) -> Any:
        return self.client.wait(job_id)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        return self.webhooks(headers, body)

    def recorded(self, job_id: str) -> list[str]:
        return self.webhooks.outcomes.get(job_id, [])


make_adapter = Adapter
