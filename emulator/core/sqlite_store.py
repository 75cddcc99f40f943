"""The persistent store: the memory store, written through to one SQLite file (stdlib
``sqlite3``, WAL), so state survives a restart and ``kill -9``.

Reads are the memory store's. Writes reach the file in *units* (``unit()``: a request, one
step of the lifecycle engine): every record put, deleted, or read during the unit is
encoded (pickle) at its end, and the ones whose encoding changed are written in one
transaction — records changed in place, as providers do, are kept too. A request is
answered only after its unit's transaction committed (``commit()``), so nothing
acknowledged is lost. A put outside any unit is written at once.

When the file cannot be written (a full disk, a read-only file system) the records stay in
memory, marked unwritten, and every later write tries them again: ``commit()`` raises
``StorageUnavailable`` for a request that changed something (the app answers 507), the
store keeps serving reads, and writing resumes by itself once space is back.

The data directory is the emulator's own and trusted, like any pickle file: never point
``--data-dir`` at files from elsewhere. Its format follows the emulator version
(``FORMAT``); a directory written by another format is refused rather than misread.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "state.db")
    >>> s = SqliteStore(path)
    >>> s.put("syncso:generation", "g1", {"id": "g1", "data": b"bytes survive"})
    >>> SqliteStore(path).get("syncso:generation", "g1")["data"]
    b'bytes survive'
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lipsync_emulator.core.store import MemoryStore, StorageUnavailable, current_namespace, scope, tenant

FORMAT = "2"
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    rowid INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    coll TEXT NOT NULL,
    key TEXT NOT NULL,
    tag TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (coll, key, ns)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS journal_by_ns ON journal (ns, seq);
"""
JOURNAL_DECODED = 100_000  # journal entries kept decoded (then forgotten at once)
JOURNAL_ROWS = 400  # rows per INSERT: 800 bound values, under every SQLite's limit (999 before 3.32)
WAL_LIMIT = 8 * 1024 * 1024  # bytes the write-ahead log is truncated to after a checkpoint

Key = tuple[str, str, str]  # (collection, namespace, key)
log = logging.getLogger("emulator")


class _Unit(threading.local):
    depth = 0
    keys: set[Key] | None = None


class SqliteStore(MemoryStore):
    """``path``: the database file (its directory must exist and be writable)."""

    kind = "sqlite"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._unit = _Unit()
        self._written: dict[Key, int] = {}  # hash of each record's encoding in the file
        self._unwritten: set[Key] = set()  # changes a failed write left in memory only
        self._warned_at = 0.0
        self._journal_decoded: dict[int, dict[str, Any]] = {}
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # a commit survives the process's death (kill -9); a power loss may drop the last ones
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta (name, value) VALUES ('format', ?)", (FORMAT,))
        elif row[0] != FORMAT:
            raise ValueError(f"{path} holds emulator state in format {row[0]}, this emulator writes "
                             f"format {FORMAT}: use another --data-dir (or --memory)")
        self._load()

    def _load(self) -> None:
        for ns, coll, key, tag, data in self._db.execute("SELECT ns, coll, key, tag, data FROM records ORDER BY rowid"):
            with scope(ns), tenant(tag):
                MemoryStore.put(self, coll, key, pickle.loads(data))
            self._written[(coll, ns, key)] = hash(data)
        for name, value in self._db.execute("SELECT name, value FROM meta"):
            self._meta[name] = value

    # -- units -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """Collect what the block touches; write what changed at its end (nested: the outer)."""
        unit = self._unit
        if unit.depth == 0:
            unit.keys = set()
        unit.depth += 1
        try:
            yield
        finally:
            unit.depth -= 1
            if unit.depth == 0:
                keys, unit.keys = unit.keys or set(), None
                self._write(keys, strict=False)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock, self.unit():
            yield

    def commit(self) -> None:
        """Write what this thread's unit changed so far; ``StorageUnavailable`` if it cannot."""
        unit = self._unit
        if unit.keys:
            keys, unit.keys = unit.keys, set()
            self._write(keys, strict=True)

    def _touch(self, key: Key) -> None:
        if self._unit.keys is not None:
            self._unit.keys.add(key)
        else:
            self._write((key,), strict=False)

    def _write(self, keys: Iterable[Key], strict: bool) -> None:
        with self._lock:
            own = set(keys)
            upserts: list[tuple[Any, ...]] = []
            deletes: list[tuple[str, str, str]] = []
            hashes: dict[Key, int | None] = {}
            for key in own | self._unwritten:
                coll, ns, name = key
                row = self._data.get(coll, {}).get(ns, {}).get(name)
                if row is None:
                    if key in self._written:
                        deletes.append((coll, name, ns))
                        hashes[key] = None
                    continue
                data = pickle.dumps(row[1], protocol=5)
                digest = hash(data)
                if self._written.get(key) != digest:
                    upserts.append((ns, coll, name, row[2], data))
                    hashes[key] = digest
            if not hashes:
                return
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.executemany(
                        "INSERT INTO records (ns, coll, key, tag, data) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (coll, key, ns) DO UPDATE SET tag = excluded.tag, data = excluded.data",
                        upserts)
                    self._db.executemany("DELETE FROM records WHERE coll = ? AND key = ? AND ns = ?", deletes)
            except sqlite3.Error as exc:
                self._unwritten.update(hashes)
                self._warn(exc)
                if strict and not own.isdisjoint(hashes):
                    raise StorageUnavailable(str(exc)) from exc
                return
            self._unwritten.clear()
            for key, digest in hashes.items():
                if digest is None:
                    self._written.pop(key, None)
                else:
                    self._written[key] = digest

    def _warn(self, exc: Exception) -> None:
        """At most one line every 10 s, however many writes fail."""
        now = time.monotonic()
        if now - self._warned_at >= 10.0:
            self._warned_at = now
            log.error("cannot write %s (%s): changes are kept in memory and retried", self.path, exc)

    @property  # type: ignore[override]
    def degraded(self) -> bool:
        """Whether some change is in memory only (the last write failed)."""
        return bool(self._unwritten)

    # -- the Store protocol: the memory store's, written through ----------------------------

    def put(self, collection: str, key: str, record: Any) -> None:
        with self._lock:
            previous = self._owner.get(collection, {}).get(key)
            super().put(collection, key, record)
            ns = self._owner[collection][key]
        if previous is not None and previous != ns:
            self._touch((collection, previous, key))
        self._touch((collection, ns, key))

    def get(self, collection: str, key: str) -> Any | None:
        record = super().get(collection, key)
        if record is not None and self._unit.keys is not None:
            ns = current_namespace() or self._owner.get(collection, {}).get(key)
            if ns is not None:
                self._unit.keys.add((collection, ns, key))  # it may be changed in place
        return record

    def delete(self, collection: str, key: str) -> bool:
        with self._lock:
            ns = current_namespace() or self._owner.get(collection, {}).get(key)
            found = super().delete(collection, key)
        if found and ns is not None:
            self._touch((collection, ns, key))
        return found

    def clear(self, prefix: str = "", namespace: str | None = None) -> None:
        with self._lock:
            super().clear(prefix, namespace)
            where, args = "coll >= ? AND coll < ?", [prefix, prefix + "\U0010ffff"]
            if namespace is not None:
                where += " AND (ns = ? OR tag = ?)"
                args += [namespace, namespace]
            try:
                with self._db:
                    self._db.execute(f"DELETE FROM records WHERE {where}", args)
            except sqlite3.Error as exc:
                self._warn(exc)
            kept = {k: h for k, h in self._written.items() if k[2] in self._data.get(k[0], {}).get(k[1], {})}
            self._written = kept
            self._unwritten = {k for k in self._unwritten if k[2] in self._data.get(k[0], {}).get(k[1], {})}

    def set_meta(self, name: str, value: str) -> None:
        with self._lock:
            super().set_meta(name, value)
            try:
                with self._db:
                    self._db.execute("INSERT INTO meta (name, value) VALUES (?, ?) "
                                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))
            except sqlite3.Error as exc:
                self._warn(exc)

    # -- the journal ----------------------------------------------------------------------------

    def journal_append(self, entries: list[dict[str, Any]], limit: int) -> None:
        """Append a batch of entries (their ``namespace`` keys say whose) in one transaction."""
        rows = [(entry.get("namespace"), pickle.dumps(entry, protocol=5)) for entry in entries]
        with self._lock:
            try:
                with self._db:
                    seq = 0
                    for start in range(0, len(rows), JOURNAL_ROWS):
                        chunk = rows[start:start + JOURNAL_ROWS]
                        cur = self._db.execute("INSERT INTO journal (ns, data) VALUES "
                                               + ", ".join(["(?, ?)"] * len(chunk)),
                                               [value for row in chunk for value in row])
                        seq = int(cur.lastrowid or 0)
                    if seq and seq % 256 < len(entries):  # trim now and then, not on every batch
                        self._db.execute("DELETE FROM journal WHERE seq <= ?", (seq - limit,))
            except sqlite3.Error as exc:
                self._warn(exc)

    def journal_rows(self, limit: int, namespace: str | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The last ``limit`` entries (of ``namespace`` if given) before the newest ``offset``,
        oldest first."""
        with self._lock:
            if namespace is None:
                rows = self._db.execute("SELECT seq, data FROM journal ORDER BY seq DESC LIMIT ? OFFSET ?",
                                        (limit, offset)).fetchall()
            else:
                rows = self._db.execute("SELECT seq, data FROM journal WHERE ns = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
                                        (namespace, limit, offset)).fetchall()
        # entries never change once written: each is decoded once, not on every read (a
        # filtered read of a 50,000-entry journal decoded them all each time)
        decoded = self._journal_decoded
        if len(decoded) > JOURNAL_DECODED:
            decoded.clear()
        out = []
        for seq, data in reversed(rows):
            entry = decoded.get(seq)
            if entry is None:
                entry = decoded[seq] = pickle.loads(data)
                entry["seq"] = seq
            out.append(entry)
        return out

    def journal_count(self, namespace: str | None = None) -> int:
        with self._lock:
            if namespace is None:
                return int(self._db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM journal WHERE ns = ?", (namespace,)).fetchone()[0])

    def journal_clear(self, namespace: str | None = None) -> None:
        self._journal_decoded.clear()
        with self._lock:
            try:
                with self._db:
                    if namespace is None:
                        self._db.execute("DELETE FROM journal")
                    else:
                        self._db.execute("DELETE FROM journal WHERE ns = ?", (namespace,))
            except sqlite3.Error as exc:
                self._warn(exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()
