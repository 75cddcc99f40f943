"""Realistic buggy clients: each is one of the correct example clients
(``lipsync_emulator.examples.<provider>_client``) with exactly one bug of the kind teams ship —
an HTTP helper that parses every answer as JSON first, urllib3 retrying a POST on a reset
connection, a webhook handler that forgot the timestamp check... The contract suite must
fail every one of them and pass the clients they derive from.

``MUTANTS[provider][name] = mutate`` (its docstring says the bug); ``mutant(provider, name)`` is
an adapter factory: the correct adapter, then ``mutate(adapter)``. ``CAUGHT_BY[name]`` is the
scenario meant to catch the bug and words its section of the report must contain.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from lipsync_emulator.examples import kling_client, lipsyncstudio_client, syncso_client, wavespeed_client

CORRECT: dict[str, Callable[[Any], Any]] = {
    "syncso": syncso_client.make_adapter, "wavespeed": wavespeed_client.make_adapter,
    "lipsyncstudio": lipsyncstudio_client.make_adapter, "kling": kling_client.make_adapter}
ID_KEY = {"syncso": "id", "wavespeed": "id", "lipsyncstudio": "id", "kling": "task_id"}
STATUS_KEY = {"syncso": "status", "wavespeed": "status", "lipsyncstudio": "status", "kling": "task_status"}
Mutate = Callable[[Any], None]


def _handler(adapter: Any) -> Any:
    return getattr(adapter, "webhooks", None) or adapter.callbacks


def _wrap_http(adapter: Any, wrap: Callable[[Callable[..., Any], str, str, dict[str, Any]], Any]) -> None:
    """Replace the client's ``http.request(method, url, **kw)`` with ``wrap(original, ...)``."""
    original = adapter.client.http.request
    adapter.client.http.request = lambda method, url, **kw: wrap(original, method, url, kw)


# -- bugs every provider's client can have -------------------------------------------------------

def json_before_status(adapter: Any) -> None:
    """Every answer is parsed as JSON before its status is looked at (a proxy's HTML crashes it)."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        resp = send(method, url, **kw)
        resp.json()
        return resp
    _wrap_http(adapter, wrap)


def retries_post_on_reset(adapter: Any) -> None:
    """The session retries any request, POST included, when the connection drops (urllib3's
    Retry with allowed_methods=None)."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        try:
            return send(method, url, **kw)
        except requests.ConnectionError:
            return send(method, url, **kw)
    _wrap_http(adapter, wrap)


def no_pause_after_429(adapter: Any) -> None:
    """A 429 is retried at once: the pause is skipped when the provider sends no Retry-After."""
    last: dict[str, Any] = {}

    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        resp = send(method, url, **kw)
        last["resp"] = resp
        return resp
    _wrap_http(adapter, wrap)
    sleep = adapter.client.sleep

    def no_pause(seconds: float) -> None:
        resp = last.get("resp")
        if resp is not None and resp.status_code == 429 and not resp.headers.get("Retry-After"):
            return
        sleep(seconds)
    adapter.client.sleep = no_pause


def ignores_retry_after(adapter: Any) -> None:
    """A 429 is retried after a fixed second, whatever Retry-After says."""
    last: dict[str, Any] = {}

    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        last["resp"] = resp = send(method, url, **kw)
        return resp
    _wrap_http(adapter, wrap)
    sleep = adapter.client.sleep

    def fixed(seconds: float) -> None:
        resp = last.get("resp")
        sleep(1.0 if resp is not None and resp.status_code == 429 else seconds)
    adapter.client.sleep = fixed


def retries_post_on_504(adapter: Any) -> None:
    """A POST answered 504 (the gateway gave up waiting) is sent again, as urllib3's
    Retry(status_forcelist=(502, 503, 504), allowed_methods=None) does."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        resp = send(method, url, **kw)
        return send(method, url, **kw) if method == "POST" and resp.status_code == 504 else resp
    _wrap_http(adapter, wrap)


def gives_up_on_502(adapter: Any) -> None:
    """A 502 while polling is raised at once (only 503/504 are retried)."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        resp = send(method, url, **kw)
        if method == "GET" and resp.status_code == 502:
            raise RuntimeError(f"bad gateway: {resp.status_code}")
        return resp
    _wrap_http(adapter, wrap)


def no_timeout(adapter: Any) -> None:
    """wait() has no deadline."""
    adapter.client.timeout = math.inf


def swallows_errors(adapter: Any) -> None:
    """A refused submit is logged and returns None."""
    submit = adapter.submit

    def quiet(request: Any) -> Any:
        try:
            return submit(request)
        except Exception:  # noqa: BLE001 - the bug
            return None
    adapter.submit = quiet


def records_duplicates(adapter: Any, provider: str) -> None:
    """Every webhook delivery is processed, duplicates included."""
    handler = _handler(adapter)
    handle = adapter.handle_webhook

    def again(headers: Any, body: bytes) -> int:
        job_id = str(json.loads(body).get(ID_KEY[provider]))
        before = handler.outcomes.pop(job_id, [])
        status = handle(headers, body)
        handler.outcomes[job_id] = before + handler.outcomes.get(job_id, [])
        return status
    adapter.handle_webhook = again


def skips_timestamp_check(adapter: Any) -> None:
    """The signature is checked, its timestamp is not (a replay is accepted)."""
    _handler(adapter).tolerance = math.inf


def trusts_unsigned(adapter: Any) -> None:
    """A webhook without a signature header is let through (\"not every sender signs\")."""
    handler = _handler(adapter)
    verify = handler.verify

    def lenient(headers: Any, body: bytes) -> bool:
        names = {k.lower() for k in headers}
        return not ({"sync-signature", "webhook-signature"} & names) or verify(headers, body)
    handler.verify = lenient


def not_terminal(*statuses: str) -> Callable[[Any, str], None]:
    """The client does not know ``statuses`` end a job: it keeps polling until its timeout."""
    def mutate(adapter: Any, provider: str) -> None:
        key = STATUS_KEY[provider].encode()

        def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
            resp = send(method, url, **kw)
            if method == "GET":
                for status in statuses:  # read as if the status were still running
                    resp._content = resp.content.replace(b'"%s":"%s"' % (key, status.encode()),
                                                         b'"%s":"processing"' % key)
            return resp
        _wrap_http(adapter, wrap)
    return mutate


# -- provider-specific bugs ---------------------------------------------------------------------

def no_idempotency_key(adapter: Any) -> None:
    """The Idempotency-Key is never sent (set on a header dict that is not the request's)."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        kw["headers"] = {k: v for k, v in kw.get("headers", {}).items() if k != "Idempotency-Key"}
        return send(method, url, **kw)
    _wrap_http(adapter, wrap)


def new_key_per_attempt(adapter: Any) -> None:
    """A fresh Idempotency-Key on every attempt, so a retry is a new request."""
    def wrap(send: Callable[..., Any], method: str, url: str, kw: dict[str, Any]) -> Any:
        if "Idempotency-Key" in kw.get("headers", {}):
            kw["headers"] = {**kw["headers"], "Idempotency-Key": str(uuid.uuid4())}
        return send(method, url, **kw)
    _wrap_http(adapter, wrap)


def drops_provider_message(adapter: Any) -> None:
    """Errors are re-raised as 'request failed (status)', without the provider's message."""
    submit = adapter.submit

    def vague(request: Any) -> Any:
        try:
            return submit(request)
        except syncso_client.ProviderError as exc:
            raise RuntimeError(f"request failed ({exc.status})") from None
    adapter.submit = vague


def base64_secret(adapter: Any) -> None:
    """The webhook secret is base64-decoded (WaveSpeed uses it as text)."""
    handler = adapter.webhooks
    handler.key = base64.b64decode(handler.key + b"=" * (-len(handler.key) % 4), altchars=b"-_")


def trusts_webhook_body(adapter: Any) -> None:
    """An unsigned webhook's status is believed as sent (no look-up through the API)."""
    handler = adapter.webhooks

    def believe(headers: Any, body: bytes) -> int:
        job = json.loads(body)
        if job.get("id") not in adapter.client.submitted:
            return 404
        if job.get("status") in ("completed", "failed"):
            handler.outcomes.setdefault(job["id"], [job["status"]])
        return 200
    adapter.handle_webhook = believe


def resubmits_without_webhook(adapter: Any) -> None:
    """When the webhook URL is refused, the job is sent again without it."""
    client = adapter.client
    submit = client.submit

    def fallback(endpoint: str, form_state: Any) -> str:
        try:
            return submit(endpoint, form_state)
        except lipsyncstudio_client.LipsyncStudioError as exc:
            if "webhook" not in exc.message:
                raise
            client.webhook_url = None
            return submit(endpoint, form_state)
    client.submit = fallback


def reads_request_id(adapter: Any) -> None:
    """The job id is read from ``requestId`` (the prose's name) instead of ``id``."""
    client = adapter.client

    def submit(endpoint: str, form_state: Any) -> str:
        body = {"formState": dict(form_state), "webhook": client.webhook_url}
        answer = client._call("POST", f"/api/v1/{endpoint}", body)
        return str(answer.get("requestId"))
    client.submit = submit


def never_refreshes_token(adapter: Any) -> None:
    """The JWT is signed once, at start-up, and used for ever."""
    client, bearer, cached = adapter.client, adapter.client.bearer, []

    def once() -> str:
        if not cached:
            cached.append(bearer())
        return cached[0]
    client.bearer = once


def token_on_wall_clock(adapter: Any) -> None:
    """The JWT is signed and renewed on time.time(), not on the clock the client is given."""
    client, bearer = adapter.client, adapter.client.bearer

    def wall() -> str:
        clock, client.clock = client.clock, time.time
        try:
            return bearer()
        finally:
            client.clock = clock
    client.bearer = wall


def any_callback_is_outcome(adapter: Any) -> None:
    """Every callback (submitted, processing...) is taken as the task's outcome."""
    handler = adapter.callbacks
    handle = adapter.handle_webhook

    def any_status(headers: Any, body: bytes) -> int:
        status = handle(headers, body)
        task = json.loads(body)
        if status == 200 and not handler.outcomes.get(task["task_id"]):
            handler.outcomes[task["task_id"]] = [task["task_status"]]
        return status
    adapter.handle_webhook = any_status


def times_in_seconds(adapter: Any) -> None:
    """face_choose times are sent in seconds (the docs' unit is milliseconds)."""
    submit = adapter.submit

    def seconds(request: Any) -> Any:
        choose = [{k: (v / 1000 if k.endswith("_time") and isinstance(v, int | float) else v) for k, v in c.items()}
                  for c in request.get("face_choose", [])]
        return submit({**request, "face_choose": choose})
    adapter.submit = seconds


def _for(provider: str, mutate: Callable[[Any, str], None]) -> Mutate:
    return lambda adapter: mutate(adapter, provider)


COMMON: dict[str, Mutate] = {"json_before_status": json_before_status, "gives_up_on_502": gives_up_on_502,
                             "no_timeout": no_timeout, "swallows_errors": swallows_errors}
# where the provider sends Retry-After the bug is ignoring it; where it does not, not pausing
RETRY_AFTER: dict[str, Mutate] = {"ignores_retry_after": ignores_retry_after}
NO_RETRY_AFTER: dict[str, Mutate] = {"no_pause_after_429": no_pause_after_429}
SIGNED: dict[str, Mutate] = {"skips_timestamp_check": skips_timestamp_check, "trusts_unsigned": trusts_unsigned}
MUTANTS: dict[str, dict[str, Mutate]] = {
    "syncso": {**COMMON, **SIGNED, **RETRY_AFTER, "records_duplicates": _for("syncso", records_duplicates),
               "no_idempotency_key": no_idempotency_key, "new_key_per_attempt": new_key_per_attempt,
               "rejected_not_terminal": _for("syncso", not_terminal("REJECTED")),
               "failed_not_terminal": _for("syncso", not_terminal("FAILED")),
               "drops_provider_message": drops_provider_message},
    "wavespeed": {**COMMON, **SIGNED, **NO_RETRY_AFTER, "records_duplicates": _for("wavespeed", records_duplicates),
                  "retries_post_on_reset": retries_post_on_reset, "retries_post_on_504": retries_post_on_504,
                  "only_failed_is_terminal": _for("wavespeed", not_terminal("cancelled", "timeout")),
                  "base64_secret": base64_secret},
    "lipsyncstudio": {**COMMON, **RETRY_AFTER, "records_duplicates": _for("lipsyncstudio", records_duplicates),
                      "retries_post_on_reset": retries_post_on_reset, "trusts_webhook_body": trusts_webhook_body,
                      "resubmits_without_webhook": resubmits_without_webhook, "reads_request_id": reads_request_id},
    "kling": {**COMMON, **SIGNED, **NO_RETRY_AFTER, "records_duplicates": _for("kling", records_duplicates),
              "retries_post_on_reset": retries_post_on_reset, "never_refreshes_token": never_refreshes_token,
              "token_on_wall_clock": token_on_wall_clock, "any_callback_is_outcome": any_callback_is_outcome,
              "times_in_seconds": times_in_seconds,
              "failed_not_terminal": _for("kling", not_terminal("failed"))},
}


CAUGHT_BY: dict[str, tuple[str, str]] = {
    "json_before_status": ("bad_gateway_submit", "raised JSONDecodeError"),
    "gives_up_on_502": ("bad_gateway_poll", "HTML 502 while polling does not end the wait"),
    "no_timeout": ("timeout", "never stopped waiting"),
    "swallows_errors": ("bad_gateway_submit", "submit() returned None"),
    "ignores_retry_after": ("rate_limited_submit", "the retry waits Retry-After"),
    "no_pause_after_429": ("rate_limited_poll", "429 without Retry-After is retried after a backoff"),
    "skips_timestamp_check": ("webhook_replayed", "(a replay) is rejected"),
    "trusts_unsigned": ("webhook_missing_signature", "without its signature header is rejected"),
    "records_duplicates": ("webhook_duplicate", "is processed once"),
    "no_idempotency_key": ("lost_answer_submit", "2 jobs were created"),
    "new_key_per_attempt": ("lost_answer_submit", "2 jobs were created"),
    "retries_post_on_reset": ("lost_answer_submit", "2 jobs were created"),
    "retries_post_on_504": ("lost_answer_submit", "(gateway timeout, 504) does not create a second job"),
    "rejected_not_terminal": ("job_rejected", "after it had ended REJECTED"),
    "failed_not_terminal": ("job_failed", "stops at the terminal status"),
    "drops_provider_message": ("validation_errors", "does not carry the provider's message"),
    "only_failed_is_terminal": ("job_other_failures", "after it had ended cancelled"),
    "base64_secret": ("webhook_valid", "a genuine webhook is accepted"),
    "trusts_webhook_body": ("webhook_forged", "confirm the outcome with the API"),
    "resubmits_without_webhook": ("webhook_http", "not sent again without it"),
    "reads_request_id": ("success", "submit() returns the provider's job id"),
    "never_refreshes_token": ("token_expiry", "signs a new JWT before exp"),
    "token_on_wall_clock": ("token_expiry", "makes its tokens on the wall clock"),
    "any_callback_is_outcome": ("webhook_out_of_order", "a job ends in its own status"),
    "times_in_seconds": ("valid_requests", "the trimmed audio must not be shorter than 2 seconds"),
}


def mutant(provider: str, name: str) -> Callable[[Any], Any]:
    """An adapter factory: the correct client of ``provider`` with bug ``name``."""
    mutate = MUTANTS[provider][name]

    def make(env: Any) -> Any:
        adapter = CORRECT[provider](env)
        mutate(adapter)
        return adapter
    return make
