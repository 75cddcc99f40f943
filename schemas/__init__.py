"""The providers' OpenAPI 3 files, one per provider, and a tiny loader.

    >>> spec = load("syncso")
    >>> spec["openapi"].startswith("3.")
    True
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path:
    known = names()
    if name not in known:  # a known name, not any path: no file system call for what a client typed
        raise FileNotFoundError(f"no schema named {name!r} (have: {', '.join(known)})")
    return HERE / f"{name}.yaml"


def text(name: str) -> str:
    return path(name).read_text(encoding="utf-8")


@functools.cache
def _load(name: str) -> dict[str, Any]:
    # libyaml's loader when present: 10x faster, and start-up time is a product feature here
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text(name), Loader=loader)  # noqa: S506 - a safe loader


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the parsed spec (callers may change it freely)."""
    return copy.deepcopy(_load(name))
