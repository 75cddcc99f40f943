"""The official TypeScript SDKs, installed from ``package-lock.json`` by ``npm ci`` the first time
the suite needs them, and a ``run_js`` fixture that drives them through ``driver.js``.

Without ``node`` (and ``npm``) on the machine these tests skip, saying so; with them, a failed
install is an error, not a skip: CI must run them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
INSTALL_SECONDS = 300
CALL_SECONDS = 60


def _installed() -> bool:
    """Every pinned package present at its locked version (a stale tree is reinstalled)."""
    lock = json.loads((HERE / "package-lock.json").read_text())
    for path, entry in lock["packages"].items():
        if not path:
            continue
        manifest = HERE / path / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text()).get("version") != entry["version"]:
            return False
    return True


@pytest.fixture(scope="session")
def _node_modules() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the TypeScript SDK tests need Node 18+ (CI has Node 20)")
    if not _installed():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                              capture_output=True, text=True, timeout=INSTALL_SECONDS)
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {HERE}:\n{done.stdout}\n{done.stderr}")
    return node


@pytest.fixture
def run_js(_node_modules: str) -> Callable[..., list[dict[str, Any]]]:
    """``run_js("sync", {"baseUrl": ..., "apiKey": ...}, [("generations.get", id), ...])`` -> one
    ``{"ok": True, "data": ...}`` or ``{"ok": False, "error": {...}}`` per call, in order."""

    def run(sdk: str, options: dict[str, Any], calls: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        spec = {"sdk": sdk, "options": options, "calls": [{"op": op, "args": list(args)} for op, *args in calls]}
        done = subprocess.run([_node_modules, str(HERE / "driver.js")], input=json.dumps(spec), capture_output=True,
                              text=True, timeout=CALL_SECONDS, cwd=HERE)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
