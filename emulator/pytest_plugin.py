"""pytest fixtures for the emulator (registered through the ``pytest11`` entry point, so they
are available as soon as the package is installed).

* ``emulator`` — a running emulator (virtual clock, real loopback port), reset before each
  test. ``emulator.url``, ``emulator.advance(seconds)``, ``emulator.control.requests()``...
  Mark a test, class or module with ``@pytest.mark.emulator_config({...})`` to get one with
  those settings (one server per distinct configuration for the whole session, reset per test).
* ``make_emulator`` — build one with its own configuration:
  ``make_emulator({"syncso": {"api_keys": ["sk_ci"]}})``; stopped after the test.
* ``webhook_receiver`` — a loopback server that records what it is sent.
* ``--emulator-store sqlite`` — run every emulator on the SQLite store ``serve`` uses (a fresh
  database each) instead of the in-memory one.

    def test_generation_completes(emulator, webhook_receiver):
        my_client.create_generation(emulator.url, webhook_url=webhook_receiver.url)
        emulator.advance(60)
        assert webhook_receiver.wait_for(1)[0].json()["status"] == "COMPLETED"

The emulator is imported by the fixtures, not when pytest loads this plugin: every pytest
session in the environment loads it, most of them never ask for an emulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from lipsync_emulator import STORE_ENV

if TYPE_CHECKING:
    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("lipsync-emulator").addoption(
        "--emulator-store", choices=("memory", "sqlite"), default=None,
        help="the store of every emulator the fixtures start (default: memory, or $" + STORE_ENV + ")")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_config(settings): run the `emulator` fixture with these settings")
    store = config.getoption("--emulator-store", None)
    if store:
        os.environ[STORE_ENV] = store  # also for servers a test builds itself


@pytest.fixture(scope="session")
def _emulator_servers() -> Iterator[dict[str, EmulatorServer]]:
    servers: dict[str, EmulatorServer] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def emulator(request: pytest.FixtureRequest, _emulator_servers: dict[str, EmulatorServer]) -> EmulatorServer:
    """A shared emulator for this test's settings (``emulator_config`` marker), reset first."""
    marker = request.node.get_closest_marker("emulator_config")
    settings: dict[str, Any] = dict(marker.args[0]) if marker and marker.args else {}
    key = json.dumps(settings, sort_keys=True)
    server = _emulator_servers.get(key)
    if server is None:
        from lipsync_emulator.testing import EmulatorServer

        server = _emulator_servers[key] = EmulatorServer(settings).start()
    server.reset()
    return server


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    started: list[EmulatorServer] = []

    def factory(config: dict[str, Any] | None = None) -> EmulatorServer:
        from lipsync_emulator.testing import EmulatorServer

        server = EmulatorServer(config).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def _webhook_receiver_session() -> Iterator[WebhookReceiver]:
    from lipsync_emulator.testing import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook_receiver(_webhook_receiver_session: WebhookReceiver) -> WebhookReceiver:
    """A loopback webhook receiver, emptied before the test."""
    _webhook_receiver_session.clear()
    return _webhook_receiver_session
