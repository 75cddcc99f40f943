"""Small named checks. Each returns the list of problems it found (empty: the check holds),
so suites can combine them and reports can quote them; ``require`` turns problems into a
``ContractFailure``.

    >>> lifecycle_forward(("PENDING", "PROCESSING", "COMPLETED"), "PROCESSING", "PENDING")
    ['status went back from PROCESSING to PENDING']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lipsync_emulator.contracts.profiles import Lifecycle, Profile, Webhook
from lipsync_emulator.contracts.schema import ContractSchema
from lipsync_emulator.contracts.strategies.base import ExpectedError, compact
from lipsync_emulator.contracts.targets import Response


class ContractFailure(AssertionError):
    """A broken expectation: what was checked, what went wrong, and the example."""

    def __init__(self, check: str, problems: Sequence[str], example: Any = None, response: Response | None = None):
        self.check = check
        self.problems = list(problems)
        self.example = example
        self.response = response
        lines = [f"{check}:"] + [f"  - {p}" for p in self.problems]
        if example is not None:
            lines.append(f"  example: {compact(example)}")
        if response is not None:
            lines.append(f"  response: {response.status} {response.text[:400]}")
        super().__init__("\n".join(lines))


def require(check: str, problems: Iterable[str], example: Any = None, response: Response | None = None) -> None:
    found = list(problems)
    if found:
        raise ContractFailure(check, found, example, response)


def status_in(response: Response, expected: int | Iterable[int]) -> list[str]:
    allowed = {expected} if isinstance(expected, int) else set(expected)
    if response.status in allowed:
        return []
    return [f"{response.method} {response.path} answered {response.status}, expected {sorted(allowed)}"]


def is_json(response: Response) -> list[str]:
    if "json" not in response.content_type:
        return [f"{response.method} {response.path} -> {response.status} is {response.content_type or 'untyped'}, "
                "not JSON"]
    if response.json_or_none() is None and response.body.strip() not in (b"null",):
        return [f"{response.method} {response.path} -> {response.status}: body is not valid JSON"]
    return []


def conforms(schema: ContractSchema, response: Response) -> list[str]:
    """The response's status, content type and body are what the schema declares."""
    return schema.response_problems(response)


def error_is(profile: Profile, response: Response, expected: ExpectedError) -> list[str]:
    """The response is the provider error ``expected`` (status, code, message fragment)."""
    if response.status < 400:
        return [f"accepted with {response.status}, expected {expected.status} {expected.code!r}"]
    got = profile.error(response)
    return expected.problems(got.status, got.code, got.message)


def no_server_error(response: Response) -> list[str]:
    if response.status >= 500:
        return [f"{response.method} {response.path} -> {response.status} (server error): {response.text[:200]}"]
    return []


def lifecycle_forward(states: Sequence[str] | Lifecycle, before: str | None, after: str) -> list[str]:
    """Status never moves backwards along the lifecycle, and a terminal status is final."""
    life = states if isinstance(states, Lifecycle) else Lifecycle(tuple(states), frozenset({states[-1]}))
    if not life.known(after):
        return [f"unknown status {after!r}"]
    if before is None:
        return []
    if before in life.terminal and after != before:
        return [f"terminal status {before} changed to {after}"]
    if life.rank(after) < life.rank(before):
        return [f"status went back from {before} to {after}"]
    return []


def state_fields(profile: Profile, body: Any) -> list[str]:
    """Output and error fields appear only in the states where the provider says they do."""
    return profile.fields(body)


def webhook_signed(profile: Profile, secret: str | None, webhook: Webhook, now: float | None) -> list[str]:
    """The webhook's signature verifies with the provider's documented scheme."""
    verify = profile.webhook.verify
    if verify is None:
        return []
    if not secret:
        # unsigned is right when no secret is configured (Kling signs only then [doc: S5])
        signed = [h for h in profile.webhook.signature_headers if webhook.header(h)]
        return [f"webhook for {webhook.job_id} carries {signed[0]} though no secret is configured"] if signed else []
    reason = verify(secret, webhook.headers, webhook.body, now)
    return [f"webhook for {webhook.job_id} ({webhook.status}): {reason}"] if reason else []
