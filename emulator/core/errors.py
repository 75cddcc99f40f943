"""The typed errors every view raises. Each provider renders them in its own wire shape
(``render_error`` in its ``errors.py``), so an error is built once and looks native everywhere.

    >>> err = BadRequest("model must be one of ...", field="model", code="generation_unsupported_model")
    >>> (err.status, err.field, err.code)
    (400, 'model', 'generation_unsupported_model')
"""

from __future__ import annotations

from typing import Any


class EmulatorError(Exception):
    """An error answer. ``code`` is the provider's machine code (string or int), ``field`` the
    offending field as a dotted path, ``extra`` provider-specific body keys, ``headers`` extra
    response headers (``Retry-After``...), ``rule`` the id of the broken validation rule."""

    status = 500
    reason = "Internal Server Error"

    def __init__(
        self,
        message: str,
        *,
        code: str | int | None = None,
        field: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        if status is not None:
            self.status = status
            self.reason = REASONS.get(status, self.reason)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        self.rule = rule  # the id of the validation rule this error reports, when there is one


class BadRequest(EmulatorError):
    status, reason = 400, "Bad Request"


class Unauthorized(EmulatorError):
    status, reason = 401, "Unauthorized"


class PaymentRequired(EmulatorError):
    status, reason = 402, "Payment Required"


class Forbidden(EmulatorError):
    status, reason = 403, "Forbidden"


class NotFound(EmulatorError):
    status, reason = 404, "Not Found"


class MethodNotAllowed(EmulatorError):
    status, reason = 405, "Method Not Allowed"


class Conflict(EmulatorError):
    status, reason = 409, "Conflict"


class PayloadTooLarge(EmulatorError):
    status, reason = 413, "Payload Too Large"


class UnsupportedMediaType(EmulatorError):
    status, reason = 415, "Unsupported Media Type"


class Unprocessable(EmulatorError):
    status, reason = 422, "Unprocessable Entity"


class TooManyRequests(EmulatorError):
    status, reason = 429, "Too Many Requests"


class InternalError(EmulatorError):
    status, reason = 500, "Internal Server Error"


class ServiceUnavailable(EmulatorError):
    status, reason = 503, "Service Unavailable"


class GatewayTimeout(EmulatorError):
    status, reason = 504, "Gateway Timeout"


REASONS: dict[int, str] = {
    cls.status: cls.reason
    for cls in (
        BadRequest, Unauthorized, PaymentRequired, Forbidden, NotFound, MethodNotAllowed, Conflict,
        PayloadTooLarge, UnsupportedMediaType, Unprocessable, TooManyRequests, InternalError,
        ServiceUnavailable, GatewayTimeout,
    )
}
REASONS.update({408: "Request Timeout", 502: "Bad Gateway", 507: "Insufficient Storage"})


def error_for_status(status: int, message: str, **kwargs: Any) -> EmulatorError:
    """An ``EmulatorError`` of the class matching ``status`` (generic class otherwise)."""
    for cls in EmulatorError.__subclasses__():
        if cls.status == status:
            return cls(message, **kwargs)
    return EmulatorError(message, status=status, **kwargs)
