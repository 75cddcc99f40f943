"""The request pipeline every provider view runs through, declared once:

    auth -> scenario selection -> JSON parsing -> schema validation -> the view

``Operations`` is a blueprint whose endpoints are named after operationIds, so a test can
check that the set of views equals the set of operations in the provider's schema. What the
pipeline resolves is one ``Call``, handed to the view as its first argument:

    >>> ops = Operations("demo", __name__)
    >>> @ops.route("/v1/things/<thing_id>", "getThing")
    ... def get_thing(call: Call, thing_id: str): ...
    >>> sorted(ops.operation_ids)
    ['getThing']
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, request
from lipsync_emulator.core.errors import BadRequest
from lipsync_emulator.core.faults import BAD_GATEWAY_HTML, request_plan, sleep
from lipsync_emulator.core.jobs import Outcome
from lipsync_emulator.core.openapi import MISSING
from lipsync_emulator.core.runtime import Runtime, runtime
from lipsync_emulator.core.scenarios import HEADER, Scenario, UnknownScenario
from lipsync_emulator.core.store import current_namespace, set_tenant
from werkzeug.wrappers import Request

Normalizer = Callable[[Any], Any]

# Where a request's ``Call`` lives once built: its WSGI environ, which the app's after-request
# hooks and error renderers already hold (``Call.of(request.environ)``).
CALL_KEY = "lipsync_emulator.call"


@dataclass(eq=False, slots=True)
class Call:
    """One request to a provider operation, as the pipeline resolved it, once: the view's first
    argument, passed on to the helpers that need it.

    ``account`` is the authenticated API key (``""`` for an operation without auth);
    ``namespace`` the ``X-Emulator-Namespace`` the request runs in (``None``: none);
    ``scenarios`` what the emulator does to this request, ``scenario_sources`` how each was
    chosen (header, magic, rule, chaos, session) and ``faults`` the transport plan applied to the
    answer; ``body`` the parsed, normalized JSON body (``MISSING`` when the body is not JSON);
    ``request`` the raw HTTP request, for headers, query and files. The view sets ``job_id`` to
    the job it created or read, for the journal and the access log.

        >>> call = Call(request=None, provider="demo", operation="getThing", namespace=None)
        >>> call.account, call.scenario_names, call.outcome, call.job_id
        ('', [], None, None)
    """

    request: Request
    provider: str
    operation: str
    namespace: str | None
    account: str = ""
    scenarios: list[Scenario] = field(default_factory=list)
    scenario_sources: dict[str, str] = field(default_factory=dict)
    body: Any = MISSING
    faults: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None

    @staticmethod
    def of(environ: dict[str, Any]) -> Call | None:
        """The ``Call`` of the request with this WSGI environ (``None``: the request reached
        no provider operation — the control plane, an unknown path)."""
        return environ.get(CALL_KEY)

    @property
    def scenario_names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    @property
    def outcome(self) -> Outcome | None:
        """The job outcome chosen by this request's scenarios (the last outcome scenario wins)."""
        outcome = None
        for scenario in self.scenarios:
            if scenario.outcome is not None:
                outcome = scenario.outcome
        return outcome

    @property
    def base_url(self) -> str:
        """Where URLs handed out by this request should point (``public_url`` wins)."""
        configured = runtime().settings.public_url
        if configured:
            return configured.rstrip("/")
        req = self.request
        # what ``host_url`` gives, without its IRI round trip
        return f"{req.scheme}://{req.host}"


class Operations:
    def __init__(self, provider: str, import_name: str) -> None:
        self.provider = provider
        self.blueprint = Blueprint(provider, import_name)
        self.operation_ids: set[str] = set()

    def route(self, rule: str, operation_id: str, methods: tuple[str, ...] = ("GET",), *, auth: bool = True,
              validate: bool = True, normalize: Normalizer | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register ``view`` for ``operation_id``; it is called as ``view(call, **path_args)``.
        ``normalize`` rewrites the parsed JSON body before validation (a provider's documented
        leniency, e.g. ``null`` meaning absent)."""

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def wrapper(**kwargs: Any) -> Any:
                # the request itself, as Werkzeug files it in its environ: the view and its
                # helpers read it many times, each read through ``flask.request`` a look-up
                rt, req = runtime(), request.environ["werkzeug.request"]
                provider = rt.providers[self.provider]
                # the namespace was resolved from its header before routing (create_app)
                call = Call(req, self.provider, operation_id, current_namespace())
                req.environ[CALL_KEY] = call
                # Cache the raw body first: form parsing then reads the cache, so validation,
                # magic-token scanning and the view can all see the same bytes.
                if has_body(req.environ):
                    req.get_data(cache=True)
                if auth:
                    call.account = provider.authenticate(rt, req)
                if call.account and call.namespace is None:
                    set_tenant(call.account)  # what this request writes is this key's (reset per key)
                select_scenarios(call, kwargs, rt)
                if call.scenarios and (answer := apply_request_effects(call, rt)) is not None:
                    return answer
                if is_json(req):
                    call.body = parse_json_body(req)
                    if normalize is not None:
                        call.body = normalize(call.body)
                if validate and provider.schema:
                    # the body is validated as json.dumps(call.body) would be, without the dump
                    violations = rt.specs[self.provider].violations(req, operation_id, parsed=call.body)
                    if violations:
                        raise provider.on_violation(violations[0], operation_id)
                return view(call, **kwargs)

            self.blueprint.add_url_rule(rule, endpoint=operation_id, view_func=wrapper, methods=list(methods))
            self.operation_ids.add(operation_id)
            return wrapper

        return decorator


def has_body(environ: dict[str, Any]) -> bool:
    """Whether the request may carry a body (an absent one is then never read)."""
    return environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ


def is_json(req: Any) -> bool:
    mimetype = (req.mimetype or "").lower()
    return mimetype == "application/json" or mimetype.endswith("+json")


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONG_NUMBER = re.compile(rb"\d{19}")
MAX_BRACKETS = 512


def orjson_safe(raw: bytes) -> bool:
    """Whether orjson gives json's answer for ``raw`` and survives it: it reads integers
    beyond 64 bits as floats, and deep nesting overflows the small native stacks of a
    server's threads (a crash, not an error): bodies with many brackets go to json, which
    stops at its recursion limit."""
    return not LONG_NUMBER.search(raw) and raw.count(b"[") + raw.count(b"{") <= MAX_BRACKETS


# Nesting a JSON text may have. No vendor documents one (inferred); their bodies nest a few
# levels, while validating, copying or storing a deeper value recurses and can exhaust the stack.
MAX_DEPTH = 64


def check_depth(value: Any, text: str | bytes) -> None:
    """``ValueError`` if ``value`` (parsed from ``text``) nests deeper than ``MAX_DEPTH``."""
    opened = text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    if opened <= MAX_DEPTH:  # the usual case, at the speed of bytes.count
        return
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def loads(text: str | bytes) -> Any:
    """``json.loads``, less two things its grammar admits: a ``\\u`` escape of half a UTF-16
    pair, a string no UTF-8 answer, store or journal can hold, and nesting deeper than
    ``MAX_DEPTH`` (each a ``ValueError``)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(value, dict | list):
        check_depth(value, text)
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if SURROGATE_ESCAPE.search(raw):  # rare: only then look for one left unpaired
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            half = exc.object[exc.start:exc.end].encode("unicode_escape").decode()
            raise ValueError(f"{half} is half a UTF-16 surrogate pair, not a character") from None
    return value


def parse_json_body(req: Any = None) -> Any:
    """The request's JSON body. Malformed JSON or invalid UTF-8 is a 400 naming the problem."""
    raw = (req or request).get_data(cache=True)
    if not raw:  # no body; whitespace alone is not a JSON text (RFC 8259), so it is malformed
        return None
    if orjson_safe(raw):
        try:
            value = orjson.loads(raw)  # faster; it accepts a subset of what json does...
        except orjson.JSONDecodeError:
            pass  # ...so anything else (NaN, bad UTF-8...) gets json's own answer or error
        else:
            try:
                check_depth(value, raw)
            except ValueError as exc:
                raise BadRequest(f"Malformed JSON in request body: {exc}", field="body") from None
            return value
    try:
        return loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Request body is not valid UTF-8: {exc.reason}", field="body") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON in request body: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         field="body") from None
    except ValueError as exc:  # too deep; an integer longer than Python converts (sys.get_int_max_str_digits)
        raise BadRequest(f"Malformed JSON in request body: {exc}", field="body") from None


def request_texts(path_args: dict[str, Any], req: Any) -> list[str]:
    """Where magic scenario tokens are looked for: query string, path, and the body (text
    parts and file names of a multipart body; the raw text of any other body)."""
    texts = [req.query_string.decode("latin-1"), *(str(v) for v in path_args.values())]
    if req.mimetype == "multipart/form-data":
        texts += [v for v in req.form.values()]
        texts += [f.filename or "" for f in req.files.values()]
    elif req.content_length:
        texts.append(req.get_data(cache=True)[:1_000_000].decode("utf-8", "replace"))
    return texts


def select_scenarios(call: Call, path_args: dict[str, Any], rt: Runtime) -> None:
    """This request's scenarios (header, magic values, control-plane rules, chaos), and how
    each was chosen, for the journal."""
    req = call.request
    try:
        selection = rt.scenarios.choose(
            call.provider, call.operation, header=req.headers.get(HEADER), texts=request_texts(path_args, req),
            job_id=next((str(v) for k, v in path_args.items() if "id" in k.lower()), None),
            api_key=call.account or None)
    except UnknownScenario as exc:
        raise BadRequest(str(exc), field=HEADER) from None
    call.scenarios, call.scenario_sources = selection.scenarios, selection.sources


def apply_request_effects(call: Call, rt: Runtime) -> Response | None:
    """Effects that happen before the view: added latency, the transport fault to apply to
    the answer (``emulator.core.faults``), a proxy's HTML answer instead of the provider's
    (returned), an error answer (raised)."""
    plan = call.faults = request_plan(call.request.environ)
    html_status = None
    for scenario in call.scenarios:
        if latency := scenario.effects.get("latency"):
            seconds = rt.faults.latency.seconds(latency)
            plan["latency_ms"] = round(plan.get("latency_ms", 0) + seconds * 1000, 1)
            with rt.waiting():
                sleep(seconds)
        if transport := scenario.effects.get("transport"):
            plan["transport"] = transport
        html_status = scenario.effects.get("html_status") or html_status
    if html_status:
        plan["html_status"] = html_status
        return Response(BAD_GATEWAY_HTML, status=int(html_status), mimetype="text/html")
    for scenario in call.scenarios:
        if scenario.error is not None:
            raise scenario.error()
    return None


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        body = orjson.dumps(payload)  # compact UTF-8, faster than json.dumps
    except TypeError:  # an integer beyond 64 bits, a non-string key: json can write those
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status=status, headers=headers, mimetype="application/json")


# -- listings: a page at a time ------------------------------------------------------------

PAGE_SIZE = 100  # a listing's default page: a long history never comes back in one answer
PAGE_MAX = 1000


def page_args() -> tuple[int, int]:
    """A listing's ``offset`` and ``limit`` (newest first)."""
    limit, offset = request.args.get("limit", str(PAGE_SIZE)), request.args.get("offset", "0")
    if not limit.isdigit() or not 1 <= int(limit) <= PAGE_MAX:
        raise BadRequest(f"'limit' must be a whole number from 1 to {PAGE_MAX}", field="limit")
    if not offset.isdigit():
        raise BadRequest("'offset' must be a whole number, 0 or more", field="offset")
    return int(offset), int(limit)


def paged(rows: list[dict[str, Any]], total: int, offset: int, limit: int) -> Response:
    """One page: ``X-Total-Count`` says how many match, ``Link`` (rel="next") where the rest is."""
    headers = {"X-Total-Count": str(total)}
    if offset + len(rows) < total:
        query = {**request.args.to_dict(), "offset": str(offset + len(rows)), "limit": str(limit)}
        headers["Link"] = f'<{request.path}?{urlencode(query)}>; rel="next"'
    return json_response(rows, headers=headers)
