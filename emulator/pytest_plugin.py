"""pytest fixtures for the emulator (registered through the ``pytest11`` entry point, so they
are available as soon as the package is installed).

* ``emulator`` — a running emulator (virtual clock, real loopback port), reset before each
  test. ``emulator.url``, ``emulator.advance(seconds)``, ``emulator.control.requests()``...
* ``make_emulator`` — build one with its own configuration:
  ``make_emulator({"syncso": {"api_keys": ["sk_ci"]}})``; stopped after the test.
* ``webhook_receiver`` — a loopback server that records what it is sent.

    def test_generation_completes(emulator, webhook_receiver):
        ...
        emulator.advance(60)
        assert webhook_receiver.wait_for(1)[0].json()["status"] == "COMPLETED"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.testing import EmulatorServer, WebhookReceiver


@pytest.fixture(scope="session")
def _emulator_session() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def emulator(_emulator_session: EmulatorServer) -> EmulatorServer:
    """The shared emulator, with all state reset before the test."""
    _emulator_session.reset()
    return _emulator_session


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    started: list[EmulatorServer] = []

    def factory(config: dict[str, Any] | None = None) -> EmulatorServer:
        server = EmulatorServer(config).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def _webhook_receiver_session() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook_receiver(_webhook_receiver_session: WebhookReceiver) -> WebhookReceiver:
    """A loopback webhook receiver, emptied before the test."""
    _webhook_receiver_session.clear()
    return _webhook_receiver_session
