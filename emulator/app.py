"""``create_app(config)``: wires the core, the control plane and the providers. Nothing else.

Every error leaves through the owning provider's renderer (chosen by path prefix), so Flask's
HTML 404/405/413/500 pages never reach a client.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, g, request
from flask.sessions import NullSession, SessionInterface
from lipsync_emulator.accesslog import log_request, log_transition
from lipsync_emulator.config import Settings
from lipsync_emulator.core.clock import iso
from lipsync_emulator.core.control import bp as control_bp
from lipsync_emulator.core.control import guard, render_control_error
from lipsync_emulator.core.errors import EmulatorError, InternalError, error_for_status
from lipsync_emulator.core.faults import FaultMiddleware
from lipsync_emulator.core.http import Call, has_body
from lipsync_emulator.core.runtime import EXTENSION, Provider, Runtime, runtime
from lipsync_emulator.core.store import (
    NAMESPACE_HEADER,
    StorageUnavailable,
    Store,
    current_namespace,
    current_tenant,
    reset_namespace,
    reset_tenant,
    set_namespace,
    set_tenant,
)
from lipsync_emulator.index import bp as index_bp
from lipsync_emulator.providers import REGISTRY
from lipsync_emulator.ui import bp as ui_bp
from werkzeug.exceptions import HTTPException

JOURNAL_BODY_LIMIT = 4096


class _NoSessions(SessionInterface):
    """No cookies, no sessions: every request shares one null session instead of Flask
    building (and checking) one per request."""

    null = NullSession()

    def open_session(self, app: Flask, request: Any) -> None:
        return None

    def make_null_session(self, app: Flask) -> NullSession:
        return self.null

    def is_null_session(self, obj: object) -> bool:
        return True

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


class EmulatorFlask(Flask):
    """Flask without sessions (an API has no cookies), and OPTIONS answered as an API would."""

    session_interface = _NoSessions()

    def ensure_sync(self, func: Any) -> Any:
        return func  # no async views

    def make_default_options_response(self) -> Response:
        # Flask answers OPTIONS with an empty 200 labelled text/html; an API answers "no
        # content" and the methods in Allow (inferred: no provider documents OPTIONS)
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(config: dict[str, Any] | Settings | None = None, *, store: Store | None = None,
               providers: Sequence[Provider] = REGISTRY) -> Flask:
    """Build an emulator app. ``config`` is a ``Settings`` or a dict of overrides, e.g.
    ``{"clock": "virtual", "syncso": {"api_keys": ["sk_test"]}}``. ``providers``: the providers
    to serve, by default the package's ``REGISTRY``; add your own with ``REGISTRY + (mine,)``
    (docs/adding-a-provider.md)."""
    settings = config if isinstance(config, Settings) else Settings.build(config)
    app = EmulatorFlask("emulator")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # "/v2//generations" is an unknown path, answered by its provider like any other (the
    # vendors' servers do not merge slashes): not Werkzeug's 308 with an HTML body and a
    # Location built from the Host header.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    rt = Runtime(settings, tuple(providers), store=store)
    app.extensions[EXTENSION] = rt
    rt.engine.observe(log_transition)

    # Transport faults (reset, truncated body...) act on the finished answer, below Flask.
    app.wsgi_app = FaultMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = _in_turn(app.wsgi_app, rt)  # type: ignore[method-assign]
    app.wsgi_app = _read_body_at_once(app.wsgi_app, settings.max_body_bytes)  # type: ignore[method-assign]
    app.wsgi_app = guard(app.wsgi_app, settings.control_token)  # type: ignore[method-assign]
    app.register_blueprint(control_bp)
    app.register_blueprint(index_bp)
    app.register_blueprint(ui_bp)
    for provider in providers:
        app.register_blueprint(provider.blueprint)

    @app.before_request
    def _before() -> None:
        g.started = time.perf_counter()
        g.journal_mark = rt.journal.mark()
        # The request's namespace (a partition) is the header's; its records are tagged with
        # the header, else (set after auth) with its API key.
        header = request.environ.get(NAMESPACE_ENVIRON) or None
        g.namespace_tokens = (set_namespace(header), set_tenant(header))
        # what the request changes is made durable before it is answered (_commit)
        g.unit = rt.store.unit()
        g.unit.__enter__()
        rt.tick()

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        work = g.pop("unit", None)
        if work is not None:
            work.__exit__(None, None, None)
        tokens = g.pop("namespace_tokens", None)
        if tokens is not None:
            reset_namespace(tokens[0])
            reset_tenant(tokens[1])

    @app.after_request
    def _journal(response: Response) -> Response:
        environ = request.environ
        req, call, started = environ["werkzeug.request"], Call.of(environ), g.get("started")
        provider = rt.providers[call.provider] if call else rt.provider_for(req.path)
        log_request(req, response, call, started, provider)
        if req.path.startswith("/_emulator/"):
            return response
        # Raw pieces now, the readable entry when the journal is read (_expand_entry): the
        # work of making it readable is paid only by whoever reads it.
        rt.journal.record({
            "_at": rt.clock.now(),
            "provider": provider.name if provider else None,
            "operation": call and call.operation,
            "method": req.method,
            "path": req.path,
            "query": req.query_string.decode("latin-1"),
            "status": response.status_code,
            "scenario": call.scenario_names if call else [],
            # how each was chosen (header, magic, rule, chaos) and the transport fault applied
            "scenario_source": call and call.scenario_sources or None,
            "faults": call and call.faults or None,
            "job_id": call and call.job_id,
            "account": call and call.account or None,
            "namespace": current_tenant() or current_namespace(),
            "duration_ms": round((time.perf_counter() - (started or time.perf_counter())) * 1000, 3),
            "_headers": [(k, v) for k, v in environ.items() if k.startswith("HTTP_") or k in _CONTENT_KEYS],
            "_request_body": _raw_snippet(req),
            "_response_body": _raw_response(response),
            # Retry-After and friends: what a client was told to do (contract suites read it)
            "_response_headers": list(response.headers.items()),
        }, since=g.get("journal_mark"))
        return response

    rt.journal.expand = _expand_entry

    @app.after_request
    def _commit(response: Response) -> Response:
        # registered last, so it runs first: the journal records the answer actually sent
        try:
            rt.store.commit()
        except StorageUnavailable:
            return _render(error_for_status(507, "The emulator cannot write its data directory (disk full or "
                                                 "read-only); nothing was changed durably. Retry later.",
                                            code="insufficient_storage", headers={"Retry-After": "5"}))
        return response

    @app.errorhandler(EmulatorError)
    def _emulator_error(err: EmulatorError) -> Response:
        return _render(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        messages = {
            404: f"Cannot {request.method} {request.path}",
            405: f"Method {request.method} is not allowed for {request.path}",
            413: f"Request body is larger than the {settings.max_body_bytes} bytes accepted",
        }
        err = error_for_status(code, messages.get(code, exc.description or exc.name))
        if code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            err.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return _render(err)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error")
        return _render(InternalError(f"Internal emulator error: {type(exc).__name__}: {exc}",
                                     code="internal_error"))

    return app


_SECRET_HEADERS = {"cookie"}


def _in_turn(wsgi_app: Any, rt: Runtime) -> Any:
    """The request's emulator code, answer included, runs in its turn (``Runtime.turn``); its
    body has been read before, and the server sends the answer after. The control plane's
    reads (journal pages, the dashboard, media) change nothing and may take long: they run
    beside the turns, so an open dashboard never holds up the traffic it shows."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] in ("GET", "HEAD") and environ["PATH_INFO"].startswith("/_emulator/"):
            return wsgi_app(environ, start_response)
        with rt.turn():
            return wsgi_app(environ, start_response)

    return app


def _read_body_at_once(wsgi_app: Any, limit: int) -> Any:
    """Read a request body of known, acceptable length with one ``read`` rather than through
    Werkzeug's loop; too long: Flask's 413. A chunked body is read up to one byte past the
    limit and then has a length, so one over the limit is that 413 too (Werkzeug cuts it at
    the limit instead, and the view sees a truncated body)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and 0 < int(length) <= limit:
            data = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        elif not length and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream, buffer = environ["wsgi.input"], io.BytesIO()
            while buffer.tell() <= limit and (piece := stream.read(limit + 1 - buffer.tell())):
                buffer.write(piece)  # a server may hand over one chunk a read
            data = buffer.getvalue()
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            del environ["HTTP_TRANSFER_ENCODING"]  # Werkzeug ignores a length beside it
        return wsgi_app(environ, start_response)

    return app


def _render(err: EmulatorError) -> Response:
    rt = runtime()
    provider = rt.provider_for(request.path)
    response = provider.render_error(err) if provider else render_control_error(err)
    for key, value in err.headers.items():
        response.headers[key] = value
    return response


_CONTENT_KEYS = ("CONTENT_TYPE", "CONTENT_LENGTH")
NAMESPACE_ENVIRON = "HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_")


def _expand_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry as ``GET /_emulator/requests`` shows it, from what ``_journal`` kept."""
    if "_at" not in entry:
        return entry
    out = {k: v for k, v in entry.items() if not k.startswith("_")}
    headers: dict[str, str] = {}
    for key, value in entry["_headers"]:
        name = key[5:] if key.startswith("HTTP_") else key
        name = name.replace("_", "-").title()
        if name.lower() not in _SECRET_HEADERS:
            headers.setdefault(name, value)
    body, response_body = entry["_request_body"], entry["_response_body"]
    out.update({
        "at": iso(entry["_at"]),
        "request_headers": headers,
        "request_body": body.decode("utf-8", "replace") if isinstance(body, bytes) else body,
        "response_body": response_body.decode("utf-8", "replace") if response_body is not None else None,
        "response_headers": dict(entry["_response_headers"]),
    })
    # the order the journal always had
    order = ("at", "provider", "operation", "method", "path", "query", "status", "scenario", "scenario_source",
             "faults", "job_id", "account", "namespace", "duration_ms", "request_headers", "request_body",
             "response_body", "response_headers")
    return {**{k: out[k] for k in order if k in out}, **out}


def _raw_snippet(req: Any) -> bytes | str | None:
    """The request body's first bytes (decoded when the journal is read)."""
    if not has_body(req.environ):
        return None
    try:
        if req.mimetype == "multipart/form-data":
            return _multipart_snippet(req)
        data = req.get_data(cache=True)
        return data[:JOURNAL_BODY_LIMIT] if data else None
    except HTTPException:  # an oversized body is not read again for the journal
        return None


def _raw_response(response: Response) -> bytes | None:
    if response.direct_passthrough or response.mimetype != "application/json":
        return None
    return response.get_data()[:JOURNAL_BODY_LIMIT]


def _multipart_snippet(req: Any) -> str:
    parts = {k: v for k, v in req.form.items()}
    parts.update({k: f"<file {f.filename!r}>" for k, f in req.files.items()})
    return json.dumps(parts)[:JOURNAL_BODY_LIMIT]
