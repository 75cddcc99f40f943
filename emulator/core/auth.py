"""Credential helpers shared by the providers' authenticators.

    >>> key_allowed("sk_any", [])
    True
    >>> key_allowed("sk_any", ["sk_dev"])
    False
    >>> redact("Bearer sk_live_0123456789abcdef"), redact("sk-test"), redact("eyJh.eyJp.c2ln")
    ('Bearer <redacted ...cdef>', '<redacted>', 'eyJh.eyJp.<redacted>')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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


REDACTED = "<redacted>"
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def redact(value: Any) -> Any:
    """A credential as the control plane shows it: its last four characters when it is long
    enough that they give nothing away (to tell keys apart), otherwise nothing. An
    ``Authorization`` value keeps its scheme; a JWT its header and claims (what a client
    sent, to inspect), not its signature (what makes it usable)."""
    if value is None or value == "":
        return value
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    text = str(value)
    scheme, space, rest = text.partition(" ")
    if space and rest and scheme.lower() in ("bearer", "basic", "token"):
        return f"{scheme} {redact(rest.strip())}"
    if _JWT.fullmatch(text):
        return text.rsplit(".", 1)[0] + "." + REDACTED
    return f"<redacted ...{text[-4:]}>" if len(text) >= 16 else REDACTED


def is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<redacted")
