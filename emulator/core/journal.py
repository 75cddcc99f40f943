"""The request journal: every request the emulator answered, newest last, bounded in size.

    >>> j = RequestJournal(limit=2)
    >>> for n in range(3): _ = j.record({"n": n, "provider": "syncso"})
    >>> [e["n"] for e in j.query()]
    [1, 2]
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class RequestJournal:
    """``store``: a persistent store with a journal table (``SqliteStore``): entries then
    survive restarts. They are written in batches (every ``FLUSH_SECONDS``, by a background
    thread), so a request pays no write of its own for the journal; a ``kill -9`` can lose
    that last moment of the journal (never a job or a webhook)."""

    FLUSH_SECONDS = 0.05
    expand: Callable[[dict[str, Any]], dict[str, Any]] = staticmethod(lambda entry: entry)  # type: ignore[assignment]
    """Turns a recorded entry into the one ``query`` returns (the app records raw pieces
    cheaply and expands them here, when someone reads the journal)."""

    def __init__(self, limit: int = 5000, store: Any = None) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0
        self.limit = limit
        self.store = store if hasattr(store, "journal_append") else None
        self._pending: list[dict[str, Any]] = []
        # clears so far, and the count at each namespace's last clear (None: everyone's)
        self._clears = 0
        self._cleared_at: dict[str | None, int] = {}
        self._closed = threading.Event()
        self._flushing = threading.Lock()
        if self.store is not None:
            threading.Thread(target=self._flush_loop, name="emulator-journal", daemon=True).start()
            atexit.register(self.flush)

    def flush(self) -> None:
        """Write the batched entries now; returns once every entry recorded before the call
        is in the store (a batch another thread is writing included: a reader of the journal
        sees its own requests)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, []
            if batch and self.store is not None:
                self.store.journal_append(batch, self.limit)

    def _flush_loop(self) -> None:
        while not self._closed.wait(self.FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep journaling; the next batch retries the store
                logging.getLogger("emulator").exception("journal flush failed")

    def close(self) -> None:
        """Write what is batched and stop the background writer."""
        self._closed.set()
        self.flush()

    def mark(self) -> int:
        """Taken as a request begins, given back to ``record``."""
        return self._clears

    def record(self, entry: dict[str, Any], since: int | None = None) -> dict[str, Any]:
        """Keep ``entry``, unless its request began (``since``, a ``mark``) before its namespace
        was cleared: a request still in flight during a reset belongs to what was reset."""
        if since is not None and max(self._cleared_at.get(None, 0),
                                     self._cleared_at.get(entry.get("namespace"), 0)) > since:
            return entry
        if self.store is not None:
            with self._lock:
                self._pending.append(entry)
            return entry
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._entries.append(entry)
        return entry

    def query(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Entries matching every given filter (``None`` filters are ignored), oldest first."""
        wanted = {k: v for k, v in filters.items() if v is not None}
        if self.store is not None:
            self.flush()
            entries = self.store.journal_rows(self.limit, wanted.get("namespace"))
        else:
            with self._lock:
                entries = list(self._entries)
        expand = self.expand
        rows = []
        for entry in entries:
            row = expand(entry)
            if "seq" in entry and "seq" not in row:
                row = {"seq": entry["seq"], **row}
            if all(_matches(row.get(k), v) for k, v in wanted.items()):
                rows.append(row)
        return rows[-limit:] if limit else rows

    def page(self, offset: int = 0, limit: int = 100, where: Callable[[dict[str, Any]], bool] | None = None,
             within: int | None = None, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """Entries matching every filter (and ``where``) among the newest ``within`` (default:
        all), newest first: ``limit`` of them after the first ``offset``, and how many match in
        all. Filters read the recorded entries, so only the page is expanded; a persistent store
        reads only the page's entries when nothing but the namespace is filtered."""
        wanted = {k: v for k, v in filters.items() if v is not None}
        scan = min(within or self.limit, self.limit)
        if self.store is not None:
            self.flush()
            namespace = wanted.pop("namespace", None)
            if not wanted and where is None and within is None:
                window = self.store.journal_rows(max(0, min(limit, self.limit - offset)), namespace, offset)
                total = min(self.store.journal_count(namespace), self.limit)
                return [self._row(e) for e in reversed(window)], total
            entries = self.store.journal_rows(scan, namespace)
        else:
            with self._lock:
                entries = list(self._entries)[-scan:]
        entries.reverse()
        if wanted or where is not None:
            entries = [e for e in entries if all(_matches(e.get(k), v) for k, v in wanted.items())
                       and (where is None or where(e))]
        return [self._row(e) for e in entries[offset:offset + limit]], len(entries)

    def _row(self, entry: dict[str, Any]) -> dict[str, Any]:
        row = self.expand(entry)
        return row if "seq" in row or "seq" not in entry else {"seq": entry["seq"], **row}

    def clear(self, namespace: str | None = None) -> None:
        """Forget every entry (of ``namespace`` only, if given)."""
        with self._lock:
            self._clears += 1
            self._cleared_at[namespace] = self._clears
        if self.store is not None:
            self.flush()
            self.store.journal_clear(namespace)
            return
        with self._lock:
            if namespace is None:
                self._entries.clear()
            else:
                kept = [e for e in self._entries if e.get("namespace") != namespace]
                self._entries.clear()
                self._entries.extend(kept)


def _matches(value: Any, wanted: Any) -> bool:
    if value == wanted:
        return True
    if isinstance(value, list):
        return wanted in value
    # two different strings differ as text too: skip the conversions (a filter reads every entry)
    return not (type(value) is str and type(wanted) is str) and str(value) == str(wanted)
