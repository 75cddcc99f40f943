"""What a user gets from ``pip install``: the package as built from pyproject.toml (not the
clone) holds the example clients, declares what the documented examples import, and carries
the licence; and a user's project with its own ``schemas`` and ``contracts`` packages runs the
plugin's fixtures and a contract suite green."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build(tmp_path: Path) -> tuple[Path, Path]:
    """The files and metadata a wheel of this project would hold, built offline by setuptools
    from a copy of the sources a distribution is made of (no tests, no docs, no clone on the path)."""
    setuptools = pytest.importorskip("setuptools")
    assert setuptools
    src, site, meta = tmp_path / "src", tmp_path / "site", tmp_path / "meta"
    src.mkdir()
    meta.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("emulator", "contracts", "schemas"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()",
                          "-q", "egg_info", "--egg-base", str(meta), "build_py", "--build-lib", str(site)],
                         cwd=src, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return site, next(meta.glob("*.egg-info"))


def test_the_examples_ship_with_the_package_and_declare_what_they_import(tmp_path: Path) -> None:
    site, info = build(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import lipsync_emulator.examples as e\n"
            "from lipsync_emulator.examples import kling_client, syncso_naive, wavespeed_client, lipsyncstudio_client\n"
            "print(e.__file__)")
    run = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert Path(run.stdout.strip()).is_relative_to(site)
    # the README's Kling example signs its token with PyJWT: installing the emulator installs it
    requires = (info / "requires.txt").read_text().split("\n\n", 1)[0].split()
    assert any(r.lower().startswith("pyjwt") for r in requires), requires


def test_the_distribution_carries_the_mit_licence(tmp_path: Path) -> None:
    _, info = build(tmp_path)
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "LICENSE" in (info / "SOURCES.txt").read_text().split()
    assert "License: MIT" in (info / "PKG-INFO").read_text()


PROJECT = {
    "schemas/__init__.py": "OWNER = 'the user'\n",
    "contracts/__init__.py": "OWNER = 'the user'\n",
    "test_my_app.py": '''
        import requests

        import contracts
        import schemas
        from lipsync_emulator.examples import syncso_client


        def test_the_project_keeps_its_own_packages():
            assert schemas.OWNER == contracts.OWNER == "the user"


        def test_the_fixtures_run(emulator, webhook_receiver):
            resp = requests.post(f"{emulator.url}/v2/generate", headers={"x-api-key": "k"}, json={
                "model": "lipsync-2", "webhookUrl": webhook_receiver.url,
                "input": [{"type": "video", "url": "https://e.x/v.mp4"}, {"type": "audio", "url": "https://e.x/a.wav"}]})
            assert resp.status_code == 201
            emulator.advance(60)
            [hook] = webhook_receiver.wait_for(1)
            assert hook.json()["status"] == "COMPLETED"


        def test_make_emulator(make_emulator):
            server = make_emulator({"syncso": {"plan": "free"}})
            assert server.control.config()["syncso"]["plan"] == "free"


        def test_a_contract_suite_is_green(client_contract):
            client_contract.run("syncso", syncso_client.make_adapter).assert_ok()
    ''',
}


def test_a_fresh_project_with_its_own_schemas_and_contracts_runs_the_plugin_green(tmp_path: Path) -> None:
    project = tmp_path / "myapp"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--contract-examples", "3",
                          "--contract-shrink-seconds", "1"], cwd=project, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout.strip().splitlines()[-1]
