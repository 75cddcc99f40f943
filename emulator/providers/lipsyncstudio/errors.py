"""lipsync.studio's error wire shape: ``{"error": "<message>"}``, for every status.

The provider documents no HTTP error at all (reference §7): the status codes and this body are
inferred (reference §12 items 1, 7, 21, 27, 28 give the messages), and used for every error the
emulator answers under ``/api/v1`` — auth, validation, unknown job, credits, rate limits, 5xx,
unknown paths and wrong methods — so a client needs one error parser.
"""

from __future__ import annotations

from flask import Response
from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.http import json_response

# Messages quoted by the reference's checklist (all inferred, §12).
UNAUTHORIZED = "Unauthorized"  # §12.1, §12.2
JOB_NOT_FOUND = "Job not found"  # §12.21, §12.22
INSUFFICIENT_CREDITS = "Insufficient API credits"  # §12.27
TOO_MANY_REQUESTS = "Too many requests"  # §12.28
INTERNAL = "Internal server error"
UNAVAILABLE = "Service temporarily unavailable"


def render_error(err: EmulatorError) -> Response:
    """One key, ``error``; no envelope, no code (a JS client reads ``(await res.json()).error``)."""
    body = {"error": err.message, **err.extra}
    return json_response(body, err.status)
