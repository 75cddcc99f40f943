"""Tiny Lip's settings, lifecycle (queued -> running -> done | failed), job object, webhook,
scenarios and probes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

from lipsync_emulator.core.errors import InternalError, ServiceUnavailable, TooManyRequests
from lipsync_emulator.core.jobs import Job, Lifecycle, Outcome
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.core.scenarios import Probe, ProbeContext, Scenario
from lipsync_emulator.core.settings import Retry, default
from lipsync_emulator.core.webhooks import RetryPolicy

from tiny.errors import NAME

KIND = "job"
LIFECYCLE = Lifecycle(states=("queued", "running", "done"), terminal=frozenset({"done", "failed"}))


class Durations(TypedDict):
    queued: float
    running: float


@dataclass(frozen=True)
class Settings:
    api_keys: list[str] = default([])  # empty: any non-empty bearer key
    durations: Durations = default({"queued": 2.0, "running": 10.0})
    webhook_retry: Retry = default({"max_attempts": 3, "backoff": 1.0})


def job_object(job: Job) -> dict[str, Any]:
    return {"id": job.id, "status": job.status, "output_url": job.data.get("output_url"),
            "error": job.data.get("error")}


def setup(rt: Runtime) -> None:
    def on_enter(job: Job, state: str) -> None:
        if state == "done":
            job.data["output_url"] = f"{job.base_url}/_emulator/media/{NAME}/{job.id}.mp4"
        if state in LIFECYCLE.terminal and job.webhook_url:
            body = json.dumps(job_object(job)).encode()  # unsigned: the client reads the job back
            rt.webhooks.send(provider=NAME, url=job.webhook_url, body=body, event=f"job.{state}", job=job,
                             policy=RetryPolicy.from_dict(rt.cfg(NAME)["webhook_retry"]))

    rt.engine.declare(NAME, KIND, LIFECYCLE, on_enter)
    rt.catalog.remove(NAME, "webhook_bad_signature")  # nothing to corrupt


def scenarios(settings: dict[str, Any]) -> list[Scenario]:
    def error(name: str, make: Any) -> Scenario:
        return Scenario(name, NAME, (), f"{make().status} instead of the answer", "inferred", "response", error=make)

    return [
        Scenario("failed", NAME, ("createJob",), "the job ends failed", "inferred", "outcome",
                 outcome=Outcome(status="failed", after="running", data={"error": "the audio has no speech"})),
        Scenario("stuck", NAME, ("createJob",), "the job never finishes", "inferred", "outcome",
                 outcome=Outcome(stuck=True)),
        error("rate_limited", lambda: TooManyRequests("slow down", headers={"Retry-After": "3"})),
        error("internal_error", lambda: InternalError("something broke")),
        error("service_unavailable", lambda: ServiceUnavailable("back soon", headers={"Retry-After": "2"})),
    ]


def _auth(ctx: ProbeContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {(ctx.cfg['api_keys'] or ['tiny_demo'])[0]}"}


def probes() -> list[Probe]:
    def create(ctx: ProbeContext) -> dict[str, Any]:
        body = {"video_url": "https://example.com/face.mp4", "audio_url": ctx.media("https://example.com/voice.mp3")}
        if ctx.webhook_url:
            body["webhook_url"] = ctx.webhook_url
        return {"method": "POST", "path": "/tiny/v1/jobs", "headers": _auth(ctx), "json": body}

    def read(ctx: ProbeContext) -> dict[str, Any]:
        return {"method": "GET", "path": f"/tiny/v1/jobs/{ctx.job_id}", "headers": _auth(ctx)}

    return [Probe(NAME, "createJob", create, job_id=lambda body: str(body["id"]), poll="getJob"),
            Probe(NAME, "getJob", read)]
