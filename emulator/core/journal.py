"""The request journal: every request the emulator answered, newest last, bounded in size.

    >>> j = RequestJournal(limit=2)
    >>> for n in range(3): j.record({"n": n, "provider": "syncso"})
    >>> [e["n"] for e in j.query()]
    [1, 2]
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class RequestJournal:
    def __init__(self, limit: int = 5000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._entries.append(entry)
        return entry

    def query(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Entries matching every given filter (``None`` filters are ignored), oldest first."""
        wanted = {k: v for k, v in filters.items() if v is not None}
        with self._lock:
            rows = [e for e in self._entries if all(_matches(e.get(k), v) for k, v in wanted.items())]
        return rows[-limit:] if limit else rows

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _matches(value: Any, wanted: Any) -> bool:
    if isinstance(value, list):
        return wanted in value
    return str(value) == str(wanted)
