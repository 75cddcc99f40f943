"""lipsync.studio rules the OpenAPI file cannot say, because they depend on the emulator's
settings rather than on the request alone.

Structure (required fields, the resolution enum, integer seed, URL shapes) is in
``schemas/lipsyncstudio.yaml``. Each rule here has a stable id and one error.
"""

from __future__ import annotations

from typing import Any

from lipsync_emulator.core.errors import BadRequest
from lipsync_emulator.core.media import endpoint

WEBHOOK_HTTPS = "webhook_https"


def check_webhook(url: str | None, cfg: dict[str, Any]) -> None:
    """The docs ask for an HTTPS callback [seed]; what happens to http:// is not documented.
    ``webhook_http``: ``loopback`` (default) accepts http:// for loopback hosts only, so local
    receivers work while a plain-http production URL is refused; ``allow`` accepts any;
    ``reject`` refuses all (the 400 is inferred, reference §12.14)."""
    if url is None:
        return
    try:
        # the parser the sender connects with: "http://10.0.0.1\\@127.0.0.1/" is refused
        # here, not taken for a loopback URL and then sent elsewhere
        target = endpoint(url)
    except ValueError as exc:
        raise BadRequest(f"webhook must be a valid URL ({exc})", field="webhook", rule=WEBHOOK_HTTPS) from None
    if target.scheme == "https":
        return
    policy = cfg["webhook_http"]
    if policy == "allow" or (policy == "loopback" and target.loopback):
        return
    raise BadRequest("webhook must be an HTTPS URL", field="webhook", rule=WEBHOOK_HTTPS)


def check(body: dict[str, Any], cfg: dict[str, Any]) -> None:
    """Raise the first broken rule's error."""
    check_webhook(body.get("webhook"), cfg)
