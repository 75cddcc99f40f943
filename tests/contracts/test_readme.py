"""The documentation runs as written. README.md fits on a page and links only inside the
repository; every ``# file:`` block of README.md and docs/*.md is written out as is and run with
pytest (the installed plugin provides the fixtures), the failure report docs/contract-testing.md
shows is the one the suite prints for the naive sync.so client, the README's provider examples
run against an emulator, and every other block is checked for what it is (Python compiles, JSON
parses, each ``lipsync-emulator`` command line is one the CLI accepts)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONTRACT_DOC = ROOT / "docs" / "contract-testing.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
FILE_BLOCK = re.compile(r"# file: (\S+)\n")
LINK = re.compile(r"\]\(([^)\s]+)\)")
VARIABLE = re.compile(r"\d+ (requests|polls)|job [0-9a-f-]{36}")


def fenced(page: Path) -> list[tuple[str, str]]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def file_blocks() -> dict[str, str]:
    found: dict[str, str] = {}
    for page in PAGES:
        for lang, code in fenced(page):
            named = FILE_BLOCK.match(code)
            if lang == "python" and named:
                assert named.group(1) not in found, f"two blocks named {named.group(1)}"
                found[named.group(1)] = code
    return found


def test_the_readme_fits_on_a_page() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_no_internal_notes(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "#")):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{page.name} links to {target}"
    assert "shared/reference" not in text and not re.search(r"\b[Ii]ssue \d+", text)


def test_the_file_blocks_run_verbatim(tmp_path: Path) -> None:
    found = file_blocks()
    assert {"test_syncso_contract.py", "test_wavespeed_contract.py", "test_lipsyncstudio_contract.py",
            "test_kling_contract.py", "test_contract_strategies.py", "test_naive_report.py",
            "test_self_contract.py", "test_first.py", "test_fixtures.py"} <= set(found)
    for name, code in found.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # -s: the naive-report example prints its report, compared with the page's below
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:randomly", "--rootdir", str(tmp_path),
                          "--contract-examples", "3", "--contract-shrink-seconds", "1", *sorted(str(tmp_path / n) for n in found)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|skipped|failed|error)", summary)}
    # 24 scenarios per provider, minus those skipped as not applying (sync.so 3, WaveSpeed 2,
    # lipsync.studio 6; Kling's run through run(), which reports them instead), 2 strategy
    # tests, the naive report, the two-URL client, the self-contract, the README's first test,
    # docs/testing.md's three
    assert counts == {"passed": 4 * 24 - 11 + 2 + 1 + 1 + 1 + 1 + 3, "skipped": 11}, summary

    printed = run.stdout
    section = CONTRACT_DOC.read_text(encoding="utf-8").split("## What a violation looks like", 1)[1]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    checked = 0
    for line in shown.splitlines():
        fixed = line.startswith(("Client contract", "VIOLATED", "  expectation:"))
        if fixed or (line.startswith("  what happened:") and not VARIABLE.search(line)
                     and "returned None although" not in line):
            assert line in printed, line
            checked += 1
    assert checked > 20


def test_the_examples_run_against_the_emulator() -> None:
    """Every Python block that talks to ``http://127.0.0.1:8080`` runs as printed, with only
    that base URL pointed at a test emulator (unless it needs what a page cannot give it: a
    local file, or arguments elided as ``{...}``); a ``print`` commented with its output prints
    it. The README's four provider examples are among them."""
    from lipsync_emulator.testing import EmulatorServer

    examples = [(page, code) for page in PAGES for lang, code in fenced(page)
                if lang == "python" and "http://127.0.0.1:8080" in code and "{...}" not in code and "open(" not in code]
    assert sum(page == README for page, _ in examples) == 4 and len(examples) >= 6
    with EmulatorServer() as server:
        for page, printed in examples:
            code = printed.replace("http://127.0.0.1:8080", server.url)
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, f"{page.name}:\n{code}{run.stderr[-3000:]}"
            shown = re.search(r"print\(.*\)\s+# ([^\s,]+)", code)
            if shown:
                assert run.stdout.strip().startswith(shown.group(1).replace("<id>.mp4", "")), (code, run.stdout)
        kinds = {entry["provider"] for entry in server.control.requests()}
    assert kinds == {"syncso", "wavespeed", "lipsyncstudio", "kling"}


def test_every_other_block_is_what_it_says() -> None:
    from lipsync_emulator.cli import build_parser

    parser = build_parser()
    checked = 0
    for page in PAGES:
        for lang, code in fenced(page):
            if lang == "python":
                compile(code, f"{page.name} block", "exec")
            elif lang == "json" and "..." not in code and "…" not in code:
                json.loads(code)
            elif lang == "bash":
                for line in code.replace("\\\n", " ").splitlines():
                    command = line.split("#", 1)[0].split("&&")[-1].strip()
                    if command.startswith("lipsync-emulator "):
                        try:
                            parser.parse_args(shlex.split(command)[1:])
                        except SystemExit as exc:  # --version and --help exit, with 0
                            assert exc.code == 0, command
            else:
                continue
            checked += 1
    assert checked > 20


def test_ci_runs_the_quick_starts_test_command() -> None:
    """The README's second command is what ``.ci/run`` runs, word for word."""
    commands = [code.strip() for lang, code in fenced(README) if lang == "bash"]
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command == 'python -m pip install -e ".[test]" && python -m pytest'
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith(test_command)
