"""Tiny Lip's error wire shape: ``{"error": {"code", "message"}}``, for every status."""

from __future__ import annotations

from flask import Response
from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.http import json_response

NAME = "tiny"
CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
         413: "too_large", 422: "invalid_request", 429: "rate_limited", 503: "unavailable"}


def render_error(err: EmulatorError) -> Response:
    code = err.code if isinstance(err.code, str) else CODES.get(err.status, "server_error")
    return json_response({"error": {"code": code, "message": err.message}}, err.status)
