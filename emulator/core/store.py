"""Where state lives. Every provider keeps its records in named collections of one ``Store``,
so ``POST /_emulator/reset`` is one call and a persistent store can replace the memory one.

    >>> s = MemoryStore()
    >>> s.put("syncso:generation", "g1", {"id": "g1"})
    >>> s.get("syncso:generation", "g1")
    {'id': 'g1'}
    >>> [r["id"] for r in s.newest("syncso:generation")]
    ['g1']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol


class Store(Protocol):
    def put(self, collection: str, key: str, record: Any) -> None: ...
    def get(self, collection: str, key: str) -> Any | None: ...
    def delete(self, collection: str, key: str) -> bool: ...
    def newest(self, collection: str, where: Callable[[Any], bool] | None = None) -> Iterator[Any]: ...
    def count(self, collection: str) -> int: ...
    def clear(self, prefix: str = "") -> None: ...


class MemoryStore:
    """Dicts keep insertion order, so iterating a collection backwards is newest first, and a
    page costs O(page) rather than a sort of the whole collection."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()

    def put(self, collection: str, key: str, record: Any) -> None:
        with self._lock:
            self._data.setdefault(collection, {})[key] = record

    def get(self, collection: str, key: str) -> Any | None:
        return self._data.get(collection, {}).get(key)

    def delete(self, collection: str, key: str) -> bool:
        with self._lock:
            return self._data.get(collection, {}).pop(key, None) is not None

    def newest(self, collection: str, where: Callable[[Any], bool] | None = None) -> Iterator[Any]:
        with self._lock:
            records = list(reversed(self._data.get(collection, {}).values()))
        for record in records:
            if where is None or where(record):
                yield record

    def count(self, collection: str) -> int:
        return len(self._data.get(collection, {}))

    def clear(self, prefix: str = "") -> None:
        with self._lock:
            for name in [n for n in self._data if n.startswith(prefix)]:
                del self._data[name]
