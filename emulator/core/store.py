"""Where state lives. Every provider keeps its records in named collections of one ``Store``,
so ``POST /_emulator/reset`` is one call and a persistent store (``SqliteStore``) can replace
the memory one.

Parallel CI jobs sharing one emulator are kept apart two ways:

* a request with an ``X-Emulator-Namespace`` header runs in that namespace (``scope``) and
  sees only its records: a hard partition, for jobs that share an API key. Outside any scope
  (the control plane, start-up) ``get`` finds a key in whichever namespace holds it and
  ``newest`` lists every namespace, newest first;
* every record is also tagged with the *tenant* that wrote it (``tenant``): the namespace
  header, else the request's API key. Providers already show each key only its own jobs,
  as the real services do; the tag lets ``clear(namespace=...)`` — ``POST /_emulator/reset``
  for one namespace — forget one API key's state, or one namespace's, and nothing else.

    >>> s = MemoryStore()
    >>> s.put("syncso:generation", "g1", {"id": "g1"})
    >>> s.get("syncso:generation", "g1")
    {'id': 'g1'}
    >>> with scope("ci-7"):
    ...     s.put("syncso:generation", "g2", {"id": "g2"})
    ...     [r["id"] for r in s.newest("syncso:generation")]
    ['g2']
    >>> [r["id"] for r in s.newest("syncso:generation")]
    ['g2', 'g1']
    >>> with tenant("sk_team_a"):
    ...     s.put("syncso:generation", "g3", {"id": "g3"})
    >>> s.clear(namespace="ci-7"); s.clear(namespace="sk_team_a"); s.count("syncso:generation")
    1
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

DEFAULT_NAMESPACE = "default"
NAMESPACE_HEADER = "X-Emulator-Namespace"

_scope: ContextVar[str | None] = ContextVar("emulator_namespace", default=None)
_tenant: ContextVar[str | None] = ContextVar("emulator_tenant", default=None)


@contextlib.contextmanager
def scope(namespace: str | None) -> Iterator[None]:
    """Run the block in ``namespace`` (``None``: unscoped)."""
    token = _scope.set(namespace)
    try:
        yield
    finally:
        _scope.reset(token)


def current_namespace() -> str | None:
    return _scope.get()


def set_namespace(namespace: str | None) -> Any:
    """Enter ``namespace`` for the rest of this context (a request); returns the reset token."""
    return _scope.set(namespace)


def reset_namespace(token: Any) -> None:
    _scope.reset(token)


@contextlib.contextmanager
def tenant(name: str | None) -> Iterator[None]:
    """Tag what the block writes as ``name``'s (an API key or a namespace)."""
    token = _tenant.set(name)
    try:
        yield
    finally:
        _tenant.reset(token)


def current_tenant() -> str | None:
    return _tenant.get()


def set_tenant(name: str | None) -> Any:
    """Tag this context's writes (a request's, once authenticated); returns the reset token."""
    return _tenant.set(name)


def reset_tenant(token: Any) -> None:
    _tenant.reset(token)


class StorageUnavailable(Exception):
    """A persistent store could not write its file; the change is kept in memory and retried."""


def record_namespace(record: Any) -> str | None:
    value = getattr(record, "namespace", None)
    return value if isinstance(value, str) and value else None


def record_account(record: Any) -> str | None:
    """Whose the record is (a job's API key, its ``account``), for ``newest(account=...)``."""
    value = getattr(record, "account", None)
    return value if isinstance(value, str) and value else None


class Store(Protocol):
    kind: str
    degraded: bool

    def put(self, collection: str, key: str, record: Any) -> None: ...
    def get(self, collection: str, key: str) -> Any | None: ...
    def delete(self, collection: str, key: str) -> bool: ...
    def newest(self, collection: str, where: Callable[[Any], bool] | None = None,
               account: str | None = None) -> Iterator[Any]: ...
    def count(self, collection: str) -> int: ...
    def clear(self, prefix: str = "", namespace: str | None = None) -> None: ...
    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def unit(self) -> contextlib.AbstractContextManager[None]: ...
    def commit(self) -> None: ...
    def meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...


class MemoryStore:
    """Rows keep insertion order, so listing a collection backwards is newest first and a
    page costs O(page), however many rows there are; ``get`` is a dict lookup. The same order
    is kept per account (``record_account``), so one API key's listing reads that key's rows
    only. The stored object *is* the object: a caller may change a record in place."""

    kind = "memory"
    degraded = False  # whether some change could not be made durable (never, in memory)

    def __init__(self) -> None:
        # collection -> namespace -> key -> [seq, record, tag, key, account]
        self._data: dict[str, dict[str, dict[str, list[Any]]]] = {}
        # collection -> namespace -> rows in insertion order, and the same per account; a row
        # deleted or replaced stays (skipped) until a reset per namespace compacts the lists
        self._order: dict[str, dict[str, list[list[Any]]]] = {}
        self._by_account: dict[str, dict[str, dict[str, list[list[Any]]]]] = {}
        self._owner: dict[str, dict[str, str]] = {}
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._meta: dict[str, str] = {}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything in the block is atomic with respect to other threads."""
        with self._lock:
            yield

    def unit(self) -> contextlib.AbstractContextManager[None]:
        """A request's unit of work (a persistent store writes what it changed at the end)."""
        return contextlib.nullcontext()

    def commit(self) -> None:
        """Make the current unit's changes durable now (nothing to do in memory)."""

    def _ns_for_read(self, collection: str, key: str) -> str | None:
        ns = _scope.get()
        return ns if ns is not None else self._owner.get(collection, {}).get(key)

    def _ns_for_write(self, collection: str, key: str, record: Any) -> str:
        ns = _scope.get()
        if ns is not None:
            return ns
        return record_namespace(record) or self._owner.get(collection, {}).get(key) or DEFAULT_NAMESPACE

    def put(self, collection: str, key: str, record: Any) -> None:
        with self._lock:
            ns = self._ns_for_write(collection, key, record)
            account = record_account(record)
            spaces = self._data.setdefault(collection, {})
            owner = self._owner.setdefault(collection, {})
            previous = owner.get(key)
            if previous is not None and previous != ns:
                spaces.get(previous, {}).pop(key, None)
            rows = spaces.setdefault(ns, {})
            row = rows.get(key)
            if row is not None and row[4] == account:
                row[1] = record
                row[2] = _tenant.get() or row[2]
            else:
                # new here, or now another account's: the newest row, as a move between namespaces
                tag = _tenant.get() or (ns if row is None else row[2])
                row = rows[key] = [next(self._seq), record, tag, key, account]
                self._order.setdefault(collection, {}).setdefault(ns, []).append(row)
                if account is not None:
                    by = self._by_account.setdefault(collection, {}).setdefault(ns, {})
                    by.setdefault(account, []).append(row)
            owner[key] = ns

    def get(self, collection: str, key: str) -> Any | None:
        ns = self._ns_for_read(collection, key)
        if ns is None:
            return None
        row = self._data.get(collection, {}).get(ns, {}).get(key)
        return None if row is None else row[1]

    def delete(self, collection: str, key: str) -> bool:
        with self._lock:
            ns = self._ns_for_read(collection, key)
            if ns is None:
                return False
            found = self._data.get(collection, {}).get(ns, {}).pop(key, None) is not None
            if found and self._owner.get(collection, {}).get(key) == ns:
                del self._owner[collection][key]
            return found

    @staticmethod
    def _live_newest(rows: dict[str, list[Any]], order: list[list[Any]]) -> Iterator[list[Any]]:
        """The rows of ``order`` still current in ``rows``, newest first, lazily: a page costs
        O(page)."""
        for i in range(len(order) - 1, -1, -1):
            row = order[i]
            if rows.get(row[3]) is row:
                yield row

    def _orders(self, collection: str, account: str | None) -> dict[str, list[list[Any]]]:
        """Namespace -> its rows in insertion order (``account``'s only, if given)."""
        if account is None:
            return self._order.get(collection, {})
        return {ns: by[account] for ns, by in list(self._by_account.get(collection, {}).items()) if account in by}

    def newest(self, collection: str, where: Callable[[Any], bool] | None = None,
               account: str | None = None) -> Iterator[Any]:
        """Records newest first (only ``account``'s, reading no other's: see ``record_account``)."""
        ns = _scope.get()
        spaces = self._data.get(collection, {})
        orders = self._orders(collection, account)
        if ns is not None:
            rows: Iterator[list[Any]] = self._live_newest(spaces.get(ns, {}), orders.get(ns, []))
        else:
            rows = heapq.merge(*(self._live_newest(spaces.get(space, {}), order)
                                 for space, order in list(orders.items())),
                               key=lambda row: row[0], reverse=True)
        for row in rows:
            if where is None or where(row[1]):
                yield row[1]

    def count(self, collection: str) -> int:
        ns = _scope.get()
        spaces = self._data.get(collection, {})
        if ns is not None:
            return len(spaces.get(ns, {}))
        return sum(len(rows) for rows in spaces.values())

    def clear(self, prefix: str = "", namespace: str | None = None) -> None:
        """Drop every collection starting with ``prefix``; with ``namespace``, only the
        records in that namespace or written by that tenant."""
        with self._lock:
            for name in [n for n in self._data if n.startswith(prefix)]:
                if namespace is None:
                    del self._data[name]
                    self._order.pop(name, None)
                    self._by_account.pop(name, None)
                    self._owner.pop(name, None)
                    continue
                owner = self._owner.get(name, {})
                for ns, rows in self._data[name].items():
                    for key in [k for k, row in rows.items() if ns == namespace or row[2] == namespace]:
                        del rows[key]
                        if owner.get(key) == ns:
                            del owner[key]
                self._compact(name)

    def _compact(self, collection: str) -> None:
        """Drop the rows no longer current from the collection's order lists, and the lists
        left empty."""
        spaces = self._data.get(collection, {})

        def live(ns: str, order: list[list[Any]]) -> list[list[Any]]:
            rows = spaces.get(ns, {})
            return [row for row in order if rows.get(row[3]) is row]

        self._order[collection] = {ns: live(ns, order) for ns, order in self._order.get(collection, {}).items()}
        self._by_account[collection] = {
            ns: {account: kept for account, order in by.items() if (kept := live(ns, order))}
            for ns, by in self._by_account.get(collection, {}).items()}

    def namespaces(self) -> list[str]:
        with self._lock:
            return sorted({ns for spaces in self._data.values() for ns in spaces})

    def meta(self, name: str) -> str | None:
        """Small named values kept beside the records (the virtual clock)."""
        return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        self._meta[name] = value

    def close(self) -> None:
        pass
