"""Kling's error wire shape and its error-code table.

Body: ``{"code": int, "message": str, "request_id": str}`` — no ``data`` key [doc: S1, S6].
The HTTP status always follows the official table (reference §5) for the code, so one table
is the only place a status is decided; ``error_http_status: "always_200"`` answers HTTP 200
with the non-zero code instead (a third party saw that; reference §11.9, inferred option).
Errors the core raises without a Kling code (malformed JSON, unknown path, wrong method,
oversized body) get the code of their HTTP status (``STATUS_CODES``; inferred, §12 item 57).
"""

from __future__ import annotations

from flask import Response
from lipsync_emulator.core.errors import EmulatorError, error_for_status
from lipsync_emulator.core.http import json_response
from lipsync_emulator.core.runtime import runtime

NAME = "kling"

# code -> (HTTP status, explanation) [doc: S1, S7, S8]; explanations double as default messages.
CODES: dict[int, tuple[int, str]] = {
    0: (200, "Request successful"),
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource, such as API/model"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters, such as incorrect key or illegal value"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist, such as the model"),
    1300: (400, "Trigger strategy of the platform"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, exceeding the platform's rate limit"),
    1303: (429, "Concurrency or QPS exceeds the prepaid resource package limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}

# The exact 1303 body text [doc: S6, S8].
CONCURRENCY_MESSAGE = "parallel task over resource pack limit"

# A core error without a Kling code takes the code of its HTTP status [inferred]. 400 -> 1200:
# the request as a whole is unusable (malformed JSON, not an object); field-level problems are
# raised with 1201 explicitly. 405 -> 1202 (rendered 404, per the table).
STATUS_CODES: dict[int, int] = {
    400: 1200, 401: 1000, 403: 1103, 404: 1202, 405: 1202, 413: 1201, 415: 1200, 422: 1201,
    429: 1302, 500: 5000, 502: 5000, 503: 5001, 504: 5002,
}


def kling_error(code: int, message: str | None = None, *, field: str | None = None, rule: str | None = None,
                headers: dict[str, str] | None = None) -> EmulatorError:
    """The typed error for a Kling ``code``; its HTTP status comes from ``CODES``.

    >>> err = kling_error(1201, "face_choose must be an array", field="face_choose", rule="kling.C12")
    >>> (err.status, err.code, err.rule)
    (400, 1201, 'kling.C12')
    """
    status, explanation = CODES[code]
    return error_for_status(status, message or explanation, code=code, field=field, rule=rule, headers=headers)


def code_of(err: EmulatorError) -> int:
    if isinstance(err.code, int) and err.code in CODES:
        return err.code
    return STATUS_CODES.get(err.status, 5000 if err.status >= 500 else 1200)


def render_error(err: EmulatorError) -> Response:
    rt = runtime()
    code = code_of(err)
    status = CODES[code][0]
    if rt.cfg(NAME).get("error_http_status") == "always_200":
        status = 200
    body = {"code": code, "message": err.message, "request_id": rt.ids.uuid()}
    return json_response(body, status)
