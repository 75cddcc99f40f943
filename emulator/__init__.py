"""lipsync-emulator: an offline, stateful emulator of the public lip-sync video APIs.

    >>> from lipsync_emulator import create_app
    >>> app = create_app({"clock": "virtual"})
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]
__version__ = "0.1.0"

STORE_ENV = "LIPSYNC_EMULATOR_STORE"
"""``sqlite`` runs every ``EmulatorServer`` without an explicit store on the SQLite store that
``serve`` uses (a fresh database each), instead of the in-memory one: the same suite then proves
the persistent store behaves like the memory store. The pytest option ``--emulator-store`` sets it."""


def __getattr__(name: str) -> Any:
    # Imported on first use: the pytest plugins import this package in every pytest session
    # of the environment, and Flask and the providers are slow to import.
    if name == "create_app":
        from lipsync_emulator.app import create_app

        return create_app
    raise AttributeError(f"module 'lipsync_emulator' has no attribute {name!r}")
