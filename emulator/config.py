"""One settings object for the whole emulator.

Precedence, lowest first: provider defaults (declared by each provider), environment
variables, a JSON config file, CLI flags / the dict passed to ``create_app``.
Provider settings are plain nested dicts so that ``GET /_emulator/config`` can show them
verbatim and ``--set syncso.durations.PENDING=2`` can address any of them.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "LIPSYNC_EMULATOR_"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``override`` merged into ``base``, recursively for dicts."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def set_dotted(target: dict[str, Any], dotted: str, raw: str) -> None:
    """Apply ``a.b.c=value``; the value is parsed as JSON when it parses, else kept as text."""
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    node = target
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"cannot set {dotted!r}: {part!r} is not a section")
    node[parts[-1]] = value


@dataclass
class Settings:
    """Effective emulator settings. Provider sections are merged over provider defaults."""

    host: str = "127.0.0.1"
    port: int = 8080
    clock: str = "real"  # "real" follows the wall clock; "virtual" moves only on /_emulator/clock/advance
    seed: int | None = None  # ids are reproducible when set
    max_body_bytes: int = 25 * 1024 * 1024
    public_url: str | None = None  # base of URLs the emulator hands out; default: the request's host
    webhook_timeout: float = 5.0
    # Offline by design: deliveries go only to loopback hosts unless this is set.
    webhook_allow_external: bool = False
    journal_size: int = 5000
    # Lets non-loopback clients use the control plane (X-Emulator-Token); serve generates one
    # when bound to a non-loopback address. Loopback clients never need it.
    control_token: str | None = None
    # Seeded random scenarios for soak runs: "seed=1,rate=0.1" or {"seed": 1, "rate": 0.1, ...}
    chaos: Any = None
    # Fault amounts (latency seconds, webhook delay/hold...): emulator.core.faults.FAULT_DEFAULTS
    faults: dict[str, Any] = field(default_factory=dict)
    api_keys: list[str] | None = None  # every provider's keys, unless its own section names them
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, overrides: dict[str, Any] | None = None) -> Settings:
        """Settings from the environment, then ``overrides`` (a dict shaped like ``Settings``)."""
        data: dict[str, Any] = {"providers": {}}
        environ = os.environ
        scalar = {"HOST": "host", "PORT": "port", "CLOCK": "clock", "SEED": "seed", "PUBLIC_URL": "public_url",
                  "CHAOS": "chaos"}
        for suffix, name in scalar.items():
            if (raw := environ.get(ENV_PREFIX + suffix)) not in (None, ""):
                data[name] = int(raw) if name in ("port", "seed") else raw
        if keys := environ.get(ENV_PREFIX + "API_KEYS"):
            data["api_keys"] = [k.strip() for k in keys.split(",") if k.strip()]
        if path := environ.get(ENV_PREFIX + "CONFIG"):
            with open(path, encoding="utf-8") as fh:
                data = deep_merge(data, json.load(fh))
        data = deep_merge(data, overrides or {})
        known = {f for f in cls.__dataclass_fields__}
        providers = data.pop("providers", {}) or {}
        for key in list(data):
            if key not in known:
                # A top-level key naming a provider is a provider section (``{"syncso": {...}}``);
                # the app, which knows the providers, refuses one naming none and checks the rest.
                value = data.pop(key)
                providers[key] = deep_merge(providers.get(key, {}), value) if isinstance(value, dict) else value
        settings = cls(**data, providers=providers)
        if settings.clock not in ("real", "virtual"):
            raise ValueError(f"clock must be 'real' or 'virtual', not {settings.clock!r}")
        return settings
