"""How the emulator's control plane shows a credential (its journal, jobs, rules, settings): a
wire format, so the contracts — which talk to the control plane over HTTP — read it here too.

    >>> redact("Bearer sk_live_0123456789abcdef"), redact("sk-test"), redact("eyJh.eyJp.c2ln")
    ('Bearer <redacted ...cdef>', '<redacted>', 'eyJh.eyJp.<redacted>')
    >>> unmask(redact("sk_contract_test_key"), "sk_contract_test_key")
    'sk_contract_test_key'
"""

from __future__ import annotations

import re
from typing import Any

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


def unmask(shown: Any, candidate: str) -> Any:
    """``candidate`` where ``shown`` is its masked form (a client that knows the default
    credentials recognises them in the control plane's settings), else ``shown``."""
    return candidate if is_redacted(shown) and redact(candidate) == shown else shown
