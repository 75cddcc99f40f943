"""Where contract requests go: a WSGI app in this process, or a live base URL.

Contracts only speak HTTP (or WSGI, which is HTTP without the socket), so the same suites
run against the emulator in-process, the emulator on a port, or — for the parts that need
no control plane — the real provider.

    >>> target = connect("http://127.0.0.1:8080")      # a live URL
    >>> target.base_url
    'http://127.0.0.1:8080'

``connect`` also takes a WSGI callable (``connect(app)``) or any object with a ``url``
attribute (the emulator's pytest fixture). ``Control`` is a small client of the emulator's
``/_emulator/`` control plane over the same target.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from werkzeug.datastructures import Headers
from werkzeug.test import Client


@dataclass
class Response:
    """A response, whichever transport carried it."""

    status: int
    headers: Headers
    body: bytes
    method: str = "GET"
    path: str = "/"
    query: str = ""
    request_body: bytes | None = None
    request_headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.path} -> {self.status} {self.text[:120]!r}>"


def every_page(fetch: Any, filters: dict[str, Any], page: int = 1000) -> list[dict[str, Any]]:
    """Follow a control-plane listing (newest first) page by page: ``fetch(params)`` returns
    one page. ``limit`` in ``filters`` stops after that many."""
    params = {k: v for k, v in filters.items() if v is not None}
    wanted = params.pop("limit", None)
    rows: list[dict[str, Any]] = []
    while wanted is None or len(rows) < int(wanted):
        size = page if wanted is None else min(page, int(wanted) - len(rows))
        got = fetch({**params, "offset": len(rows), "limit": size})
        rows += got
        if len(got) < size:
            break
    return rows


class Target(Protocol):
    base_url: str

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> Response: ...


def _query(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> str:
    if not params:
        return ""
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, v) for k, v in items if v is not None], doseq=True)


def _body(json: Any, data: bytes | None, headers: dict[str, str]) -> bytes | None:
    if json is not None:
        headers.setdefault("Content-Type", "application/json")
        return jsonlib.dumps(json).encode()
    return data


class HttpTarget:
    """A live base URL, over real sockets."""

    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> Response:
        hdrs = dict(headers or {})
        body = _body(json, data, hdrs)
        query = _query(params)
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        resp = self.session.request(method, url, data=body, headers=hdrs, timeout=self.timeout,
                                    allow_redirects=False)
        return Response(resp.status_code, Headers(list(resp.headers.items())), resp.content, method, path, query,
                        body, hdrs)


class WsgiTarget:
    """A WSGI app called in this process: no socket, same requests and responses."""

    def __init__(self, app: Any, base_url: str = "http://localhost") -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.client = Client(app)

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> Response:
        hdrs = dict(headers or {})
        body = _body(json, data, hdrs)
        query = _query(params)
        resp = self.client.open(path, method=method, data=body, headers=hdrs, query_string=query,
                                base_url=self.base_url)
        try:
            return Response(resp.status_code, Headers(resp.headers), resp.get_data(), method, path, query, body, hdrs)
        finally:
            resp.close()


def connect(where: Any) -> Target:
    """A target from a URL, a WSGI app, an object with ``url`` (e.g. the ``emulator`` fixture),
    or a target (returned unchanged)."""
    if isinstance(where, HttpTarget | WsgiTarget):
        return where
    if isinstance(where, str):
        return HttpTarget(where)
    url = getattr(where, "url", None)
    if isinstance(url, str):
        return HttpTarget(url)
    if callable(where):
        return WsgiTarget(where)
    raise TypeError(f"cannot make a contract target from {where!r}")


def in_process(where: Any) -> Target:
    """The WSGI app behind ``where`` (an object with ``app``, or the app itself), in-process."""
    app = getattr(where, "app", where)
    if not callable(app):
        raise TypeError(f"{where!r} has no WSGI app")
    return WsgiTarget(app)


def parse_time(text: str) -> float:
    """Unix seconds from the control plane's ISO-8601 times."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def is_masked(value: Any) -> bool:
    """A credential as the emulator's control plane shows it (docs/control-plane.md)."""
    return isinstance(value, str) and value.startswith("<redacted")


def recognise(shown: Any, candidate: str) -> Any:
    """``candidate`` where the control plane shows it, masked or not (a masked value keeps
    its last four characters when it is 16 or more long); else ``shown``."""
    masked = f"<redacted ...{candidate[-4:]}>" if len(candidate) >= 16 else "<redacted>"
    return candidate if shown in (candidate, masked) else shown


class ControlError(RuntimeError):
    pass


class Control:
    """The emulator's control plane (``/_emulator/...``) over a target. Every method is one call.

    Only the emulator has it: against a real provider, the suites that need scenarios or the
    clock are skipped."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def _call(self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        resp = self.target.request(method, f"/_emulator{path}", json=json, params=params)
        if resp.status >= 400:
            raise ControlError(f"{method} /_emulator{path} -> {resp.status}: {resp.text[:300]}")
        return resp.json() if resp.body else None

    def available(self) -> bool:
        try:
            return self.target.request("GET", "/_emulator/health").status == 200
        except requests.RequestException:
            return False

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self, namespace: str | None = None) -> None:
        """Everything, or only ``namespace``'s jobs, records, deliveries and journal."""
        self._call("POST", "/reset", {"namespace": namespace} if namespace else None)

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock/advance", {"seconds": seconds})

    def now(self) -> float:
        return float(self._call("GET", "/clock")["timestamp"])

    def clock_mode(self) -> str:
        return str(self._call("GET", "/clock")["mode"])

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal, oldest first (the control plane pages it, newest first)."""
        return every_page(lambda params: self._call("GET", "/requests", params=params), filters)[::-1]

    def count(self, **filters: Any) -> int:
        """How many journal entries match (one request: the listing's ``X-Total-Count``)."""
        params = {k: v for k, v in filters.items() if v is not None}
        resp = self.target.request("GET", "/_emulator/requests", params={**params, "limit": 1})
        if resp.status >= 400:
            raise ControlError(f"GET /_emulator/requests -> {resp.status}: {resp.text[:300]}")
        return int(resp.headers.get("X-Total-Count") or len(resp.json()))

    def webhooks(self, **filters: Any) -> list[dict[str, Any]]:
        """Webhook deliveries, oldest first."""
        return every_page(lambda params: self._call("GET", "/webhooks", params=params), filters)[::-1]

    def redeliver(self, delivery_id: str) -> dict[str, Any]:
        return self._call("POST", f"/webhooks/{delivery_id}/redeliver")

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return every_page(lambda params: self._call("GET", "/jobs", params=params), filters)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def configure(self, sections: dict[str, Any]) -> dict[str, Any]:
        """Merge ``{provider: {setting: value}}`` into the running emulator's settings."""
        return self._call("PATCH", "/config", sections)

    def catalog(self, provider: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/scenarios", params={"provider": provider} if provider else None)["catalog"]

    def scenario(self, provider: str, scenarios: str | list[str], *, operation: str | None = None,
                 count: int | None = None, job_id: str | None = None, api_key: str | None = None) -> dict[str, Any]:
        """A rule: the next ``count`` matching requests take ``scenarios``. ``api_key``: only
        requests of that account (a namespace's own rule on a shared emulator)."""
        names = [scenarios] if isinstance(scenarios, str) else list(scenarios)
        body = {"provider": provider, "scenarios": names, "operation": operation, "count": count, "job_id": job_id,
                "api_key": api_key}
        return self._call("POST", "/scenarios", {k: v for k, v in body.items() if v is not None})

    def delete_scenario(self, rule_id: str) -> None:
        resp = self.target.request("DELETE", f"/_emulator/scenarios/{rule_id}")
        if resp.status not in (200, 404):  # 404: used up and gone already
            raise ControlError(f"DELETE /_emulator/scenarios/{rule_id} -> {resp.status}: {resp.text[:300]}")

    def finish(self, provider: str, job_id: str, scenario: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{provider}/{job_id}/finish", {"scenario": scenario} if scenario else {})

    def schemas(self) -> dict[str, str]:
        return self._call("GET", "/schemas")
