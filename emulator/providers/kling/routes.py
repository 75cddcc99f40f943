"""Kling views, one per operationId, registered once per surface (official ``/v1/...`` and
relay ``/kling/v1/...``): parse -> rules -> model -> serialize. Both surfaces share the views,
the rules and the lifecycle; a ``Surface`` says what differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import islice
from typing import Any

from flask import Response, request
from lipsync_emulator import schemas
from lipsync_emulator.core.clock import RealClock
from lipsync_emulator.core.errors import EmulatorError, NotFound
from lipsync_emulator.core.http import Call, Operations, json_response
from lipsync_emulator.core.jobs import Job
from lipsync_emulator.core.media import sample_mp4
from lipsync_emulator.core.openapi import SchemaViolation
from lipsync_emulator.core.runtime import Runtime, runtime
from lipsync_emulator.core.scenarios import MAGIC, Scenario
from lipsync_emulator.providers.kling import auth, models, rules
from lipsync_emulator.providers.kling.errors import NAME, kling_error
from werkzeug.wrappers import Request

ops = Operations(NAME, __name__)
WALL = RealClock()


# -- auth and schema errors ------------------------------------------------------------------

def authenticate(rt: Runtime, req: Request) -> str:
    """Official paths: JWT or static API key; relay paths: a plain bearer key (§2)."""
    cfg = rt.cfg(NAME)
    token = auth.bearer(req)
    if models.surface_for(req.path) is models.RELAY:
        return auth.relay(token, cfg)
    now = WALL.now() if cfg["jwt_clock"] == "wall" else rt.clock.now()
    return auth.official(token, cfg, now)


def _param_rules() -> dict[str, str]:
    params = schemas.load(NAME)["components"]["parameters"]
    return {p["name"]: p["x-rule"] for p in params.values() if "x-rule" in p}


PARAM_RULES = _param_rules()


def on_violation(v: SchemaViolation, operation_id: str) -> EmulatorError:
    """The first schema violation as Kling reports parameter errors: 1201 and a message that
    starts with the field, in Kling's observed patterns ``<field> can not be null`` and
    ``<field> value '<v>' is invalid`` [3p: S20]. A request unusable as a whole (not JSON, not an
    object, no body) is 1200 (inferred)."""
    rule = v.hints.get(f"x-rule-{v.keyword}") or v.hints.get("x-rule") or PARAM_RULES.get(v.field)
    if v.keyword == "content_type":
        return kling_error(1200, "Content-Type must be application/json", field="Content-Type")
    if v.keyword == "missing_body" or (v.field == "body" and v.keyword in ("type", "required")):
        return kling_error(1200, "request body must be a JSON object", field="body")
    if v.keyword == "required":
        return kling_error(1201, f"{v.field} can not be null", field=v.field, rule=rule)
    shown = v.value if isinstance(v.value, str) else json.dumps(v.value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    reason = GOT.sub("", v.describe().removeprefix(f"{v.field} ").removeprefix(f"{v.field}: "))
    message = f"{v.field} value '{shown}' is invalid: {reason}"
    if note := v.hints.get(f"x-note-{v.keyword}"):
        message += f" ({note})"
    return kling_error(1201, message, field=v.field, rule=rule)


GOT = re.compile(r" \(got .*\)$")

INTEGER_FIELDS = ("sound_start_time", "sound_end_time", "sound_insert_time", "sound_volume",
                  "original_audio_volume")


def _lenient(value: Any) -> Any:
    """``3000.0`` reads as ``3000``: Kling's Java server coerces integral floats to long, and a
    relay client sends ``1.0`` volumes [3p: S28] (inferred leniency)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def normalize(body: Any) -> Any:
    """``null`` means absent (Jackson; inferred); integral floats become integers; with
    ``face_choose_extra: ignore`` only the first face_choose entry is kept (§11.5)."""
    if not isinstance(body, dict):
        return body
    body = {k: v for k, v in body.items() if v is not None}
    choices = body.get("face_choose")
    if isinstance(choices, list):
        if runtime().cfg(NAME)["face_choose_extra"] == "ignore":
            choices = choices[:1]
        body["face_choose"] = [
            {k: (_lenient(v) if k in INTEGER_FIELDS else v) for k, v in c.items() if v is not None}
            if isinstance(c, dict) else c for c in choices]
    return body


# -- envelope --------------------------------------------------------------------------------------

def _envelope(data: Any) -> dict[str, Any]:
    rt = runtime()
    return {"code": 0, "message": rt.cfg(NAME)["success_message"], "request_id": rt.ids.uuid(), "data": data}


def ok(data: Any) -> Response:
    return json_response(_envelope(data))


# -- views -------------------------------------------------------------------------------------

def identify_face(call: Call, surface: models.Surface) -> Response:
    rt = runtime()
    cfg = rt.cfg(NAME)
    if call.operation == "identifyFaceLegacyPath" and not cfg["legacy_identify_path"]:
        raise kling_error(1202, f"Cannot {call.request.method} {call.request.path}")
    video = rules.identify_video(rt, cfg, call.account, call.body)
    face_data = models.faces(rt, video, call.base_url)
    rules.check_faces(cfg, face_data)
    session = models.open_session(rt, call.account, video, face_data)
    charge = cfg["identify_face_deduction"]
    return ok({"session_id": session["session_id"], "final_unit_deduction": str(charge["units"]),
               "final_balance_deduction": {"quota": str(charge["quota"]), "list_price": str(charge["list_price"])},
               "face_data": face_data})


def create_task(call: Call, surface: models.Surface) -> Response:
    rt = runtime()
    cfg = rt.cfg(NAME)
    body = call.body
    plan = rules.check_create(rt, cfg, surface, call.account, body)
    rules.check_concurrency(rt, cfg, call.account)
    video: models.Video = plan.session["video"]
    inherited = session_scenarios(rt, video.url, call.operation, call.scenarios)
    if inherited:
        call.scenarios = inherited + call.scenarios
        call.scenario_sources = {**call.scenario_sources, **{s.name: "session" for s in inherited}}
    stored = dict(body)
    if plan.audio.source == "base64":  # keep the record small: the bytes are not needed again
        stored["face_choose"] = [{**plan.choice, "sound_file": f"<base64: {plan.audio.size} bytes>"}]
    external = body.get("external_task_id") or ""
    job = rt.engine.create(
        NAME, models.KIND, rt.ids.digits(18), durations=cfg["durations"], outcome=call.outcome,
        request=stored, account=call.account,
        webhook_url=body.get("callback_url") or None, base_url=call.base_url, scenarios=call.scenario_names,
        data={"surface": surface.name, "session_id": plan.session["session_id"], "external_task_id": external,
              "parent_video": {"id": video.id, "url": video.url, "duration": models.seconds_text(video.duration_ms / 1000)},
              "duration_ms": video.duration_ms, "hints_url": video.hints_url, "face_id": plan.face["face_id"],
              "watermark_info": {"enabled": bool((body.get("watermark_info") or {}).get("enabled", False))},
              "videos": [], "units": "0", "task_status_msg": ""})
    call.job_id = job.id
    return ok(models.created(job))


def session_scenarios(rt: Runtime, video_url: str, operation: str, chosen: list[Scenario]) -> list[Scenario]:
    """Outcome and webhook scenarios named by a magic token in the session's video URL: the
    video is where a client most naturally carries one, but it is sent to identify-face, so
    the tasks of that session inherit it (the create request's own choices come after, and win)."""
    out: list[Scenario] = []
    for name in dict.fromkeys(MAGIC.findall(video_url)):
        found = rt.catalog.get(NAME, name)
        if (found is not None and found.kind in ("outcome", "webhook") and found not in chosen
                and (not found.operations or operation in found.operations)):
            out.append(found)
    return out


def get_task(call: Call, surface: models.Surface, id: str) -> Response:  # noqa: A002 - the path parameter's name
    rt = runtime()
    cfg = rt.cfg(NAME)
    job = rules.find_task(rt, cfg, call.account, id)
    call.job_id = job.id
    if surface is models.RELAY and cfg["relay_query_wrapper"] == "new-api":
        return json_response(models.new_api_wrap(job, _envelope(models.task(job))))
    return ok(models.task(job))


def list_tasks(call: Call, surface: models.Surface) -> Response:
    rt = runtime()
    query = rt.specs[NAME].query(call.request, call.operation)
    page = query.get("pageNum", default=1, type=int)
    size = query.get("pageSize", default=30, type=int)
    skip = (page - 1) * size  # the schema keeps pageNum and pageSize at 1 or more
    jobs = rt.engine.jobs(NAME, models.KIND, account=call.account)
    return ok([models.task(job) for job in islice(jobs, skip, skip + size)])


def _bind(view: Callable[..., Response], surface: models.Surface) -> Callable[..., Response]:
    def bound(call: Call, **kwargs: Any) -> Response:
        return view(call, surface, **kwargs)
    bound.__name__ = f"{view.__name__}_{surface.name}"
    return bound


for _s in models.SURFACES:
    ops.route(f"{_s.prefix}/v1/videos/identify-face", _s.identify_op, ("POST",), normalize=normalize)(
        _bind(identify_face, _s))
    ops.route(f"{_s.prefix}/v1/videos/advanced-lip-sync", _s.create_op, ("POST",), normalize=normalize)(
        _bind(create_task, _s))
    ops.route(f"{_s.prefix}/v1/videos/advanced-lip-sync", _s.list_op)(_bind(list_tasks, _s))
    ops.route(f"{_s.prefix}/v1/videos/advanced-lip-sync/<id>", _s.get_op)(_bind(get_task, _s))
ops.route("/v1/videos/Identify-face", "identifyFaceLegacyPath", ("POST",), normalize=normalize)(
    _bind(identify_face, models.OFFICIAL))


@ops.route("/account/costs", "getAccountCosts")
def account_costs(call: Call) -> Response:
    """The account's resource packs [doc: updates K1], filtered to those valid at some time in
    ``[start_time, end_time]`` and by ``resource_pack_name`` (inferred); more than
    ``account_costs_qps`` calls a second of the emulator's clock is a 1302."""
    rt = runtime()
    cfg = rt.cfg(NAME)
    now = rt.clock.now()
    calls = [t for t in (rt.store.get("kling:costs_calls", call.account) or []) if t > now - 1]
    if cfg["account_costs_qps"] is not None and len(calls) >= int(cfg["account_costs_qps"]):
        raise kling_error(1302)
    rt.store.put("kling:costs_calls", call.account, [*calls, now])
    query = call.request.args
    start, end, name = int(query["start_time"]), int(query["end_time"]), query.get("resource_pack_name")
    packs = [p for p in models.resource_packs(rt, cfg, call.account, now)
             if p["effective_time"] <= end and p["invalid_time"] >= start
             and name in (None, p["resource_pack_name"])]
    return ok({"code": 0, "msg": "success", "resource_pack_subscribe_infos": packs})


@ops.blueprint.before_app_request  # app-wide, not per blueprint: that would cost every request Flask's slow path
def _authenticate_before_routing() -> None:
    """A path the emulator does not implement still checks the token first [inferred: updates
    K2]: a bad one is the 401 of ``authenticate``, a good one the usual 404."""
    if request.url_rule is None and request.path.startswith(("/v1/", "/kling/", "/account/")):
        authenticate(runtime(), request)


# -- result media (not an API operation: the emulator's stand-in for Kling's CDN) ------------------

def result_video(task_id: str, name: str) -> Response:
    """The output MP4 of a succeeded task, for ``result_ttl_days`` after it finished; then gone
    (results are deleted after 30 days [doc: S1, S2]; 404 is inferred). Served under
    ``/_emulator/`` like every emulator media file, so errors are the control plane's JSON."""
    rt = runtime()
    job: Job | None = rt.engine.get(NAME, models.KIND, task_id)
    stem = name.removesuffix(".mp4").removesuffix("-watermark")
    finished = job.entered("succeed") if job is not None else None
    if (job is None or finished is None or not name.endswith(".mp4")
            or not any(v["id"] == stem for v in job.data.get("videos", []))):
        raise NotFound(f"no result video {name!r} for task {task_id!r}", field="url")
    if rt.clock.now() - finished > float(rt.cfg(NAME)["result_ttl_days"]) * 86400:
        raise NotFound(f"result video {name!r} of task {task_id!r} has expired: results are kept for "
                       f"{rt.cfg(NAME)['result_ttl_days']} days", field="url")
    data = sample_mp4()
    resp = Response(data, mimetype="video/mp4")
    resp.make_conditional(request, accept_ranges=True, complete_length=len(data))
    return resp


ops.blueprint.add_url_rule(f"{models.CDN}/<task_id>/<name>", endpoint="result_video", view_func=result_video,
                           methods=["GET"])
