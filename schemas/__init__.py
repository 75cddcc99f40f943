"""The providers' OpenAPI 3 files, one per provider, and a tiny loader.

    >>> spec = load("syncso")
    >>> spec["openapi"].startswith("3.")
    True
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / "__pycache__"


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


def parse_cached(file: Path, cache: Path, write: bool) -> bytes:
    """``file``'s YAML, parsed, as ``marshal`` data; kept in ``cache`` keyed by the source's
    hash, as Python keeps bytecode. Importing PyYAML and parsing the four specs took ~45 ms
    of every start (README, Performance); reading the cached form takes ~1 ms. A source
    that changes has a new key, so an edited spec is never served stale."""
    source = file.read_bytes()
    stem = f"{file.stem}.{sys.implementation.cache_tag}"
    cached = cache / f"{stem}.{hashlib.sha256(source).hexdigest()[:24]}.marshal"
    try:
        data = cached.read_bytes()
        if isinstance(marshal.loads(data), dict):  # anything else is parsed again, and replaced
            return data
    except (OSError, EOFError, ValueError, TypeError):
        pass
    import yaml

    # libyaml's loader when present: 10x faster, and start-up time is a product feature here
    data = marshal.dumps(yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # noqa: S506
    if write:
        _store(cached, stem, data)
    return data


def _store(cached: Path, stem: str, data: bytes) -> None:
    # written whole and renamed: workers starting together never read half a file
    try:
        cached.parent.mkdir(exist_ok=True)
        for stale in cached.parent.glob(f"{stem}.*.marshal"):
            if stale != cached:
                stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f"{stem}.", suffix=".tmp")
    except OSError:  # a read-only install
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, cached)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


@functools.cache
def _load(name: str) -> bytes:
    # the cache is written when bytecode is (PYTHONDONTWRITEBYTECODE, -B say neither)
    return parse_cached(path(name), CACHE, write=not sys.dont_write_bytecode)


def cache_all() -> None:
    """Write every spec's cached form, as ``compileall`` writes bytecode."""
    for name in names():
        parse_cached(path(name), CACHE, write=True)


def load(name: str | Path) -> dict[str, Any]:
    """A fresh copy of the parsed spec (callers may change it freely): unmarshalled anew,
    ~20x faster than a deep copy. ``name`` may be the path of an OpenAPI file."""
    if isinstance(name, Path):
        import yaml

        loaded: dict[str, Any] = yaml.safe_load(text(name))
        return loaded
    spec: dict[str, Any] = marshal.loads(_load(name))
    return spec
