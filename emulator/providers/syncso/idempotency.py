"""``Idempotency-Key`` on ``POST /v2/generate`` [doc: idem26], reference §3.12 and item 25.

The key's format (1-128 characters of ``[A-Za-z0-9._~-]``, one header) is structure, so it is
checked by the schema (``components.parameters.IdempotencyKey``) and reported as 400
``INVALID_IDEMPOTENCY_KEY`` by the pipeline. What is left is state:

* same key + same payload -> the original generation, in its current state, no new work
  (documented); the replay answers 201 like the original create (status inferred);
* same key + another payload -> 409 ``IDEMPOTENCY_KEY_CONFLICT`` (the conflict is documented,
  the status and code are inferred);
* two copies arriving at once create one generation (documented: "two copies arrive
  concurrently"): the check-and-create runs under one lock.

Scope: the documentation scopes keys to the organisation; the emulator's tenant is the API key
(``Call.account``). A key is remembered for ``idempotency_ttl_seconds`` (inferred) on the
emulator's clock, and only once a generation was created: a rejected request does not consume
it. ``IDEMPOTENCY_OUTCOME_UNKNOWN`` is not emulated (the emulator never loses an outcome).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lipsync_emulator.core.errors import Conflict
from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.providers.syncso import models
from werkzeug.wrappers import Request

HEADER = "Idempotency-Key"
COLLECTION = "syncso:idempotency"
CONFLICT = "IDEMPOTENCY_KEY_CONFLICT"

# One lock for every keyed create: the window it guards (lookup -> limits -> create) is short,
# and a per-key lock table would need its own cleanup.
_LOCK = threading.Lock()


@dataclass
class Claim:
    """What a keyed create found: ``replay`` is the generation to answer with instead of
    creating one. ``remember(job)`` binds the key to the generation just created."""

    rt: Runtime | None
    record_key: str | None
    fingerprint: str
    replay: Job | None = None

    def remember(self, job: Job) -> None:
        if self.rt is None or self.record_key is None:
            return
        self.rt.store.put(COLLECTION, self.record_key, {"fingerprint": self.fingerprint, "job_id": job.id,
                                                        "at": self.rt.clock.now()})


def fingerprint(req: Request, payload: dict[str, Any]) -> str:
    """What "the same request" means: the normalized JSON payload; for multipart, the form
    fields and the uploaded files' digests (an upload's emulator URL differs every time)."""
    if req.mimetype == "multipart/form-data":
        parts: dict[str, Any] = {k: req.form.getlist(k) for k in sorted(req.form)}
        for name in sorted(req.files):
            stream = req.files[name].stream
            stream.seek(0)
            parts[f"file:{name}"] = hashlib.sha256(stream.read()).hexdigest()
            stream.seek(0)
        material: Any = parts
    else:
        material = payload
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@contextmanager
def claim(rt: Runtime, account: str, req: Request, payload: dict[str, Any]) -> Iterator[Claim]:
    """Serialize keyed creates and find a replay or a conflict. Without the header this is a
    no-op claim (no lock)."""
    key = req.headers.get(HEADER)
    if key is None:
        yield Claim(None, None, "")
        return
    print_ = fingerprint(req, payload)
    record_key = f"{account}\n{key}"
    ttl = float(rt.cfg(models.NAME).get("idempotency_ttl_seconds") or 0)
    with _LOCK:
        found = rt.store.get(COLLECTION, record_key)
        if found is not None and ttl and rt.clock.now() - found["at"] > ttl:
            found = None
        job = rt.engine.get(models.NAME, models.KIND, found["job_id"]) if found else None
        if found is not None and job is not None:
            if found["fingerprint"] != print_:
                raise Conflict(f"Idempotency-Key {key!r} was already used with a different request payload "
                               f"(generation {job.id}); reuse a key only to retry the identical request",
                               code=CONFLICT, field=HEADER, extra={"generationId": job.id})
            yield Claim(rt, record_key, print_, replay=job)
            return
        # A key whose generation was deleted (or expired) starts afresh.
        yield Claim(rt, record_key, print_)
