"""sync.so long poll ``GET /v2/generate/{id}?wait=true&timeout=N`` (reference §3.3; checklist items
39-41), over raw HTTP (syncsdk 0.3.0 has no ``wait``). No sleeping: a waiting request is observed
through ``Runtime.changed`` and the clock is advanced from the test thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from lipsync_emulator.providers.syncso import longpoll
from sync import Sync

KEY = {"x-api-key": "sk-test"}
VALID = {"model": "lipsync-2", "input": [{"type": "video", "url": "https://e.x/v.mp4"},
                                         {"type": "audio", "url": "https://e.x/a.wav"}]}
WAIT_HEADERS = ("Retry-After", "X-Sync-Wait-Mode", "X-Sync-Wait-Timeout-Seconds")


def create(emu: Any, body: Any = None) -> str:
    resp = requests.post(f"{emu.url}/v2/generate", json=VALID if body is None else body, headers=KEY, timeout=10)
    assert resp.status_code == 201
    return str(resp.json()["id"])


def get(emu: Any, gen_id: str, query: str) -> requests.Response:
    return requests.get(f"{emu.url}/v2/generate/{gen_id}?{query}", headers=KEY, timeout=20)


def start_waiting(emu: Any, gen_id: str, query: str) -> tuple[threading.Thread, list[requests.Response]]:
    """Send the long poll from a thread and return once the emulator has it waiting."""
    out: list[requests.Response] = []
    thread = threading.Thread(target=lambda: out.append(get(emu, gen_id, query)))
    thread.start()
    rt = emu.runtime
    with rt.changed:
        assert rt.changed.wait_for(lambda: longpoll.waiting(rt) == 1, timeout=5)
    return thread, out


def finish(thread: threading.Thread, out: list[requests.Response]) -> requests.Response:
    thread.join(timeout=10)
    assert not thread.is_alive() and len(out) == 1
    return out[0]


def test_item_39_terminal_generation_returns_at_once_with_the_wait_headers(emulator):
    gen_id = create(emulator)
    emulator.advance(30)
    resp = get(emulator, gen_id, "wait=true&timeout=3")
    assert resp.status_code == 200 and resp.json()["status"] == "COMPLETED"
    assert resp.headers["Retry-After"] == "2"
    assert resp.headers["X-Sync-Wait-Mode"] == "long_poll"
    assert resp.headers["X-Sync-Wait-Timeout-Seconds"] == "3"
    default = get(emulator, gen_id, "wait=true")
    assert default.headers["X-Sync-Wait-Timeout-Seconds"] == "5"  # documented default


def test_item_39_returns_the_non_terminal_generation_after_timeout_virtual_seconds(emulator):
    gen_id = create(emulator)
    thread, out = start_waiting(emulator, gen_id, "wait=true&timeout=3")
    emulator.advance(2)
    assert thread.is_alive(), "2 of 3 virtual seconds: still waiting"
    emulator.advance(1)
    resp = finish(thread, out)
    assert resp.status_code == 200
    assert resp.json()["status"] == "PENDING" and resp.json()["id"] == gen_id
    assert resp.headers["X-Sync-Wait-Timeout-Seconds"] == "3" and resp.headers["Retry-After"] == "2"


def test_item_39_returns_as_soon_as_the_generation_becomes_terminal(emulator):
    gen_id = create(emulator)
    emulator.advance(29)
    thread, out = start_waiting(emulator, gen_id, "wait=true&timeout=10")
    emulator.advance(1)
    resp = finish(thread, out)
    assert resp.json()["status"] == "COMPLETED" and resp.json()["outputUrl"]
    assert resp.headers["X-Sync-Wait-Mode"] == "long_poll"


def test_item_39_control_plane_finish_wakes_the_waiter(emulator):
    gen_id = create(emulator)
    thread, out = start_waiting(emulator, gen_id, "wait=true&timeout=10")
    emulator.control.finish("syncso", gen_id, "failed")
    resp = finish(thread, out)
    assert resp.json()["status"] == "FAILED" and resp.json()["error_code"] == "generation_pipeline_failed"


def test_item_39_non_terminal_states_do_not_end_the_wait(emulator):
    gen_id = create(emulator)
    thread, out = start_waiting(emulator, gen_id, "wait=true&timeout=10")
    emulator.advance(5)  # PENDING -> PROCESSING: not terminal, 5 of 10 s
    assert thread.is_alive()
    emulator.advance(5)
    resp = finish(thread, out)
    assert resp.json()["status"] == "PROCESSING"


def test_item_39_without_clock_advances_the_wait_is_bounded_in_real_time(make_emulator):
    emu = make_emulator({"syncso": {"long_poll_wall_seconds": 0.2}})
    gen_id = create(emu)
    before = emu.control.now()
    resp = get(emu, gen_id, "wait=true&timeout=10")
    assert resp.status_code == 200 and resp.json()["status"] == "PENDING"
    assert resp.headers["X-Sync-Wait-Timeout-Seconds"] == "10"
    assert emu.control.now() == before, "a long poll never moves the virtual clock"


def test_item_39_wall_bound_default_is_configurable(emulator):
    assert emulator.control.config()["syncso"]["long_poll_wall_seconds"] == 2.0


def test_item_39_real_clock_long_poll_follows_the_engine(make_emulator):
    emu = make_emulator({"clock": "real", "syncso": {"durations": {"PENDING": 0.05, "PROCESSING": 0.1}}})
    gen_id = create(emu)
    resp = get(emu, gen_id, "wait=true&timeout=10")
    assert resp.json()["status"] == "COMPLETED"


def test_item_39_cancel_while_waiting_ends_the_wait(emulator):
    gen_id = create(emulator)
    thread, out = start_waiting(emulator, gen_id, "wait=true&timeout=10")
    assert requests.post(f"{emulator.url}/v2/generate/{gen_id}/cancel", headers=KEY, timeout=10).status_code == 200
    resp = finish(thread, out)
    assert resp.status_code == 200 and resp.json()["status"] == "CANCELED"


def test_item_39_unknown_generation_is_404_without_waiting(emulator):
    resp = get(emulator, "00000000-0000-4000-8000-000000000000", "wait=true&timeout=10")
    assert resp.status_code == 404


@pytest.mark.parametrize("query,fragment", [
    ("wait=true&timeout=0.5", "timeout must be greater than or equal to 1 (got 0.5)"),
    ("wait=true&timeout=11", "timeout must be less than or equal to 10 (got 11"),
    ("wait=true&timeout=0", "timeout must be greater than or equal to 1"),
    ("wait=true&timeout=soon", "timeout"),
    ("wait=true&timeout=nan", "timeout must be a number from 1 to 10 (got 'nan')"),
    ("wait=maybe", "wait"),
    ("wait=true&include=progress", "wait=true cannot be combined with include=progress"),
    ("wait=true&include=foo,progress", "cannot be combined"),
])
def test_item_40_bad_long_poll_parameters_are_400(emulator, query, fragment):
    gen_id = create(emulator)
    resp = get(emulator, gen_id, query)
    assert resp.status_code == 400
    body = resp.json()
    assert body["statusCode"] == 400 and fragment in body["message"]
    assert not any(h in resp.headers for h in WAIT_HEADERS)


@pytest.mark.parametrize("timeout", ["1", "10", "2.5"])
def test_item_40_timeouts_inside_1_to_10_are_accepted(emulator, timeout):
    gen_id = create(emulator)
    emulator.control.finish("syncso", gen_id)
    resp = get(emulator, gen_id, f"wait=true&timeout={timeout}")
    assert resp.status_code == 200 and resp.headers["X-Sync-Wait-Timeout-Seconds"] == timeout


def test_item_41_progress_without_wait_and_plain_get_have_no_wait_headers(emulator):
    gen_id = create(emulator)
    emulator.advance(5 + 12.5)
    resp = get(emulator, gen_id, "include=progress&wait=false")
    assert resp.status_code == 200 and resp.json()["progress_percent"] == 50.0
    assert not any(h in resp.headers for h in WAIT_HEADERS)
    client = Sync(api_key="sk-test", base_url=emulator.url)
    assert client.generations.get(gen_id).status == "PROCESSING"
