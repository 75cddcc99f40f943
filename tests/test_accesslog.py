"""The access log of ``lipsync-emulator serve``: a line per request, per job transition and per
webhook attempt, readable by a person (colour only on a terminal), JSON with ``--log-format
json``, nothing with ``--quiet``. Each test runs the real command and reads its stderr."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from lipsync_emulator.testing import WebhookReceiver
from output_lines import Lines

SYNC = {"x-api-key": "k"}
SYNC_BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                             {"type": "audio", "url": "https://e.x/a.wav"}]}
WAVE = {"Authorization": "Bearer k"}
WAVE_BODY = {"audio": "https://e.x/a.mp3", "video": "https://e.x/v.mp4"}


@contextmanager
def serve(*flags: str, tty: bool = False) -> Iterator[tuple[str, Lines, Lines]]:
    """The real command on a free port: its URL, its stderr and its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    command = [sys.executable, "-m", "lipsync_emulator", "serve", "--memory", "--clock", "virtual", "--port", "0",
               *flags]
    if tty:
        master, slave = pty.openpty()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, env=env)
        os.close(slave)
        err = Lines(lambda: os.read(master, 65536))
    else:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        err = Lines(lambda: proc.stderr.read1(65536))  # type: ignore[union-attr]
    try:
        out = Lines(lambda: proc.stdout.read1(65536))  # type: ignore[union-attr]
        url = re.search(r"listening on (\S+)", out.wait_for("listening on")).group(1)  # type: ignore[union-attr]
        ready(url)
        yield url, err, out
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if tty:
            err.finish()
            os.close(master)


def ready(url: str, timeout: float = 30.0) -> None:
    """Bounded wait for the server to answer (the banner is printed before it listens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"{url}/_emulator/health", timeout=1).raise_for_status()
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            threading.Event().wait(0.02)


def drive(url: str, receiver: WebhookReceiver) -> dict[str, str]:
    """A scenario, a validation error, a WaveSpeed job whose first webhook attempt is refused."""
    failed = requests.post(f"{url}/v2/generate", headers={**SYNC, "X-Emulator-Scenario": "failed"},
                           json=SYNC_BODY, timeout=10).json()["id"]
    bad = requests.post(f"{url}/v2/generate", headers=SYNC, json={**SYNC_BODY, "model": "lipsync-9"}, timeout=10)
    assert bad.status_code == 400
    receiver.respond_with(500, 200)
    wave = requests.post(f"{url}/api/v3/bytedance/latentsync", params={"webhook": receiver.url}, headers=WAVE,
                         json=WAVE_BODY, timeout=10).json()["data"]["id"]
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 30}, timeout=30).raise_for_status()
    requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 1}, timeout=30).raise_for_status()
    receiver.wait_for(2)
    return {"failed": failed, "wave": wave, "bad_message": bad.json()["message"]}


def test_serve_prints_a_line_per_request_transition_and_webhook_attempt() -> None:
    with WebhookReceiver() as receiver, serve() as (url, log, _):
        jobs = drive(url, receiver)
        created = log.wait_for(r"syncso +POST /v2/generate +201 ")
        assert re.search(rf"\d\d:\d\d:\d\d\.\d{{3}} +syncso +POST /v2/generate +201 +[\d.]+ ms +job {jobs['failed']} "
                         r"+scenario failed$", created), created
        error = log.wait_for(r"POST /v2/generate +400 ")
        assert error.endswith("— " + jobs["bad_message"].splitlines()[0]), error
        assert re.search(rf"wavespeed +POST /api/v3/bytedance/latentsync +200 .* job {jobs['wave']}$",
                         log.wait_for("latentsync"))
        first = log.wait_for(r"attempt 1/4")
        assert re.search(rf"webhook +wavespeed prediction.completed +job {jobs['wave']} +-> {re.escape(receiver.url)} "
                         r"+attempt 1/4 +500 +retry in 1 s$", first), first
        assert re.search(r"attempt 2/4 +200$", log.wait_for(r"attempt 2/4"))
        log.wait_for(rf"job +wavespeed prediction {jobs['wave']} +-> completed$")
        log.wait_for(rf"job +syncso generation {jobs['failed']} +-> FAILED +scenario failed$")
        log.wait_for(r"control +POST /_emulator/clock/advance +200 ")
    # a terminal is not a pipe: no colour codes here
    assert not any("\x1b[" in line for line in log.finish())


def test_a_refused_webhook_names_the_cause_and_the_retry() -> None:
    with WebhookReceiver() as receiver, serve() as (url, log, _):
        dead = receiver.url
        receiver.close()  # nothing listens there any more
        requests.post(f"{url}/api/v3/bytedance/latentsync", params={"webhook": dead}, headers=WAVE,
                      json=WAVE_BODY, timeout=10).raise_for_status()
        requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 30}, timeout=30).raise_for_status()
        line = log.wait_for("attempt 1/4")
        assert re.search(r"attempt 1/4 +connection refused +retry in 1 s$", line), line


def test_log_format_json_prints_one_object_per_line() -> None:
    with WebhookReceiver() as receiver, serve("--log-format", "json") as (url, log, _):
        jobs = drive(url, receiver)
        log.wait_for(r'"attempt":2')
        log.wait_for(r'"path":"/_emulator/clock/advance"')
    records = [json.loads(line) for line in log.finish() if line.startswith("{")]
    created = next(r for r in records if r.get("job_id") == jobs["failed"] and r["type"] == "request")
    assert created.keys() >= {"time", "provider", "method", "path", "status", "duration_ms", "job_id", "scenario"}
    assert (created["provider"], created["method"], created["path"], created["status"], created["scenario"]) == \
        ("syncso", "POST", "/v2/generate", 201, ["failed"])
    error = next(r for r in records if r["type"] == "request" and r["status"] == 400)
    assert error["error"] == jobs["bad_message"].splitlines()[0]
    attempts = [r for r in records if r["type"] == "webhook"]
    assert [(a["attempt"], a["status_code"], a.get("retry_in_s")) for a in attempts] == [(1, 500, 1.0), (2, 200, None)]
    assert attempts[0]["url"] == receiver.url and attempts[0]["job_id"] == jobs["wave"]


def test_quiet_prints_no_access_log() -> None:
    with serve("--quiet") as (url, log, _):
        requests.post(f"{url}/v2/generate", headers=SYNC, json=SYNC_BODY, timeout=10).raise_for_status()
        requests.post(f"{url}/_emulator/clock/advance", json={"seconds": 60}, timeout=30).raise_for_status()
    lines = log.finish()
    assert not [line for line in lines if "/v2/generate" in line or "advance" in line or "PENDING" in line], lines


def test_colour_on_a_terminal() -> None:
    with serve(tty=True) as (url, log, _):
        requests.post(f"{url}/v2/generate", headers=SYNC, json=SYNC_BODY, timeout=10).raise_for_status()
        line = log.wait_for(r"POST /v2/generate")
    assert "\x1b[32m201\x1b[0m" in line, repr(line)


def test_pytest_log_level_info_shows_a_failing_tests_traffic(tmp_path) -> None:
    (tmp_path / "test_user.py").write_text(
        "import requests\n\n\ndef test_fails(emulator):\n"
        "    requests.post(f'{emulator.url}/v2/generate', headers={'x-api-key': 'k'}, json={'model': 'x'})\n"
        "    assert False\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--log-level", "INFO",
                          str(tmp_path / "test_user.py")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout[-3000:]
    assert re.search(r"INFO +lipsync_emulator.access:\S+ syncso +POST /v2/generate +400 +[\d.]+ ms +— ", run.stdout), \
        run.stdout[-3000:]


def test_the_banner_prints_every_credential() -> None:
    with serve("--set", "kling.webhook_secret=whsec_a2xpbmc=", "--set", "wavespeed.api_keys=[\"wk_1\"]") as (url, _, out):
        banner = "\n".join(out.lines)
    from lipsync_emulator.providers import wavespeed
    from lipsync_emulator.providers.wavespeed.models import webhook_secret

    for promised in ("whsec_emulator_syncso_dev",  # sync.so's webhook secret
                     "access key kling_emulator_access_key", "secret key kling_emulator_secret_key_change_me",
                     "kling_emulator_api_key", "callback secret whsec_a2xpbmc=",
                     f"webhook secret for wk_1: {webhook_secret(wavespeed.PROVIDER.defaults, 'wk_1')}",
                     "lipsync.studio  /api/v1          keys: any non-empty key", f"{url}/_emulator/health"):
        assert promised in banner, (promised, banner)
