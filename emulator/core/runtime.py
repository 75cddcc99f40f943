"""The runtime: one object holding the clock, scheduler, store, lifecycle engine, webhook
dispatcher, journal, id source, scenario catalogue and the providers' settings. ``create_app``
builds one per app; views reach it through ``runtime()``.

``Provider`` is what a provider package exports: its name, the path prefixes it owns, its
blueprint, error renderer, authenticator and defaults. The core only ever sees this object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app
from lipsync_emulator.config import Settings, deep_merge
from lipsync_emulator.core.clock import RealClock, Scheduler, VirtualClock, iso, quantize
from lipsync_emulator.core.errors import EmulatorError
from lipsync_emulator.core.faults import Faults, generic_scenarios
from lipsync_emulator.core.ids import IdSource
from lipsync_emulator.core.jobs import JobEngine
from lipsync_emulator.core.journal import RequestJournal
from lipsync_emulator.core.openapi import SchemaViolation, SpecValidator
from lipsync_emulator.core.scenarios import Chaos, Probe, Scenario, ScenarioBook, ScenarioCatalog
from lipsync_emulator.core.settings import NoSettings, SettingsError
from lipsync_emulator.core.settings import configure as configure_settings
from lipsync_emulator.core.settings import defaults as settings_defaults
from lipsync_emulator.core.store import MemoryStore, Store
from lipsync_emulator.core.webhooks import WebhookDispatcher
from werkzeug.wrappers import Request

EXTENSION = "lipsync_emulator"


@dataclass
class Provider:
    """A provider plugged into the core.

    ``authenticate(rt, request)`` returns the account (API key or issuer) or raises
    ``Unauthorized``. ``on_violation(violation, operation_id)`` turns the first schema
    violation into the provider's error. ``setup(rt)`` declares lifecycles;
    ``scenarios(settings)`` and ``probes()`` the provider's scenario catalogue and a probe per
    operation. ``settings``: the class of its settings (``core.settings``); its ``shared_keys``
    class attribute names the fields the shared ``api_keys`` fill (default ``api_keys``).
    ``schema``: a schema name of ``lipsync_emulator.schemas``, or the path of an OpenAPI file.
    ``public_config(settings)`` is what ``GET /_emulator/config`` shows."""

    name: str
    title: str
    prefixes: tuple[str, ...]
    blueprint: Blueprint
    render_error: Callable[[EmulatorError], Response]
    authenticate: Callable[[Runtime, Request], str]
    on_violation: Callable[[SchemaViolation, str], EmulatorError]
    settings: type | None = None  # a frozen dataclass: the settings' names, types and defaults
    schema: str | Path | None = None
    setup: Callable[[Runtime], None] | None = None
    scenarios: Callable[[dict[str, Any]], Iterable[Scenario]] | None = None
    probes: Callable[[], Iterable[Probe]] | None = None
    public_config: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def defaults(self) -> dict[str, Any]:
        """The provider's default settings."""
        return settings_defaults(self.settings or NoSettings)

    def configure(self, settings: Settings) -> dict[str, Any]:
        """The provider's effective settings: its defaults with ``settings``' section for it
        merged in, checked (``SettingsError`` names a bad key)."""
        section = settings.providers.get(self.name) or {}
        declared = self.settings or NoSettings
        if settings.api_keys:  # the keys every provider shares: each way in that takes keys
            for key in getattr(declared, "shared_keys", ("api_keys",)):
                if key in declared.__dataclass_fields__ and key not in section:
                    section = {**section, key: list(settings.api_keys)}
        return configure_settings(declared, section, self.name)

    def owns(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)


class Turn:
    """``Runtime.turn``: a plain class, not a generator, as every request enters one."""

    __slots__ = ("lock", "has", "taken")

    def __init__(self, lock: threading.Lock, has: threading.local) -> None:
        self.lock, self.has, self.taken = lock, has, False

    def __enter__(self) -> None:
        if not getattr(self.has, "value", False):
            self.lock.acquire()
            self.has.value = self.taken = True

    def __exit__(self, *exc: object) -> None:
        if self.taken:
            self.has.value = False
            self.lock.release()


class Waiting(Turn):
    """``Runtime.waiting``: the turn given up for the block, if this thread has it."""

    __slots__ = ()

    def __enter__(self) -> None:
        if getattr(self.has, "value", False):
            self.has.value = False
            self.taken = True
            self.lock.release()

    def __exit__(self, *exc: object) -> None:
        if self.taken:
            self.lock.acquire()
            self.has.value = True


VIRTUAL_NOW = "virtual_now"  # the store's meta key keeping the virtual clock across restarts


class Runtime:
    def __init__(self, settings: Settings, providers: tuple[Provider, ...], store: Store | None = None) -> None:
        self.settings = settings
        self.store: Store = store or MemoryStore()
        self.clock: VirtualClock | RealClock = self._make_clock()
        self.scheduler = Scheduler(self.clock)
        self.ids = IdSource(settings.seed)
        self.engine = JobEngine(self.clock, self.scheduler, self.store)
        self.catalog = ScenarioCatalog()
        self.scenarios = ScenarioBook(self.catalog, Chaos.parse(settings.chaos))
        self.faults = Faults(settings.faults, settings.seed)
        self.webhooks = WebhookDispatcher(self.clock, self.scheduler, self.ids, self.store,
                                          timeout=settings.webhook_timeout,
                                          allow_external=settings.webhook_allow_external, scenarios=self.scenarios)
        self.journal = RequestJournal(settings.journal_size, self.store)
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        self.config: dict[str, dict[str, Any]] = configure(settings, providers)
        self.specs: dict[str, SpecValidator] = {p.name: SpecValidator(p.schema) for p in providers if p.schema}
        self._advance_lock = threading.Lock()
        # One request at a time runs the emulator's code (``turn``): threads taking turns on
        # the GIL, handed over at every SQLite call and socket write, cost more than they
        # overlap. A request that waits for something else lets the others run (``waiting``).
        self._turn = threading.Lock()
        self._has_turn = threading.local()
        self._reconfigure = threading.Lock()
        # Notified whenever a job changes state, the virtual clock moves or state is reset, so
        # a request may wait (bounded) for the emulated world to move, e.g. a long poll.
        self.changed = threading.Condition()
        self.engine.observe(lambda _job, _state: self.notify_changed())
        for provider in providers:
            # Transport and webhook faults are the same for everyone; a provider may replace one.
            for scenario in generic_scenarios(provider.name, self.faults.settings):
                self.catalog.add(scenario)
            if provider.setup is not None:
                provider.setup(self)
            self.catalog.register(provider.scenarios(self.cfg(provider.name)) if provider.scenarios else (),
                                  provider.probes() if provider.probes else ())
        # what a persistent store kept from an earlier run goes on where it stopped
        self.engine.resume()
        self.webhooks.resume()
        if not self.clock.virtual:
            self.scheduler.start_background(self.turn)

    def turn(self) -> Turn:
        """Run a request's code while no other request runs (a nested request: at once)."""
        return Turn(self._turn, self._has_turn)

    def waiting(self) -> Waiting:
        """Let other requests run while this one waits (for time to pass, a job to move, a
        delivery to end). Enter it holding no other lock: it takes the turn back at the end."""
        return Waiting(self._turn, self._has_turn)

    def _make_clock(self) -> VirtualClock | RealClock:
        if self.settings.clock != "virtual":
            return RealClock()
        stored = self.store.meta(VIRTUAL_NOW)
        return VirtualClock(start=float(stored)) if stored else VirtualClock()

    def stop(self) -> None:
        """Stop the background threads (the scheduler's and the journal's writer)."""
        self.scheduler.stop()
        self.journal.close()

    def reconfigure(self, sections: Any) -> None:
        """Change providers' settings while running: ``{"syncso": {"durations": {"PENDING": 1}}}``,
        each section merged over the provider's current settings and checked as at start-up,
        all or nothing. New requests and transitions read the new values; the providers'
        scenarios are declared again from them."""
        if not isinstance(sections, dict):
            raise SettingsError("the body must be an object of provider sections", "body")
        unknown = sorted(set(sections) - set(self.providers))
        if unknown:
            raise SettingsError(f"unknown provider {unknown[0]!r} (providers: {', '.join(self.providers)}); "
                                "the emulator's own settings are fixed at start-up", unknown[0])
        with self._reconfigure:  # two changes at once: the second merges over the first's result
            changed = {}
            for name, section in sections.items():
                provider = self.providers[name]
                if not isinstance(section, dict):
                    raise SettingsError(f"{name} must be an object of settings", name)
                changed[name] = configure_settings(provider.settings or NoSettings,
                                                   deep_merge(self.config[name], section), name)
            for name, values in changed.items():
                cfg = self.config[name]  # the same dict: hooks holding it see the new values
                cfg.update(values)  # never emptied in between: requests read it meanwhile
                for gone in set(cfg) - set(values):
                    del cfg[gone]
                provider = self.providers[name]
                if provider.scenarios is not None:
                    self.catalog.register(provider.scenarios(cfg), ())

    def cfg(self, provider: str) -> dict[str, Any]:
        return self.config[provider]

    def provider_for(self, path: str) -> Provider | None:
        for provider in self.providers.values():
            if provider.owns(path):
                return provider
        return None

    def tick(self) -> None:
        """Apply everything due at the current time (each request calls this first, so a read
        never shows a state the clock has already left)."""
        self.scheduler.run_due()

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the virtual clock, firing every transition and delivery attempt in time order
        (a retry scheduled during the advance fires within it if due), and wait, bounded, for
        the deliveries it caused."""
        if not isinstance(self.clock, VirtualClock):
            raise ValueError("the clock is real; start with --clock virtual to advance it")
        with self.waiting(), self._advance_lock:  # deliveries may be answered by this emulator
            target = quantize(self.clock.now() + seconds)
            ran = 0
            while True:
                ran += self.scheduler.run_due()
                self.webhooks.wait_idle()
                ran += self.scheduler.run_due()
                due = self.scheduler.next_due()
                if due is None or due > target:
                    break
                self.clock.set(max(due, self.clock.now()))
            self.clock.set(target)
            self.store.set_meta(VIRTUAL_NOW, repr(self.clock.now()))
            ran += self.scheduler.run_due()
            self.webhooks.wait_idle()
        self.notify_changed()
        return {"now": iso(self.clock.now()), "timestamp": self.clock.now(), "fired": ran}

    def reset(self, namespace: str | None = None) -> None:
        """Forget everything, or only ``namespace``'s jobs, records, deliveries and journal
        (one parallel CI job resetting its own state on a shared emulator)."""
        with self.waiting():  # until deliveries in flight end, which this emulator may answer
            self.webhooks.reset(namespace)
        if namespace is not None:
            self.store.clear(namespace=namespace)
            self.journal.clear(namespace)
            self.notify_changed()
            return
        self.scheduler.clear()
        self.store.clear()
        self.journal.clear()
        self.scenarios.reset()
        self.faults.reset()
        self.notify_changed()

    def notify_changed(self) -> None:
        """Wake everything waiting on ``changed``; waiters re-check their own condition."""
        with self.changed:
            self.changed.notify_all()


def configure(settings: Settings, providers: Iterable[Provider]) -> dict[str, dict[str, Any]]:
    """Each provider's effective settings. ``SettingsError`` names a section that is no
    provider's, or a provider's unknown key or bad value."""
    by_name = {p.name: p for p in providers}
    unknown = sorted(set(settings.providers) - set(by_name))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r}: neither an emulator setting nor a provider "
                            f"(providers: {', '.join(by_name)})", unknown[0])
    return {name: provider.configure(settings) for name, provider in by_name.items()}


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[EXTENSION]
    return rt
