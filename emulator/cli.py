"""``lipsync-emulator``: serve the emulator, list its scenarios.

    lipsync-emulator serve [--host 127.0.0.1] [--port 8080] [--clock real|virtual]
                           [--api-key KEY ...] [--seed N] [--config FILE] [--set a.b=VALUE ...]
    lipsync-emulator scenarios [--provider NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from emulator.config import Settings, set_dotted


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            overrides = json.load(fh)
    for name in ("host", "port", "clock", "seed", "public_url"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "api_key", None):
        overrides["api_keys"] = list(args.api_key)
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        set_dotted(overrides, key, value)
    return Settings.build(overrides)


def _banner(settings: Settings, url: str) -> str:
    from emulator.app import create_app  # noqa: F401 - imported for the providers' defaults
    from emulator.providers import REGISTRY

    lines = [f"lipsync-emulator listening on {url} (clock: {settings.clock})"]
    for provider in REGISTRY:
        cfg = settings.provider(provider.name, provider.defaults)
        keys = ", ".join(cfg.get("api_keys") or []) or "any non-empty key"
        extra = f"; webhook secret {cfg['webhook_secret']}" if cfg.get("webhook_secret") else ""
        lines.append(f"  {provider.title:<15} {'/'.join(provider.prefixes):<16} keys: {keys}{extra}")
    lines.append(f"  control plane   {url}/_emulator/health  (config: {url}/_emulator/config)")
    return "\n".join(lines)


def serve(args: argparse.Namespace) -> int:
    from waitress import create_server

    from emulator.app import create_app

    settings = _settings(args)
    app = create_app(settings)
    server = create_server(app, host=settings.host, port=settings.port, threads=args.threads,
                           ident="lipsync-emulator", clear_untrusted_proxy_headers=True)
    port = server.effective_port  # type: ignore[union-attr]
    print(_banner(settings, f"http://{settings.host}:{port}"), flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


def scenarios(args: argparse.Namespace) -> int:
    from emulator.app import create_app
    from emulator.core.runtime import EXTENSION

    rt = create_app({"clock": "virtual"}).extensions[EXTENSION]
    rows = [s.describe() for s in rt.catalog.list(args.provider)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        ops = ",".join(row["operations"]) or "*"
        print(f"{row['provider']:<14} {row['name']:<34} {row['kind']:<9} {row['evidence']:<10} {ops:<22} "
              f"{row['summary']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lipsync-emulator", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="serve the emulator over HTTP")
    p_serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p_serve.add_argument("--port", type=int, default=None, help="port (default 8080; 0 picks a free one)")
    p_serve.add_argument("--clock", choices=("real", "virtual"), default=None)
    p_serve.add_argument("--api-key", action="append", help="accept only these keys (repeatable)")
    p_serve.add_argument("--seed", type=int, default=None, help="seed the id source")
    p_serve.add_argument("--public-url", default=None, help="base of the URLs handed out (outputUrl...)")
    p_serve.add_argument("--config", default=None, help="a JSON file of settings")
    p_serve.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="override one setting, e.g. syncso.durations.PENDING=2 (repeatable)")
    p_serve.add_argument("--threads", type=int, default=16, help="worker threads")
    p_serve.set_defaults(func=serve)

    p_scen = sub.add_parser("scenarios", help="list the scenario catalogue")
    p_scen.add_argument("--provider", default=None)
    p_scen.add_argument("--json", action="store_true")
    p_scen.set_defaults(func=scenarios)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"lipsync-emulator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
