"""Per-key rate limits: a sliding window of accepted hits, kept in the store (so it survives a
restart) and checked-and-counted atomically (threads of one server never both take the last
slot).

    >>> from lipsync_emulator.core.store import MemoryStore
    >>> store = MemoryStore()
    >>> [take(store, "demo:rate", "sk_1", limit=2, now=t) for t in (0.0, 1.0, 2.0, 61.0)]
    [None, None, 59.0, None]
"""

from __future__ import annotations

from lipsync_emulator.core.store import Store


def take(store: Store, collection: str, key: str, *, limit: int, now: float, window: float = 60.0) -> float | None:
    """Count one hit for ``key`` unless ``limit`` hits already fall within the last ``window``
    seconds; then count nothing and return the seconds until the oldest of them leaves it."""
    with store.transaction():
        hits = [t for t in (store.get(collection, key) or []) if t > now - window]
        if len(hits) >= limit:
            return hits[0] + window - now
        store.put(collection, key, hits + [now])
        return None
