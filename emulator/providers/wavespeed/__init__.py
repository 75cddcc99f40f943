"""WaveSpeedAI v3 API for its two ByteDance lip-sync models (``bytedance/latentsync``,
``bytedance/lipsync/audio-to-video``): submit (async and sync mode), result polling, the
predictions history, delete, uploads (the SDK's ticket + PUT flow and the binary form),
balance, models, price, the webhook secret; the ``{code, message, data}`` envelope; the
created -> processing -> completed | failed lifecycle (plus cancelled / timeout / deleted);
signed ``webhook-signature: v3,...`` webhooks; account levels (per-minute 429, concurrency
queue). Reference: shared/reference/wavespeed.md; inferred choices are listed in
the README (WaveSpeed fidelity table) and are settings in ``settings.py``.

Not emulated: real lip-sync (every output is the same bundled MP4), other WaveSpeed models
(any other ``POST /api/v3/...`` is 404 "model not found"), the legacy ``/api/v2`` paths,
``POST /api/v3/upload`` (a doc variant of uncertain status), ``/api/v3/model/pricing``,
``enable_base64_output``, content moderation (only as a scenario), permissions per key role
(only as the ``forbidden`` scenario), downloading inputs (reachability is decided from the URL).
"""

from lipsync_emulator.core.runtime import Provider
from lipsync_emulator.providers.wavespeed import models, scenarios
from lipsync_emulator.providers.wavespeed.errors import render_error
from lipsync_emulator.providers.wavespeed.routes import authenticate, on_violation, ops
from lipsync_emulator.providers.wavespeed.settings import Settings

PROVIDER = Provider(
    name=models.NAME,
    title="WaveSpeed",
    prefixes=("/api/v3",),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    settings=Settings,
    schema="wavespeed",
    scenarios=lambda settings: scenarios.catalogue(),
    probes=scenarios.probes,
    setup=models.setup,
)
