"""Credential helpers shared by the providers' authenticators.

    >>> key_allowed("sk_any", [])
    True
    >>> key_allowed("sk_any", ["sk_dev"])
    False
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.wrappers import Request


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
