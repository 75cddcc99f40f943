"""Tiny Lip as the contracts see it: its strategies (valid requests, one-rule-broken ones) and
its profile (how to submit and poll, the lifecycle, the webhook, the error body). Registered
with ``lipsync_emulator.contracts.register``: the contracts never import the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.profiles import Lifecycle, Profile, ProviderError, WebhookSpec
from lipsync_emulator.contracts.strategies._schema import Break, SchemaStrategies
from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid
from lipsync_emulator.contracts.targets import Response, Target

SCHEMA_FILE = Path(__file__).resolve().parent / "tiny.yaml"
_URL = st.sampled_from(("https://cdn.example.com/a.mp4", "https://cdn.example.com/b.mp3"))
SCHEMA = SchemaStrategies(schemas.load(SCHEMA_FILE), overrides={"CreateJob.video_url": _URL,
                                                                 "CreateJob.audio_url": _URL})
FACTS = schemas.rules(SCHEMA_FILE)  # each cross-field rule's error, as the schema declares it

# -- strategies ------------------------------------------------------------------------------------


@st.composite
def create_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid create body; a trim window, when there is one, ends after it starts."""
    body: dict[str, Any] = draw(SCHEMA.strategy("CreateJob", exclude=("trim_start", "trim_end", "webhook_url")))
    if draw(st.booleans()):
        start = draw(st.integers(0, 100))
        body.update(trim_start=start, trim_end=start + draw(st.integers(1, 50)))
    return body


def minimal_request() -> dict[str, Any]:
    return {"video_url": "https://cdn.example.com/a.mp4", "audio_url": "https://cdn.example.com/b.mp3"}


def _schema_invalid(brk: Break, request: dict[str, Any]) -> Invalid:
    return Invalid(brk.rule, brk.apply(request), ExpectedError(400, "invalid_request", brk.field), field=brk.field)


@st.composite
def _schema_rule(draw: st.DrawFn) -> Invalid:
    request = draw(create_requests())
    return _schema_invalid(draw(SCHEMA.one_break("CreateJob", request)), request)


@st.composite
def _trim_order(draw: st.DrawFn) -> Invalid:
    request = draw(create_requests())
    start = draw(st.integers(1, 100))
    request.update(trim_start=start, trim_end=start - draw(st.integers(0, start)))
    fact = FACTS["trim_order"]
    return Invalid(fact.id, request, ExpectedError(fact.status, fact.code, "trim_end"), field="trim_end")


def rule_ids() -> tuple[str, ...]:
    return tuple(FACTS)


def invalid_requests(rule: str | None = None) -> st.SearchStrategy[Invalid]:
    if rule == "schema":
        return _schema_rule()
    if rule == "trim_order":
        return _trim_order()
    if rule is None:
        return st.one_of(_schema_rule(), _trim_order())
    raise KeyError(f"no Tiny Lip rule {rule!r} (have: schema, trim_order)")


# -- profile -------------------------------------------------------------------------------------


def submit(target: Target, request: dict[str, Any], headers: dict[str, str], webhook_url: str | None) -> Response:
    body = {**request, **({"webhook_url": webhook_url} if webhook_url else {})}
    return target.request("POST", "/tiny/v1/jobs", json=body, headers=headers)


def fields(body: dict[str, Any]) -> list[str]:
    done, failed = body.get("status") == "done", body.get("status") == "failed"
    problems = []
    if done != bool(body.get("output_url")):
        problems.append(f"output_url {body.get('output_url')!r} while {body.get('status')}")
    if failed != bool(body.get("error")):
        problems.append(f"error {body.get('error')!r} while {body.get('status')}")
    return problems


def error(response: Response) -> ProviderError:
    body = response.json_or_none()
    err = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    return ProviderError(response.status, err.get("code"), str(err.get("message") or response.text))


def _parse_webhook(raw: bytes) -> tuple[str, str]:
    job = json.loads(raw)
    return str(job["id"]), str(job["status"])


PROFILE = Profile(
    name="tiny",
    title="Tiny Lip",
    schema=SCHEMA_FILE,  # type: ignore[arg-type]
    lifecycle=Lifecycle(states=("queued", "running", "done"), terminal=frozenset({"done", "failed"})),
    webhook=WebhookSpec(states=frozenset({"done", "failed"}), parse=_parse_webhook),
    auth=lambda key: {"Authorization": f"Bearer {key}"},
    submit=submit,
    poll=lambda target, job_id, headers: target.request("GET", f"/tiny/v1/jobs/{job_id}", headers=headers),
    job_id=lambda body: str(body["id"]),
    status=lambda body: str(body["status"]),
    fields=fields,
    error=error,
    job_error=lambda body: (None, str(body.get("error") or "")),
    submit_operation="createJob",
    poll_operation="getJob",
    submit_status=201,
    outcomes={"failed": "failed", "stuck": None},
    scenarios={"failed": "failed", "stuck": "stuck", "rate_limited": "rate_limited",
               "server_error": "internal_error", "unavailable": "service_unavailable"},
)
