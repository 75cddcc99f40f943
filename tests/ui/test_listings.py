"""The control plane's listings page: newest first, ``limit``/``offset`` with a default page,
``X-Total-Count`` and a ``Link`` to the next page; the Python clients follow the pages."""

from __future__ import annotations

import pytest
import requests
from lipsync_emulator.testing import every_page

JOB = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/a.mp4"},
                                       {"type": "audio", "url": "https://example.com/a.wav"}]}


def submit(emulator, n: int) -> list[str]:
    with requests.Session() as http:
        return [http.post(f"{emulator.url}/v2/generate", json=JOB, headers={"x-api-key": "sk-pages"},
                          timeout=5).json()["id"] for _ in range(n)]


def test_jobs_and_requests_come_a_page_at_a_time_newest_first(emulator):
    ids = submit(emulator, 105)
    resp = requests.get(f"{emulator.url}/_emulator/jobs", timeout=5)
    assert resp.status_code == 200 and resp.headers["X-Total-Count"] == "105"
    assert [j["id"] for j in resp.json()] == ids[::-1][:100]
    assert resp.headers["Link"] == '</_emulator/jobs?offset=100&limit=100>; rel="next"'
    rest = requests.get(f"{emulator.url}/_emulator/jobs", params={"offset": 100}, timeout=5)
    assert [j["id"] for j in rest.json()] == ids[::-1][100:] and "Link" not in rest.headers
    beyond = requests.get(f"{emulator.url}/_emulator/jobs", params={"offset": 500}, timeout=5)
    assert beyond.json() == [] and beyond.headers["X-Total-Count"] == "105"

    page = requests.get(f"{emulator.url}/_emulator/requests", params={"limit": 3, "offset": 1}, timeout=5)
    assert page.headers["X-Total-Count"] == "105"
    assert [r["job_id"] for r in page.json()] == ids[::-1][1:4]
    assert [r["seq"] for r in page.json()] == sorted((r["seq"] for r in page.json()), reverse=True)
    filtered = requests.get(f"{emulator.url}/_emulator/requests", params={"job_id": ids[7]}, timeout=5)
    assert [r["job_id"] for r in filtered.json()] == [ids[7]] and filtered.headers["X-Total-Count"] == "1"

    # the clients still return everything, in the order they always did
    assert [j["id"] for j in emulator.control.jobs()] == ids[::-1]
    assert [r["job_id"] for r in emulator.control.requests()] == ids
    assert [r["job_id"] for r in emulator.control.requests(limit=2)] == ids[-2:]
    fetch = lambda params: requests.get(f"{emulator.url}/_emulator/jobs", params=params, timeout=5).json()  # noqa: E731
    assert [j["id"] for j in every_page(fetch, {}, page=10)] == ids[::-1]


def test_webhook_deliveries_page_newest_first(emulator, webhook_receiver):
    ids = []
    for _ in range(3):
        resp = requests.post(f"{emulator.url}/v2/generate", json={**JOB, "webhookUrl": webhook_receiver.url},
                             headers={"x-api-key": "sk-pages"}, timeout=5)
        ids.append(resp.json()["id"])
    emulator.advance(60)
    page = requests.get(f"{emulator.url}/_emulator/webhooks", params={"limit": 2}, timeout=5)
    assert page.headers["X-Total-Count"] == "3" and [d["job_id"] for d in page.json()] == ids[::-1][:2]
    assert [d["job_id"] for d in emulator.control.webhooks()] == ids


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                                           ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset")])
def test_a_bad_page_is_a_400_naming_the_parameter(emulator, params, field):
    for listing in ("jobs", "requests", "webhooks"):
        resp = requests.get(f"{emulator.url}/_emulator/{listing}", params=params, timeout=5)
        assert resp.status_code == 400 and resp.json()["field"] == field


def test_the_dashboard_is_served_with_its_files_and_linked_from_the_root(emulator):
    assert requests.get(f"{emulator.url}/", timeout=5).json()["dashboard"] == "/_emulator/ui"
    page = requests.get(f"{emulator.url}/_emulator/ui", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for asset in ("/_emulator/ui/static/app.js", "/_emulator/ui/static/app.css"):
        assert asset in page.text
        assert requests.get(f"{emulator.url}{asset}", timeout=5).status_code == 200


def test_the_dashboard_ships_in_the_package(tmp_path):
    from tests.test_packaging import build

    site, _ = build(tmp_path)
    static = site / "lipsync_emulator" / "ui" / "static"
    assert sorted(p.name for p in static.iterdir()) == ["app.css", "app.js", "index.html"]


@pytest.mark.parametrize("body, field", [({"provider": "syncso", "scenario": "nope"}, "scenario"),
                                         ({"provider": ["syncso"], "scenario": "failed"}, "scenario"),
                                         ({"provider": "syncso", "scenario": "failed", "way": "smoke"}, "way")])
def test_a_trigger_of_no_catalogue_entry_is_a_400_naming_the_field(emulator, body, field):
    resp = requests.post(f"{emulator.url}/_emulator/scenarios/trigger", json=body, timeout=5)
    assert resp.status_code == 400 and resp.json()["field"] == field


def test_a_job_page_names_its_lifecycle_scenario_and_deliveries(emulator, webhook_receiver):
    resp = requests.post(f"{emulator.url}/v2/generate", json={**JOB, "webhookUrl": webhook_receiver.url},
                         headers={"x-api-key": "sk-pages", "X-Emulator-Scenario": "failed"}, timeout=5)
    job_id = resp.json()["id"]
    emulator.advance(60)
    job = requests.get(f"{emulator.url}/_emulator/jobs/syncso/{job_id}", timeout=5).json()
    assert [h["status"] for h in job["history"]] == ["PENDING", "PROCESSING", "FAILED"]
    assert job["lifecycle"]["success"] == "COMPLETED" and "FAILED" in job["lifecycle"]["terminal"]
    assert [s["name"] for s in job["scenario_details"]] == ["failed"]
    assert [d["status"] for d in job["deliveries"]] == ["delivered"]
    assert requests.get(f"{emulator.url}/_emulator/jobs/syncso/nope", timeout=5).status_code == 404
