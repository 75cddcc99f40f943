"""The dashboard at ``/_emulator/ui``: static HTML, CSS and JavaScript (no build step) that
read and drive the control plane, so it works the same under ``serve`` and the pytest fixture."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

STATIC = Path(__file__).parent / "static"

bp = Blueprint("ui", __name__, url_prefix="/_emulator/ui", static_folder=STATIC, static_url_path="/static")


@bp.get("")
@bp.get("/")
def index() -> Response:
    # Every page is a route of the one document (#/jobs, #/requests...).
    return Response((STATIC / "index.html").read_bytes(), mimetype="text/html",
                    headers={"Cache-Control": "no-cache"})
