"""sync.so (Sync Labs) v2 API: generations (JSON and multipart, ``Idempotency-Key``), get
(long poll, progress), list and count (filters), download, cancel (legacy), delete, cost
estimate, models, the error catalogue, the healthcheck, batches (JSONL, lifecycle, result file,
webhook), the asset library; video or (sync-3) image inputs; the PENDING -> PROCESSING ->
COMPLETED | FAILED | REJECTED (| CANCELED) lifecycle; signed ``Sync-Signature`` webhooks.

Not emulated: real lip-sync (every output is the same bundled MP4), TTS audio synthesis,
projects, voices, organisations, the Studio's cookie auth and playground, ``dubParams``
beyond its documented conflict rule, asset upload/registration/update/delete, the
``IDEMPOTENCY_OUTCOME_UNKNOWN`` answer, ``GET /v2/generations/{id}``.
"""

from lipsync_emulator.core.runtime import Provider, Runtime
from lipsync_emulator.providers.syncso import assets, batch, models, scenarios
from lipsync_emulator.providers.syncso.errors import render_error
from lipsync_emulator.providers.syncso.routes import authenticate, on_violation, ops
from lipsync_emulator.providers.syncso.settings import Settings


def setup(rt: Runtime) -> None:
    models.setup(rt)
    batch.setup(rt)
    assets.setup(rt)


PROVIDER = Provider(
    name=models.NAME,
    title="sync.so",
    prefixes=("/v2",),
    blueprint=ops.blueprint,
    render_error=render_error,
    authenticate=authenticate,
    on_violation=on_violation,
    settings=Settings,
    schema="syncso",
    scenarios=lambda settings: scenarios.catalogue(),
    probes=scenarios.probes,
    setup=setup,
)
