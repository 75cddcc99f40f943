"""A process's output as it comes, for tests that run the CLI: a thread reads the stream, and
a test waits (bounded, on the arrival of lines, never a fixed sleep) for the line it expects."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable


class Lines:
    """What a stream printed, read by a thread; tests wait (bounded) for the line they expect."""

    def __init__(self, read: Callable[[], bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._read = read
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._read()
            except OSError:  # a pty whose other end closed
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            with self._changed:
                self.lines.extend(line.decode("utf-8", "replace").rstrip("\r") for line in done)
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    closed = False

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        regex = re.compile(pattern)
        with self._changed:
            self._changed.wait_for(lambda: self.closed or any(regex.search(line) for line in self.lines), timeout)
            found = [line for line in self.lines if regex.search(line)]
        assert found, f"no line matches {pattern!r} in:\n" + "\n".join(self.lines)
        return found[0]

    def finish(self, timeout: float = 20.0) -> list[str]:
        self._thread.join(timeout)
        return self.lines
