"""Run the emulator inside a test process, on a real loopback port, and drive it.

    >>> with EmulatorServer() as emu:              # virtual clock, free port
    ...     emu.control.health()["status"]
    'ok'

``EmulatorServer`` is a real threaded HTTP server (clients use real sockets, as with the
provider), ``EmulatorControl`` a small client of the ``/_emulator/`` control plane, and
``WebhookReceiver`` (``emulator.receiver``) a loopback server that records what it is sent. The pytest plugin
(``emulator.pytest_plugin``) wraps the three as fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import requests
from lipsync_emulator import STORE_ENV
from lipsync_emulator.app import create_app
from lipsync_emulator.config import deep_merge
from lipsync_emulator.contracts.targets import every_page
from lipsync_emulator.core.faults import aborted
from lipsync_emulator.core.runtime import EXTENSION, Provider, Runtime
from lipsync_emulator.core.store import Store
from lipsync_emulator.providers import REGISTRY
from lipsync_emulator.receiver import ReceivedWebhook, ServerLoop, WebhookReceiver
from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["EmulatorControl", "EmulatorServer", "ReceivedWebhook", "WebhookReceiver", "every_page"]


class EmulatorControl:
    """Client of the control plane. Every method is one HTTP call."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = session or requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, f"{self.base_url}/_emulator{path}", timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the virtual clock; transitions and webhook attempts due meanwhile fire in order."""
        return self._call("POST", "/clock/advance", json={"seconds": seconds})

    def now(self) -> float:
        return float(self._call("GET", "/clock")["timestamp"])

    def _list(self, path: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Every entry of a listing (``limit``: the newest that many), newest first: the
        control plane answers a page at a time."""
        return every_page(lambda params: self._call("GET", path, params=params), filters)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal, oldest first."""
        return self._list("/requests", filters)[::-1]

    def webhooks(self, **filters: Any) -> list[dict[str, Any]]:
        """Webhook deliveries, oldest first."""
        return self._list("/webhooks", filters)[::-1]

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        return self._list("/jobs", filters)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def scenario(self, provider: str, scenario: str | Iterable[str], *, operation: str | None = None,
                 count: int | None = None, job_id: str | None = None, api_key: str | None = None) -> dict[str, Any]:
        """Make matching requests take ``scenario`` (the next ``count`` of them, or until cleared)."""
        names = [scenario] if isinstance(scenario, str) else list(scenario)
        body = {"provider": provider, "scenarios": names, "operation": operation, "count": count,
                "job_id": job_id, "api_key": api_key}
        return self._call("POST", "/scenarios", json={k: v for k, v in body.items() if v is not None})

    def clear_scenarios(self) -> None:
        self._call("DELETE", "/scenarios")

    def finish(self, provider: str, job_id: str, scenario: str | None = None) -> dict[str, Any]:
        """Finish a job now, successfully or with an outcome scenario (``failed``, ``rejected``...)."""
        return self._call("POST", f"/jobs/{provider}/{job_id}/finish",
                          json={"scenario": scenario} if scenario else {})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class EmulatorServer:
    """The emulator on a free loopback port, in a background thread. Virtual clock by default.
    ``store``: ``"memory"`` (the default), ``"sqlite"`` (a fresh database in a temporary directory,
    removed on ``stop``) or a store object; without one, ``$LIPSYNC_EMULATOR_STORE`` decides."""

    def __init__(self, config: dict[str, Any] | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 store: Store | str | None = None, providers: Sequence[Provider] = REGISTRY) -> None:
        self.config = deep_merge({"clock": "virtual", "seed": 1234}, config or {})
        self._data_dir: str | None = None
        if store is None or isinstance(store, str):
            kind = store or os.environ.get(STORE_ENV) or "memory"
            if kind not in ("memory", "sqlite"):
                raise ValueError(f"unknown store {kind!r}: use 'memory' or 'sqlite'")
            store = None
            if kind == "sqlite":
                from lipsync_emulator.core.sqlite_store import SqliteStore

                self._data_dir = tempfile.mkdtemp(prefix="lipsync-emulator-")
                store = SqliteStore(os.path.join(self._data_dir, "state.db"))
        self.app = create_app(self.config, store=store, providers=providers)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self._server.shutdown_request = self._shutdown_request  # type: ignore[method-assign]
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self.control = EmulatorControl(self.url)
        self._loop = ServerLoop(self._server, "emulator-server")

    def _shutdown_request(self, request: Any) -> None:
        # A connection reset by a scenario is closed abortively (RST), without the FIN the
        # usual shutdown(SHUT_WR) would send first.
        if aborted(request):
            self._server.close_request(request)
        else:
            type(self._server).shutdown_request(self._server, request)

    @property
    def runtime(self) -> Runtime:
        rt: Runtime = self.app.extensions[EXTENSION]
        return rt

    def start(self) -> EmulatorServer:
        self._loop.thread.start()
        return self

    def stop(self) -> None:
        self._loop.stop()
        self.runtime.stop()
        if self._data_dir is not None:
            close = getattr(self.runtime.store, "close", None)
            if close is not None:
                close()
            shutil.rmtree(self._data_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Conveniences that forward to the control client.
    def advance(self, seconds: float) -> dict[str, Any]:
        return self.control.advance(seconds)

    def reset(self) -> None:
        self.control.reset()
