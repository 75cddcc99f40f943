"""The terminal commands that drive a running emulator (``advance``, ``reset``, ``jobs``,
``webhooks``, ``listen``), ``--version``, ``--help``, a closed pipe, and ``GET /``."""

from __future__ import annotations

import importlib.metadata
import os
import re
import signal
import subprocess
import sys

import pytest
import requests
from lipsync_emulator.cli import main
from lipsync_emulator.testing import EmulatorServer, WebhookReceiver
from output_lines import Lines

SYNC = {"x-api-key": "k"}
BODY = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                        {"type": "audio", "url": "https://e.x/a.wav"}]}
COMMANDS = ("serve", "scenarios", "demo", "advance", "reset", "jobs", "webhooks", "listen")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"lipsync-emulator {importlib.metadata.version('lipsync-emulator')}\n"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_rst_markup(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"] if command else ["--help"])
    text = capsys.readouterr().out
    assert "usage: lipsync-emulator" in text and "``" not in text


def test_scenarios_into_a_pipe_closed_early_prints_no_traceback():
    """``lipsync-emulator scenarios --json | head``: the reader leaves after a few bytes."""
    proc = subprocess.Popen([sys.executable, "-m", "lipsync_emulator", "scenarios", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10)  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""  # type: ignore[union-attr]


def test_advance_jobs_webhooks_reset_drive_a_running_emulator(capsys):
    with EmulatorServer() as server, WebhookReceiver() as receiver:
        job = requests.post(f"{server.url}/v2/generate", headers=SYNC, json={**BODY, "webhookUrl": receiver.url},
                            timeout=10).json()["id"]
        code, out, _ = run(capsys, "jobs", "--url", server.url)
        assert code == 0
        header, row = out.splitlines()
        assert header.split() == ["PROVIDER", "KIND", "ID", "STATUS", "CREATED", "NEXT"]
        assert row.split()[:4] == ["syncso", "generation", job, "PENDING"] and "PROCESSING@" in row

        code, out, _ = run(capsys, "webhooks", "--url", server.url)
        assert (code, out) == (0, "no webhook deliveries\n")

        code, out, _ = run(capsys, "advance", "60", "--url", server.url)
        assert code == 0
        assert re.fullmatch(r"advanced 60 s: now \S+Z; [1-9]\d* transition\(s\) and webhook attempt\(s\) ran\n", out)
        assert server.runtime.clock.now() >= 60 + server.runtime.engine.get("syncso", "generation", job).created_at

        code, out, _ = run(capsys, "webhooks", "--url", server.url, "--job-id", job)
        assert code == 0
        row = out.splitlines()[1].split()
        assert row == ["syncso", "generation.completed", job, receiver.url, "delivered", "1/1", "200"]
        code, out, _ = run(capsys, "jobs", "--url", server.url, "--status", "COMPLETED")
        assert job in out

        code, out, _ = run(capsys, "reset", "--url", server.url)
        assert (code, out) == (0, "reset everything: jobs, journal, webhook deliveries and scenario rules are gone\n")
        assert server.control.jobs() == [] and server.control.webhooks() == []
        assert run(capsys, "jobs", "--url", server.url)[1] == "no jobs\n"


def test_a_remote_command_without_an_emulator_says_so(capsys):
    with EmulatorServer() as server:
        url = server.url
    code, out, err = run(capsys, "advance", "5", "--url", url)
    assert code == 1 and out == ""
    assert err == f"lipsync-emulator: no emulator answers at {url}: start one with `lipsync-emulator serve`, " \
                  "or point --url at it\n"


def test_advance_on_a_real_clock_reports_the_emulators_answer(capsys):
    with EmulatorServer({"clock": "real"}) as server:
        code, _, err = run(capsys, "advance", "5", "--url", server.url)
    assert code == 1
    assert err.startswith(f"lipsync-emulator: {server.url} answered 400: the clock is real")


def test_listen_follows_transitions_and_deliveries_and_forwards_them():
    with EmulatorServer() as server, WebhookReceiver() as app, WebhookReceiver() as forward:
        proc = subprocess.Popen([sys.executable, "-m", "lipsync_emulator", "listen", "--url", server.url,
                                 "--interval", "0.05", "--forward-to", forward.url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = Lines(lambda: proc.stdout.read1(65536))  # type: ignore[union-attr]
        try:
            out.wait_for(rf"^Ready! Following {re.escape(server.url)} .*forwarding webhooks to {re.escape(forward.url)}$")
            job = requests.post(f"{server.url}/v2/generate", headers={**SYNC, "X-Emulator-Scenario": "failed"},
                                json={**BODY, "webhookUrl": app.url}, timeout=10).json()["id"]
            out.wait_for(rf"^\d\d:\d\d:\d\d\.\d{{3}}  syncso generation {job}  PENDING  \(scenario failed\)$")
            server.advance(60)
            out.wait_for(rf"  syncso generation {job}  PENDING -> PROCESSING$")
            out.wait_for(rf"  syncso generation {job}  PROCESSING -> FAILED$")
            out.wait_for(rf"  webhook syncso generation.failed  job {job}  -> {re.escape(app.url)}  attempt 1/1  200$")
            forwarded = out.wait_for(rf"--> {re.escape(forward.url)}  200$")
            [sent] = app.wait_for(1)
            [copy] = forward.wait_for(1)
            assert copy.body == sent.body and copy.headers["Sync-Signature"] == sent.headers["Sync-Signature"]
            assert out.lines.index(forwarded) == len(out.lines) - 1  # printed under its delivery
        finally:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            code = proc.wait(timeout=30)
        assert code == 0
        assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


def test_get_root_is_an_index_of_the_server():
    with EmulatorServer() as server:
        resp = requests.get(f"{server.url}/", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    index = resp.json()
    assert index["name"] == "lipsync-emulator" and index["clock"] == "virtual"
    assert [p["name"] for p in index["providers"]] == ["syncso", "lipsyncstudio", "wavespeed", "kling"]
    kling = index["providers"][3]
    assert kling["paths"] == ["/v1", "/kling", "/account"]  # /account/costs (updates K1)
    assert kling["schema"] == "/_emulator/schemas/kling.yaml" and kling["docs"] == "docs/kling.md"
    assert index["control_plane"]["jobs"] == "/_emulator/jobs" and index["dashboard"] == "/_emulator/ui"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for page in [p["docs"] for p in index["providers"]] + list(index["docs"].values()):
        assert os.path.exists(os.path.join(root, page)), page
