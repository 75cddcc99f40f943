"""``GET /``: what this server is and where to go next, for a person who opens its URL (or a
client that looks before it calls): the providers with their paths, schemas and docs, the
control plane, and the dashboard."""

from __future__ import annotations

from importlib.metadata import version

from flask import Blueprint, Response
from lipsync_emulator.core.http import json_response
from lipsync_emulator.core.runtime import runtime

VERSION = version("lipsync-emulator")  # the installed distribution's, as pip shows it

bp = Blueprint("index", __name__)

DOCS = "docs/"  # the documentation's folder in the project's repository


@bp.get("/")
def index() -> Response:
    # paths on this server (what a browser or a client resolves against the URL it used)
    rt = runtime()
    providers = [{"name": p.name, "title": p.title, "paths": list(p.prefixes),
                  "schema": f"/_emulator/schemas/{p.name}.yaml", "docs": f"{DOCS}{p.name}.md"}
                 for p in rt.providers.values()]
    control = {name: f"/_emulator/{path}" for name, path in (
        ("health", "health"), ("clock", "clock"), ("advance", "clock/advance"), ("reset", "reset"),
        ("jobs", "jobs"), ("webhooks", "webhooks"), ("requests", "requests"), ("scenarios", "scenarios"),
        ("config", "config"), ("schemas", "schemas"))}
    return json_response({
        "name": "lipsync-emulator", "version": VERSION, "clock": rt.settings.clock,
        "providers": providers, "control_plane": control, "dashboard": "/_emulator/ui",
        "docs": {"readme": "README.md", "scenarios": f"{DOCS}scenarios.md", "control_plane": f"{DOCS}control-plane.md",
                 "testing": f"{DOCS}testing.md", "contract_testing": f"{DOCS}contract-testing.md",
                 "serving": f"{DOCS}serving.md", "configuration": f"{DOCS}configuration.md",
                 "dashboard": f"{DOCS}dashboard.md"},
    })
