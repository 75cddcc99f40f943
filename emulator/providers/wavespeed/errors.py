"""WaveSpeed's wire shape for every answer: the envelope ``{code, message, data}``.

Errors are ``{"code": <HTTP status>, "message": "<text>", "data": null}``. No source gives a
verbatim WaveSpeed error body: the envelope is documented for successes [doc: D1, D14], the
official CLI/MCP read ``message`` from non-2xx bodies [sdk: S4, S5] and the desktop app also
``code`` [sdk: S6]; ``data: null`` is inferred (reference §10, §13.1). ``code`` always equals
the HTTP status, because the SDK reads the status and the other clients read ``code``
(reference §2.4). The one deliberate exception is the ``upload_rejected`` scenario, which
reproduces the SDK test fixture "HTTP 200 with code 500" [sdk: S2] on request.

Task-level failures are not HTTP errors: a failed task is HTTP 200 / ``code`` 200 with
``data.status: "failed"`` and the task code in ``data.code`` (``TASK_CODES``) [doc: D7, D11].
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.http import json_response

# Task error codes and their documented names [doc: D11].
TASK_CODES: dict[int, str] = {
    1200: "Content Moderation",
    1400: "Missing Parameter",
    1401: "Invalid Parameter",
    1402: "Media Access Failed",
    1403: "Task Execution Failed",
    1405: "Task Failed",
    5000: "Internal Error",
    5003: "Service Unavailable",
    5004: "Timeout",
}

# The ``data.error`` text of a task that failed with each code. D11 quotes the 1400/1401/1402
# descriptions; the others are the emulator's wording of the documented name (inferred).
TASK_ERRORS: dict[int, str] = {
    1200: "The input or output was flagged by content moderation (sensitive content).",
    1400: "A required parameter is missing.",
    1401: "The parameter value is invalid.",
    1402: "Unable to access the provided media URL.",
    1403: "Task execution failed.",
    1405: "Task failed.",
    5000: "Internal error. Please retry later.",
    5003: "Service unavailable. Please retry later.",
    5004: "Task timed out.",
}


def envelope(data: Any, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


def render_error(err: EmulatorError) -> Response:
    # An int ``err.code`` overrides the envelope code (only the upload_rejected scenario sets one).
    code = err.code if isinstance(err.code, int) and not isinstance(err.code, bool) else err.status
    message = err.message
    if err.status == 404 and err.field is None and request.method == "POST":
        # Only the app's routing 404 has no field: a POST to /api/v3/<unknown> is a submit to an
        # unknown model (the generic path is POST /api/v3/{model-id} [doc: D6]); wording inferred.
        message = "model not found"
    return json_response(envelope(None, code, message), err.status)
