"""The shapes every provider's strategies share: an expected provider error, and an invalid
request that breaks exactly one named rule.

    >>> err = ExpectedError(400, "generation_video_missing", "No video file")
    >>> err.problems(400, "generation_video_missing", "No video file was provided in the request.")
    []
    >>> err.problems(422, None, "oops")
    ["status 422, expected 400", "code None, expected 'generation_video_missing'", "message 'oops' does not mention 'No video file'"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any


@dataclass(frozen=True)
class ExpectedError:
    """The error a provider returns for a broken rule: HTTP status, its machine code (``None``:
    the provider has none for it) and a fragment its message contains (the field it names,
    or documented wording)."""

    status: int
    code: str | int | None
    message: str

    def problems(self, status: int, code: str | int | None, message: str) -> list[str]:
        """What differs from a received error (empty: it is this error)."""
        out = []
        if status != self.status:
            out.append(f"status {status}, expected {self.status}")
        if self.code is not None and code != self.code:
            out.append(f"code {code!r}, expected {self.code!r}")
        if self.message and self.message not in (message or ""):
            out.append(f"message {_short(message)!r} does not mention {self.message!r}")
        return out


@dataclass(frozen=True)
class Invalid:
    """A request that breaks exactly one rule. ``rule``: the rule's id (``crop_pair``,
    ``schema:enum:model``...); ``request``: what to send; ``expected``: the provider's answer;
    ``field``: the offending field (dotted path), when there is one; ``operation``: where it
    is sent (most providers: their submit operation); ``context``: anything the request
    depends on (e.g. Kling's identify-face result)."""

    rule: str
    request: Any
    expected: ExpectedError
    field: str | None = None
    operation: str | None = None
    context: Mapping[str, Any] = _field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Invalid(rule={self.rule!r}, field={self.field!r}, expected={self.expected.status} "
                f"{self.expected.code!r} ~{self.expected.message!r}, request={_compact(self.request)})")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _compact(value: Any) -> str:
    """A readable one-line rendering that abbreviates very long strings ('x' * 5000)."""
    if isinstance(value, str):
        if len(value) > 40 and len(set(value)) == 1:
            return f"{value[0]!r} * {len(value)}"
        if len(value) > 120:
            return f"{value[:24]!r}... ({len(value)} characters)"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_compact(v)}" for k, v in value.items()) + "}"
    return repr(value)


def compact(value: Any) -> str:
    """Public: render a request for a report (long repeated strings abbreviated)."""
    return _compact(value)
