"""A naive Kling client with integration bugs the client contract suite catches. Each bug is a
switch (``make_adapter_with({...})``); ``make_adapter`` turns them all on. With none on it
behaves like ``lipsync_emulator.examples.kling_client``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests

BUGS: dict[str, str] = {
    "times_in_seconds": "sound_start/end/insert times are sent in seconds (the docs say milliseconds)",
    "integer_volumes": "volumes are rounded to integers (the relay seed types them as integers)",
    "ignores_failed_status": "wait() returns as soon as the task is no longer submitted or processing",
    "polls_forever": "wait() has no timeout",
    "gives_up_on_5xx": "any 5xx is raised at once",
    "skips_signature_check": "callbacks are trusted without checking webhook-signature",
    "any_callback_is_the_outcome": "every callback (submitted, processing...) is taken as the task's outcome",
    "duplicates_as_new": "every callback delivery is processed, duplicates included",
}
ALL = frozenset(BUGS)
TIMES = ("sound_start_time", "sound_end_time", "sound_insert_time")
VOLUMES = ("sound_volume", "original_audio_volume")


class Adapter:
    def __init__(self, env: Any, bugs: Iterable[str] = ALL) -> None:
        self.env, self.bugs = env, frozenset(bugs)
        self.http = requests.Session()
        self.tasks: set[str] = set()
        self.outcomes: dict[str, list[str]] = {}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        for attempt in range(5):
            resp = self.http.request(method, self.env.base_url + path, json=body, timeout=30,
                                     headers={"Authorization": f"Bearer {self.env.api_key}"})
            data = resp.json()
            if resp.status_code == 200 and data.get("code") == 0:
                return data["data"]
            if resp.status_code == 429 and attempt < 4:
                self.env.sleep(5.0)
                continue
            if resp.status_code >= 500 and "gives_up_on_5xx" not in self.bugs and attempt < 4 and (
                    method == "GET" or resp.status_code == 503):
                self.env.sleep(2.0 * 2**attempt)
                continue
            raise RuntimeError(f"Kling {resp.status_code} code {data.get('code')}: {data.get('message')}")
        raise RuntimeError("too many attempts")

    def submit(self, request: Any) -> str:
        session = self._call("POST", "/v1/videos/identify-face", {"video_url": request["video_url"]})
        choose = []
        for choice in request["face_choose"]:
            c = {"face_id": session["face_data"][0]["face_id"], **choice}
            if "times_in_seconds" in self.bugs:
                c.update({k: c[k] // 1000 for k in TIMES if isinstance(c.get(k), int)})
            if "integer_volumes" in self.bugs:
                c.update({k: round(c[k]) for k in VOLUMES if isinstance(c.get(k), int | float)})
            choose.append(c)
        extra = {k: v for k, v in request.items() if k not in ("video_url", "face_choose")}
        body = {"session_id": session["session_id"], "face_choose": choose, "callback_url": self.env.webhook_url,
                **extra}
        task_id = str(self._call("POST", "/v1/videos/advanced-lip-sync", body)["task_id"])
        self.tasks.add(task_id)
        return task_id

    def wait(self, job_id: str) -> Any:
        deadline = self.env.now() + self.env.timeout
        while True:
            task = self._call("GET", f"/v1/videos/advanced-lip-sync/{job_id}")
            status = task["task_status"]
            if status == "succeed" or ("ignores_failed_status" in self.bugs and status not in ("submitted", "processing")):
                return task
            if status == "failed":
                raise RuntimeError(f"task failed: {task.get('task_status_msg')}")
            if "polls_forever" not in self.bugs and self.env.now() >= deadline:
                raise TimeoutError(f"task {job_id} still {status}")
            self.env.sleep(10.0)

    def _verified(self, headers: Mapping[str, str], body: bytes) -> bool:
        h = {k.lower(): v for k, v in headers.items()}
        key = base64.b64decode((self.env.webhook_secret or "").removeprefix("whsec_"))
        signed = f"{h.get('webhook-id')}.{h.get('webhook-timestamp')}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(expected, s) for s in h.get("webhook-signature", "").split())

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> int:
        if self.env.webhook_secret and "skips_signature_check" not in self.bugs and not self._verified(headers, body):
            return 401
        task = json.loads(body)
        if task["task_id"] not in self.tasks:
            return 404
        seen = self.outcomes.setdefault(task["task_id"], [])
        acts = task["task_status"] in ("succeed", "failed") or "any_callback_is_the_outcome" in self.bugs
        if acts and (not seen or "duplicates_as_new" in self.bugs):
            seen.append(task["task_status"])
        return 200

    def recorded(self, job_id: str) -> list[str]:
        return self.outcomes.get(job_id, [])


def make_adapter_with(bugs: Iterable[str]) -> Callable[[Any], Adapter]:
    chosen = frozenset(bugs)
    if chosen - ALL:
        raise KeyError(f"unknown bugs {sorted(chosen - ALL)}")
    return lambda env: Adapter(env, chosen)


make_adapter = make_adapter_with(ALL)
