"""lipsync.studio API v1: ``POST /api/v1/lipsync-video``, ``/lipsync-image`` and
``/lipsync-image-multi`` with ``{webhook?, formState}`` bodies, ``GET /api/v1/jobs/{requestId}``,
Bearer ``sk_...`` keys; the ``processing -> completed | failed`` lifecycle; the job object
POSTed to the webhook on completion and failure; credits charged per the documented pricing
notes; every error as ``{"error": "<message>"}``.

Most failure behaviour is undocumented by lipsync.studio, so these are *inferred* (README
fidelity table, reference §12): every HTTP error status and body, the submit status 200, the
``formState`` of the two image endpoints beyond the seed's example, ``order`` values other than
"meanwhile", the executionTime unit (ms), webhooks on failure, no signature and no retries,
the http:// webhook policy, rounding/refunds/starting balance of credits.

Credits can be inspected and set under ``/_emulator/lipsyncstudio/`` (``credits``,
``credits/<api_key>``, ``charges``).

Not emulated: real lip sync (every output is the same bundled MP4), downloading inputs
(durations come from ``?duration=`` URL hints, default 10 s), the web UI's key management and
user credits (independent of API credits [seed]), output URL expiry, rate limits other than
the ``rate_limited`` scenario.
"""

from lipsync_emulator.core.runtime import Provider
from lipsync_emulator.providers.lipsyncstudio import models
from lipsync_emulator.providers.lipsyncstudio.errors import render_error
from lipsync_emulator.providers.lipsyncstudio.routes import authenticate, on_violation, ops
from lipsync_emulator.providers.lipsyncstudio.settings import Settings

PROVIDER = Provider(
    name=models.NAME,
    title="lipsync.studio",
    prefixes=("/api/v1",),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    settings=Settings,
    schema="lipsyncstudio",
    scenarios=models.scenarios,
    probes=models.probes,
    setup=models.setup,
)
