"""Kling authentication: the official AK/SK-signed JWT or a static API key, and the relays'
plain bearer key (reference §2, checks C1–C2).

The JWT is verified here rather than with a JWT library because its time claims must be
judged on the emulator's (virtual) clock, and the checks are few: HS256 only, the secret of
the access key named by ``iss``, then ``exp`` and ``nbf``. The answers follow the official
table [doc: S1, S7]: 1001 empty, 1002 invalid (garbage, bad signature, another algorithm,
unknown issuer, missing claims), 1003 not yet valid, 1004 expired, 1000 otherwise (a
disabled access key). All HTTP 401.

    >>> token = encode_hs256({"iss": "ak", "exp": 2000, "nbf": 900}, "sk")
    >>> verify_jwt(token, {"ak": "sk"}, now=1000.0)
    'ak'
    >>> try:
    ...     verify_jwt(token, {"ak": "sk"}, now=2500.0)
    ... except AuthFailure as failure:
    ...     print(failure.code, failure.message)
    1004 Authorization has expired
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from typing import Any

from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.http import loads
from lipsync_emulator.providers.kling.errors import CODES, kling_error
from werkzeug.wrappers import Request


class AuthFailure(Exception):
    """(code, message) of a failed authentication."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code, message or CODES[code][1])
        self.code = code
        self.message = message or CODES[code][1]


def _b64url_decode(part: str) -> bytes:
    part = part.rstrip("=")
    if not part or any(c in part for c in "+/"):
        raise ValueError("not base64url")  # the standard alphabet is not JWS's (RFC 7515 §2)
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode_hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT, as Kling's sample code builds it (used by doctests and the demo)."""
    header = _b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url_encode(signature)}"


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _number(value: Any) -> bool:
    """A NumericDate (RFC 7519 §2): NaN or Infinity is none, else ``"exp": NaN`` never expires."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def verify_jwt(token: str, secrets: dict[str, str], now: float, *, leeway: float = 0.0,
               required: tuple[str, ...] = ("iss", "exp"), max_lifetime: float | None = None) -> str:
    """The access key (``iss``) of a valid token, else ``AuthFailure``. Order: structure,
    algorithm, issuer, signature (all 1002), required claims (1002), ``exp`` (1004), ``nbf``
    (1003). ``leeway`` seconds of clock skew are tolerated on both (default 0: the official
    sample already back-dates ``nbf`` by 5 s, which suggests the server allows none)."""
    invalid = AuthFailure(1002)
    head_b64, payload_b64, sig_b64 = token.split(".")
    try:
        header = loads(_b64url_decode(head_b64))  # nesting is bounded: a deep one is invalid, not a 500
        claims = loads(_b64url_decode(payload_b64))
        signature = _b64url_decode(sig_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid
    if header.get("alg") != "HS256":
        # Java's JWT.require(Algorithm.HMAC256(sk)) rejects every other algorithm, "none" included.
        raise invalid
    issuer = claims.get("iss")
    secret = secrets.get(issuer) if isinstance(issuer, str) else None
    if secret is None:
        raise invalid
    expected = hmac.new(secret.encode(), f"{head_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise invalid
    if any(name not in claims for name in required):
        raise invalid
    for name in ("exp", "nbf"):
        if name in claims and not _number(claims[name]):
            raise invalid
    if "exp" in claims and now >= float(claims["exp"]) + leeway:
        raise AuthFailure(1004)
    if "nbf" in claims and now < float(claims["nbf"]) - leeway:
        raise AuthFailure(1003)
    if max_lifetime is not None and "exp" in claims and float(claims["exp"]) - now > max_lifetime:
        raise invalid
    return str(issuer)


def _fail(code: int, rule: str, message: str | None = None) -> EmulatorError:
    return kling_error(code, message, field="Authorization", rule=rule)


def bearer(req: Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (C1). No header, an empty one, or
    ``Bearer`` with nothing after it: 1001. ``Bearer<token>`` (no space) or another scheme:
    1002 ("There should be a space between Bearer and XXX" [doc: S1]; the code is inferred)."""
    header = req.headers.get("Authorization")
    if header is None or not header.strip():
        raise _fail(1001, "kling.C1")
    scheme, space, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise _fail(1002, "kling.C1")
    if not space or not token.strip():
        raise _fail(1001, "kling.C1")
    return token.strip()


def official(token: str, cfg: dict[str, Any], now: float) -> str:
    """The account of an official-path token: a JWT's ``iss``, or the default access key for
    a registered static API key [doc: S4] (its use on lip-sync is inferred, §2.2)."""
    if not looks_like_jwt(token):
        if token in (cfg.get("api_keys") or []):
            return str(cfg["access_key"])
        raise _fail(1002, "kling.C2")
    secrets = {str(cfg["access_key"]): str(cfg["secret_key"]), **(cfg.get("credentials") or {})}
    try:
        account = verify_jwt(token, secrets, now, leeway=float(cfg.get("jwt_leeway_seconds") or 0),
                             required=tuple(cfg.get("jwt_required_claims") or ()),
                             max_lifetime=cfg.get("jwt_max_lifetime_seconds"))
    except AuthFailure as failure:
        raise _fail(failure.code, "kling.C2", failure.message) from None
    if account in (cfg.get("disabled_access_keys") or []):
        raise _fail(1000, "kling.C2")
    return account


def relay(token: str, cfg: dict[str, Any]) -> str:
    """A relay key: any non-empty key when ``relay_keys`` is empty, else one of them (an
    unlisted key answers 1002 in Kling's envelope; relays' own bodies differ — inferred)."""
    allowed = cfg.get("relay_keys") or []
    if allowed and token not in allowed:
        raise _fail(1002, "kling.C2")
    return token
