"""The scenario machinery itself: how a scenario is chosen (header, magic value, control-plane
rule with count / job / key, chaos), the rules' edge cases, the webhook faults' timing and the
transport faults on the production server (waitress). The per-scenario effects of the whole
catalogue are in test_scenarios_catalog.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.core.faults import FAULT_DEFAULTS, Latency, malformed
from lipsync_emulator.core.runtime import EXTENSION
from lipsync_emulator.core.scenarios import MAGIC, Chaos, Scenario, ScenarioCatalog
from lipsync_emulator.gallery import ScenarioClient

KEY = {"x-api-key": "sk-test"}
VIDEO = {"type": "video", "url": "https://e.x/v.mp4"}
AUDIO = {"type": "audio", "url": "https://e.x/a.wav"}
VALID = {"model": "lipsync-2", "input": [VIDEO, AUDIO]}


def create(emu, body=None, headers=None, **kwargs):
    return requests.post(f"{emu.url}/v2/generate", json=body or VALID, headers={**KEY, **(headers or {})},
                         timeout=10, **kwargs)


def get(emu, gid, headers=None, **kwargs):
    return requests.get(f"{emu.url}/v2/generate/{gid}", headers={**KEY, **(headers or {})}, timeout=10, **kwargs)


def journal(emu):
    return emu.control.requests(provider="syncso")


# -- choosing -------------------------------------------------------------------------------------

def test_header_chooses_several_scenarios_and_the_journal_says_how(emulator, webhook_receiver):
    resp = create(emulator, {**VALID, "webhookUrl": webhook_receiver.url},
                  headers={"X-Emulator-Scenario": "failed, webhook_drop"})
    assert resp.status_code == 201
    rows = journal(emulator)
    assert len(rows) == 1, rows
    [row] = rows
    assert row["scenario"] == ["failed", "webhook_drop"]
    assert row["scenario_source"] == {"failed": "header", "webhook_drop": "header"}
    emulator.advance(60)
    [delivery] = emulator.control.webhooks()
    assert (delivery["status"], delivery["note"], delivery["event"]) == ("skipped", "dropped by scenario",
                                                                         "generation.failed")
    assert webhook_receiver.received == []


@pytest.mark.parametrize("where", ["video url query", "url path", "file name in multipart", "query string"])
def test_magic_value_anywhere_in_the_request(emulator, where):
    if where == "video url query":
        resp = create(emulator, {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?x=1&emulator_scenario=free_tier_exhausted"}, AUDIO]})
    elif where == "url path":
        resp = create(emulator, {**VALID, "input": [{**VIDEO, "url": "https://e.x/emulator-scenario/free_tier_exhausted/v.mp4"}, AUDIO]})
    elif where == "query string":
        resp = requests.post(f"{emulator.url}/v2/generate?emulator_scenario=free_tier_exhausted", json=VALID,
                             headers=KEY, timeout=10)
    else:
        resp = requests.post(f"{emulator.url}/v2/generate", headers=KEY, timeout=10,
                             data={"model": "lipsync-2"},
                             files={"video": ("talk.emulator_scenario=free_tier_exhausted.mp4", b"\0" * 64),
                                    "audio": ("a.wav", b"\0" * 64)})
    assert resp.status_code == 402 and resp.json()["errorCode"] == "free_tier_generations_exhausted"
    assert journal(emulator)[-1]["scenario_source"] == {"free_tier_exhausted": "magic"}


def test_magic_names_stop_at_a_dot_so_file_names_work():
    assert MAGIC.findall("clip.emulator_scenario=failed.mp4") == ["failed"]
    with pytest.raises(ValueError, match=r"must match"):
        ScenarioCatalog().add(Scenario("has.dot", "p", (), "x", "inferred", "outcome"))


def test_a_name_that_does_not_apply_to_the_operation_is_ignored(emulator):
    gid = create(emulator).json()["id"]
    resp = get(emulator, gid, headers={"X-Emulator-Scenario": "failed"})  # failed: createGeneration only
    assert resp.status_code == 200 and journal(emulator)[-1]["scenario"] == []


@pytest.mark.parametrize("how", ["header", "magic", "rule"])
def test_an_unknown_name_is_reported_never_ignored(emulator, how):
    if how == "rule":
        resp = requests.post(f"{emulator.url}/_emulator/scenarios", json={"provider": "syncso", "scenario": "nope"},
                             timeout=10)
        assert resp.status_code == 400 and resp.json()["field"] == "scenario"
        return
    if how == "header":
        resp = create(emulator, headers={"X-Emulator-Scenario": "nope"})
    else:
        resp = create(emulator, {**VALID, "input": [{**VIDEO, "url": "https://e.x/v.mp4?emulator_scenario=nope"}, AUDIO]})
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("unknown emulator scenario 'nope' for syncso (known: ")


# -- control-plane rules ---------------------------------------------------------------------------

def test_rule_count_means_the_next_n_matching_requests(emulator):
    rule = emulator.control.scenario("syncso", "rate_limited", operation="createGeneration", count=2)
    assert (rule["remaining"], rule["matched"]) == (2, 0)
    assert [create(emulator).status_code for _ in range(3)] == [429, 429, 201]
    assert emulator.control._call("GET", "/scenarios")["active"] == []
    assert [r["scenario_source"] for r in journal(emulator)] == [{"rate_limited": "rule"}] * 2 + [None]


def test_rule_matches_a_job_id_or_an_api_key_only(emulator):
    mine, other = create(emulator).json()["id"], create(emulator).json()["id"]
    emulator.control.scenario("syncso", "internal_error", job_id=mine)
    assert get(emulator, other).status_code == 200
    assert [get(emulator, mine).status_code for _ in range(2)] == [500, 500]  # no count: until deleted
    emulator.control.clear_scenarios()
    assert get(emulator, mine).status_code == 200
    emulator.control.scenario("syncso", "rate_limited", api_key="sk-other", count=1)
    assert create(emulator).status_code == 201
    assert create(emulator, headers={"x-api-key": "sk-other"}).status_code == 429


def test_a_rule_is_kept_for_the_operations_it_applies_to(emulator):
    gid = create(emulator).json()["id"]
    emulator.control.scenario("syncso", "failed", count=1)
    for _ in range(3):
        assert get(emulator, gid).status_code == 200  # GETs do not consume it
    [active] = emulator.control._call("GET", "/scenarios")["active"]
    assert active["remaining"] == 1
    created = create(emulator).json()["id"]
    emulator.advance(30)
    assert get(emulator, created).json()["status"] == "FAILED"


def test_rule_validation(emulator):
    def post(body):
        return requests.post(f"{emulator.url}/_emulator/scenarios", json=body, timeout=10)

    assert post({"provider": "nope", "scenario": "failed"}).json()["field"] == "provider"
    assert post({"provider": "syncso", "scenario": "failed", "count": 0}).json()["field"] == "count"
    resp = post({"provider": "syncso", "scenario": "failed", "operation": "createGenerations"})
    assert resp.status_code == 400 and "createGeneration" in resp.json()["message"]
    assert post({"provider": "syncso", "scenario": "failed", "job_id": 7}).json()["field"] == "job_id"
    assert post({"provider": "syncso", "scenario": "failed", "operation": "webhook"}).status_code == 201
    assert requests.delete(f"{emulator.url}/_emulator/scenarios/rule_999", timeout=10).status_code == 404


# -- webhook faults ---------------------------------------------------------------------------------

def test_a_webhook_only_rule_waits_for_the_next_webhooks(emulator, webhook_receiver):
    """{"scenario": "webhook_drop", "count": 1}: the next webhook sent is dropped, whatever job."""
    emulator.control.scenario("syncso", "webhook_drop", count=1)
    first = create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}).json()["id"]
    assert emulator.control._call("GET", "/scenarios")["active"][0]["remaining"] == 1  # not used by the create
    second = create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}).json()["id"]
    emulator.advance(30)
    by_job = {d["job_id"]: d for d in emulator.control.webhooks()}
    assert by_job[first]["status"] == "skipped" and by_job[first]["scenarios"] == ["webhook_drop"]
    assert by_job[second]["status"] == "delivered"
    assert [r.json()["id"] for r in webhook_receiver.wait_for(1)] == [second]


def test_a_webhook_rule_for_one_job(emulator, webhook_receiver):
    ids = [create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}).json()["id"] for _ in range(2)]
    emulator.control.scenario("syncso", "webhook_duplicate", job_id=ids[1])
    emulator.advance(30)
    received = [r.json()["id"] for r in webhook_receiver.wait_for(3)]
    assert sorted(received) == sorted([ids[0], ids[1], ids[1]])


def test_out_of_order_hold_expires_without_a_later_webhook(emulator, webhook_receiver):
    hold = FAULT_DEFAULTS["webhook_hold_seconds"]
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}, headers={"X-Emulator-Scenario": "webhook_out_of_order"})
    emulator.advance(30 + hold - 1)
    assert webhook_receiver.received == []
    emulator.advance(1)
    assert len(webhook_receiver.wait_for(1)) == 1
    [delivery] = emulator.control.webhooks()
    assert delivery["note"] == "held back (out of order): sent when the hold expired"


def test_a_duplicate_overtakes_the_held_original(emulator, webhook_receiver):
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url},
           headers={"X-Emulator-Scenario": "webhook_out_of_order,webhook_duplicate"})
    emulator.advance(30)
    copy, original = webhook_receiver.wait_for(2)
    assert copy.body == original.body
    deliveries = emulator.control.webhooks()
    assert len({d["message_id"] for d in deliveries}) == 1
    held = next(d for d in deliveries if d["note"])
    assert held["note"].startswith("held back (out of order): sent after delivery ")


def test_bad_signature_fails_the_official_verification(emulator, webhook_receiver):
    """sync.so's documented check: HMAC-SHA256(secret, f"{t}.{body}") [syncso.md §6]."""
    secret = emulator.control.config()["syncso"]["webhook_secret"]

    def verifies(received) -> bool:
        t, v1 = (part.split("=", 1)[1] for part in received.headers["Sync-Signature"].split(","))
        payload = json.dumps(received.json(), separators=(",", ":"))
        return hmac.compare_digest(hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest(), v1)

    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url})
    create(emulator, {**VALID, "webhookUrl": webhook_receiver.url}, headers={"X-Emulator-Scenario": "webhook_bad_signature"})
    emulator.advance(30)
    good, bad = sorted(webhook_receiver.wait_for(2), key=lambda r: "webhook_bad_signature" in json.dumps(
        next(d["scenarios"] for d in emulator.control.webhooks() if d["body"] == r.text)))
    assert verifies(good) and not verifies(bad)


def test_webhook_delay_amount_is_configurable(make_emulator, webhook_receiver):
    emu = make_emulator({"faults": {"webhook_delay_seconds": 5}})
    create(emu, {**VALID, "webhookUrl": webhook_receiver.url}, headers={"X-Emulator-Scenario": "webhook_delay"})
    emu.advance(34)
    assert webhook_receiver.received == []
    emu.advance(1)
    assert len(webhook_receiver.wait_for(1)) == 1


# -- transport faults --------------------------------------------------------------------------------

def test_transport_fault_applies_to_an_error_answer_too(emulator):
    resp = create(emulator, headers={"X-Emulator-Scenario": "rate_limited,truncated_json"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"
    full = journal(emulator)[-1]["response_body"].encode()
    assert resp.content == full[: len(full) // 2]


def test_the_job_exists_although_the_answer_was_lost(emulator):
    with pytest.raises(requests.ConnectionError):
        create(emulator, headers={"X-Emulator-Scenario": "connection_reset"})
    [row] = journal(emulator)
    assert get(emulator, row["job_id"]).json()["status"] == "PENDING"


def test_malformed_json_has_a_trailing_comma():
    assert malformed(b'{"a":1}') == b'{"a":1,}'
    assert malformed(b"[1]") == b"[1,]"
    assert malformed(b"7") == b'"7\n'


def test_latency_draws_are_seeded_and_capped():
    settings = {**FAULT_DEFAULTS, "latency_random": {"median": 0.5, "sigma": 2.0, "max": 3.0}}
    a, b, c = Latency(settings, 42), Latency(settings, 42), Latency(settings, 43)
    draws = [a.draw() for _ in range(20)]
    assert draws == [b.draw() for _ in range(20)] and draws != [c.draw() for _ in range(20)]
    assert max(draws) <= 3.0 and min(draws) > 0
    a.reset()
    assert a.draw() == draws[0]
    assert Latency({**settings, "latency_cap": 1.0}, 1).seconds(99) == 1.0


@pytest.fixture
def waitress_emulator():
    """The emulator as ``lipsync-emulator serve`` runs it: under waitress."""
    from waitress import create_server

    app = create_app({"clock": "virtual"})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    closing = threading.Event()

    def run():
        try:
            server.run()
        except OSError:
            # waitress has no stop: closing its sockets under its select() is the way out
            # (EBADF); anything else, or before the close, is a real failure
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    closing.set()
    server.close()
    for channel in list(server._map.values()):  # its connections too: the loop runs while any is open
        channel.close()
    thread.join(5)
    assert not thread.is_alive()
    app.extensions[EXTENSION].scheduler.stop()


def test_transport_faults_under_waitress(waitress_emulator):
    url = waitress_emulator

    def post(name):
        return requests.post(f"{url}/v2/generate", json=VALID, headers={**KEY, "X-Emulator-Scenario": name}, timeout=10)

    with pytest.raises(requests.ConnectionError, match="Connection reset by peer"):
        post("connection_reset")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        post("connection_closed_mid_body")
    truncated = post("truncated_json")
    assert truncated.status_code == 201 and truncated.headers["Content-Length"] == str(len(truncated.content))
    assert post("bad_gateway_html").text.startswith("<html>")
    assert requests.get(f"{url}/_emulator/health", timeout=10).json()["status"] == "ok"


# -- chaos ---------------------------------------------------------------------------------------------

def run_chaos(emu, n=24):
    out = []
    for _ in range(n):
        try:
            resp = create(emu)
            out.append(resp.status_code)
        except requests.RequestException:
            out.append("dropped")
    return out, [tuple(r["scenario"]) for r in journal(emu)]


def test_chaos_is_deterministic_for_a_seed(make_emulator):
    spec = "seed=7,rate=0.5,kinds=response+transport,exclude=latency+latency_random"
    first, second, other = (make_emulator({"chaos": s}) for s in (spec, spec, spec.replace("seed=7", "seed=8")))
    statuses, chosen = run_chaos(first)
    assert (statuses, chosen) == run_chaos(second)
    assert chosen != run_chaos(other)[1]
    picked = [c for c in chosen if c]
    assert 4 <= len(picked) <= 20 and all(len(c) == 1 for c in picked)
    assert {journal(first)[i]["scenario_source"][c[0]] for i, c in enumerate(chosen) if c} == {"chaos"}


def test_chaos_does_not_override_an_explicit_choice_and_is_reset(make_emulator):
    emu = make_emulator({"chaos": {"seed": 1, "rate": 1.0, "kinds": ["response"], "providers": ["syncso"]}})
    assert create(emu, headers={"X-Emulator-Scenario": "failed"}).status_code == 201
    assert create(emu).status_code >= 400
    requests.put(f"{emu.url}/_emulator/chaos", json={"seed": 1, "rate": 0}, timeout=10).raise_for_status()
    assert create(emu).status_code == 201
    assert emu.control._call("GET", "/scenarios")["chaos"]["rate"] == 0
    emu.reset()  # back to the configured chaos
    assert emu.control._call("GET", "/scenarios")["chaos"]["rate"] == 1.0
    requests.delete(f"{emu.url}/_emulator/chaos", timeout=10).raise_for_status()
    assert create(emu).status_code == 201


@pytest.mark.parametrize("spec,message", [
    ("seed=1,rate=2", "between 0 and 1"), ("seed=x", "integer"), ("seed=1,rate", "key=value"),
    ("seed=1,kinds=bogus", "kinds"), ("seed=1,speed=3", "unknown chaos setting"),
])
def test_chaos_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        Chaos.parse(spec)
    with pytest.raises(ValueError, match=message):
        create_app({"chaos": spec})


def test_chaos_control_plane_rejects_bad_settings(emulator):
    resp = requests.put(f"{emulator.url}/_emulator/chaos", json={"rate": -1}, timeout=10)
    assert resp.status_code == 400 and resp.json()["field"] == "chaos"


# -- the gallery client's magic fallback --------------------------------------------------------------

def test_magic_goes_to_the_query_string_when_the_request_has_no_media(emulator):
    client = ScenarioClient.for_server(emulator)
    ex = client.trigger(client.scenario("syncso", "internal_error"), "magic", operation="getGeneration")
    assert ex.status == 500 and ex.url.endswith("?emulator_scenario=internal_error")


def test_chaos_draws_webhook_faults_only_for_job_creating_operations(make_emulator):
    emu = make_emulator({"chaos": {"seed": 5, "rate": 1.0, "kinds": ["webhook"]}})
    gid = create(emu).json()["id"]
    assert journal(emu)[0]["scenario"][0].startswith("webhook_")
    for _ in range(5):
        assert get(emu, gid).status_code == 200
    assert [r["scenario"] for r in journal(emu)[1:]] == [[]] * 5
