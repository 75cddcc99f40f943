"""lipsync.studio rules the OpenAPI file cannot say, because they depend on the emulator's
settings rather than on the request alone.

Structure (required fields, the resolution enum, integer seed, URL shapes) is in
``schemas/lipsyncstudio.yaml``, which also declares each rule's id and error (``x-rules``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lipsync_emulator.core.media import endpoint
from lipsync_emulator.core.rules import Broken, Rules
from lipsync_emulator.schemas import rules


@dataclass(frozen=True)
class Submit:
    body: dict[str, Any]
    cfg: dict[str, Any]


RULES = Rules(rules("lipsyncstudio"))


def check(body: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Raise the first broken rule's error."""
    RULES.check(Submit(body, cfg))


@RULES("webhook_https")
def webhook_https(submit: Submit) -> Broken | None:
    """The docs ask for an HTTPS callback [seed]; what happens to http:// is not documented.
    ``webhook_http``: ``loopback`` (default) accepts http:// for loopback hosts only, so local
    receivers work while a plain-http production URL is refused; ``allow`` accepts any;
    ``reject`` refuses all (the 400 is inferred, reference §12.14)."""
    url = submit.body.get("webhook")
    if url is None:
        return None
    try:
        # the parser the sender connects with: "http://10.0.0.1\\@127.0.0.1/" is refused
        # here, not taken for a loopback URL and then sent elsewhere
        target = endpoint(url)
    except ValueError as exc:
        return Broken(f"webhook must be a valid URL ({exc})", "webhook")
    policy = submit.cfg["webhook_http"]
    if target.scheme == "https" or policy == "allow" or (policy == "loopback" and target.loopback):
        return None
    return Broken(RULES.facts["webhook_https"].message, "webhook")
