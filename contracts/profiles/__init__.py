"""What the contracts know about each provider's HTTP surface, written from the provider
references, never from the emulator's code: how to submit and poll, the job lifecycle, which
fields appear in which state, the webhook and its signature, the error body.

A ``Profile`` is the second, independent implementation the self-contract cross-checks the
emulator with; against a real provider it is simply what the provider documents.

    >>> from lipsync_emulator.contracts.profiles import get
    >>> get("syncso").lifecycle.terminal >= {"COMPLETED", "FAILED"}
    True
"""

from __future__ import annotations

import hmac
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lipsync_emulator.contracts.targets import Response, Target


@dataclass(frozen=True)
class Lifecycle:
    """``states``: the happy path, first = initial, last = success; ``terminal``: every final
    state. ``rank`` orders states; a failure ranks with success (both are the end)."""

    states: tuple[str, ...]
    terminal: frozenset[str]

    @property
    def success(self) -> str:
        return self.states[-1]

    def rank(self, status: str) -> int:
        return self.states.index(status) if status in self.states else len(self.states) - 1

    def known(self, status: str) -> bool:
        return status in self.states or status in self.terminal


@dataclass(frozen=True)
class Webhook:
    """A webhook as the contracts see it: the job it is about, its status, its signature."""

    job_id: str
    status: str
    body: bytes
    headers: Mapping[str, str]
    payload: Any

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """``headers[name]``, whatever its case."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class WebhookSpec:
    """``states``: statuses that send a webhook (by default); ``verify(secret, headers, body,
    now)`` -> None when the signature is valid, else why not (``None`` verify: unsigned).
    ``now=None`` checks the signature only, not its age (``TOLERANCE``)."""

    states: frozenset[str]
    parse: Callable[[bytes], tuple[str, str]]  # body -> (job id, status)
    verify: Verify | None = None
    signature_headers: tuple[str, ...] = ()
    secret_setting: str | None = None  # key of the secret in the provider's emulator settings
    intermediate: bool = False  # whether non-terminal states send webhooks too
    # The provider's own API for the secret (WaveSpeed: GET /api/v3/webhook/secret): (target, headers).
    fetch_secret: Callable[[Target, dict[str, str]], str | None] | None = None
    # The headers of a delivery signed at ``timestamp`` (secret, headers, body, timestamp), and the
    # timestamp a delivery states: what a replayed (validly signed, old) delivery is made of.
    sign: Sign | None = None
    timestamp: Timestamp | None = None
    https_only: bool = False  # the provider refuses a webhook URL over plain http


TOLERANCE = 300.0  # seconds a signature's timestamp may be away from now: the providers' ±5 min

Verify = Callable[[str, Mapping[str, str], bytes, float | None], str | None]
Sign = Callable[[str, Mapping[str, str], bytes, int], dict[str, str]]
Timestamp = Callable[[Mapping[str, str]], int | None]


def standard_webhooks(signature: Callable[[str, str, int, bytes], str], scheme: str) -> tuple[Verify, Sign, Timestamp]:
    """``verify``, ``sign`` and ``timestamp`` for a provider that signs the Standard Webhooks
    way: ``webhook-id``, ``webhook-timestamp``, and ``webhook-signature`` holding one or more
    space-separated signatures, any of which may match. ``signature(secret, id, timestamp,
    body)`` is the provider's own; ``scheme`` describes it in a verdict."""

    def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None) -> str | None:
        msg_id, stamp = header(headers, "webhook-id"), header(headers, "webhook-timestamp")
        given = header(headers, "webhook-signature")
        if not (msg_id and stamp and given):
            return "missing webhook-id / webhook-timestamp / webhook-signature"
        if not stamp.isdigit():
            return f"malformed webhook-timestamp {stamp!r}"
        expected = signature(secret, msg_id, int(stamp), body)
        if not any(hmac.compare_digest(expected, part) for part in given.split()):
            return f"webhook-signature does not match {scheme}"
        if now is not None and abs(now - int(stamp)) > TOLERANCE:
            return f"webhook-timestamp {stamp} is {now - int(stamp):.0f} s away from now"
        return None

    def sign(secret: str, headers: Mapping[str, str], body: bytes, stamp: int) -> dict[str, str]:
        kept = {k: v for k, v in headers.items() if k.lower() not in ("webhook-timestamp", "webhook-signature")}
        msg_id = header(headers, "webhook-id") or ""
        return {**kept, "webhook-timestamp": str(stamp), "webhook-signature": signature(secret, msg_id, stamp, body)}

    def timestamp(headers: Mapping[str, str]) -> int | None:
        value = header(headers, "webhook-timestamp") or ""
        return int(value) if value.isdigit() else None

    return verify, sign, timestamp


@dataclass(frozen=True)
class ProviderError:
    """A provider error as the contracts read it from a response."""

    status: int
    code: str | int | None
    message: str


def envelope_error(response: Response) -> ProviderError:
    """The error of a provider that answers ``{code, message, ...}`` (Kling, WaveSpeed)."""
    body = response.json_or_none()
    if not isinstance(body, dict):
        return ProviderError(response.status, None, response.text)
    return ProviderError(response.status, body.get("code"), str(body.get("message") or ""))


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    schema: str
    lifecycle: Lifecycle
    webhook: WebhookSpec
    auth: Callable[[str], dict[str, str]]
    submit: Callable[[Target, Any, dict[str, str], str | None], Response]
    poll: Callable[[Target, str, dict[str, str]], Response]
    job_id: Callable[[Any], str]  # submit/poll JSON -> job id
    status: Callable[[Any], str]  # poll JSON -> status
    fields: Callable[[Any], list[str]]  # poll JSON -> problems with state-dependent fields
    error: Callable[[Response], ProviderError]
    submit_operation: str
    poll_operation: str
    submit_status: int = 200
    api_key: str = "sk_contract_test"
    # Roles -> names in the emulator's scenario catalogue (failed, rejected, stuck,
    # rate_limited, server_error, unavailable): the scenario controls the suites use.
    scenarios: Mapping[str, str] = field(default_factory=dict)
    # Outcome scenario -> the terminal status it ends in (None: never ends).
    outcomes: Mapping[str, str | None] = field(default_factory=dict)
    # Reads that need no job: name -> (target, headers) -> Response (lists, catalogues).
    reads: Mapping[str, Callable[[Target, dict[str, str]], Response]] = field(default_factory=dict)
    # A failed job's (code, message), from the polled job.
    job_error: Callable[[Any], tuple[str | int | None, str]] = lambda body: (None, "")
    # Sending an invalid example to an operation other than submit (e.g. Kling identify-face).
    send: Callable[[Target, str, Any, dict[str, str]], Response] | None = None
    # The shortest pause before retrying a 429 that carries no Retry-After (documented in
    # docs/contract-testing.md per provider).
    min_backoff: float = 1.0
    # Credentials a client signs its own short-lived tokens with (Kling's access key / secret
    # key), from the emulator's settings: (access_key, secret_key) or None.
    credentials: Callable[[Mapping[str, Any]], tuple[str, str] | None] | None = None
    # Where the emulator's keys are a fixed list (Kling's access keys), a suite makes an account
    # of its own: the setting it adds {access_key: secret_key} to, and a bearer token of that
    # account, (access_key, secret_key, nbf, exp) -> token.
    account_setting: str | None = None
    token: Callable[[str, str, int, int], str] | None = None

    def deliver(self, target: Target, operation: str | None, request: Any, headers: dict[str, str]) -> Response:
        """Send ``request`` to ``operation`` (default: the submit operation)."""
        if operation in (None, self.submit_operation) or self.send is None:
            return self.submit(target, request, headers, None)
        return self.send(target, operation, request, headers)

    # (path, body) the final submit call carries for a request, when the profile makes several
    # calls (Kling identifies faces first); default: recorded from ``submit``.
    wire: Callable[[Any], tuple[str, Any]] | None = None
    # Every submit operation (WaveSpeed has one per model) and which one a request goes to.
    submit_operations: tuple[str, ...] = ()
    submit_op_for: Callable[[Any], str] | None = None

    def headers(self, api_key: str | None = None) -> dict[str, str]:
        return self.auth(api_key or self.api_key)

    def submit_ops(self) -> tuple[str, ...]:
        return self.submit_operations or (self.submit_operation,)

    def op_for(self, request: Any) -> str:
        return self.submit_op_for(request) if self.submit_op_for else self.submit_operation

    def secret(self, target: Target, headers: dict[str, str], config: Mapping[str, Any] | None) -> str | None:
        """The webhook signing secret: from the provider's API, else from the emulator's
        settings (``config``: ``GET /_emulator/config``)."""
        spec = self.webhook
        if spec.fetch_secret is not None:
            return spec.fetch_secret(target, headers)
        if spec.secret_setting and config is not None:
            section = config.get("providers", {}).get(self.name) or config.get(self.name) or {}
            value = section.get(spec.secret_setting)
            return str(value) if value else None
        return None


_REGISTERED: dict[str, Profile] = {}


def register(profile: Profile) -> None:
    """Make ``profile`` known by its name: a provider whose profile lives outside this package
    (the providers here are found by module name: ``profiles/<name>.py`` holds ``PROFILE``)."""
    _REGISTERED[profile.name] = profile


def get(name: str) -> Profile:
    """The profile of provider ``name``: a registered one, else ``profiles/<name>.py``'s."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name.isidentifier() and not name.startswith("_"):
        try:
            profile: Profile = importlib.import_module(f"{__name__}.{name}").PROFILE
            return profile
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the module exists; something it imports does not
    raise KeyError(f"no contract profile {name!r} (have: {', '.join(available())})")


def available() -> list[str]:
    """Providers with a profile: those of this package, and the registered ones."""
    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(set(found) | set(_REGISTERED))
