"""The providers' OpenAPI 3 files, one per provider, and a tiny loader.

    >>> spec = load("syncso")
    >>> spec["openapi"].startswith("3.")
    True
"""

from __future__ import annotations

import functools
import marshal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path:
    known = names()
    if name not in known:  # a known name, not any path: no file system call for what a client typed
        raise FileNotFoundError(f"no schema named {name!r} (have: {', '.join(known)})")
    return HERE / f"{name}.yaml"


def text(name: str | Path) -> str:
    """A schema's YAML: by name, or from a file (a provider's schema kept outside this package)."""
    return (name if isinstance(name, Path) else path(name)).read_text(encoding="utf-8")


@functools.cache
def _parsed(name: str | Path) -> bytes:
    import yaml

    source = (name if isinstance(name, Path) else path(name)).read_bytes()
    # libyaml's loader when present: much faster, and start-up time is a product feature here
    return marshal.dumps(yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # noqa: S506


def load(name: str | Path) -> dict[str, Any]:
    """A fresh copy of the parsed spec (callers may change it freely), parsed once per process.
    ``name`` may be the path of an OpenAPI file (a provider's schema kept outside this package)."""
    spec: dict[str, Any] = marshal.loads(_parsed(name))
    return spec
