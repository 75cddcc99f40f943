"""Identifiers from one seedable source, so a seeded run hands out the same ids every time.

    >>> a, b = IdSource(7), IdSource(7)
    >>> a.uuid() == b.uuid()
    True
"""

from __future__ import annotations

import random
import string
import threading
import uuid


class IdSource:
    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hex(self, length: int = 32) -> str:
        with self._lock:
            return "".join(self._rng.choice("0123456789abcdef") for _ in range(length))

    def digits(self, length: int = 18) -> str:
        with self._lock:
            first = self._rng.choice("123456789")
            return first + "".join(self._rng.choice(string.digits) for _ in range(length - 1))

    def token(self, length: int = 24) -> str:
        alphabet = string.ascii_letters + string.digits
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _ in range(length))
