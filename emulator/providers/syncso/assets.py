"""The media library: ``GET /v2/assets`` and ``GET /v2/assets/{id}`` [sdk: assets/raw_client.py],
reference §3.9-3.10, §4.10 and item 46.

sync.so keeps the media a generation uses and makes in the organisation's library. The emulator
fills it from the generations themselves (an engine observer): every ``url`` input becomes an
asset when the generation is created (``inputType`` ``URL``, or ``UPLOAD`` for a file sent with
a multipart create), and the output video becomes one when the generation completes. Inferred:
one asset per distinct URL and API key (a URL used twice is one asset), ``visibility``
``ORGANIZATION``, no ``inputType`` on outputs (none of the SDK's values fits), text (TTS)
inputs add no asset (the emulator synthesizes no audio), a generation's ``projectId`` carries
over to its assets, the default page size (20), ``dateDesc`` as the default order, and the
cursor being the id of the last asset of the previous page (an unknown cursor is a 400).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.errors import BadRequest, NotFound
from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.media import probe_url, sample_mp4, split_url
from lipsync_emulator.core.runtime import Runtime
from lipsync_emulator.providers.syncso import models

COLLECTION = "syncso:asset"
BY_URL = "syncso:asset_url"
DEFAULT_LIMIT = 20
SORTS: dict[str, str] = {"name": "name", "date": "created", "duration": "durationSeconds", "size": "size",
                         "kind": "type"}


def setup(rt: Runtime) -> None:
    def observe(job: Job, state: str) -> None:
        if job.provider != models.NAME or job.kind != models.KIND:
            return
        if state == models.LIFECYCLE.initial and len(job.history) == 1:
            for item in job.request.get("input", []):
                if item.get("type") in ("video", "audio", "image") and item.get("url"):
                    _register(rt, job, item["url"], item["type"])
        elif state == models.LIFECYCLE.success and job.data.get("outputUrl"):
            _register(rt, job, job.data["outputUrl"], "video", output=True)

    rt.engine.observe(observe)


def _register(rt: Runtime, job: Job, url: str, kind: str, output: bool = False) -> None:
    index = f"{job.account}\n{url}"
    if rt.store.get(BY_URL, index) is not None:
        return
    info = probe_url(url)
    path = split_url(url).path
    name = unquote(PurePosixPath(path).name) or f"{kind}"
    size = info.size
    input_type: str | None = None if output else "URL"
    if "/_emulator/files/" in path:
        input_type = "UPLOAD"
        record = rt.store.get("files", path.split("/_emulator/files/", 1)[1].split("/", 1)[0])
        size = len(record["data"]) if record else size
    if output:
        size = len(sample_mp4())
    now = rt.clock.now()
    asset: dict[str, Any] = {
        "id": rt.ids.uuid(), "createdAt": iso(now), "updatedAt": iso(now), "name": name, "url": url,
        "size": size, "format": info.format or None, "type": kind.upper(),
        "inputType": input_type,
        "durationSeconds": job.data.get("outputDuration") if output else info.duration,
        "thumbnailUrl": None, "visibility": "ORGANIZATION", "width": info.width, "height": info.height,
        "projectId": job.request.get("projectId"),
        "_account": job.account, "_created": now,
    }
    rt.store.put(COLLECTION, asset["id"], asset)
    rt.store.put(BY_URL, index, asset["id"])


def public(asset: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in asset.items() if not k.startswith("_") and not (k == "projectId" and v is None)}


def get(rt: Runtime, account: str, asset_id: str) -> dict[str, Any]:
    asset = rt.store.get(COLLECTION, asset_id)
    if asset is None or asset["_account"] != account:
        raise NotFound(f"Asset {asset_id} not found", code="asset_not_found", field="id")
    return public(asset)


def page(rt: Runtime, account: str, *, project_id: str | None, limit: int | None, cursor: str | None,
         search: str | None, sort_by: str | None, types: list[str]) -> dict[str, Any]:
    """One page of ``PaginatedAssetsResponse``: ``items``, ``nextCursor`` (absent on the last
    page), ``totalCount`` (every match)."""
    needle = (search or "").casefold()
    rows = [a for a in rt.store.newest(COLLECTION)
            if a["_account"] == account
            and (project_id is None or a.get("projectId") == project_id)
            and (not types or a["type"] in types)
            and needle in (a.get("name") or "").casefold()]
    rows = _sorted(rows, sort_by or "dateDesc")
    start = 0
    if cursor:
        ids = [a["id"] for a in rows]
        if cursor not in ids:
            raise BadRequest(f"cursor {cursor!r} is not the id of an asset in this listing", field="cursor",
                             code="generation_input_validation_failed")
        start = ids.index(cursor) + 1
    size = limit or DEFAULT_LIMIT
    items = rows[start:start + size]
    body: dict[str, Any] = {"items": [public(a) for a in items], "totalCount": len(rows)}
    if start + size < len(rows) and items:
        body["nextCursor"] = items[-1]["id"]
    return body


def _sorted(rows: list[dict[str, Any]], sort_by: str) -> list[dict[str, Any]]:
    """``rows`` newest first, as the store lists them: their insertion order breaks ties."""
    descending = sort_by.endswith("Desc")
    field = SORTS[sort_by.removesuffix("Desc").removesuffix("Asc")]

    def key(a: dict[str, Any]) -> Any:
        if field == "created":
            return a["_created"]
        value = a.get(field)
        return value.casefold() if isinstance(value, str) else value

    ranked = list(enumerate(reversed(rows)))
    present = [(rank, a) for rank, a in ranked if key(a) is not None]
    missing = [a for a in rows if key(a) is None]  # unknown sizes/durations last either way
    present.sort(key=lambda ra: (key(ra[1]), ra[0]), reverse=descending)
    return [a for _, a in present] + missing
