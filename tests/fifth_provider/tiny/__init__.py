"""Tiny Lip: a made-up lip-sync provider, registered from outside the package to prove that a
provider is a package of five files and nothing else (docs/adding-a-provider.md)."""

from pathlib import Path

from lipsync_emulator.core.runtime import Provider

from tiny import models
from tiny.errors import NAME, render_error
from tiny.routes import authenticate, on_violation, ops

PROVIDER = Provider(
    name=NAME,
    title="Tiny Lip",
    prefixes=("/tiny",),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    settings=models.Settings,
    schema=Path(__file__).resolve().parent.parent / "tiny.yaml",
    setup=models.setup,
    scenarios=models.scenarios,
    probes=models.probes,
)
