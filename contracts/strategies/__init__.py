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

__all__ = ["ExpectedError", "Invalid", "compact", "syncso", "wavespeed", "lipsyncstudio", "kling", "for_provider"]

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")


def for_provider(name: str) -> ModuleType:
    """The strategies module of provider ``name``."""
    if name not in PROVIDERS:
        raise KeyError(f"no strategies for {name!r} (have: {', '.join(PROVIDERS)})")
    return importlib.import_module(f"lipsync_emulator.contracts.strategies.{name}")


def __getattr__(name: str) -> Any:
    if name in PROVIDERS:
        return for_provider(name)
    raise AttributeError(name)
