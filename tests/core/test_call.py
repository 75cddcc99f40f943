"""A request's ``Call``: resolved once by the pipeline, handed to the view, and reachable by the
app's own after-request hooks through ``Call.of(request.environ)`` — the values the journal shows."""

from __future__ import annotations

from typing import Any

import pytest
from flask import request
from lipsync_emulator.app import create_app
from lipsync_emulator.core.auth import redact
from lipsync_emulator.core.http import Call
from lipsync_emulator.core.openapi import MISSING
from lipsync_emulator.core.runtime import EXTENSION

KEY = "sk_call_test_0123456789"
VIDEO = {"type": "video", "url": "https://cdn.example/v.mp4?duration=6"}
AUDIO = {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}


@pytest.fixture()
def app_and_calls() -> tuple[Any, list[Call | None]]:
    app = create_app({"clock": "virtual"})
    seen: list[Call | None] = []

    @app.after_request
    def _keep(response: Any) -> Any:
        seen.append(Call.of(request.environ))
        return response

    return app, seen


def journal(app: Any) -> list[dict[str, Any]]:
    return app.test_client().get("/_emulator/requests").get_json()


def test_a_create_is_resolved_once_into_the_call_the_journal_shows(app_and_calls):
    app, seen = app_and_calls
    resp = app.test_client().post(
        "/v2/generate", json={"model": "lipsync-2", "input": [VIDEO, AUDIO], "segments": None},
        headers={"x-api-key": KEY, "X-Emulator-Namespace": "ci-7", "X-Emulator-Scenario": "failed"})
    assert resp.status_code == 201
    [call] = seen[:1]
    assert call is not None
    assert (call.provider, call.operation, call.account, call.namespace) == ("syncso", "createGeneration", KEY,
                                                                             "ci-7")
    assert call.scenario_names == ["failed"] and call.scenario_sources == {"failed": "header"}
    assert call.outcome is not None and call.outcome.status == "FAILED"
    assert call.body == {"model": "lipsync-2", "input": [VIDEO, AUDIO]}  # normalized: null means absent
    assert call.job_id == resp.get_json()["id"]
    [row] = [r for r in journal(app) if r["path"] == "/v2/generate"]
    assert (row["operation"], row["job_id"], row["scenario"], row["scenario_source"], row["namespace"]) == (
        "createGeneration", call.job_id, ["failed"], {"failed": "header"}, "ci-7")


def test_without_a_namespace_the_key_is_the_tenant_and_a_get_has_no_body(app_and_calls):
    app, seen = app_and_calls
    client = app.test_client()
    created = client.post("/v2/generate", json={"model": "lipsync-2", "input": [VIDEO, AUDIO]},
                          headers={"x-api-key": KEY}).get_json()["id"]
    assert client.get(f"/v2/generate/{created}", headers={"x-api-key": KEY}).status_code == 200
    create, read = seen[:2]
    assert create is not None and read is not None
    assert create.namespace is None and read.namespace is None
    assert (read.operation, read.job_id, read.body, read.scenarios) == ("getGeneration", created, MISSING, [])
    rows = [r for r in journal(app) if r["provider"] == "syncso"]
    # what it wrote is this key's (reset per key), shown masked as every credential is
    assert [r["namespace"] for r in rows] == [redact(KEY)] * 2
    job = app.extensions[EXTENSION].engine.get("syncso", "generation", created)
    assert job is not None and job.account == KEY


def test_a_request_that_reaches_no_operation_has_no_call(app_and_calls):
    app, seen = app_and_calls
    client = app.test_client()
    assert client.get("/v2/no-such-thing", headers={"x-api-key": KEY}).status_code == 404
    [row] = [r for r in journal(app) if r["path"] == "/v2/no-such-thing"]
    assert (row["operation"], row["job_id"], row["scenario"], row["account"]) == (None, None, [], None)
    assert client.post("/_emulator/reset").status_code == 200
    assert seen == [None, None, None]  # the unknown path, the journal read, the reset


def test_a_failed_authentication_still_names_its_operation(app_and_calls):
    app, seen = app_and_calls
    assert app.test_client().get("/v2/generate/0b9e5c1e-0000-4000-8000-000000000000").status_code == 401
    [call] = seen[:1]
    assert call is not None and (call.operation, call.account, call.scenarios) == ("getGeneration", "", [])
    [row] = [r for r in journal(app) if r["provider"] == "syncso"]
    assert (row["operation"], row["status"], row["account"]) == ("getGeneration", 401, None)
