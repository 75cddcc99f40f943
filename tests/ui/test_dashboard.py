"""The dashboard (/_emulator/ui) driven in a real headless Chromium against a live emulator,
with jobs made by the official SDKs. Every wait is a bounded wait on a condition."""

from __future__ import annotations

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sync import Sync
from sync.common import Audio, Video
from sync.core.api_error import ApiError

VIDEO = Video(url="https://assets.sync.so/docs/example-video.mp4?duration=12")
AUDIO = Audio(url="https://assets.sync.so/docs/example-audio.wav")
WAIT = 15  # seconds: an upper bound, never a pause


def until(browser, condition, message: str = ""):
    try:
        # the live pages replace what changed: an element found a moment ago may be gone
        return WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        page = browser.execute_script("return document.querySelector('main').innerText")
        raise AssertionError(f"{message or 'condition never held'}; the page showed:\n{page[:3000]}") from None


def text(browser, css: str) -> str:
    found = browser.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def click(browser, css: str, label: str | None = None) -> None:
    """Click the first enabled element matching ``css`` (with text ``label``), found afresh on
    each try: a live page may have replaced the one found a moment ago."""
    def attempt(d):
        found = next((e for e in d.find_elements(By.CSS_SELECTOR, css)
                      if e.is_enabled() and (label is None or e.text == label)), None)
        if found is None:
            return False
        # centred, so the sticky header is never over it
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", found)
        found.click()
        return True
    until(browser, attempt, f"no enabled {css} {label or ''} to click")


def open_page(browser, emulator, route: str) -> None:
    browser.get(f"{emulator.url}/_emulator/ui#/{route}")
    until(browser, lambda d: d.find_element(By.ID, "main").get_attribute("data-route") == f"#/{route}",
          f"#/{route} never rendered")


@pytest.fixture
def sdk(emulator) -> Sync:
    return Sync(api_key="sk-dashboard", base_url=emulator.url)


def create(sdk: Sync, webhook_url: str | None = None) -> str:
    return sdk.generations.create(model="lipsync-2", input=[VIDEO, AUDIO], webhook_url=webhook_url).id


def test_sdk_job_appears_live_and_the_clock_advanced_from_the_page_completes_it(
        browser, screenshot, emulator, sdk, webhook_receiver):
    open_page(browser, emulator, "jobs")
    assert "No job matches." in text(browser, "#jobs-live")

    job_id = create(sdk, webhook_receiver.url)  # while the page is open: it must show up without a reload
    row = f'tr[data-job="{job_id}"]'
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), "the SDK's job never appeared")
    assert "PENDING" in text(browser, row) and "syncso" in text(browser, row)
    screenshot("jobs")

    click(browser, f"{row} a")
    until(browser, lambda d: "PENDING" in text(d, "#job-head"))
    assert '"model": "lipsync-2"' in text(browser, "#job-request")
    until(browser, lambda d: "→ 200" in text(d, "#answer-head"), "the provider's answer never showed")
    assert f'"id": "{job_id}"' in text(browser, "#answer") and '"status": "PENDING"' in text(browser, "#answer")
    assert "None: the provider's default outcome." in text(browser, "#no-scenario")

    click(browser, ".clockbar button", "+1 min")
    until(browser, lambda d: "COMPLETED" in text(d, "#job-head"), "advancing the clock never completed the job")
    until(browser, lambda d: '"status": "COMPLETED"' in text(d, "#answer"))
    marks = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline g.attempt"),
                  "the timeline shows no webhook attempt")
    assert [m.get_attribute("data-kind") for m in marks] == ["delivered"]
    states = [s.get_attribute("textContent") for s in browser.find_elements(By.CSS_SELECTOR, "#timeline g.seg title")]
    assert [s.split(" at ")[0] for s in states] == ["PENDING", "PROCESSING", "COMPLETED"]
    assert webhook_receiver.wait_for(1)[0].json()["status"] == "COMPLETED"
    assert all(b.get_attribute("disabled") is not None for b in browser.find_elements(By.CSS_SELECTOR, "#finish, #fail"))
    screenshot("job")


def test_a_failed_delivery_is_resent_from_the_page_and_the_second_attempt_appears(
        browser, screenshot, emulator, sdk, webhook_receiver):
    webhook_receiver.respond_with(500)  # the first delivery fails; syncso makes one attempt
    job_id = create(sdk, webhook_receiver.url)
    open_page(browser, emulator, f"jobs/syncso/{job_id}")
    Select(browser.find_element(By.ID, "fail-scenario")).select_by_value("failed")
    click(browser, "#fail")
    until(browser, lambda d: "FAILED" in text(d, "#job-head"), "Fail now did not fail the job")
    until(browser, lambda d: [m.get_attribute("data-kind") for m in d.find_elements(By.CSS_SELECTOR, "#timeline g.attempt")]
          == ["failed"], "the failed attempt is not on the timeline")

    open_page(browser, emulator, "webhooks?status=failed")
    [delivery] = emulator.control.webhooks(job_id=job_id)
    row = f'tr[data-delivery="{delivery["id"]}"]'
    until(browser, lambda d: "500" in text(d, row))
    screenshot("webhooks")
    click(browser, f"{row} td.url a")
    until(browser, lambda d: "Attempt 1" in text(d, "#webhook-live"))
    assert "Sync-Signature:" in text(browser, "#webhook-live")
    screenshot("webhook")
    click(browser, "#webhook-live button.resend")
    assert len(webhook_receiver.wait_for(2)) == 2 and webhook_receiver.received[1].json()["status"] == "FAILED"

    open_page(browser, emulator, f"jobs/syncso/{job_id}")
    until(browser, lambda d: [m.get_attribute("data-kind") for m in d.find_elements(By.CSS_SELECTOR, "#timeline g.attempt")]
          == ["failed", "delivered"], "the resent attempt is not on the timeline")
    assert [d["status"] for d in emulator.control.webhooks(job_id=job_id)] == ["failed", "delivered"]


def test_a_rule_added_on_the_page_shapes_the_next_sdk_call_and_a_catalogue_entry_is_triggered(
        browser, screenshot, emulator, sdk):
    open_page(browser, emulator, "scenarios?provider=syncso")
    Select(browser.find_element(By.ID, "rule-scenario")).select_by_value("rate_limited")
    browser.find_element(By.ID, "rule-count").send_keys("1")
    click(browser, "#add-rule-button")
    until(browser, lambda d: "rate_limited" in text(d, "#rules-live"), "the rule never showed as active")
    [rule] = requests.get(f"{emulator.url}/_emulator/scenarios", timeout=5).json()["active"]
    assert (rule["provider"], rule["scenarios"], rule["remaining"]) == ("syncso", ["rate_limited"], 1)

    with pytest.raises(ApiError) as raised:
        create(sdk)
    assert raised.value.status_code == 429
    create(sdk)  # the rule was for one request
    until(browser, lambda d: "No active rule" in text(d, "#rules-live"), "the spent rule is still listed")

    click(browser, 'tr[data-scenario="failed"] button.trigger')
    until(browser, lambda d: "FAILED" in text(d, "#trigger-lines"), "the triggered scenario's exchange never showed")
    assert "syncso / failed" in text(browser, "#trigger-result")
    screenshot("scenarios")

    browser.find_element(By.ID, "rule-count").clear()
    click(browser, "#add-rule-button")  # a rule without a count stays until removed
    until(browser, lambda d: "∞" in text(d, "#rules-live"))
    click(browser, "#rules-live button.danger")
    until(browser, lambda d: "No active rule" in text(d, "#rules-live"))
    assert requests.get(f"{emulator.url}/_emulator/scenarios", timeout=5).json()["active"] == []


def test_a_namespace_shows_only_its_own_jobs(browser, emulator):
    def submit(namespace: str) -> str:
        resp = requests.post(f"{emulator.url}/v2/generate", timeout=5,
                             headers={"x-api-key": "sk-dashboard", "X-Emulator-Namespace": namespace},
                             json={"model": "lipsync-2", "input": [{"type": "video", "url": "https://example.com/a.mp4"},
                                                                   {"type": "audio", "url": "https://example.com/a.wav"}]})
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    mine, theirs = submit("team-a"), submit("team-b")
    open_page(browser, emulator, "jobs")
    until(browser, lambda d: all(d.find_elements(By.CSS_SELECTOR, f'tr[data-job="{j}"]') for j in (mine, theirs)))
    chooser = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#namespace option[value="team-a"]')
                    and Select(d.find_element(By.ID, "namespace")))
    try:
        chooser.select_by_value("team-a")
        # the page is rebuilt empty before its listing arrives: wait for both at once
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-job="{mine}"]')
              and not d.find_elements(By.CSS_SELECTOR, f'tr[data-job="{theirs}"]'), "team-b's job shown under team-a")
        Select(browser.find_element(By.ID, "namespace")).select_by_value("team-b")
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-job="{theirs}"]')
              and not d.find_elements(By.CSS_SELECTOR, f'tr[data-job="{mine}"]'), "team-a's job shown under team-b")
    finally:
        Select(browser.find_element(By.ID, "namespace")).select_by_value("")


def test_requests_newest_first_with_the_validation_error_and_the_overview(browser, screenshot, emulator, sdk):
    create(sdk)
    bad = requests.post(f"{emulator.url}/v2/generate", headers={"x-api-key": "sk-dashboard"}, timeout=5,
                        json={"model": "lipsync-2"})
    assert bad.status_code >= 400
    open_page(browser, emulator, "requests")
    first = until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#requests-live tbody tr"))[0]
    assert [td.text for td in first.find_elements(By.TAG_NAME, "td")[:3]] == [str(bad.status_code), "POST", "/v2/generate"]
    assert bad.json()["message"] in first.text
    screenshot("requests")

    click(browser, "#requests-live tbody tr:first-child a")
    until(browser, lambda d: '"model": "lipsync-2"' in text(d, "#request-body"))
    assert bad.json()["message"] in text(browser, "#response-body")
    screenshot("request")

    open_page(browser, emulator, "overview")
    until(browser, lambda d: "PENDING 1" in text(d, "#job-counts"))
    assert "POST /v2/generate" in text(browser, "#overview-live")
    click(browser, ".advance button", "+1 min")
    until(browser, lambda d: "COMPLETED 1" in text(d, "#job-counts"), "the overview's clock buttons did nothing")
    screenshot("overview")


def test_under_a_real_clock_the_advance_buttons_are_off_and_say_why(browser, make_emulator):
    real = make_emulator({"clock": "real"})
    open_page(browser, real, "overview")
    until(browser, lambda d: "real" in text(d, "#clock-now"), "the overview never showed the real clock")
    buttons = browser.find_elements(By.CSS_SELECTOR, ".advance button")
    assert buttons and all(b.get_attribute("disabled") is not None for b in buttons)
    assert "start the emulator with --clock virtual" in text(browser, "#clock-note")
