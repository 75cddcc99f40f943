"""A naive lipsync.studio client with integration bugs the client contract suite catches. Each
bug is a switch (``make_adapter_with({...})``); ``make_adapter`` turns them all on. With none on
it behaves like ``lipsync_emulator.examples.lipsyncstudio_client``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

BUGS: dict[str, str] = {
    "reads_request_id": "the job id is read from 'requestId' (the docs' prose) instead of 'id'",
    "drops_optional_fields": "only the required formState fields are sent (resolution, seed, mask... dropped)",
    "ignores_failed_status": "wait() returns as soon as the status is no longer processing",
    "polls_forever": "wait() has no timeout",
    "no_retry_after": "a 429 is retried at once, ignoring Retry-After",
    "gives_up_on_5xx": "any 5xx is raised at once",
    "duplicates_as_new": "every webhook delivery is processed, duplicates included",
    "matches_latest_job": "a webhook is applied to the most recently submitted job, not to the id it names",
}
ALL = frozenset(BUGS)
REQUIRED = {"lipsync-video": ("video", "audio"), "lipsync-image": ("image", "audio"),
            "lipsync-image-multi": ("image", "left_audio", "right_audio")}


class Adapter:
    def __init__(self, env: Any, bugs: Iterable[str] = ALL) -> None:
        self.env, self.bugs = env, frozenset(bugs)
        self.http = requests.Session()
        self.submitted: list[str] = []
        self.outcomes: dict[str, list[str]] = {}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        for attempt in range(5):
            resp = self.http.request(method, self.env.base_url + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.env.api_key}"})
            if resp.status_code < 400:
                return resp.json()
            if resp.status_code == 429 and attempt < 4:
                if "no_retry_after" not in self.bugs:
                    self.env.sleep(float(resp.headers.get("Retry-After") or 5))
                continue
            if resp.status_code >= 500 and "gives_up_on_5xx" not in self.bugs and attempt < 4 and (
                    method == "GET" or resp.status_code == 503):
                self.env.sleep(2.0 * 2**attempt)
                continue
            raise RuntimeError(f"lipsync.studio {resp.status_code}: {resp.json().get('error')}")
        raise RuntimeError("too many attempts")

    def submit(self, request: Any) -> str:
        form = dict(request["formState"])
        if "drops_optional_fields" in self.bugs:
            form = {k: v for k, v in form.items() if k in REQUIRED[request["endpoint"]]}
        answer = self._call("POST", f"/api/v1/{request['endpoint']}",
                            {"formState": form, "webhook": self.env.webhook_url})
        job_id = answer.get("requestId") if "reads_request_id" in self.bugs else answer["id"]
        self.submitted.append(str(job_id))
        return str(job_id)

    def wait(self, job_id: str) -> Any:
        deadline = self.env.now() + self.env.timeout
        while True:
            job = self._call("GET", f"/api/v1/jobs/{job_id}")
            if job["status"] == "completed" or ("ignores_failed_status" in self.bugs and job["status"] != "processing"):
                return job
            if job["status"] == "failed":
                raise RuntimeError(f"job failed: {job.get('error')}")
            if "polls_forever" not in self.bugs and self.env.now() >= deadline:
                raise TimeoutError(f"job {job_id} still {job['status']}")
            self.env.sleep(5.0)

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        job = json.loads(body)
        job_id = self.submitted[-1] if "matches_latest_job" in self.bugs and self.submitted else job["id"]
        if job_id not in self.submitted:
            return 404
        seen = self.outcomes.setdefault(job_id, [])
        if not seen or "duplicates_as_new" in self.bugs:
            seen.append(job["status"])
        return 200

    def recorded(self, job_id: str) -> list[str]:
        return self.outcomes.get(job_id, [])


def make_adapter_with(bugs: Iterable[str]) -> Callable[[Any], Adapter]:
    chosen = frozenset(bugs)
    if chosen - ALL:
        raise KeyError(f"unknown bugs {sorted(chosen - ALL)}")
    return lambda env: Adapter(env, chosen)


make_adapter = make_adapter_with(ALL)
