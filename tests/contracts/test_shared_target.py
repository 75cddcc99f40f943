"""Several suites against one shared emulator: each works in its own namespace (its own API
key, scenario rules bound to that key, resets of that namespace only), so two CI jobs running
the docs' suite at once against one ``serve`` both pass, and another team's job survives."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.reliability.serving import Served

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contract-testing.md"
README = ROOT / "README.md"
REQUEST = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://cdn.example.com/talk.mp4"},
                                           {"type": "audio", "url": "https://cdn.example.com/voice.wav"}]}


def test_two_suites_at_once_against_one_serve(tmp_path: Path) -> None:
    code = re.search(r"```python\n(# file: test_syncso_contract.py\n.*?)```", DOC.read_text(), re.S).group(1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with Served(str(tmp_path / "data")) as served:
        other = requests.post(f"{served.url}/v2/generate", json=REQUEST, headers={"x-api-key": "sk_other_team"},
                              timeout=10).json()["id"]
        runs = []
        for n in (1, 2):
            where = tmp_path / f"ci{n}"
            where.mkdir()
            (where / "test_syncso_contract.py").write_text(code, encoding="utf-8")
            runs.append(subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--rootdir", str(where),
                 "--contract-target", served.url, str(where / "test_syncso_contract.py")],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        kept = requests.get(f"{served.url}/v2/generate/{other}", headers={"x-api-key": "sk_other_team"}, timeout=10)
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-4000:]
        assert re.search(r"21 passed, 3 skipped", output), output[-500:]
    assert kept.status_code == 200, "a suite reset another team's state"


KLING_SUITE = '''from lipsync_emulator.examples import kling_client


def test_kling(client_contract):
    report = client_contract.run("kling", kling_client.make_adapter)
    print(report.text().splitlines()[0])
    report.assert_ok()
'''
KLING_SETTINGS = ("--set", "kling.webhook_secret=whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=",
                  "--set", "kling.jwt_clock=emulator")


def test_two_kling_suites_and_the_readmes_at_once_against_one_serve(tmp_path: Path) -> None:
    """Kling's keys are a fixed list: each suite adds an access key of its own, so two Kling
    suites — every scenario, token expiry included — and the README's two-URL sync.so suite run
    at once against one ``serve`` and all pass, and a job made with the shared key survives."""
    readme = re.search(r"```python\n(# file: test_two_urls_contract.py\n.*?)```", README.read_text(), re.S).group(1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with Served(str(tmp_path / "data"), *KLING_SETTINGS) as served:
        shared = {"Authorization": "Bearer kling_emulator_api_key"}
        other = requests.post(f"{served.url}/v1/videos/identify-face", headers=shared, timeout=10,
                              json={"video_url": "https://cdn.example.com/talk.mp4?duration=12"}).json()["data"]
        runs = []
        for name, code in (("kling_a", KLING_SUITE), ("kling_b", KLING_SUITE), ("readme", readme)):
            where = tmp_path / name
            where.mkdir()
            (where / f"test_{name}.py").write_text(code, encoding="utf-8")
            runs.append(subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "--rootdir", str(where),
                 "--contract-target", served.url, str(where / f"test_{name}.py")],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        kept = requests.post(f"{served.url}/v1/videos/advanced-lip-sync", headers=shared, timeout=10, json={
            "session_id": other["session_id"],
            "face_choose": [{"face_id": other["face_data"][0]["face_id"], "sound_file": "https://e.x/s.mp3?duration=5",
                             "sound_start_time": 0, "sound_end_time": 5000, "sound_insert_time": 0}]})
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-4000:]
    for output in outputs[:2]:  # every Kling scenario ran, token expiry included, on the suite's own account
        assert "Client contract for Kling: 24 scenarios — 22 passed, 0 violated, 2 skipped" in output, output[-2000:]
    assert kept.status_code == 200 and kept.json()["code"] == 0, "a suite reset the shared account's session"


def test_the_contracts_never_import_the_emulator() -> None:
    """They speak HTTP only, so they run unchanged against a remote emulator or a provider."""
    for path in (ROOT / "contracts").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"\s*(from|import) lipsync_emulator", line):
                assert re.match(r"\s*(from lipsync_emulator import schemas$|(from|import) lipsync_emulator\."
                                r"(contracts|schemas)\b)", line), f"{path}: {line}"
