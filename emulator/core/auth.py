"""Credential helpers shared by the providers' authenticators.

    >>> key_allowed("sk_any", [])
    True
    >>> key_allowed("sk_any", ["sk_dev"])
    False

How the control plane masks credentials is part of its wire format, which the contracts read
too: it lives in ``lipsync_emulator.contracts.masking`` (the contracts never import the
emulator) and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

from lipsync_emulator.contracts.masking import REDACTED, is_redacted, redact, unmask
from werkzeug.wrappers import Request

__all__ = ["REDACTED", "bearer_token", "is_redacted", "key_allowed", "redact", "unmask"]


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (case-insensitive scheme), else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def key_allowed(key: str, allowed: Iterable[str]) -> bool:
    """Any non-empty key passes when no keys are configured; otherwise it must be listed."""
    allowed = list(allowed)
    return bool(key) and (not allowed or key in allowed)
