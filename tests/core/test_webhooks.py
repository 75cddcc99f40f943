"""The webhook dispatcher against a real loopback receiver, on a virtual clock."""

from __future__ import annotations

import time

import pytest
from lipsync_emulator.core.clock import Scheduler, VirtualClock
from lipsync_emulator.core.ids import IdSource
from lipsync_emulator.core.store import MemoryStore
from lipsync_emulator.core.webhooks import (
    RetryPolicy,
    Signer,
    WebhookDispatcher,
    is_loopback,
    signature_scheme,
)

signature_scheme("test-time")(lambda _signer, body, ts, _id: {"X-Sig": f"{int(ts)}:{body.decode()}"})
signature_scheme("test-fixed")(lambda signer, _body, _ts, _id: {"X-Signature": signer.secret})


def test_retry_policy_delays():
    assert RetryPolicy(max_attempts=4, backoff=2, factor=3).delays() == [2.0, 6.0, 18.0]
    assert RetryPolicy(max_attempts=5, backoff=10, factor=10, max_delay=500).delays() == [10, 100, 500, 500]
    assert RetryPolicy(max_attempts=4, schedule=(5, 60)).delays() == [5.0, 60.0, 60.0]
    assert RetryPolicy.from_dict({"max_attempts": 2, "unknown": 1}).max_attempts == 2


@pytest.mark.parametrize("url,expected", [
    ("http://127.0.0.1:8000/x", True), ("http://localhost/x", True), ("http://[::1]:9/x", True),
    ("http://127.9.9.9/x", True), ("https://example.com/x", False), ("http://10.0.0.1/x", False),
    ("http://192.168.1.2/x", False), ("not a url", False), ("http://[::1/x", False),  # urlsplit raises on the last
])
def test_only_loopback_hosts_are_called(url, expected):
    assert is_loopback(url) is expected


@pytest.fixture
def dispatcher():
    clock = VirtualClock(start=5_000.0)
    sched = Scheduler(clock)
    d = WebhookDispatcher(clock, sched, IdSource(1), MemoryStore())

    def advance(seconds: float) -> None:
        target = clock.now() + seconds
        while (due := sched.next_due()) is not None and due <= target:
            clock.set(max(due, clock.now()))
            sched.run_due()
            d.wait_idle()
        clock.set(target)

    return d, advance


def test_signed_per_attempt_with_the_wall_clock_time_it_is_sent(dispatcher, webhook_receiver):
    """The virtual clock says 5000 and 5030; a receiver checks the signature's time against
    its own clock, so each attempt states the real time it was sent at."""
    d, advance = dispatcher
    webhook_receiver.respond_with(500)
    before = int(time.time())
    d.send(provider="p", url=webhook_receiver.url, body=b'{"a":1}', event="e",
           policy=RetryPolicy(max_attempts=2, backoff=30),
           signer=Signer("test-time", ""))
    advance(0)
    advance(30)
    sigs = [r.headers["X-Sig"] for r in webhook_receiver.wait_for(2)]
    after = int(time.time())
    stamps = [int(sig.split(":", 1)[0]) for sig in sigs]
    assert all(before <= stamp <= after for stamp in stamps) and all(sig.endswith(':{"a":1}') for sig in sigs)
    [delivery] = d.deliveries()
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempts] == [500, 200]
    assert [a.timestamp for a in delivery.attempts] == [5000, 5030]  # the emulator's time of each attempt
    assert [int(a.signed_at) for a in delivery.attempts] == stamps


def test_gives_up_after_max_attempts(dispatcher, webhook_receiver):
    d, advance = dispatcher
    webhook_receiver.respond_with(500, 500, 500, 500)
    d.send(provider="p", url=webhook_receiver.url, body=b"{}", event="e", policy=RetryPolicy(max_attempts=3))
    advance(1000)
    [delivery] = d.deliveries()
    assert delivery.status == "failed" and len(delivery.attempts) == 3
    assert len(webhook_receiver.received) == 3


def test_faults_drop_duplicate_delay_and_bad_signature(dispatcher, webhook_receiver):
    d, advance = dispatcher
    sign = {"signer": Signer("test-fixed", "abcdef")}
    d.send(provider="p", url=webhook_receiver.url, body=b"1", event="e", policy=RetryPolicy(),
           faults={"drop": True}, **sign)
    d.send(provider="p", url=webhook_receiver.url, body=b"2", event="e", policy=RetryPolicy(),
           faults={"duplicate": 1}, **sign)
    d.send(provider="p", url=webhook_receiver.url, body=b"3", event="e", policy=RetryPolicy(),
           faults={"delay": 60, "bad_signature": True}, **sign)
    advance(59)
    assert sorted(r.body for r in webhook_receiver.wait_for(2)) == [b"2", b"2"]
    advance(1)
    late = webhook_receiver.wait_for(3)[2]
    assert late.body == b"3" and late.headers["X-Signature"] != "abcdef"
    statuses = sorted(x.status for x in d.deliveries())
    assert statuses == ["delivered", "delivered", "delivered", "skipped"]


def test_redeliver_sends_a_new_delivery(dispatcher, webhook_receiver):
    d, advance = dispatcher
    first = d.send(provider="p", url=webhook_receiver.url, body=b"x", event="e", policy=RetryPolicy())
    advance(0)
    again = d.redeliver(first.id)
    advance(0)
    assert again is not None and again.id != first.id
    assert [r.body for r in webhook_receiver.wait_for(2)] == [b"x", b"x"]
    assert d.redeliver("nope") is None



def test_an_unparseable_webhook_url_is_recorded_and_every_job_still_completes(emulator, webhook_receiver):
    """``http://[::1/x`` made urlsplit raise inside a job's transition: the clock advance failed
    and, with a real clock, the scheduler thread would have died with every job behind it."""
    import requests

    def create(hook: str) -> str:
        body = {"model": "lipsync-2", "webhookUrl": hook, "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                                                   {"type": "audio", "url": "https://e.x/a.wav"}]}
        resp = requests.post(f"{emulator.url}/v2/generate", json=body, headers={"x-api-key": "sk"}, timeout=10)
        assert resp.status_code == 201
        return resp.json()["id"]

    bad, good = create("http://[::1/x"), create(webhook_receiver.url)
    assert emulator.advance(3600)["fired"] > 0
    jobs = {j["id"]: j["status"] for j in requests.get(f"{emulator.url}/v2/generations", headers={"x-api-key": "sk"},
                                                       timeout=10).json()}
    assert jobs == {bad: "COMPLETED", good: "COMPLETED"}
    hooks = {d["job_id"]: d for d in emulator.control.webhooks(provider="syncso")}
    assert hooks[bad]["status"] == "skipped" and hooks[bad]["note"] == "not delivered: the URL cannot be parsed"
    assert hooks[good]["status"] == "delivered"


def test_deliveries_ignore_a_proxy_set_in_the_environment(dispatcher, webhook_receiver, monkeypatch):
    # a proxy meant for the internet cannot reach a receiver on this machine
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    d, advance = dispatcher
    d.send(provider="p", url=webhook_receiver.url, body=b"{}", event="e", policy=RetryPolicy(max_attempts=1))
    advance(0)
    [delivery] = d.deliveries()
    assert (delivery.status, delivery.attempts[0].status_code) == ("delivered", 200)
    assert len(webhook_receiver.wait_for(1)) == 1


def test_receiver_keeps_connections_alive(webhook_receiver):
    # one connection for many deliveries, as a production receiver (a new one per webhook
    # doubled the in-process job cycle: README, Performance)
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", webhook_receiver.port, timeout=10)
    for n in range(3):
        conn.request("POST", "/webhook", body=f'{{"n":{n}}}', headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert (resp.status, resp.version, resp.read(), resp.will_close) == (200, 11, b"{}", False)
    conn.close()
    assert [r.body for r in webhook_receiver.wait_for(3)] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


def test_receiver_reads_chunked_bodies_and_closing_drops_kept_connections():
    import http.client

    from lipsync_emulator.testing import WebhookReceiver

    receiver = WebhookReceiver()
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    conn.request("POST", "/webhook", body=iter([b'{"a":', b"1}"]), encode_chunked=True,
                 headers={"Content-Type": "application/json"})
    assert conn.getresponse().read() == b"{}"
    assert receiver.wait_for(1)[0].json() == {"a": 1}
    conn.request("POST", "/webhook", body=b"x\r\n", headers={"Transfer-Encoding": "chunked"})  # no chunk size
    assert conn.getresponse().status == 400
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    conn.request("POST", "/webhook", body=b"-5\r\n", headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 400
    conn.close()
    kept = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    kept.request("POST", "/webhook", body=b"{}")
    assert kept.getresponse().read() == b"{}"
    receiver.close()  # down, even for the connection kept alive
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        kept.request("POST", "/webhook", body=b"{}")
        kept.getresponse()
    assert len(receiver.received) == 2


@pytest.mark.parametrize("keep_alive,closes,connections", [
    (3600.0, False, 1),  # one connection, kept open between deliveries
    (3600.0, True, 3),  # the receiver closes each one after answering, without saying so
    (0.0, False, 3),  # past the keep-alive window: a new connection each
])
def test_deliveries_reuse_an_open_connection(dispatcher, monkeypatch, keep_alive, closes, connections):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from lipsync_emulator.core import webhooks

    monkeypatch.setattr(webhooks, "KEEP_ALIVE", keep_alive)
    peers = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            peers.append(self.client_address)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = closes

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        d, advance = dispatcher
        for n in range(3):
            d.send(provider="p", url=f"http://127.0.0.1:{server.server_port}/hook", body=b"%d" % n, event="e",
                   policy=RetryPolicy())
            advance(0)
        assert [(x.status, len(x.attempts)) for x in d.deliveries()] == [("delivered", 1)] * 3
        assert len(peers) == 3 and len(set(peers)) == connections
    finally:
        server.shutdown()
        server.server_close()
