"""The persistent store: one SQLite file (stdlib ``sqlite3``, WAL) shared by every worker
process of ``lipsync-emulator serve``, surviving restarts and ``kill -9``.

* Records are the store's usual ``(namespace, collection, key) -> object``, encoded by
  ``emulator.core.codec`` (providers keep working with objects). Rows keep their insertion
  order (``rowid``), so ``newest`` pages backwards through an index: O(page), like the
  memory store; ``get`` is a primary-key lookup: O(1).
* ``due`` is an indexed column: when a record next needs timed work (a job's next
  transition, a webhook's next attempt). Any worker's sweeper picks due work up, so a job
  created by one worker completes, and its webhook goes out, even if that worker is gone.
* ``transaction()`` is ``BEGIN IMMEDIATE``: one writer at a time across processes (which
  queue on an ``flock`` of ``<database>.writer`` first). The
  lifecycle engine re-reads and advances a job inside one, which is the atomic claim that
  lets exactly one worker enter a state (and send its webhook). Writes inside it are
  deferred to its end: a record put three times (a job created, entering its first state,
  scheduled) is encoded and written once, as it is at commit; any read in between first
  writes what is pending, so reads still see the transaction's own writes.
* Inside a request (``unit()``), ``get`` returns the same object for the same key and
  records changed in place are written back at the end, as with the memory store where the
  stored object *is* the object. Reads inside a ``transaction()`` always go to the database
  and stay out of the unit: the engine's and the dispatcher's claims must see the truth, and
  must never be written back later from a stale copy.
* ``meta``: small shared values (the virtual clock, versions of shared settings).
* ``journal``: the request journal, bounded, shared by the workers.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction across a
process crash or ``kill -9`` (a power loss may drop the last few); a request is answered
only after its transaction committed, so nothing acknowledged is lost.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "state.db")
    >>> s = SqliteStore(path)
    >>> s.put("syncso:generation", "g1", {"id": "g1", "data": b"bytes survive"})
    >>> SqliteStore(path).get("syncso:generation", "g1")["data"]
    b'bytes survive'
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: the workers poll SQLite's own lock (_retry) alone
    fcntl = None  # type: ignore[assignment]

from lipsync_emulator.core.codec import FORMAT, Codec
from lipsync_emulator.core.store import DEFAULT_NAMESPACE, current_namespace, current_tenant, record_namespace

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    rowid INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    coll TEXT NOT NULL,
    key TEXT NOT NULL,
    tag TEXT NOT NULL,
    due REAL,
    data BLOB NOT NULL,
    UNIQUE (coll, key, ns)
);
CREATE INDEX IF NOT EXISTS records_by_ns ON records (coll, ns);
CREATE INDEX IF NOT EXISTS records_by_coll ON records (coll);
CREATE INDEX IF NOT EXISTS records_due ON records (due) WHERE due IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS journal_by_ns ON journal (ns, seq);
"""

PAGE = 64
JOURNAL_DECODED = 100_000  # journal entries kept decoded (then forgotten at once)
JOURNAL_ROWS = 400  # rows per INSERT: 800 bound values, under every SQLite's limit (999 before 3.32)


def _retry(statement: Callable[[], Any], patience: float = 30.0) -> Any:
    """Run ``statement``, retrying while another process holds the database's write lock."""
    delay, deadline = 0.0001, time.monotonic() + patience
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


def _due_of(record: Any) -> float | None:
    """A record's next timed work, if it says (``Job.next_due``, outbox entries)."""
    fn = getattr(record, "next_due", None)
    if fn is None:
        return None
    value = fn()
    return None if value is None else float(value)


class _Local(threading.local):
    conn: sqlite3.Connection | None = None
    pid: int = 0
    depth: int = 0
    unit: dict[tuple[str, str, str], tuple[Any, bytes]] | None = None
    # (ns, coll, key) -> (record, due, tenant, whether a request's own put)
    pending: dict[tuple[str, str, str], tuple[Any, float | None, str | None, bool]] | None = None


class SqliteStore:
    """``path``: the database file (its directory must exist)."""

    shared = True

    def __init__(self, path: str, codec: Codec | None = None) -> None:
        self.path = path
        self.codec = codec or Codec()
        self._local = _Local()
        # journal entries never change once written: each is decoded once per process, not on
        # every read (a filtered read of a 50,000-entry journal decoded them all each time)
        self._journal_decoded: dict[int, dict[str, Any]] = {}
        self._writer = threading.Lock()
        self._lock_file: tuple[int, Any] | None = None  # (pid, file) for the writers' flock
        conn = self._conn()
        with self.transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (name, value) VALUES ('format', ?)", (FORMAT,))
            elif row[0] != FORMAT:
                raise ValueError(f"{path} holds emulator state in format {row[0]}, this emulator writes "
                                 f"format {FORMAT}: use another --data-dir (or --memory)")

    # -- connections and transactions -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        if local.conn is None or local.pid != os.getpid():
            # One connection per thread and process: sqlite3 connections must not cross a fork.
            # No busy handler: SQLite's sleeps 1, 2, 5... 100 ms between tries, which is most
            # of a p99 when workers contend; transaction() retries every ~0.1-2 ms instead.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
            _retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")
            # A checkpoint fsyncs: left to SQLite it lands on whichever request commits the
            # 1000th page (a 100+ ms p99). The runtime's sweeper calls checkpoint() instead;
            # this high mark is only the backstop when nothing does.
            conn.execute("PRAGMA wal_autocheckpoint=20000")
            local.conn, local.pid, local.depth = conn, os.getpid(), 0
        return local.conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """An immediate (write-locked) transaction; nested blocks join the outer one. The
        threads of one process queue on a lock; processes retry the write lock briefly."""
        conn = self._conn()
        local = self._local
        if local.depth:
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        with self._writer, self._between_processes():
            _retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            local.depth, local.pending = 1, {}
            try:
                yield
                self._write_pending()
            except BaseException:
                local.depth, local.pending = 0, None
                conn.execute("ROLLBACK")
                raise
            local.depth, local.pending = 0, None
            _retry(lambda: conn.execute("COMMIT"))

    @contextlib.contextmanager
    def _between_processes(self) -> Iterator[None]:
        """The write lock among the workers: they queue in the kernel on a lock file (one
        wake-up when it is free) instead of polling SQLite's lock with sleeps (measured:
        about every other create polled, oversleeping what a 50 us transaction holds)."""
        if fcntl is None:
            yield
            return
        held = self._lock_file
        if held is None or held[0] != os.getpid():  # a lock file's descriptor must not cross a fork
            held = self._lock_file = (os.getpid(), open(self.path + ".writer", "a+b"))  # noqa: SIM115
        fcntl.flock(held[1], fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held[1], fcntl.LOCK_UN)

    def _write_pending(self) -> None:
        """Write this transaction's deferred puts (before a read, and at commit)."""
        local = self._local
        pending = local.pending
        if not pending:
            return
        local.pending = {}
        unit = local.unit
        rows = []
        for (ns, coll, key), (record, due, tag, own) in pending.items():
            data = self.codec.dumps(record)
            # the tag of a new row: the writing tenant (else its namespace); an update keeps
            # the row's tag unless a tenant is writing
            rows.append((ns, coll, key, tag or ns, due if due is not None else _due_of(record), data, tag))
            # the engine's and the dispatcher's own writes give a new baseline only to an
            # object the request already holds
            if unit is not None and (own or (ns, coll, key) in unit):
                unit[(ns, coll, key)] = (record, data)
        self._conn().executemany(
            "INSERT INTO records (ns, coll, key, tag, due, data) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (coll, key, ns) DO UPDATE SET due = excluded.due, data = excluded.data, "
            "tag = coalesce(?, records.tag)", rows)

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """A request's unit of work: identity map, and write-back of records changed in place."""
        local = self._local
        if local.unit is not None:
            yield
            return
        local.unit = {}
        try:
            yield
        finally:
            self.flush()
            local.unit = None

    def flush(self) -> None:
        """Write back the records of this unit that were changed in place."""
        unit = self._local.unit
        if not unit:
            return
        changed = []
        for (ns, coll, key), (obj, raw) in list(unit.items()):
            try:
                data = self.codec.dumps(obj)
            except Exception:  # noqa: BLE001 - an object that no longer encodes is not written back
                continue
            if data != raw:
                changed.append((ns, coll, key, obj, data))
        if not changed:
            return
        with self.transaction():
            pending = self._local.pending
            assert pending is not None
            for ns, coll, key, obj, _ in changed:
                pending[(ns, coll, key)] = (obj, None, current_tenant(), True)

    # -- the Store protocol ----------------------------------------------------------------

    def _read(self, collection: str | None = None) -> sqlite3.Connection:
        """The connection, for a read that must see this transaction's pending writes (those
        of ``collection`` if given: a create's look-up of its media in the asset registry
        need not write the job it is creating twice)."""
        pending = self._local.pending
        if pending and (collection is None or any(coll == collection for _, coll, _ in pending)):
            self._write_pending()
        return self._conn()

    def _owner(self, collection: str, key: str) -> str | None:
        rows = self._read(collection).execute("SELECT rowid, ns FROM records WHERE coll = ? AND key = ?",
                                              (collection, key)).fetchall()
        return str(max(rows)[1]) if rows else None

    def namespace_of(self, collection: str, key: str) -> str | None:
        return self._owner(collection, key)

    def put(self, collection: str, key: str, record: Any, *, due: float | None = None) -> None:
        ns = current_namespace()
        if ns is None:
            ns = record_namespace(record) or self._owner(collection, key) or DEFAULT_NAMESPACE
        own = not self._local.depth
        with self.transaction():
            pending = self._local.pending
            assert pending is not None
            before = pending.get((ns, collection, key))
            pending[(ns, collection, key)] = (record, due, current_tenant(), own or (before is not None and before[3]))

    def get(self, collection: str, key: str) -> Any | None:
        ns = current_namespace()
        unit = self._local.unit
        if unit is not None and ns is not None and not self._local.depth:
            hit = unit.get((ns, collection, key))
            if hit is not None:
                return hit[0]
        conn = self._read(collection)
        if ns is not None:
            row = conn.execute("SELECT ns, data FROM records WHERE coll = ? AND key = ? AND ns = ?",
                               (collection, key, ns)).fetchone()
        else:
            # the key's most recent namespace (a key is rarely in two); no ORDER BY, which
            # would tempt the planner into walking the collection in rowid order
            rows = conn.execute("SELECT rowid, ns, data FROM records WHERE coll = ? AND key = ?",
                                (collection, key)).fetchall()
            row = max(rows)[1:] if rows else None
        if row is None:
            return None
        record = self.codec.loads(row[1])
        if unit is not None and not self._local.depth:
            unit[(row[0], collection, key)] = (record, row[1])
        return record

    def delete(self, collection: str, key: str) -> bool:
        ns = current_namespace()
        if ns is None:
            ns = self._owner(collection, key)
            if ns is None:
                return False
        unit = self._local.unit
        if unit is not None:
            unit.pop((ns, collection, key), None)
        with self.transaction():
            cur = self._read().execute("DELETE FROM records WHERE coll = ? AND key = ? AND ns = ?",
                                       (collection, key, ns))
        return cur.rowcount > 0

    def newest(self, collection: str, where: Callable[[Any], bool] | None = None) -> Iterator[Any]:
        """Newest first, a page of rows at a time (no cursor is held between pages)."""
        ns = current_namespace()
        last: int | None = None
        while True:
            conn = self._read(collection)
            bound = "" if last is None else " AND rowid < ?"
            if ns is not None:
                args: tuple[Any, ...] = (collection, ns) + (() if last is None else (last,))
                rows = conn.execute(f"SELECT rowid, ns, key, data FROM records WHERE coll = ? AND ns = ?{bound} "
                                    f"ORDER BY rowid DESC LIMIT {PAGE}", args).fetchall()
            else:
                args = (collection,) + (() if last is None else (last,))
                rows = conn.execute(f"SELECT rowid, ns, key, data FROM records WHERE coll = ?{bound} "
                                    f"ORDER BY rowid DESC LIMIT {PAGE}", args).fetchall()
            if not rows:
                return
            unit = self._local.unit
            for rowid, row_ns, key, data in rows:
                last = rowid
                # a listing reads: its records join no unit (a request that changes one
                # gets it by key, or puts it), so a page of 100 costs no 100 re-encodings
                hit = unit.get((row_ns, collection, key)) if unit is not None else None
                record = hit[0] if hit is not None else self.codec.loads(data)
                if where is None or where(record):
                    yield record
            if len(rows) < PAGE:
                return

    def count(self, collection: str) -> int:
        ns = current_namespace()
        conn = self._read(collection)
        if ns is not None:
            row = conn.execute("SELECT count(*) FROM records WHERE coll = ? AND ns = ?", (collection, ns)).fetchone()
        else:
            row = conn.execute("SELECT count(*) FROM records WHERE coll = ?", (collection,)).fetchone()
        return int(row[0])

    def clear(self, prefix: str = "", namespace: str | None = None) -> None:
        if self._local.unit is not None:
            self._local.unit.clear()
        where, args = "coll >= ? AND coll < ?", [prefix, prefix + "\U0010ffff"]
        if namespace is not None:
            where += " AND (ns = ? OR tag = ?)"
            args += [namespace, namespace]
        with self.transaction():
            self._read().execute(f"DELETE FROM records WHERE {where}", args)

    def namespaces(self) -> list[str]:
        return [str(r[0]) for r in self._read().execute("SELECT DISTINCT ns FROM records ORDER BY ns")]

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (off the request path; never blocks
        writers)."""
        _retry(lambda: self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)"), patience=1.0)

    # -- timed work ------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[tuple[str, str, str]]:
        """(namespace, collection, key) of records whose timed work is due, earliest first."""
        rows = self._read().execute("SELECT ns, coll, key FROM records WHERE due IS NOT NULL AND due <= ? "
                                    "ORDER BY due LIMIT ?", (now, limit)).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def next_due(self) -> float | None:
        row = self._read().execute("SELECT min(due) FROM records WHERE due IS NOT NULL").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def get_in(self, namespace: str, collection: str, key: str) -> Any | None:
        """A record read from the database (not the unit's copy), in ``namespace``."""
        row = self._read(collection).execute("SELECT data FROM records WHERE coll = ? AND key = ? AND ns = ?",
                                             (collection, key, namespace)).fetchone()
        return None if row is None else self.codec.loads(row[0])

    # -- shared small values -------------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        with self.transaction():
            self._conn().execute("INSERT INTO meta (name, value) VALUES (?, ?) "
                                 "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    # -- the journal ----------------------------------------------------------------------------

    def journal_append(self, entries: list[dict[str, Any]], limit: int) -> None:
        """Append a batch of entries (their ``namespace`` keys say whose) in one transaction.
        They are encoded before it, and go in as one statement per ``JOURNAL_ROWS``: the
        write lock is held for SQLite's work alone, not for Python's (measured: a batch
        encoded and inserted row by row under the lock held it 2-9 ms, and the other
        worker's creates queued behind it)."""
        rows = [(entry.get("namespace"), self.codec.dumps(entry)) for entry in entries]
        conn = self._conn()
        with self.transaction():
            seq = 0
            for start in range(0, len(rows), JOURNAL_ROWS):
                chunk = rows[start:start + JOURNAL_ROWS]
                cur = conn.execute("INSERT INTO journal (ns, data) VALUES " + ", ".join(["(?, ?)"] * len(chunk)),
                                   [value for row in chunk for value in row])
                seq = int(cur.lastrowid or 0)
            if seq and seq % 256 < len(entries):  # trim now and then, not on every batch
                conn.execute("DELETE FROM journal WHERE seq <= ?", (seq - limit,))

    def journal_rows(self, limit: int, namespace: str | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The last ``limit`` entries (of ``namespace`` if given) before the newest ``offset``,
        oldest first."""
        conn = self._conn()
        if namespace is None:
            rows = conn.execute("SELECT seq, data FROM journal ORDER BY seq DESC LIMIT ? OFFSET ?",
                                (limit, offset)).fetchall()
        else:
            rows = conn.execute("SELECT seq, data FROM journal WHERE ns = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
                                (namespace, limit, offset)).fetchall()
        decoded = self._journal_decoded
        if len(decoded) > JOURNAL_DECODED:
            decoded.clear()
        out = []
        for seq, data in reversed(rows):
            entry = decoded.get(seq)
            if entry is None:
                entry = decoded[seq] = self.codec.loads(data)
                entry["seq"] = seq
            out.append(entry)
        return out

    def journal_count(self, namespace: str | None = None) -> int:
        conn = self._conn()
        if namespace is None:
            return int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM journal WHERE ns = ?", (namespace,)).fetchone()[0])

    def journal_clear(self, namespace: str | None = None) -> None:
        self._journal_decoded.clear()
        with self.transaction():
            if namespace is None:
                self._conn().execute("DELETE FROM journal")
            else:
                self._conn().execute("DELETE FROM journal WHERE ns = ?", (namespace,))

    def close(self) -> None:
        if self._lock_file is not None and self._lock_file[0] == os.getpid():
            self._lock_file[1].close()
            self._lock_file = None
        conn = self._local.conn
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None
