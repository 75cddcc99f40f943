"""lipsync-emulator: serve the emulator, drive a running one, list its scenarios, show the error gallery.

    lipsync-emulator serve [--host 127.0.0.1] [--port 8080] [--clock real|virtual]
                           [--threads N] [--data-dir DIR | --memory]
                           [--api-key KEY ...] [--seed N] [--config FILE] [--set a.b=VALUE ...]
                           [--chaos seed=N,rate=R[,kinds=a+b][,exclude=x+y][,providers=p+q]]
    lipsync-emulator scenarios [--provider NAME] [--kind KIND] [--json | --markdown]
    lipsync-emulator demo [--provider NAME] [--scenario NAME ...] [--kind KIND] [--way header|magic|rule]
                          [--url http://127.0.0.1:PORT]
    lipsync-emulator advance SECONDS | reset | jobs | webhooks | listen [--forward-to URL]  [--url URL]
    lipsync-emulator --version
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import secrets
import socket
import sqlite3
import sys
import time
from typing import Any

from lipsync_emulator import __version__, accesslog, remote
from lipsync_emulator.config import Settings, set_dotted
from lipsync_emulator.core.media import loopback_host


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            overrides = json.load(fh)
    for name in ("host", "port", "clock", "seed", "public_url", "chaos"):
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
    from lipsync_emulator.core.runtime import configure
    from lipsync_emulator.providers import REGISTRY

    settings = Settings.build(overrides)
    configure(settings, REGISTRY)  # a bad setting stops here, named, before anything listens
    return settings


def _banner(settings: Settings, url: str) -> str:
    from lipsync_emulator.app import create_app  # noqa: F401 - imported for the providers' defaults
    from lipsync_emulator.providers import REGISTRY

    lines = [f"lipsync-emulator listening on {url} (clock: {settings.clock})"]
    for provider in REGISTRY:
        cfg = provider.configure(settings)
        keys = ", ".join(cfg.get("api_keys") or []) or "any non-empty key"
        lines.append(f"  {provider.title:<15} {' '.join(provider.prefixes):<16} keys: {keys}")
        lines += [f"  {'':<15} {'':<16} {line}" for line in _credentials(provider.name, cfg)]
    lines.append(f"  control plane   {url}/_emulator/health  (config: {url}/_emulator/config)")
    lines.append(f"  dashboard       {url}/_emulator/ui")
    if not loopback_host(settings.host):
        lines.append(f"  WARNING         listening on {settings.host}, a non-loopback address: the providers' paths "
                     "are open to the network")
    if settings.control_token:
        lines.append(f"  control token   {settings.control_token}  (required from non-loopback clients: "
                     "X-Emulator-Token header, or ?token= in a browser)")
    else:
        lines.append("  control access  loopback clients only")
    if settings.chaos:
        lines.append(f"  chaos           {settings.chaos}  (PUT/DELETE {url}/_emulator/chaos to change)")
    return "\n".join(lines)


def _credentials(provider: str, cfg: dict[str, Any]) -> list[str]:
    """What else a client needs to talk to ``provider`` and check its webhooks."""
    if provider == "kling":
        relay = ", ".join(cfg.get("relay_keys") or []) or "any non-empty key"
        lines = [f"JWT (HS256): access key {cfg['access_key']}  secret key {cfg['secret_key']}"]
        lines += [f"JWT (HS256): access key {ak}  secret key {sk}" for ak, sk in (cfg.get("credentials") or {}).items()]
        lines.append(f"relay (/kling) keys: {relay}")
        secret = cfg.get("webhook_secret")
        lines.append(f"callback secret {secret}" if secret else "callbacks unsigned (set kling.webhook_secret)")
        return lines
    if provider == "wavespeed":
        from lipsync_emulator.providers.wavespeed.models import webhook_secret

        if cfg.get("webhook_secret"):
            return [f"webhook secret {cfg['webhook_secret']}"]
        per_key = [f"webhook secret for {key}: {webhook_secret(cfg, key)}" for key in cfg.get("api_keys") or []]
        return per_key or ["webhook secret: one per key, GET /api/v3/webhook/secret with the key"]
    if cfg.get("webhook_secret"):
        return [f"webhook secret {cfg['webhook_secret']}"]
    return ["webhooks unsigned"]


DATA_DIR_ENV = "LIPSYNC_EMULATOR_DATA_DIR"
REQUEST_SECONDS = 30.0  # a request's head and body must arrive within this (slow clients are cut)
IDLE_SECONDS = 60  # a connection that sends nothing for this long is closed
SCALE_OUT = ("serve is one process (threads); to serve more, run one emulator per CI job, give each tenant "
             "its own X-Emulator-Namespace, or put several instances behind a load balancer that routes by "
             "API key or namespace (docs/serving.md)")


def default_data_dir() -> str:
    """``$LIPSYNC_EMULATOR_DATA_DIR``, else the user's data directory (XDG)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.environ.get(DATA_DIR_ENV) or os.path.join(base, "lipsync-emulator")


def open_store(args: argparse.Namespace) -> tuple[Any, str]:
    """The store ``serve`` keeps its state in, and how the banner names it."""
    if args.memory:
        return None, "in memory (--memory): gone when the server stops"
    from lipsync_emulator.core.sqlite_store import SqliteStore

    data_dir = os.path.abspath(args.data_dir or default_data_dir())
    database = os.path.join(data_dir, "state.db")
    try:
        os.makedirs(data_dir, exist_ok=True)
        if not os.access(data_dir, os.W_OK):
            raise PermissionError("not writable")
        return SqliteStore(database), f"{database} (SQLite; --memory to keep nothing)"
    except (OSError, sqlite3.Error) as exc:
        raise ValueError(f"cannot keep state in {data_dir} ({exc}): choose a writable --data-dir, or --memory") from exc


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line error if the port is taken: never two servers on
    one port splitting the requests between them."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                    backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(f"port {port} on {host} is already in use (another emulator?): stop it, or choose "
                             f"another with --port (--port 0 picks a free one)") from exc
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def serve(args: argparse.Namespace) -> int:
    """One process: waitress reads each request whole in its I/O loop, then hands it to one
    of ``--threads`` threads; state in memory, written through to SQLite (``--data-dir``)."""
    from lipsync_emulator.app import create_app
    from lipsync_emulator.core.runtime import EXTENSION
    from waitress.channel import HTTPChannel
    from waitress.server import create_server

    if args.workers is not None:
        raise ValueError(f"--workers is gone: {SCALE_OUT}")
    settings = _settings(args)
    if not loopback_host(settings.host) and not settings.control_token:
        settings.control_token = secrets.token_urlsafe(24)
    level = logging.CRITICAL + 1 if args.log_level == "off" else getattr(logging, args.log_level.upper())
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("waitress", "emulator"):
        logging.getLogger(name).setLevel(level)
    # waitress warns on every request that waits for a thread: with more connections than
    # threads that is every request, which buries the log (and costs as much as the request)
    logging.getLogger("waitress.queue").setLevel(max(level, logging.ERROR))
    sock = listen(settings.host, settings.port)
    try:
        store, state = open_store(args)
        app = create_app(settings, store=store)
    except BaseException:
        sock.close()
        raise
    settings.port = int(sock.getsockname()[1])
    url = f"http://{'[' + settings.host + ']' if ':' in settings.host else settings.host}:{settings.port}"

    limit = args.request_timeout

    class Channel(HTTPChannel):
        """Cuts a client whose request takes longer than ``--request-timeout`` to arrive (one
        byte every few seconds keeps a connection from ever being idle)."""

        started = 0.0

        def received(self, data: bytes) -> bool:
            now = time.monotonic()
            if self.request is None:
                self.started = now
            elif now - self.started > limit:
                self.handle_close()
                return False
            return bool(super().received(data))

    server = create_server(app, sockets=[sock], threads=args.threads, ident="lipsync-emulator",
                           # proxy headers stay: a proxied request is not a loopback client for the
                           # control plane's guard (nothing else reads them)
                           clear_untrusted_proxy_headers=False, channel_timeout=IDLE_SECONDS,
                           connection_limit=4096, asyncore_use_poll=True, max_request_header_size=65536)
    server.channel_class = Channel  # type: ignore[attr-defined]
    accesslog.configure("off" if args.quiet else args.log_format)
    try:
        # inside the try: a Ctrl-C as soon as the banner shows stops the server like any other
        print(_banner(settings, url) + "\n  state           " + state, flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.extensions[EXTENSION].stop()
    return 0


def _runtime() -> Any:
    from lipsync_emulator.app import create_app
    from lipsync_emulator.core.runtime import EXTENSION

    return create_app({"clock": "virtual"}).extensions[EXTENSION]


def _select(catalog: Any, args: argparse.Namespace) -> list[Any]:
    order = {name: i for i, name in enumerate(catalog.providers())}
    kinds = ("outcome", "response", "transport", "webhook")
    # A provider's own scenarios first (outcomes, then request errors), the generic faults last.
    rows = sorted(catalog.list(args.provider),
                  key=lambda s: (order[s.provider], s.evidence == "generic", kinds.index(s.kind)))
    if args.provider and not rows:
        raise ValueError(f"unknown provider {args.provider!r} (known: {', '.join(catalog.providers())})")
    if getattr(args, "kind", None):
        rows = [s for s in rows if s.kind == args.kind]
    names = getattr(args, "scenario", None)
    if names:
        unknown = sorted(set(names) - {s.name for s in rows})
        if unknown:
            raise ValueError(f"unknown scenario(s) {', '.join(unknown)} for {args.provider or 'any provider'}")
        rows = [s for s in rows if s.name in names]
    return rows


def scenarios(args: argparse.Namespace) -> int:
    rt = _runtime()
    rows = [s.describe() for s in _select(rt.catalog, args)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.markdown:
        table = markdown_table(rows, {name: p.title for name, p in rt.providers.items()})
        if args.write:
            write_between_markers(args.write, table)
            print(f"updated the catalogue in {args.write}")
        else:
            print(table)
        return 0
    width = max((len(r["name"]) for r in rows), default=10)
    print(f"{'PROVIDER':<14} {'SCENARIO':<{width}} {'KIND':<9} {'EVIDENCE':<10} {'OPERATIONS':<22} EFFECT")
    for row in rows:
        ops = ",".join(row["operations"]) or "*"
        print(f"{row['provider']:<14} {row['name']:<{width}} {row['kind']:<9} {row['evidence']:<10} {ops:<22} "
              f"{row['summary']}")
    return 0


def markdown_table(rows: list[dict[str, Any]], titles: dict[str, str] | None = None) -> str:
    """The catalogue as Markdown: one table per provider (its own scenarios, each name being
    its magic value), then the generic faults every provider shares, once."""
    titles = titles or {}

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out: list[str] = []
    generic: dict[str, dict[str, Any]] = {}
    for provider in dict.fromkeys(r["provider"] for r in rows):
        own = [r for r in rows if r["provider"] == provider and r["evidence"] != "generic"]
        for r in rows:
            if r["provider"] == provider and r["evidence"] == "generic":
                generic.setdefault(r["name"], r)
        if not own:
            continue
        out += [f"#### {titles.get(provider, provider)} (`{provider}`)", "",
                "| magic value | kind | operations | effect | evidence |", "|---|---|---|---|---|"]
        for r in own:
            ops = ", ".join(f"`{o}`" for o in r["operations"]) or "every"
            out.append(f"| `emulator_scenario={r['name']}` | {r['kind']} | {ops} | {cell(r['summary'])} | "
                       f"{r['evidence']} |")
        out.append("")
    if generic:
        out += ["#### Every provider: faults of the network and of webhook delivery", "",
                "| magic value | kind | effect |", "|---|---|---|"]
        for r in generic.values():
            out.append(f"| `emulator_scenario={r['name']}` | {r['kind']} | {cell(r['summary'])} |")
        out.append("")
    return "\n".join(out).rstrip()


BEGIN, END = "<!-- scenarios:begin (lipsync-emulator scenarios --markdown --write FILE) -->", "<!-- scenarios:end -->"


def write_between_markers(path: str, table: str) -> None:
    """Replace the generated catalogue between the markers in ``path``, so the document
    stays true to the code (a test compares them)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no '{BEGIN}' ... '{END}' block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")


def demo(args: argparse.Namespace) -> int:
    """The error gallery: trigger each selected scenario and print the exchange."""
    from lipsync_emulator.gallery import ScenarioClient, play, render
    from lipsync_emulator.testing import EmulatorServer, WebhookReceiver

    server = None
    if args.url:
        client = ScenarioClient.for_url(args.url, timeout=args.timeout)
    else:
        # In-process, virtual clock, loopback only; latencies shortened so the gallery is quick.
        server = EmulatorServer({"faults": {"latency_seconds": 0.5,
                                            "latency_random": {"median": 0.2, "sigma": 0.5, "max": 1.0}}}).start()
        client = ScenarioClient.for_server(server, timeout=args.timeout)
    receiver = WebhookReceiver()
    try:
        chosen = _select(client.catalog, args)
        if not chosen:
            raise ValueError("no scenario matches")
        print(f"lipsync-emulator demo against {client.base_url} "
              f"({'virtual' if client.virtual() else 'real'} clock), webhooks to {receiver.url}\n")
        for scenario in chosen:
            if server is not None:
                server.reset()
            else:
                client.control("DELETE", "/scenarios")
            receiver.clear()
            try:
                ex = play(client, scenario, args.way, webhook_url=receiver.url)
            except (LookupError, OSError, ValueError) as exc:  # one scenario must not end the gallery
                print(f"== {scenario.provider} / {scenario.name}  [{scenario.kind}, {scenario.evidence}]\n"
                      f"   ! not shown: {exc}\n", flush=True)
                continue
            lines = render(ex, scenario)
            if receiver.received and scenario.kind == "webhook":
                bodies = {d["body"]: d.get("job_id") for d in ex.deliveries}
                order = [str(bodies.get(r.text, "?"))[:8] for r in receiver.received]
                lines.append(f"   receiver got {len(order)} request(s), from jobs in this order: {' '.join(order)}")
            print("\n".join(lines) + "\n", flush=True)
    finally:
        receiver.close()
        if server is not None:
            server.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipsync-emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lipsync-emulator {__version__}")
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
    p_serve.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)  # gone: says how to scale
    p_serve.add_argument("--threads", type=int, default=4, help="request threads (default 4)")
    p_serve.add_argument("--data-dir", default=None,
                         help=f"where state is kept across restarts (default ${DATA_DIR_ENV}, else "
                              "$XDG_DATA_HOME/lipsync-emulator or ~/.local/share/lipsync-emulator)")
    p_serve.add_argument("--memory", action="store_true", help="keep state in memory only")
    p_serve.add_argument("--request-timeout", type=float, default=REQUEST_SECONDS, metavar="SECONDS",
                         help=f"a request's head and body must arrive within this (default {REQUEST_SECONDS:g})")
    p_serve.add_argument("--log-level", choices=("off", "error", "warning", "info", "debug"), default="warning",
                         help="server log level (default warning)")
    p_serve.add_argument("--chaos", default=None, metavar="seed=N,rate=R",
                         help="seeded random scenarios for soak runs (kinds=, exclude=, providers= optional)")
    p_serve.add_argument("--quiet", action="store_true", help="no access log (one line per request and webhook attempt)")
    p_serve.add_argument("--log-format", choices=("text", "json"), default="text",
                         help="the access log's format (default text; json: one object per line)")
    p_serve.set_defaults(func=serve)

    p_scen = sub.add_parser("scenarios", help="list the scenario catalogue")
    p_scen.add_argument("--provider", default=None)
    p_scen.add_argument("--kind", choices=("outcome", "response", "transport", "webhook"), default=None)
    fmt = p_scen.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table (as in docs/scenarios.md)")
    p_scen.add_argument("--write", metavar="FILE", default=None,
                        help="with --markdown: replace the generated block in FILE")
    p_scen.set_defaults(func=scenarios)

    p_demo = sub.add_parser("demo", help="the error gallery: trigger scenarios and print each exchange")
    p_demo.add_argument("--provider", default=None)
    p_demo.add_argument("--scenario", action="append", help="only this scenario (repeatable)")
    p_demo.add_argument("--kind", choices=("outcome", "response", "transport", "webhook"), default=None)
    p_demo.add_argument("--way", choices=("header", "magic", "rule"), default="header",
                        help="how to choose the scenario (default: the X-Emulator-Scenario header)")
    p_demo.add_argument("--url", default=None, help="a running emulator on a loopback address "
                        "(default: start one in-process)")
    p_demo.add_argument("--timeout", type=float, default=40.0, help="per-request timeout, seconds")
    p_demo.set_defaults(func=demo)
    remote.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"lipsync-emulator: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader stopped (`... | head`): what it did not read is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
