"""The providers' OpenAPI 3 files, one per provider, a tiny loader, and the two facts the
emulator and the contract strategies both read from them: field paths and cross-field rules.

    >>> spec = load("syncso")
    >>> spec["openapi"].startswith("3.")
    True
    >>> rules("syncso")["crop_pair"].code
    'generation_input_segments_invalid'
    >>> dotted(("input", 1, "url"))
    'input[1].url'
"""

from __future__ import annotations

import functools
import marshal
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Rule:
    """A cross-field rule (one the schema cannot state) and the error that reports it: HTTP
    status, the provider's machine code (``None``: it has none), and the documented wording
    its message starts with, when there is one. The emulator raises it; the strategies expect it."""

    id: str
    status: int
    code: str | int | None = None
    message: str = ""


def rules(name: str | Path) -> dict[str, Rule]:
    """The cross-field rules a schema declares under its top-level ``x-rules``, in order."""
    return {rule_id: Rule(rule_id, **fact) for rule_id, fact in (load(name).get("x-rules") or {}).items()}


def dotted(path: Iterable[Any]) -> str:
    """``("input", 1, "url")`` -> ``input[1].url``: the field names providers report."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
