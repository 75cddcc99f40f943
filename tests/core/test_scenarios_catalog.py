"""The whole scenario catalogue — every provider's scenarios and the generic transport and
webhook faults — each triggered through each of the three ways of choosing it (header, magic
value, control-plane rule), its effect proven on the wire: status, body, headers, the job's
timeline on the virtual clock, the webhooks sent, and the journal entry naming the scenario.

Response and outcome scenarios are checked against the ``Expect`` their provider declared;
generic transport and webhook faults by what their ``effects`` promise. Providers are reached
through the ``Probe`` objects they register, so nothing here is provider-specific.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise

import pytest
from lipsync_emulator.app import create_app
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.core.scenarios import Scenario, mismatches
from lipsync_emulator.gallery import WAYS, Exchange, ScenarioClient
from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

LATENCY = 0.05  # wall-clock seconds: kept tiny, the journal records the exact amount
CONFIG = {
    "faults": {"latency_seconds": LATENCY, "latency_random": {"median": LATENCY / 2, "sigma": 0.5, "max": LATENCY}},
    # Kling signs callbacks only when a webhook secret is configured [kling.md §7].
    "kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="},
}
CATALOG = create_app({"clock": "virtual", **CONFIG}).extensions[EXTENSION].catalog
CASES = [(s.provider, s.name) for s in CATALOG.list()]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(CONFIG) as emu:
        yield emu


@pytest.fixture
def client(server: EmulatorServer) -> ScenarioClient:
    server.reset()
    return ScenarioClient.for_server(server, timeout=10)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("provider,name", CASES, ids=[f"{p}.{n}" for p, n in CASES])
def test_scenario_effect_on_the_wire(client, server, webhook_receiver, provider, name, way):
    scenario = client.scenario(provider, name)
    check = CHECKS[scenario.kind]
    check(client, server, webhook_receiver, scenario, way)


def test_every_provider_declares_probes_for_its_scenarios():
    missing = [f"{s.provider}.{s.name}" for s in CATALOG.list() if CATALOG.probe_for(s) is None]
    assert missing == []
    for provider in CATALOG.providers():
        submit = CATALOG.probe(provider)
        assert submit is not None and submit.job_id is not None and submit.poll, provider
        assert CATALOG.probe(provider, submit.poll) is not None, provider


# -- the journal, for every kind -----------------------------------------------------------------

def assert_journal(client: ScenarioClient, ex: Exchange, scenario: Scenario, way: str) -> None:
    """The journal names the scenario and how it was chosen; a rule is used up."""
    assert ex.journal is not None and ex.journal["operation"] == ex.operation
    assert scenario.name in ex.journal["scenario"]
    assert ex.journal["scenario_source"][scenario.name] == way
    if way == "rule":
        active = client.control("GET", "/scenarios")["active"]
        assert active == [], f"the count-1 rule should be used up, still active: {active}"


def expect_of(scenario: Scenario):
    assert scenario.expect is not None, (
        f"{scenario.provider}.{scenario.name}: declare Scenario(expect=Expect(...)) — its effect on the wire")
    return scenario.expect


def check_answer(ex: Exchange, scenario: Scenario) -> None:
    exp = expect_of(scenario)
    assert ex.error is None, ex.error
    if exp.status is not None:
        assert ex.status == exp.status, ex.body[:300]
    for header, want in exp.headers.items():
        got = ex.response_headers.get(header)
        assert got is not None, f"{header} missing"
        assert want is ... or got == want, f"{header}: {got!r} != {want!r}"
    if exp.body:
        assert "json" in ex.response_headers.get("Content-Type", ""), ex.response_headers
        assert mismatches(ex.json(), exp.body) == []


# -- per kind ------------------------------------------------------------------------------------

def check_response(client, server, receiver, scenario, way):
    ex = client.trigger(scenario, way)
    check_answer(ex, scenario)  # its declared status: an error envelope may come with HTTP 200 (WaveSpeed upload)
    assert_journal(client, ex, scenario, way)
    assert ex.journal["status"] == ex.status


def check_outcome(client, server, receiver, scenario, way):
    exp = expect_of(scenario)
    assert exp.job, "an outcome scenario's Expect needs job checkpoints"
    ex = client.trigger(scenario, way, webhook_url=receiver.url if exp.webhooks is not None else None)
    check_answer(ex, scenario)
    assert_journal(client, ex, scenario, way)
    assert ex.job_id, ex.body[:300]
    client.follow(ex, [at for at, _ in exp.job])
    for poll, (at, subset) in zip(ex.timeline, exp.job, strict=True):
        assert poll.status == 200, (at, poll.body)
        assert mismatches(poll.body, subset) == [], f"at +{at:g} s"
    if exp.webhooks is not None:
        got = receiver.wait_for(len(exp.webhooks), timeout=5) if exp.webhooks else receiver.received
        assert len(got) == len(exp.webhooks), [r.json() for r in got]
        for received, subset in zip(got, exp.webhooks, strict=True):
            assert mismatches(received.json(), subset) == []


def check_transport(client, server, receiver, scenario, way):
    effects = scenario.effects
    ex = client.trigger(scenario, way)
    assert_journal(client, ex, scenario, way)
    journal = ex.journal
    fault = effects.get("transport")
    if "latency" in effects:
        spent = journal["faults"]["latency_ms"] / 1000
        if effects["latency"] == "fixed":
            assert spent == LATENCY
        else:
            assert 0 < spent <= LATENCY
        assert ex.elapsed >= spent and journal["duration_ms"] >= spent * 1000
        assert ex.error is None and ex.status == journal["status"] < 400
    elif fault == "reset":
        assert ex.status is None and "ConnectionResetError" in (ex.error or ""), ex.error
        assert journal["status"] < 400, "the request was processed; only the answer was lost"
    elif fault == "mid_body":
        assert ex.status is None and "IncompleteRead" in (ex.error or ""), ex.error
    elif fault == "truncate":
        full = journal["response_body"].encode()
        assert ex.status == journal["status"] and ex.body == full[: len(full) // 2]
        assert ex.response_headers["Content-Length"] == str(len(ex.body))
        with pytest.raises(ValueError):
            json.loads(ex.body)
    elif fault == "malformed":
        assert ex.status == journal["status"] and "json" in ex.response_headers["Content-Type"]
        with pytest.raises(ValueError):
            json.loads(ex.body)
        assert json.loads(ex.body[:-2] + ex.body[-1:]) == json.loads(journal["response_body"])
    elif fault == "content_type":
        assert ex.response_headers["Content-Type"] == "text/html; charset=utf-8"
        assert json.loads(ex.body) == json.loads(journal["response_body"])
    elif effects.get("html_status"):
        check_answer(ex, scenario)
        assert b"502 Bad Gateway" in ex.body and ex.job_id is None
        assert client.control("GET", "/jobs", params={"provider": scenario.provider}) == []
    else:  # a provider's own transport scenario: its declared expectation
        check_answer(ex, scenario)


def check_webhook(client, server, receiver: WebhookReceiver, scenario, way):
    effects = scenario.effects
    provider = scenario.provider
    ex = client.trigger(scenario, way, webhook_url=receiver.url)
    assert ex.error is None and ex.status is not None and ex.status < 300, ex.body[:300]
    assert_journal(client, ex, scenario, way)
    assert ex.job_id
    client.control("POST", f"/jobs/{provider}/{ex.job_id}/finish")
    client.advance(0)
    deliveries = client.deliveries(provider, ex.job_id)
    assert deliveries, "the job sent no webhook"
    assert all(scenario.name in d["scenarios"] for d in deliveries)
    if effects.get("drop"):
        assert {(d["status"], d["note"]) for d in deliveries} == {("skipped", "dropped by scenario")}
        assert receiver.received == []
    elif effects.get("duplicate"):
        copies = int(effects["duplicate"]) + 1
        received = receiver.wait_for(len(deliveries))
        assert len(deliveries) % copies == 0 and len(received) == len(deliveries)
        by_message: dict[str, list[dict]] = {}
        for d in deliveries:
            by_message.setdefault(d["message_id"], []).append(d)
        assert {len(v) for v in by_message.values()} == {copies}
        for group in by_message.values():
            assert len({d["body"] for d in group}) == 1
    elif effects.get("delay"):
        delay = float(effects["delay"])
        assert receiver.received == [] and {d["status"] for d in deliveries} == {"pending"}
        client.advance(delay - 1)
        assert receiver.received == []
        client.advance(1)
        assert len(receiver.wait_for(len(deliveries))) == len(deliveries)
    elif effects.get("bad_signature"):
        received = receiver.wait_for(len(deliveries))
        assert len(received) == len(deliveries)
        for d in deliveries:
            [attempt] = d["attempts"]
            correct = server.runtime.webhooks.signature(d["id"], attempt["signed_at"], attempt["timestamp"])
            assert correct, f"{provider} webhooks are unsigned: webhook_bad_signature means nothing here"
            for header, value in correct.items():
                if "signature" in header.lower():
                    assert attempt["headers"][header] != value
                else:
                    assert attempt["headers"][header] == value
    elif effects.get("out_of_order"):
        assert receiver.received == [], "held back"
        later = client.submit(provider, webhook_url=receiver.url)
        client.control("POST", f"/jobs/{provider}/{later}/finish")
        client.advance(0)
        total = len(deliveries) + len(client.deliveries(provider, later))
        received = receiver.wait_for(total)
        held_bodies = {d["body"] for d in deliveries}
        order = ["held" if r.text in held_bodies else "later" for r in received]
        # Nothing of the held job arrives before the later job's first webhook (after it, the
        # released ones and the later job's next events may interleave).
        assert order[0] == "later" and order.count("held") == len(deliveries), order
    else:
        pytest.fail(f"no check for webhook effects {effects}")


CHECKS = {"response": check_response, "outcome": check_outcome, "transport": check_transport,
          "webhook": check_webhook}


@pytest.mark.parametrize("provider", CATALOG.providers())
def test_receiver_failures_drive_the_retry_schedule(client, webhook_receiver, provider):
    """A failing receiver is the receiver's doing, not a scenario: every provider's webhooks
    then follow its retry policy on the virtual clock, attempt by attempt, and end failed."""
    webhook_receiver.respond_with(*[500] * 200)
    job = client.submit(provider, webhook_url=webhook_receiver.url)
    client.control("POST", f"/jobs/{provider}/{job}/finish")
    client.advance(0)
    first = client.deliveries(provider, job)
    assert first, "the job sent no webhook"
    client.advance(sum(max([d["retry_delays"] for d in first], key=sum)) + 1)
    for delivery in client.deliveries(provider, job):
        attempts = delivery["attempts"]
        assert delivery["status"] == "failed" and len(attempts) == delivery["max_attempts"]
        assert {a["status_code"] for a in attempts} == {500}
        gaps = [b["timestamp"] - a["timestamp"] for a, b in pairwise(attempts)]
        assert gaps == pytest.approx(delivery["retry_delays"])
