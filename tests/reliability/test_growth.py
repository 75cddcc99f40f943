"""State that grows with use: what one create writes must not grow with the number of jobs
an API key already has (the emulator over a real socket, its store watched)."""

from __future__ import annotations

import pickle
from typing import Any

import requests
from lipsync_emulator.testing import EmulatorServer

AUTH = {"Authorization": "Bearer sk_live_one_busy_key_0001"}
BODY = {"formState": {"video": "https://e.x/v.mp4", "audio": "https://e.x/a.mp3"}}


def test_a_lipsync_studio_create_writes_the_same_amount_on_a_keys_first_and_300th_job():
    with EmulatorServer({"lipsyncstudio": {"initial_credits": 10**9}}) as emu:
        store = emu.runtime.store
        written: list[int] = []
        put = store.put

        def spy(collection: str, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
            written.append(len(pickle.dumps(value)))
            return put(collection, key, value, *args, **kwargs)

        store.put = spy  # type: ignore[method-assign]
        largest = []
        for _ in range(300):
            written.clear()
            resp = requests.post(f"{emu.url}/api/v1/lipsync-video", json=BODY, headers=AUTH, timeout=10)
            assert resp.status_code == 200, resp.text
            largest.append(max(written))
        # a few bytes of slack for growing numbers (balance, ids); a ledger kept in the key's
        # account grew by ~150 bytes a job
        assert largest[-1] <= largest[1] + 16, (largest[1], largest[-1])
        account = requests.get(f"{emu.url}/_emulator/lipsyncstudio/credits/sk_live_one_busy_key_0001",
                               timeout=10).json()
        assert len(account["charges"]) == 300 and account["spent"] == 300 * 20
