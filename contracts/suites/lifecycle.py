"""A Hypothesis state machine per provider that drives submit / poll / advance clock / force
finish / reads / reset against the emulator and checks, after every step:

* every response conforms to the provider's schema, and none is a server error;
* a job's status only moves forward along the provider's lifecycle, and a terminal status is
  final;
* output and error fields appear only in the states the provider says;
* (after each clock advance) at most one webhook per job and status — more only under ``webhook_duplicate``,
  none under ``webhook_drop``; only jobs that asked for one get one; its status is the job's;
  its signature verifies (and does not under ``webhook_bad_signature``).

At the end (``teardown``) the clock jumps a day ahead: every job that can end has ended, in
the status its scenario says, with exactly the webhooks it should have sent.

    from lipsync_emulator.contracts.suites.lifecycle import machine
    from hypothesis.stateful import run_state_machine_as_test
    run_state_machine_as_test(machine("syncso", app_or_url, receiver))

It needs the emulator's control plane (clock, scenarios, reset): it is a self-contract.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as hst
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, precondition, rule
from lipsync_emulator.contracts import checks, profiles
from lipsync_emulator.contracts.profiles import Profile, Webhook
from lipsync_emulator.contracts.receiver import Receiver
from lipsync_emulator.contracts.schema import ContractSchema
from lipsync_emulator.contracts.strategies import for_provider
from lipsync_emulator.contracts.targets import Control, Response, Target, connect

SCENARIO_HEADER = "X-Emulator-Scenario"
# The emulator's generic webhook faults whose effect the machine knows.
WEBHOOK_FAULTS = ("webhook_duplicate", "webhook_drop", "webhook_delay", "webhook_out_of_order",
                  "webhook_bad_signature")
SETTLE_SECONDS = 86_400.0


@dataclass
class Tracked:
    id: str
    scenarios: tuple[str, ...]
    webhook: bool
    last: str | None = None
    forced: str | None = None  # the terminal status a control-plane finish ended it in

    @property
    def outcome(self) -> str | None:
        return next((s for s in self.scenarios if not s.startswith("webhook_")), None)


@dataclass
class Seen:
    """Webhooks received so far, by job."""

    by_job: dict[str, list[Webhook]] = field(default_factory=lambda: defaultdict(list))
    count: int = 0


def settle_settings(max_examples: int = 10, steps: int = 12) -> settings:
    return settings(max_examples=max_examples, stateful_step_count=steps, derandomize=True, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck))


def machine(provider: str, where: Any, receiver: Receiver, *, api_key: str | None = None,
            requests: hst.SearchStrategy[Any] | None = None, outcomes: Sequence[str] | None = None,
            faults: Sequence[str] | None = None) -> type[RuleBasedStateMachine]:
    """A state machine class for ``provider`` on ``where`` (URL, WSGI app, or target).
    ``requests``: the valid requests submitted (default: the provider's ``create_requests()``);
    ``outcomes`` / ``faults``: limit the outcome and webhook-fault scenarios jobs may take
    (default: every one the profile knows and the target's catalogue has)."""
    profile: Profile = profiles.get(provider)
    target: Target = connect(where)
    control = Control(target)
    schema = ContractSchema.load(profile.schema)
    headers = profile.headers(api_key)
    catalog = {row["name"]: row for row in control.catalog(provider)}
    chosen_outcomes: list[str | None] = [name for name in (outcomes if outcomes is not None else profile.outcomes)
                                         if name in catalog]
    chosen_faults: list[str | None] = [name for name in (faults if faults is not None else WEBHOOK_FAULTS)
                                       if name in catalog]
    secret = _secret(control, profile, target, headers)
    bodies = requests if requests is not None else for_provider(provider).create_requests()

    class LifecycleMachine(RuleBasedStateMachine):
        jobs = Bundle("jobs")
        stats: Counter[str] = Counter()  # steps taken per rule, across runs (for reports and bench)

        def __init__(self) -> None:
            super().__init__()
            control.reset()
            receiver.clear()
            self.tracked: dict[str, Tracked] = {}
            self.gone: set[str] = set()
            self.seen = Seen()

        # -- helpers -------------------------------------------------------------------------

        def conforms(self, what: str, resp: Response, example: Any = None) -> None:
            checks.require(what, checks.no_server_error(resp) + checks.conforms(schema, resp), example, resp)

        def observe(self, job: Tracked, body: Any, resp: Response) -> None:
            status = profile.status(body)
            checks.require(f"{job.id} moves forward along the lifecycle",
                           checks.lifecycle_forward(profile.lifecycle, job.last, status), None, resp)
            checks.require(f"{job.id} shows the fields of {status}", checks.state_fields(profile, body), None, resp)
            job.last = status

        # -- rules ---------------------------------------------------------------------------

        # half of the jobs take no outcome scenario (they succeed), half no webhook fault
        @rule(target=jobs, request=bodies, outcome=hst.one_of(hst.none(), hst.sampled_from(chosen_outcomes or [None])),
              fault=hst.one_of(hst.none(), hst.sampled_from(chosen_faults or [None])), webhook=hst.booleans())
        def submit(self, request: Any, outcome: str | None, fault: str | None, webhook: bool) -> str:
            self.stats["submit"] += 1
            chosen = tuple(s for s in (outcome, fault) if s)
            extra = {SCENARIO_HEADER: ",".join(chosen)} if chosen else {}
            resp = profile.submit(target, request, {**headers, **extra}, receiver.url if webhook else None)
            checks.require("valid request accepted", checks.status_in(resp, profile.submit_status), request, resp)
            self.conforms("submit answer conforms", resp, request)
            body = resp.json()
            job = Tracked(profile.job_id(body), chosen, webhook)
            self.tracked[job.id] = job
            self.observe(job, body, resp)
            return job.id

        @rule(job_id=jobs)
        def poll(self, job_id: str) -> None:
            self.stats["poll"] += 1
            resp = profile.poll(target, job_id, headers)
            self.conforms("poll answer conforms", resp)
            if job_id in self.gone:
                checks.require("a job forgotten by reset is not found", checks.status_in(resp, (404,)), None, resp)
                return
            checks.require("poll of a known job", checks.status_in(resp, (200,)), None, resp)
            self.observe(self.tracked[job_id], resp.json(), resp)

        @precondition(lambda self: bool(self.tracked))
        @rule(seconds=hst.sampled_from((1.0, 5.0, 20.0, 60.0, 600.0)))
        def advance(self, seconds: float) -> None:
            self.stats["advance"] += 1
            control.advance(seconds)
            self.webhooks_are_sound()
            for job_id in list(self.tracked):  # every job is observed after time moved
                self.poll(job_id)

        @rule(job_id=jobs, outcome=hst.sampled_from([None, *[o for o in chosen_outcomes if o and profile.outcomes[o]]]))
        def finish(self, job_id: str, outcome: str | None) -> None:
            """Force-finish through the control plane: a running job ends now, in the outcome's
            status (success without one); an ended job stays as it is."""
            if job_id in self.gone:
                return
            self.stats["finish"] += 1
            self.poll(job_id)
            job = self.tracked[job_id]
            before = job.last
            view = control.finish(provider, job_id, outcome)
            want = before if before in profile.lifecycle.terminal else (
                profile.outcomes[outcome] if outcome else profile.lifecycle.success)
            checks.require(f"force-finish {job_id} ({outcome or 'success'}) from {before}",
                           [] if view.get("status") == want else [f"ended {view.get('status')}, expected {want}"])
            job.forced = want

        @precondition(lambda self: bool(self.tracked))
        @rule(name=hst.sampled_from(sorted(profile.reads)) if profile.reads else hst.nothing())
        def read(self, name: str) -> None:
            self.stats["read"] += 1
            self.conforms(f"read {name} conforms", profile.reads[name](target, headers))

        @precondition(lambda self: len(self.tracked) >= 2)
        @rule(job_ids=consumes(jobs))
        def reset(self, job_ids: str) -> None:
            self.stats["reset"] += 1
            control.reset()
            receiver.clear()
            self.gone |= set(self.tracked) | {job_ids}
            self.tracked.clear()
            self.seen = Seen()

        # -- invariants ----------------------------------------------------------------------

        def webhooks_are_sound(self) -> None:
            """Checked after each clock advance (the emulator has waited for its deliveries
            then), so a failure shows at the same step every run."""
            deliveries = receiver.snapshot()
            for delivery in deliveries[self.seen.count:]:
                job_id, status = profile.webhook.parse(delivery.body)
                hook = Webhook(job_id, status, delivery.body, delivery.headers, json.loads(delivery.body))
                self.seen.by_job[job_id].append(hook)
                self.check_webhook(hook)
            self.seen.count = len(deliveries)
            for job_id, hooks in self.seen.by_job.items():
                job = self.tracked.get(job_id)
                if job is None:
                    continue
                by_status: dict[str, int] = defaultdict(int)
                for hook in hooks:
                    by_status[hook.status] += 1
                limit = 1 + (8 if "webhook_duplicate" in job.scenarios else 0)
                problems = [f"{n} webhooks for {job_id} {status} (at most {limit})"
                            for status, n in by_status.items() if n > limit]
                checks.require("at most one webhook per job and status", problems)

        def check_webhook(self, hook: Webhook) -> None:
            job = self.tracked.get(hook.job_id)
            if job is None:
                checks.require("webhooks only for jobs of this run", [f"webhook for unknown job {hook.job_id}"])
                return
            problems = []
            if not job.webhook:
                problems.append(f"{hook.job_id} asked for no webhook but got one ({hook.status})")
            if "webhook_drop" in job.scenarios:
                problems.append(f"{hook.job_id} has webhook_drop but a webhook arrived")
            allowed = profile.webhook.states if not profile.webhook.intermediate else (
                set(profile.lifecycle.states) | set(profile.lifecycle.terminal))
            if hook.status not in allowed:
                problems.append(f"webhook with status {hook.status} (sent only for {sorted(allowed)})")
            signed = checks.webhook_signed(profile, secret, hook, None)
            if "webhook_bad_signature" in job.scenarios:
                if profile.webhook.verify is not None and secret and not signed:
                    problems.append("webhook_bad_signature, yet the signature verifies")
            else:
                problems += signed
            checks.require("webhooks are sent as the provider says", problems, hook.payload)

        def teardown(self) -> None:
            try:
                self.settle()
            finally:
                receiver.clear()

        def settle(self) -> None:
            self.stats["runs"] += 1
            self.stats["jobs"] += len(self.tracked)
            control.advance(SETTLE_SECONDS)
            self.webhooks_are_sound()
            life = profile.lifecycle
            for job in self.tracked.values():
                resp = profile.poll(target, job.id, headers)
                self.conforms("poll answer conforms", resp)
                body = resp.json()
                self.observe(job, body, resp)
                want = _final(profile, job)
                if want == "__never__":
                    checks.require(f"{job.id} ({job.outcome}) never ends",
                                   [f"ended {job.last}"] if job.last in life.terminal else [], None, resp)
                    continue
                if want is not None:
                    checks.require(f"{job.id} ({job.outcome or 'success'}) ends {want}",
                                   [] if job.last == want else [f"status {job.last}"], None, resp)
                else:
                    checks.require(f"{job.id} ends", [] if job.last in life.terminal else [f"status {job.last}"],
                                   None, resp)
                hooks = [h for h in self.seen.by_job.get(job.id, []) if h.status in life.terminal]
                expected = 1 if (job.webhook and job.last in profile.webhook.states
                                 and "webhook_drop" not in job.scenarios) else 0
                if "webhook_duplicate" in job.scenarios and expected:
                    ok = len(hooks) >= 2 and len({h.body for h in hooks}) == 1
                    checks.require(f"{job.id} webhook delivered more than once, same body (webhook_duplicate)",
                                   [] if ok else [f"{len(hooks)} deliveries"], None, resp)
                else:
                    checks.require(f"{job.id} sends exactly {expected} terminal webhook(s)",
                                   [] if len(hooks) == expected else [f"{len(hooks)} received"], None, resp)

    LifecycleMachine.__name__ = f"{provider.capitalize()}Lifecycle"
    return LifecycleMachine


def _final(profile: Profile, job: Tracked) -> str | None:
    """The terminal status a job must end in (None: any terminal; ``__never__``: none)."""
    if job.forced is not None:
        return job.forced
    name = job.outcome
    if name is None:
        return profile.lifecycle.success
    if name not in profile.outcomes:
        return None
    want = profile.outcomes[name]
    return "__never__" if want is None else want


def _secret(control: Control, profile: Profile, target: Target, headers: dict[str, str]) -> str | None:
    return profile.secret(target, headers, control.config())
