"""``st.kling.face_choose(identified)``: face_choose lists consistent with a real identify-face
result — several faces, faces too short to lip-sync, faces that leave the screen — are
accepted (reference §8 C14–C29)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as hst
from lipsync_emulator.contracts import strategies as st
from lipsync_emulator.contracts.profiles import get
from lipsync_emulator.contracts.targets import WsgiTarget

KLING = get("kling")
FACES = ("0-1500,2000-9000", "0-10000", "3000-6000,6500-10000", "1000-4000")


def test_face_choose_fits_any_identify_result(make_app: Callable[..., Any]) -> None:
    target = WsgiTarget(make_app())
    headers = KLING.headers()

    @settings(max_examples=25, derandomize=True, database=None, deadline=None)
    @given(data=hst.data(), faces=hst.sampled_from(FACES))
    def accepted(data: hst.DataObject, faces: str) -> None:
        found = target.request("POST", "/v1/videos/identify-face", headers=headers,
                               json={"video_url": st.kling.video_url(10, faces=faces)})
        assert found.status == 200, found.text
        identified = found.json()["data"]
        choose = data.draw(st.kling.face_choose(identified, video_duration_ms=10_000))
        usable = {f["face_id"] for f in identified["face_data"] if f["end_time"] - f["start_time"] >= 2000}
        assert choose[0]["face_id"] in usable
        created = target.request("POST", "/v1/videos/advanced-lip-sync", headers=headers,
                                 json={"session_id": identified["session_id"], "face_choose": choose})
        assert created.status == 200 and created.json()["code"] == 0, (choose, created.text)

    accepted()


def test_base64_audio_is_real_wav() -> None:
    import base64
    import io
    import wave

    with wave.open(io.BytesIO(base64.b64decode(st.kling.wav_base64(3)))) as w:
        assert w.getnframes() / w.getframerate() == 3
