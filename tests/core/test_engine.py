"""The lifecycle engine, scheduler and clock, in isolation (no HTTP)."""

from __future__ import annotations

import contextlib
import threading

import pytest
from lipsync_emulator.core.clock import BATCH, RealClock, Scheduler, VirtualClock, iso, parse_iso
from lipsync_emulator.core.jobs import JobEngine, Lifecycle, Outcome
from lipsync_emulator.core.store import MemoryStore

LIFE = Lifecycle(states=("created", "processing", "completed"), terminal=frozenset({"completed", "failed"}))
DUR = {"created": 2, "processing": 3}


@pytest.fixture
def env():
    clock = VirtualClock(start=1_000.0)
    sched = Scheduler(clock)
    engine = JobEngine(clock, sched, MemoryStore())
    entered: list[tuple[str, str, float]] = []
    engine.declare("p", "job", LIFE, lambda job, state: entered.append((job.id, state, clock.now())))

    def advance(seconds: float) -> None:
        clock.advance(seconds)
        sched.run_due()

    return engine, advance, entered


def test_states_follow_durations_and_hooks_fire_once_per_state(env):
    engine, advance, entered = env
    engine.create("p", "job", "a", durations=DUR)
    advance(1.99)
    assert engine.get("p", "job", "a").status == "created"
    advance(0.01)
    assert engine.get("p", "job", "a").status == "processing"
    advance(100)
    job = engine.get("p", "job", "a")
    assert job.status == "completed"
    assert [s for _, s, _ in entered] == ["created", "processing", "completed"]
    assert job.history == [("created", 1000.0), ("processing", 1002.0), ("completed", 1005.0)]


def test_transitions_are_stamped_at_their_due_time_not_the_advance_time(env):
    engine, advance, entered = env
    engine.create("p", "job", "a", durations=DUR)
    advance(3600)
    assert [t for _, _, t in entered] == [1000.0, 3600 + 1000.0, 3600 + 1000.0]
    assert engine.get("p", "job", "a").history[-1] == ("completed", 1005.0)


def test_failure_outcome_replaces_success_and_merges_data(env):
    engine, advance, _ = env
    engine.create("p", "job", "a", durations=DUR, outcome=Outcome(status="failed", data={"error": "boom"}))
    advance(10)
    job = engine.get("p", "job", "a")
    assert (job.status, job.data) == ("failed", {"error": "boom"})
    assert [s for s, _ in job.history] == ["created", "processing", "failed"]


def test_outcome_after_initial_state_skips_processing(env):
    engine, advance, _ = env
    engine.create("p", "job", "a", durations=DUR, outcome=Outcome(status="failed", after="created"))
    advance(2)
    assert [s for s, _ in engine.get("p", "job", "a").history] == ["created", "failed"]


def test_stuck_and_slow(env):
    engine, advance, _ = env
    engine.create("p", "job", "stuck", durations=DUR, outcome=Outcome(stuck=True))
    engine.create("p", "job", "slow", durations=DUR, outcome=Outcome(slow=10))
    advance(49)
    assert engine.get("p", "job", "stuck").status == "processing"
    assert engine.get("p", "job", "slow").status == "processing"
    advance(1)
    assert engine.get("p", "job", "slow").status == "completed"
    advance(10**6)
    assert engine.get("p", "job", "stuck").status == "processing"


def test_queue_holds_jobs_beyond_the_limit_in_the_initial_state(env):
    engine, advance, _ = env
    for name in "abc":
        engine.create("p", "job", name, durations=DUR, queue=("acct", 2))
    assert engine.active("acct") == 2
    advance(5)
    assert [engine.get("p", "job", n).status for n in "abc"] == ["completed", "completed", "created"]
    advance(2)
    assert engine.get("p", "job", "c").status == "processing"
    advance(3)
    assert engine.get("p", "job", "c").status == "completed"
    assert engine.get("p", "job", "c").history[0] == ("created", 1000.0)
    assert engine.active("acct") == 0


def test_finish_now_drives_a_job_to_its_outcome_immediately(env):
    engine, advance, _ = env
    job = engine.create("p", "job", "a", durations=DUR)
    engine.finish_now(job, Outcome(status="failed", after="created"))
    assert engine.get("p", "job", "a").status == "failed"
    advance(100)
    assert engine.get("p", "job", "a").status == "failed"


def test_jobs_are_listed_newest_first(env):
    engine, _, _ = env
    for name in "abc":
        engine.create("p", "job", name, durations=DUR)
    assert [j.id for j in engine.jobs("p", "job")] == ["c", "b", "a"]
    assert [j.id for j in engine.jobs("p", "job", lambda j: j.id != "b")] == ["c", "a"]


def test_virtual_clock_never_goes_backwards():
    clock = VirtualClock(start=10)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(5)


def test_iso_round_trip():
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1.5, millis=False) == "1970-01-01T00:00:01Z"
    assert parse_iso("2024-01-01T00:00:00Z") == 1704067200.0
    assert parse_iso("2024-01-01T01:00:00+01:00") == 1704067200.0


def test_finishing_a_queued_job_does_not_release_a_slot_it_never_held(env):
    engine, advance, _ = env
    for name in "abc":
        engine.create("p", "job", name, durations=DUR, queue=("acct", 1))
    engine.finish_now(engine.get("p", "job", "c"), Outcome(status="failed", after="created"))
    assert engine.active("acct") == 1
    advance(7)  # a completes at +5 and hands its slot to b, which then runs alone
    assert engine.get("p", "job", "b").status == "processing"
    assert engine.active("acct") == 1


def test_split_advances_land_exactly_on_transitions():
    clock = VirtualClock()  # starts at the wall-clock time: a large float
    sched = Scheduler(clock)
    engine = JobEngine(clock, sched, MemoryStore())
    engine.declare("p", "job", LIFE)
    engine.create("p", "job", "a", durations={"created": 5, "processing": 25})
    for step in (5, 12.5, 7.3, 5.2):  # 30 s in awkward pieces
        clock.advance(step)
        sched.run_due()
    assert engine.get("p", "job", "a").status == "completed"


def test_a_failing_callback_is_logged_and_the_rest_still_run(caplog):
    clock = VirtualClock()
    sched = Scheduler(clock)
    ran: list[str] = []
    sched.call_at(clock.now() + 1, lambda: 1 / 0)
    sched.call_at(clock.now() + 2, lambda: ran.append("later"))
    clock.advance(5)
    assert sched.run_due() == 2 and ran == ["later"]
    assert "scheduled work failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_the_background_scheduler_is_woken_only_by_a_new_earliest_item():
    """``serve``'s timer thread sleeps until the earliest item: a later item (most creates)
    must not wake it (a thread switch per request), an earlier one must (or it runs late)."""
    sched = Scheduler(VirtualClock())
    wakes: list[str] = []

    class Recorder:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def notify(self):
            wakes.append("notify")

    sched._wake = Recorder()  # type: ignore[assignment]
    sched._thread = object()  # type: ignore[assignment]  # as if start_background() had run
    sched.call_at(100.0, lambda: None)
    sched.call_at(200.0, lambda: None)
    sched.call_at(150.0, lambda: None)
    assert wakes == ["notify"]
    sched.call_at(50.0, lambda: None)
    assert wakes == ["notify", "notify"]
    assert [when for when, _, _ in sorted(sched._heap)] == [50.0, 100.0, 150.0, 200.0]


def test_the_background_scheduler_works_through_a_backlog_a_few_callbacks_a_turn():
    """A backlog (a restart after a long stop) is run in short turns, so requests arriving
    meanwhile are answered between them rather than after the whole backlog."""
    clock = RealClock()
    scheduler = Scheduler(clock)
    per_turn: list[int] = []
    ran = [0]
    done = threading.Event()

    @contextlib.contextmanager
    def turn():
        before = ran[0]
        yield
        per_turn.append(ran[0] - before)
        if sum(per_turn) == 5 * BATCH:
            done.set()

    def work() -> None:
        ran[0] += 1

    for _ in range(5 * BATCH):
        scheduler.call_at(clock.now() - 1, work)
    scheduler.start_background(turn)
    try:
        assert done.wait(30)
    finally:
        scheduler.stop()
    assert max(per_turn) == BATCH and len(per_turn) >= 5
