"""Kling AI advanced lip-sync: identify-face (synchronous, opens a 24 h session), advanced
lip-sync create / get one / list, the account's resource packs (``GET /account/costs``), the
``{code, message, request_id}`` envelope and error-code table, AK/SK JWT and static-key auth
(checked before routing), the submitted -> processing -> succeed | failed
lifecycle, flat ``task_*`` callbacks signed with Standard Webhooks. Served on the official
paths (``/v1/...``) and, with a plain bearer key and the chainhub seed's stricter body, on the
relay paths (``/kling/v1/...``). Reference: shared/reference/kling.md.

Not emulated: real face detection and lip-sync (faces come from URL hints, every output is
the same bundled MP4), Kling TTS (``audio_id`` values are configured or accepted as 10 s
audio), other Kling models (a ``video_id`` must be an output of this emulator), the legacy
``/v1/videos/lip-sync`` endpoint, the new-design callback payload, real billing (deductions are
plain unit counts), per-model-version concurrency pools (one pool per account), and relays'
own error bodies (relays answer in Kling's envelope here).
"""

from lipsync_emulator.core.runtime import Provider
from lipsync_emulator.providers.kling import models, scenarios
from lipsync_emulator.providers.kling.errors import NAME, render_error
from lipsync_emulator.providers.kling.routes import authenticate, on_violation, ops
from lipsync_emulator.providers.kling.settings import Settings

PROVIDER = Provider(
    name=NAME,
    title="Kling AI",
    prefixes=("/v1", "/kling", "/account"),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    settings=Settings,
    schema=NAME,
    scenarios=lambda settings: scenarios.catalogue(),
    probes=scenarios.probes,
    setup=models.setup,
)
