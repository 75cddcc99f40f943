"""The README's contract section runs verbatim: every ``# file:`` block is written out as is and run
with pytest from the repository root (the installed plugin provides the fixtures), and the
failure report it shows is the one the suite prints for the naive sync.so client."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "README.md"
BLOCK = re.compile(r"```python\n# file: (\S+)\n(.*?)```", re.S)
VARIABLE = re.compile(r"\d+ (requests|polls)|job [0-9a-f-]{36}")


def blocks() -> dict[str, str]:
    return {name: f"# file: {name}\n{code}" for name, code in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def test_the_contract_section_runs_verbatim(tmp_path: Path) -> None:
    found = blocks()
    assert {"test_syncso_contract.py", "test_wavespeed_contract.py", "test_lipsyncstudio_contract.py",
            "test_kling_contract.py", "test_contract_strategies.py", "test_naive_report.py",
            "test_self_contract.py"} <= set(found)
    for name, code in found.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # -s: the naive-report example prints its report, compared with the README's below
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "--rootdir", str(tmp_path),
                          "--contract-examples", "3", "--contract-shrink-seconds", "1", *sorted(str(tmp_path / n) for n in found)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|skipped|failed|error)", summary)}
    # 16 scenarios per provider (lipsync.studio: job_rejected and the two signature scenarios
    # do not apply), 2 strategy tests, the naive report, the self-contract
    assert counts == {"passed": 4 * 16 - 3 + 2 + 1 + 1, "skipped": 3}, summary

    printed = run.stdout
    section = DOC.read_text(encoding="utf-8").split("## Contract testing your integration", 1)[1]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    checked = 0
    for line in shown.splitlines():
        fixed = line.startswith(("Client contract", "VIOLATED", "  expectation:"))
        if fixed or (line.startswith("  what happened:") and not VARIABLE.search(line)
                     and "returned None although" not in line):
            assert line in printed, line
            checked += 1
    assert checked > 20
