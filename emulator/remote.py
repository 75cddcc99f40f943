"""Terminal control of a running emulator, through its control plane (``/_emulator/``):

    lipsync-emulator advance 60            move the virtual clock
    lipsync-emulator reset                 forget jobs, journal, webhooks and scenario rules
    lipsync-emulator jobs [--provider P]   the jobs and their state
    lipsync-emulator webhooks [--job-id J] the webhook deliveries and their attempts
    lipsync-emulator listen [--forward-to URL]
                                           follow job transitions and webhook deliveries as
                                           they happen (and forward each delivery to URL)

Each talks to ``--url`` (default ``$LIPSYNC_EMULATOR_URL`` or http://127.0.0.1:8080), sending
``$LIPSYNC_EMULATOR_CONTROL_TOKEN`` when set (what ``serve`` prints on a non-loopback address).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from lipsync_emulator.accesslog import short_error

URL_ENV = "LIPSYNC_EMULATOR_URL"
TOKEN_ENV = "LIPSYNC_EMULATOR_CONTROL_TOKEN"
PAGE = 1000  # the newest this many jobs and deliveries: the control plane's largest page
DEFAULT_URL = "http://127.0.0.1:8080"


class RemoteError(Exception):
    """What the user is told, on one line, before the command exits with status 1."""


class Remote:
    """The control plane of the emulator at ``url``."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        import requests  # here, not at the top: the CLI's other commands (serve) need none of it

        self.url = url.rstrip("/")
        self.http = requests.Session()
        # on control-plane calls only: never to a --forward-to URL
        self.auth = {"X-Emulator-Token": token} if (token := os.environ.get(TOKEN_ENV)) else {}
        self.http.trust_env = False  # a proxy meant for the internet cannot reach a local emulator
        self.timeout = timeout

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        try:
            resp = self.http.request(method, f"{self.url}/_emulator{path}", timeout=self.timeout,
                                     headers=self.auth, **kwargs)
        except requests.ConnectionError:
            raise RemoteError(f"no emulator answers at {self.url}: start one with `lipsync-emulator serve`, "
                              "or point --url at it") from None
        except requests.RequestException as exc:
            raise RemoteError(f"{self.url}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            raise RemoteError(f"{self.url} answered {resp.status_code} without JSON: is it an emulator?") from None
        if resp.status_code >= 400:
            message = body.get("message") or body.get("error") if isinstance(body, dict) else None
            raise RemoteError(f"{self.url} answered {resp.status_code}: {message or body}")
        return body


def add_parsers(sub: Any) -> None:
    """The sub-commands, on the CLI's sub-parsers."""

    def remote_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--url", default=os.environ.get(URL_ENV) or DEFAULT_URL,
                            help=f"the running emulator (default ${URL_ENV} or {DEFAULT_URL})")
        return parser

    p = remote_parser("advance", "move a running emulator's virtual clock")
    p.add_argument("seconds", type=float, help="how far, in seconds")
    p.set_defaults(func=advance)

    p = remote_parser("reset", "forget a running emulator's jobs, journal, webhooks and scenario rules")
    p.add_argument("--namespace", default=None, help="only this namespace (or API key)")
    p.set_defaults(func=reset)

    p = remote_parser("jobs", "list a running emulator's jobs")
    p.add_argument("--provider", default=None)
    p.add_argument("--status", default=None)
    p.add_argument("--json", action="store_true", help="as the control plane answers")
    p.set_defaults(func=jobs)

    p = remote_parser("webhooks", "list a running emulator's webhook deliveries")
    p.add_argument("--provider", default=None)
    p.add_argument("--job-id", default=None)
    p.add_argument("--status", default=None, choices=("pending", "delivered", "failed", "skipped"))
    p.add_argument("--json", action="store_true", help="as the control plane answers")
    p.set_defaults(func=webhooks)

    p = remote_parser("listen", "follow a running emulator: print each job transition and webhook "
                                "delivery as it happens (Ctrl-C to stop)")
    p.add_argument("--forward-to", default=None, metavar="URL",
                   help="also POST each webhook delivery (body and signature headers) to URL")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between looks (default 0.5)")
    p.set_defaults(func=listen)


def _command(go: Callable[[Remote, argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """A sub-command on the emulator at ``--url``: its exit status, 1 with one line on stderr
    when the emulator cannot be reached or refuses."""

    def command(args: argparse.Namespace) -> int:
        try:
            return go(Remote(args.url), args) or 0
        except RemoteError as exc:
            print(f"lipsync-emulator: {exc}", file=sys.stderr)
            return 1

    return command


@_command
def advance(remote: Remote, args: argparse.Namespace) -> None:
    done = remote.call("POST", "/clock/advance", json={"seconds": args.seconds})
    print(f"advanced {args.seconds:g} s: now {done['now']}; {done['fired']} transition(s) and webhook "
          "attempt(s) ran")


@_command
def reset(remote: Remote, args: argparse.Namespace) -> None:
    body = {"namespace": args.namespace} if args.namespace else {}
    remote.call("POST", "/reset", json=body)
    what = f"namespace {args.namespace}" if args.namespace else "everything"
    print(f"reset {what}: jobs, journal, webhook deliveries and scenario rules are gone")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def _listing(remote: Remote, args: argparse.Namespace, path: str, filters: dict[str, Any], empty: str,
             header: list[str], row: Callable[[dict[str, Any]], list[str]]) -> None:
    """A control-plane listing's first page, oldest first, as a table (or as JSON)."""
    rows = remote.call("GET", path, params={"limit": PAGE, **{k: v for k, v in filters.items() if v}})
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(empty)
    else:
        print(_table([row(r) for r in sorted(rows, key=lambda r: r["created_at"])], header))


@_command
def jobs(remote: Remote, args: argparse.Namespace) -> None:
    _listing(remote, args, "/jobs", {"provider": args.provider, "status": args.status}, "no jobs",
             ["PROVIDER", "KIND", "ID", "STATUS", "CREATED", "NEXT"],
             lambda j: [j["provider"], j["kind"], j["id"], j["status"], j["created_at"],
                        " ".join(f"{n['status']}@{n['at']}" for n in j["next"][:1]) or "-"])


def _outcome(attempt: dict[str, Any]) -> str:
    if attempt.get("status_code") is not None:
        return str(attempt["status_code"])
    return short_error(attempt.get("error")) or "-"


@_command
def webhooks(remote: Remote, args: argparse.Namespace) -> None:
    _listing(remote, args, "/webhooks", {"provider": args.provider, "job_id": args.job_id, "status": args.status},
             "no webhook deliveries", ["PROVIDER", "EVENT", "JOB", "URL", "STATUS", "ATTEMPTS", "LAST"],
             lambda d: [d["provider"], d["event"], d["job_id"] or "-", d["url"], d["status"],
                        f"{len(d['attempts'])}/{d['max_attempts']}",
                        _outcome(d["attempts"][-1]) if d["attempts"] else d.get("note") or "-"])


class Follower:
    """What changed on the emulator since the last look: job transitions and webhook attempts,
    as printable lines in the emulator's time order. The first look only takes note."""

    def __init__(self, remote: Remote, forward_to: str | None = None) -> None:
        self.remote, self.forward_to = remote, forward_to
        self._history: dict[tuple[str, str], int] = {}
        self._attempts: dict[str, int] = {}
        self._forwarded: set[str] = set()
        self._started = False

    def poll(self) -> list[str]:
        events: list[tuple[str, str]] = []
        for job in self.remote.call("GET", "/jobs", params={"limit": PAGE}):
            key = (job["provider"], job["id"])
            seen = self._history.get(key, 0)
            history = job["history"]
            self._history[key] = len(history)
            for n in range(seen, len(history)) if self._started else ():
                before = f"{history[n - 1]['status']} -> " if n else ""
                scenario = f"  (scenario {','.join(job['scenarios'])})" if job.get("scenarios") and not n else ""
                events.append((history[n]["at"], f"{_time(history[n]['at'])}  {job['provider']} {job['kind']} "
                                                 f"{job['id']}  {before}{history[n]['status']}{scenario}"))
        for delivery in self.remote.call("GET", "/webhooks", params={"limit": PAGE}):
            events += self._delivery(delivery)
        self._started = True
        return [line for _, line in sorted(events, key=lambda e: e[0])]

    def _delivery(self, d: dict[str, Any]) -> list[tuple[str, str]]:
        seen = self._attempts.get(d["id"])
        attempts = d["attempts"]
        self._attempts[d["id"]] = len(attempts)
        if not self._started:
            self._forwarded.add(d["id"])
            return []
        head = f"webhook {d['provider']} {d['event']}  job {d['job_id'] or '-'}  -> {d['url']}"
        out: list[tuple[str, str]] = []
        if seen is None and d["status"] == "skipped":
            out.append((d["created_at"], f"{_time(d['created_at'])}  {head}  skipped: {d.get('note') or ''}"))
        for attempt in attempts[seen or 0:]:
            line = f"{_time(attempt['at'])}  {head}  attempt {attempt['number']}/{d['max_attempts']}  " \
                   f"{_outcome(attempt)}"
            if attempt is attempts[-1] and d["status"] == "pending" and d.get("next_attempt_at"):
                line += f"  next attempt at {_time(d['next_attempt_at'])}"
            elif attempt is attempts[-1] and d["status"] == "failed":
                line += "  gave up"
            out.append((attempt["at"], line))
        if self.forward_to and d["id"] not in self._forwarded and (attempts or d["status"] == "skipped"):
            self._forwarded.add(d["id"])
            # sorted after its attempt: same time, and the sort is stable
            out.append((attempts[0]["at"] if attempts else d["created_at"], f"{'':12}  --> {self.forward_to}  {self._forward(d)}"))
        return out

    def _forward(self, d: dict[str, Any]) -> str:
        """The delivery again, to the forward URL: its body and the headers its first attempt
        carried (signatures included; a delivery never attempted has no signature)."""
        import requests

        headers = d["attempts"][0]["headers"] if d["attempts"] else d["headers"]
        try:
            resp = self.remote.http.post(self.forward_to, data=d["body"].encode("utf-8"), headers=headers,
                                         timeout=10, allow_redirects=False)
        except requests.RequestException as exc:
            return f"failed: {type(exc).__name__}"
        return str(resp.status_code)


def _time(iso: str) -> str:
    """``2026-01-01T12:00:05.000Z`` -> ``12:00:05.000`` (the emulator's clock, as it reports it)."""
    return iso.split("T", 1)[1].rstrip("Z")[:12] if "T" in iso else iso


def follow(remote: Remote, forward_to: str | None, interval: float, stop: threading.Event) -> Iterator[str]:
    """The lines of ``listen`` until ``stop`` is set; looks again every ``interval`` seconds."""
    follower = Follower(remote, forward_to)
    follower.poll()
    yield f"Ready! Following {remote.url} (Ctrl-C to stop)" + (f", forwarding webhooks to {forward_to}"
                                                                 if forward_to else "")
    while not stop.wait(interval):
        yield from follower.poll()


@_command
def listen(remote: Remote, args: argparse.Namespace) -> int:
    if args.interval <= 0:
        print("lipsync-emulator: --interval must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        for line in follow(remote, args.forward_to, args.interval, threading.Event()):
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    return 0
