"""sync.so (Sync Labs) v2 API: generations (JSON and multipart), get/list, cost estimate,
models, the error catalogue; the PENDING -> PROCESSING -> COMPLETED | FAILED | REJECTED
lifecycle; signed ``Sync-Signature`` webhooks.

Not emulated: real lip-sync (every output is the same bundled MP4), TTS audio synthesis,
projects, voices, organisations, the Studio's cookie auth, `image` inputs and `dubParams`
beyond their documented conflict rule.
"""

from emulator.core.runtime import Provider
from emulator.providers.syncso import models
from emulator.providers.syncso.errors import render_error
from emulator.providers.syncso.routes import authenticate, on_violation, ops

PROVIDER = Provider(
    name=models.NAME,
    title="sync.so",
    prefixes=("/v2",),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    defaults=models.DEFAULTS,
    schema="syncso",
    setup=models.setup,
)
