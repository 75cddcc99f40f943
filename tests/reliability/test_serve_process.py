"""``lipsync-emulator serve`` as one process: what start-up refuses, how it stops, thread
safety of the read-modify-write a provider does, and the transport faults under its server.
Every test talks to a real ``serve`` on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from lipsync_emulator.app import create_app
from lipsync_emulator.core.runtime import EXTENSION

from tests.reliability.serving import Served, free_port

BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example/v.mp4?duration=6"},
                                        {"type": "audio", "url": "https://cdn.example/a.wav?duration=6"}]}


def serve_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lipsync_emulator", "serve", "--log-level", "off", *args]


def test_a_second_serve_on_a_busy_port_exits_with_one_line_naming_the_port(tmp_path):
    with Served(str(tmp_path / "a")) as served:
        proc = subprocess.run(serve_cmd("--port", str(served.port), "--data-dir", str(tmp_path / "b")),
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert f"port {served.port} on 127.0.0.1 is already in use" in lines[0] and "--port" in lines[0]
        assert requests.get(f"{served.url}/_emulator/health", timeout=10).status_code == 200


def test_workers_is_refused_with_how_to_scale_out(tmp_path):
    proc = subprocess.run(serve_cmd("--port", "0", "--memory", "--workers", "2"), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "one process" in line and "namespace" in line and "load balancer" in line


def test_a_data_directory_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run(serve_cmd("--port", "0", "--data-dir", str(blocker / "data")), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert str(blocker / "data") in line and "--memory" in line and "Traceback" not in proc.stderr


def test_the_state_goes_to_the_users_data_directory_by_default_and_the_banner_says_where(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LIPSYNC_EMULATOR_DATA_DIR"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    port = free_port()
    proc = subprocess.Popen(serve_cmd("--port", str(port)), stdout=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path, start_new_session=True)
    try:
        banner: list[str] = []
        while not banner or banner[-1].split()[:1] not in (["state"], []):
            banner.append(proc.stdout.readline())  # type: ignore[union-attr]
        expected = str(tmp_path / "xdg" / "lipsync-emulator" / "state.db")
        assert any(line.split()[:2] == ["state", expected] for line in banner), banner
        assert os.path.exists(expected) and not os.path.exists(tmp_path / ".lipsync-emulator")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_one_sigint_stops_serve(tmp_path):
    served = Served(str(tmp_path / "data")).start()
    assert served.proc is not None
    proc = served.proc
    # a client in the middle of sending a request does not hold the server up
    with socket.create_connection(("127.0.0.1", served.port)) as held:
        held.sendall(b"POST /v2/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=5) == 0  # bounded: one SIGINT is enough
    served.proc = None


def test_two_threads_with_one_idempotency_key_create_one_generation(tmp_path):
    with Served(str(tmp_path / "data")) as served:
        headers = {"x-api-key": "sk_idem", "Idempotency-Key": "same-key-1"}
        barrier = threading.Barrier(2)

        def send_100() -> set[str]:
            barrier.wait(10)
            with requests.Session() as session:
                return {session.post(f"{served.url}/v2/generate", json=BODY, headers=headers, timeout=30).json()["id"]
                        for _ in range(100)}

        with ThreadPoolExecutor(2) as pool:
            ids = set().union(*pool.map(lambda _: send_100(), range(2)))
        listed = requests.get(f"{served.url}/v2/generations", headers={"x-api-key": "sk_idem"}, timeout=10).json()
        assert len(ids) == 1 and [g["id"] for g in listed] == list(ids)


def test_lipsyncstudio_credits_stay_exact_under_32_threads(tmp_path):
    with Served(str(tmp_path / "data"), "--set=lipsyncstudio.initial_credits=1000") as served:
        url, key = f"{served.url}/api/v1", "sk_credits"
        probe = requests.get(f"{served.url}/_emulator/lipsyncstudio/credits/{key}", timeout=10).json()
        assert probe["balance"] == 1000

        def submit(_: int) -> int:
            resp = requests.post(f"{url}/lipsync-video", json={"formState": {"video": "https://e.x/v.mp4",
                                                                             "audio": "https://e.x/a.mp3"}},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=30)
            return resp.status_code

        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(submit, range(320)))
        account = requests.get(f"{served.url}/_emulator/lipsyncstudio/credits/{key}", timeout=10).json()
        accepted = statuses.count(200)
        price = (1000 - account["balance"]) / accepted
        assert set(statuses) == {200, 402}
        assert account["balance"] == 1000 - accepted * price and account["balance"] < price  # none overdrawn
        assert price == int(price)


def test_the_rate_limit_admits_exactly_its_limit_under_32_threads(tmp_path):
    with Served(str(tmp_path / "data"), "--set=syncso.rate_limit_per_minute=50") as served:
        def create(_: int) -> int:
            return requests.post(f"{served.url}/v2/generate", json=BODY, headers={"x-api-key": "sk_rate"},
                                 timeout=30).status_code

        with ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(create, range(200)))
        assert statuses.count(201) == 50 and statuses.count(429) == 150


TRANSPORT = sorted(s.name for s in create_app().extensions[EXTENSION].catalog.list("syncso")
                   if s.kind == "transport" and "latency" not in s.name)  # latency: a wall-clock wait, no fault


@pytest.fixture(scope="module")
def one_served(tmp_path_factory):
    with Served(str(tmp_path_factory.mktemp("faults"))) as served:
        yield served


@pytest.mark.parametrize("scenario", TRANSPORT)
def test_each_transport_fault_behaves_under_serve_as_in_process(scenario, one_served, emulator):
    """The same request with the same scenario, to ``serve`` and to the in-process server:
    the same outcome (an answer's status, headers that matter and body; or the same error)."""

    def outcome(base: str) -> tuple[object, ...]:
        try:
            resp = requests.post(f"{base}/v2/generate", json=BODY, timeout=(5, 20),
                                 headers={"x-api-key": "sk_fault", "X-Emulator-Scenario": scenario})
            body = resp.content
            return ("answer", resp.status_code, resp.headers.get("Content-Type"),
                    len(body) if resp.status_code == 201 else body)
        except requests.RequestException as exc:
            return ("error", type(exc).__name__)

    served = outcome(one_served.url)
    in_process = outcome(emulator.url)
    assert served == in_process
    # the journal of both says what was answered, and serve is still healthy
    assert requests.get(f"{one_served.url}/_emulator/health", timeout=10).status_code == 200


def test_slow_clients_hold_no_thread_and_are_cut_after_the_request_timeout(tmp_path):
    """200 connections each sending a request one byte at a time: a normal request is still
    answered (bounded wait), and each slow one is closed once its request took longer than
    ``--request-timeout`` (2 s here) to arrive."""
    with Served(str(tmp_path / "data"), "--request-timeout", "2") as served:
        slow = []
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(b"POST /v2/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            slow.append(sock)
        resp = requests.post(f"{served.url}/v2/generate", json=BODY, headers={"x-api-key": "sk_fast"}, timeout=10)
        assert resp.status_code == 201
        closed: set[int] = set()
        deadline = time.monotonic() + 20
        while len(closed) < len(slow) and time.monotonic() < deadline:
            for n, sock in enumerate(slow):
                if n in closed:
                    continue
                try:
                    sock.sendall(b" ")
                    sock.settimeout(0.001)
                    if sock.recv(1) == b"":
                        closed.add(n)
                except (BlockingIOError, TimeoutError):
                    pass
                except OSError:
                    closed.add(n)
            # until one of them is cut, or it is time for the next byte
            select.select([s for n, s in enumerate(slow) if n not in closed], [], [], 0.25)
        for sock in slow:
            sock.close()
        assert len(closed) == len(slow)  # every slow client cut, none answered
        assert requests.get(f"{served.url}/_emulator/health", timeout=10).status_code == 200


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (CI runs as root); skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                      timeout=30).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def test_a_full_disk_answers_507_keeps_health_and_loses_nothing_acknowledged(small_disk, tmp_path):
    log = tmp_path / "serve.log"
    served = Served(str(small_disk / "data"), log=str(log), log_level="error").start()
    try:
        url, headers = f"{served.url}/v2/generate", {"x-api-key": "sk_disk"}
        acknowledged = [requests.post(url, json=BODY, headers=headers, timeout=10).json()["id"] for _ in range(5)]
        filler = small_disk / "filler"
        with open(filler, "wb") as fh:
            with contextlib.suppress(OSError):  # ENOSPC: the disk is full
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
        answers = [requests.post(url, json=BODY, headers=headers, timeout=10) for _ in range(50)]
        refused = [r for r in answers if r.status_code != 201]
        acknowledged += [r.json()["id"] for r in answers if r.status_code == 201]
        assert refused and {r.status_code for r in refused} == {507}
        assert refused[0].headers["Retry-After"] == "5"
        assert refused[0].json()["statusCode"] == 507 and "disk full" in refused[0].json()["message"]
        health = requests.get(f"{served.url}/_emulator/health", timeout=10)
        assert health.status_code == 200 and health.json()["storage"] == "unwritable"
        polled = requests.get(f"{url}/{acknowledged[0]}", headers=headers, timeout=10)
        assert polled.status_code == 200  # reads are still served

        filler.unlink()  # space comes back: service returns by itself
        resp = requests.post(url, json=BODY, headers=headers, timeout=10)
        assert resp.status_code == 201
        acknowledged.append(resp.json()["id"])
        assert requests.get(f"{served.url}/_emulator/health", timeout=10).json()["storage"] == "ok"

        served.kill9()
        served.start()
        for job_id in acknowledged:
            assert requests.get(f"{url}/{job_id}", headers=headers, timeout=10).status_code == 200
    finally:
        served.stop()
    lines = [line for line in log.read_text().splitlines() if "kept in memory and retried" in line]
    assert 1 <= len(lines) <= 3  # rate-limited: not one line per failed write
