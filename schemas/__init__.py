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
    candidate = HERE / f"{name}.yaml"
    if not candidate.is_file():
        raise FileNotFoundError(f"no schema named {name!r} (have: {', '.join(names())})")
    return candidate


def text(name: str) -> str:
    return path(name).read_text(encoding="utf-8")


@functools.cache
def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load(text(name))


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the parsed spec (callers may change it freely)."""
    return copy.deepcopy(_load(name))
