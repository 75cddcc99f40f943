"""The SQLite store that ``serve`` uses by default must behave like the in-memory store the
fixtures use: the provider suites (and the scenario suite) run again on it, through the pytest
plugin's ``--emulator-store sqlite``. Found this way: a batch never finished on the SQLite
store (its observer changed a copy), and a journal read could miss a batch being written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from lipsync_emulator.core.store import MemoryStore
from lipsync_emulator.testing import STORE_ENV, EmulatorServer

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/providers", "tests/core/test_scenarios.py", "tests/test_sqlite_parity.py::test_the_store_option_reaches_every_server"]


def test_the_store_option_reaches_every_server(emulator):
    expected = os.environ.get(STORE_ENV) or "memory"
    assert requests.get(f"{emulator.url}/_emulator/health", timeout=5).json()["store"] == expected
    with EmulatorServer() as built_by_a_test:
        assert built_by_a_test.control.health()["store"] == expected


def test_the_provider_suites_pass_on_the_sqlite_store():
    if os.environ.get(STORE_ENV) == "sqlite":
        pytest.skip("this run is on the SQLite store already")
    env = {k: v for k, v in os.environ.items() if k != STORE_ENV}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--emulator-store",
                           "sqlite", *SUITES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1]


def test_an_explicit_store_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv(STORE_ENV, "sqlite")
    with EmulatorServer(store="memory") as by_name, EmulatorServer(store=MemoryStore()) as by_object:
        assert by_name.control.health()["store"] == by_object.control.health()["store"] == "memory"
    with EmulatorServer() as from_the_environment:
        assert from_the_environment.control.health()["store"] == "sqlite"
    with pytest.raises(ValueError, match="unknown store 'redis'"):
        EmulatorServer(store="redis")
