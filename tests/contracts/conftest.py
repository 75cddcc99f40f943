"""Shared fixtures of the contract tests: in-process emulator apps and a webhook receiver.

The tests may import the emulator (the contracts themselves never do).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lipsync_emulator.app import create_app
from lipsync_emulator.contracts.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


@pytest.fixture(scope="session")
def make_app() -> Callable[..., Any]:
    """A fresh in-process emulator app (virtual clock, fixed seed) with ``config`` overrides."""

    def build(config: dict[str, Any] | None = None) -> Any:
        return create_app({"clock": "virtual", "seed": 7, **(config or {})})

    return build
