"""The pytest plugin: ``--contract-target`` points the contract fixtures at a live URL, and the
``contract(provider)`` marker skips tests of a provider the target does not serve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from lipsync_emulator.testing import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contract-testing.md"


def _run(tmp_path: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    for name, code in files.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--rootdir", str(tmp_path),
                           *args, *(str(tmp_path / n) for n in files)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_contract_target_runs_the_suite_against_a_live_url(tmp_path: Path) -> None:
    code = re.search(r"```python\n(# file: test_syncso_contract.py\n.*?)```", DOC.read_text(), re.S).group(1)
    with EmulatorServer() as server:  # a live emulator, not the plugin's own
        run = _run(tmp_path, {"test_syncso_contract.py": code}, "--contract-target", server.url,
                   "-k", "success or webhook_duplicate")
        served = server.control.requests(provider="syncso")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
    assert served, "the scenarios ran against the given URL"


def test_contract_marker_skips_a_provider_the_target_does_not_serve(tmp_path: Path) -> None:
    code = ("import pytest\n\n\n@pytest.mark.contract('nosuchprovider')\n"
            "def test_skipped(contract_target):\n    raise AssertionError('not reached')\n\n\n"
            "@pytest.mark.contract('syncso')\ndef test_runs(contract_target):\n    assert contract_target.base_url\n")
    run = _run(tmp_path, {"test_marker.py": code}, "-rs")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "1 passed, 1 skipped" in run.stdout and "does not serve nosuchprovider" in run.stdout
