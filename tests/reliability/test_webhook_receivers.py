"""Webhook receivers that misbehave, against ``lipsync-emulator serve`` (loopback only).

An URL the loopback guard cannot read the way every HTTP library would is refused before
any connection; each attempt is bounded in total time and in bytes read; stalled receivers
leave the others' deliveries alone; every provider makes exactly the attempts it documents;
and a signed webhook states the wall-clock time it is sent at, whatever the virtual clock
says, so the vendors' own verifiers accept it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from lipsync_emulator.core.media import endpoint
from lipsync_emulator.gallery import ScenarioClient
from standardwebhooks.webhooks import Webhook

from tests.reliability import receivers
from tests.reliability.receivers import Receiver
from tests.reliability.serving import Served

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")
DONE = 3 * 3600.0  # virtual seconds after which every provider's default job is finished
KLING_SECRET = "whsec_" + base64.b64encode(b"kling-webhook-secret-for-tests!!").decode()
WAVESPEED_SECRET = "whsec_wavespeed_webhook_secret_for_tests"
SIGNING = (f"--set=kling.webhook_secret={KLING_SECRET}", f"--set=wavespeed.webhook_secret={WAVESPEED_SECRET}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with Served(str(tmp_path_factory.mktemp("receivers")), "--set=webhook_timeout=1", *SIGNING) as served:
        yield served


def client(served: Served) -> ScenarioClient:
    return ScenarioClient.for_url(served.url, timeout=60)


def deliveries(served: Served, job_id: str) -> list[dict[str, Any]]:
    return [d for d in served.control("GET", "/webhooks") if d["job_id"] == job_id]


def finish(served: Served, seconds: float = DONE, steps: int = 1) -> None:
    for _ in range(steps):
        served.advance(seconds / steps)


# -- one URL parser for the guard and the sender ------------------------------------------------------

def test_the_finding_url_has_no_endpoint_so_nothing_connects_anywhere():
    for url in ("http://10.255.255.1\\@127.0.0.1:9/x", "https://10.255.255.1\\@127.0.0.1:9/x",
                "http://10.255.255.1 @127.0.0.1:9/x", "http://user@127.0.0.1:9/x", "http://127.0.0.1\t:9/"):
        with pytest.raises(ValueError):
            endpoint(url)


def test_an_ambiguous_webhook_url_is_refused_before_any_connection_on_every_provider(served):
    """Built like the finding's URL, but what a second parser would read (127.0.0.2) is on
    loopback too: nothing in this test can leave the machine, whatever the code does."""
    with Receiver() as behind, Receiver() as decoy:
        url = f"http://127.0.0.2:{decoy.port}\\@127.0.0.1:{behind.port}/x"
        c = client(served)
        for provider in PROVIDERS:
            try:
                job_id = c.submit(provider, webhook_url=url)
            except requests.HTTPError as exc:  # refused at create: fine, nothing is sent
                assert exc.response.status_code == 400, (provider, exc.response.text)
                assert provider == "lipsyncstudio" and "webhook" in exc.response.text
                continue
            finish(served)
            rows = deliveries(served, job_id)
            assert rows, provider
            for row in rows:
                assert row["status"] == "skipped" and row["attempts"] == [], (provider, row)
                assert "backslash" in row["note"], row["note"]
        assert behind.connections == 0 and decoy.connections == 0


# -- each attempt bounded in total time and bytes --------------------------------------------------------

def test_a_dripping_receiver_is_one_attempt_cut_at_its_deadline_and_syncso_sends_once(served):
    """sync.so documents one attempt: a receiver that keeps it open, a byte at a time, gets
    that one attempt, cut at ``webhook_timeout`` (1 s here) while it still drips, and no
    second delivery however long the clock runs on."""
    with Receiver(receivers.drip) as dripping:
        job_id = client(served).submit("syncso", webhook_url=dripping.url)
        finish(served)
        # its drip lasts a minute: this ends only if the emulator cut it
        assert dripping.answered.wait(20) and dripping.cut
        finish(served, 24 * 3600, steps=4)  # long past any retry or lease
        (row,) = deliveries(served, job_id)
        assert row["status"] == "failed" and len(row["attempts"]) == 1, row
        assert "time" in row["attempts"][0]["error"].lower()
        assert dripping.connections == 1 and len(dripping.requests) == 1


def test_a_50_mb_answer_is_not_read_whole(served):
    with Receiver(receivers.huge) as big:
        job_id = client(served).submit("syncso", webhook_url=big.url)
        finish(served)
        (row,) = deliveries(served, job_id)
        assert row["status"] == "delivered" and row["attempts"][0]["status_code"] == 200
        assert big.answered.wait(20)  # its sendall fails once the emulator has closed
        assert big.sent < 10 * 1024 * 1024, big.sent


def test_a_redirect_is_an_answer_not_followed(served):
    with Receiver() as target, Receiver(receivers.status(302, "Location: {}\r\n")) as redirecting:
        redirecting.answer = receivers.status(302, f"Location: {target.url}\r\n")
        job_id = client(served).submit("syncso", webhook_url=redirecting.url)
        finish(served)
        (row,) = deliveries(served, job_id)
        assert row["status"] == "failed" and [a["status_code"] for a in row["attempts"]] == [302]
        assert target.connections == 0


# -- stalled receivers leave the others alone -------------------------------------------------------------

def test_ten_dripping_receivers_do_not_delay_another_webhook(tmp_path):
    """Ten receivers, two webhooks each, that drip their answers (within ``webhook_timeout``,
    30 s here): a healthy receiver's webhook, due at the same moment and sent after theirs,
    arrives while every dripping one still holds its attempts open."""
    with Served(str(tmp_path / "data"), "--set=webhook_timeout=30") as slow_served:
        dripping = [Receiver(receivers.drip) for _ in range(10)]
        try:
            with Receiver() as healthy:
                c = client(slow_served)
                for receiver in dripping:
                    for _ in range(2):
                        c.submit("syncso", webhook_url=receiver.url)
                c.submit("syncso", webhook_url=healthy.url)
                advancing = threading.Thread(target=finish, args=(slow_served,), daemon=True)
                advancing.start()
                assert healthy.got.wait(15), "the healthy receiver's webhook waited for the dripping ones"
                assert all(r.got.wait(15) for r in dripping)
                assert not any(r.answered.is_set() for r in dripping)  # none cut or finished yet
        finally:
            for receiver in dripping:
                receiver.close()
        advancing.join(30)


# -- attempts per provider, as documented ---------------------------------------------------------------

@pytest.mark.parametrize("answer", [receivers.status(500), receivers.drip], ids=["500", "dripping"])
def test_every_provider_makes_exactly_its_documented_attempts_to_a_failing_receiver(served, answer):
    """A receiver answering 500, or dripping its answer past the attempt's deadline: each
    provider makes exactly the attempts it documents, never one more."""
    config = served.control("GET", "/config")
    with Receiver(answer) as failing:
        c = client(served)
        jobs = {provider: c.submit(provider, webhook_url=failing.url) for provider in PROVIDERS}
        finish(served, 12 * 3600, steps=12)  # each step runs the retries the previous one scheduled
        for provider, job_id in jobs.items():
            documented = config[provider]["webhook_retry"]["max_attempts"]
            rows = deliveries(served, job_id)
            assert rows, provider
            for row in rows:
                assert len(row["attempts"]) == documented, (provider, row["attempts"])
                assert row["status"] == "failed"
        total = sum(len(r["attempts"]) for job_id in jobs.values() for r in deliveries(served, job_id))
        assert failing.connections == total


# -- signature timestamps: the wall clock at send time ------------------------------------------------------

def syncso_sample_verify(payload_text: str, header: str, secret: str, tolerance: float = 300) -> bool:
    """sync.so's documented Python sample (re-serialised compact JSON), with the usual replay
    check of ``t`` against the receiver's own clock."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    payload = json.loads(payload_text)
    signed = f"{parts['t']}.{json.dumps(payload, separators=(',', ':'))}"
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


def wavespeed_verify(body: bytes, headers: dict[str, str], secret: str) -> bool:
    """WaveSpeed's verifier rules: v3 HMAC of ``{id}.{timestamp}.{body}`` keyed with the
    secret minus ``whsec_``, and WebhookMaxAgeSeconds = 300 against the receiver's clock."""
    stamp = int(headers["webhook-timestamp"])
    if abs(time.time() - stamp) > 300:
        return False
    key = secret.removeprefix("whsec_").encode()
    expected = hmac.new(key, f"{headers['webhook-id']}.{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, sig.removeprefix("v3,")) for sig in headers["webhook-signature"].split())


def test_signed_webhooks_verify_with_the_vendors_code_after_the_clock_moves_24_hours(served):
    served.advance(24 * 3600)
    secret = served.control("GET", "/config")["syncso"]["webhook_secret"]
    with Receiver() as receiver:
        c = client(served)
        for provider in ("syncso", "wavespeed", "kling"):
            c.submit(provider, webhook_url=receiver.url)
        finish(served)
        assert receiver.requests
        seen = set()
        for headers, body in receiver.requests:
            if "sync-signature" in headers:
                seen.add("syncso")
                assert syncso_sample_verify(body.decode(), headers["sync-signature"], secret)
            elif headers.get("webhook-signature", "").startswith("v3,"):
                seen.add("wavespeed")
                assert wavespeed_verify(body, headers, WAVESPEED_SECRET)
            else:
                seen.add("kling")
                Webhook(KLING_SECRET).verify(body, headers)  # raises on a bad signature or a stale time
        assert seen == {"syncso", "wavespeed", "kling"}
