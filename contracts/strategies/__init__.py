"""Hypothesis strategies for every provider's requests: valid ones, and invalid ones that
break exactly one named rule and carry the error the provider returns for it.

    from lipsync_emulator.contracts import strategies as st
    st.syncso.create_requests(video_duration=30)
    st.syncso.segments(video_duration=30, ref_ids=("host", "guest"))
    st.syncso.invalid_requests("crop_pair")

Provider modules are imported lazily, so a provider whose schema is not installed does not
break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from lipsync_emulator.contracts.strategies.base import ExpectedError, Invalid, compact

__all__ = ["ExpectedError", "Invalid", "compact", "for_provider", "register"]

_REGISTERED: dict[str, ModuleType] = {}


def register(name: str, module: ModuleType) -> None:
    """Make ``module`` the strategies of provider ``name``: a provider whose strategies live
    outside this package (the providers here are found by module name, ``strategies/<name>.py``)."""
    _REGISTERED[name] = module


def for_provider(name: str) -> ModuleType:
    """The strategies module of provider ``name``."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name.isidentifier() and not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the module exists; something it imports does not
    raise KeyError(f"no strategies for {name!r}")


def __getattr__(name: str) -> Any:
    try:
        return for_provider(name)
    except KeyError:
        raise AttributeError(name) from None
