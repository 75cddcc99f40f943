"""sync.so asset library (reference §3.9-3.10, §4.10; checklist item 46): generations' inputs and
outputs appear as assets; list and get through syncsdk 0.3.0 and raw HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sync import Sync
from sync.common.errors import NotFoundError
from sync.core.api_error import ApiError

KEY = {"x-api-key": "sk-test"}


def create(emu: Any, *items: dict[str, Any], key: dict[str, str] = KEY, **extra: Any) -> dict[str, Any]:
    resp = requests.post(f"{emu.url}/v2/generate", json={"model": "lipsync-2", "input": list(items), **extra},
                         headers=key, timeout=10)
    assert resp.status_code == 201, resp.text
    return resp.json()


def video(name: str = "v", **hints: Any) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in hints.items())
    return {"type": "video", "url": f"https://e.x/{name}.mp4" + (f"?{query}" if query else "")}


def audio(name: str = "a", **hints: Any) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in hints.items())
    return {"type": "audio", "url": f"https://e.x/{name}.wav" + (f"?{query}" if query else "")}


def listing(emu: Any, **params: Any) -> requests.Response:
    return requests.get(f"{emu.url}/v2/assets", params=params, headers=KEY, timeout=10)


@pytest.fixture
def client(emulator: Any) -> Sync:
    return Sync(api_key="sk-test", base_url=emulator.url)


def test_item_46_inputs_become_assets_on_create(emulator, client):
    create(emulator, video("clip", duration=12, width=1920, height=1080, size=2048), audio("voice", duration=8))
    page = client.assets.list()
    assert page.total_count == 2 and page.next_cursor is None
    by_type = {a.type: a for a in page.items}
    v, a = by_type["VIDEO"], by_type["AUDIO"]
    assert (v.name, v.format, v.duration_seconds, v.width, v.height, v.size) == ("clip.mp4", "mp4", 12.0, 1920, 1080, 2048)
    assert v.url == "https://e.x/clip.mp4?duration=12&width=1920&height=1080&size=2048"
    assert v.input_type == "URL" and v.visibility == "ORGANIZATION"
    assert (a.name, a.format, a.duration_seconds) == ("voice.wav", "wav", 8.0)
    raw = listing(emulator).json()
    assert set(raw) == {"items", "totalCount"}
    assert set(raw["items"][0]) >= {"id", "createdAt", "updatedAt", "name", "url", "size", "format", "type",
                                    "inputType", "durationSeconds", "visibility"}


def test_item_46_output_becomes_an_asset_on_completion(emulator, client):
    gen = create(emulator, video("clip", duration=6), audio(), outputFileName="final_cut")
    emulator.advance(10)
    assert client.assets.list().total_count == 2
    emulator.advance(20)
    done = requests.get(f"{emulator.url}/v2/generate/{gen['id']}", headers=KEY, timeout=10).json()
    newest = client.assets.list().items[0]
    assert newest.url == done["outputUrl"] and newest.name == "final_cut.mp4"
    assert newest.type == "VIDEO" and newest.duration_seconds == 6.0 and newest.input_type is None
    assert requests.get(newest.url, timeout=10).headers["Content-Type"] == "video/mp4"
    assert newest.size == len(requests.get(newest.url, timeout=10).content)


def test_item_46_failed_generation_adds_no_output_asset(emulator, client):
    create(emulator, video(), {**audio(), "url": "https://e.x/a.wav?emulator_scenario=failed"})
    emulator.advance(60)
    assert client.assets.list().total_count == 2


def test_item_46_same_url_is_one_asset_text_inputs_add_none(emulator, client):
    create(emulator, video(), audio())
    create(emulator, video(), {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "Hi"}})
    assert sorted(a.name for a in client.assets.list().items) == ["a.wav", "v.mp4"]


def test_item_46_multipart_uploads_are_upload_assets(emulator, client):
    wav = b"RIFF" + b"\x00" * 40
    resp = requests.post(f"{emulator.url}/v2/generate", data={"model": "lipsync-2"}, headers=KEY, timeout=10,
                         files={"video": ("take1.mp4", b"\x00" * 64), "audio": ("line.wav", wav)})
    assert resp.status_code == 201
    items = {a.name: a for a in client.assets.list().items}
    assert items["take1.mp4"].input_type == "UPLOAD" and items["take1.mp4"].size == 64
    assert items["line.wav"].type == "AUDIO" and items["line.wav"].size == len(wav)
    assert requests.get(items["take1.mp4"].url, timeout=10).content == b"\x00" * 64


def test_item_46_types_filter_repeated_or_comma_separated(emulator, client):
    create(emulator, video(), audio())
    assert [a.type for a in client.assets.list(types=["AUDIO"]).items] == ["AUDIO"]
    assert client.assets.list(types=["AUDIO", "VIDEO"]).total_count == 2
    assert listing(emulator, types="AUDIO,VIDEO").json()["totalCount"] == 2
    assert listing(emulator, types=["VIDEO"]).json()["items"][0]["type"] == "VIDEO"
    assert listing(emulator, types="IMAGE").json() == {"items": [], "totalCount": 0}
    bad = listing(emulator, types="GIF")
    assert bad.status_code == 400 and "types[0] must be one of: AUDIO, VIDEO, IMAGE" in bad.json()["message"]
    empty = listing(emulator, types=["VIDEO", ""])
    assert empty.status_code == 400 and empty.json()["message"] == "types[1] must be one of: AUDIO, VIDEO, IMAGE (got '')"


def test_item_46_limit_cursor_and_total_count(emulator, client):
    for n in range(3):
        create(emulator, video(f"v{n}"), audio(f"a{n}"))
    first = client.assets.list(limit=4)
    assert len(first.items) == 4 and first.total_count == 6 and first.next_cursor == first.items[-1].id
    second = client.assets.list(limit=4, cursor=first.next_cursor)
    assert len(second.items) == 2 and second.next_cursor is None and second.total_count == 6
    assert {a.id for a in first.items}.isdisjoint(a.id for a in second.items)
    assert [a.name for a in first.items[:2]] in (["a2.wav", "v2.mp4"], ["v2.mp4", "a2.wav"])  # newest first
    for bad in (0, 101):
        resp = listing(emulator, limit=bad)
        assert resp.status_code == 400 and resp.json()["statusCode"] == 400
    unknown = listing(emulator, cursor="not-an-asset")
    assert unknown.status_code == 400 and "cursor" in unknown.json()["message"]


def test_item_46_search_query_matches_names_case_insensitively(emulator, client):
    create(emulator, video("Interview_Take2"), audio("voiceover"))
    assert [a.name for a in client.assets.list(search_query="take2").items] == ["Interview_Take2.mp4"]
    assert client.assets.list(search_query="nothing").items == []


@pytest.mark.parametrize("sort_by,expected", [
    ("nameAsc", ["a.wav", "b.mp4", "c.wav", "d.mp4"]),
    ("nameDesc", ["d.mp4", "c.wav", "b.mp4", "a.wav"]),
    ("durationAsc", ["c.wav", "b.mp4", "d.mp4", "a.wav"]),
    ("durationDesc", ["a.wav", "d.mp4", "b.mp4", "c.wav"]),
    ("sizeAsc", ["d.mp4", "a.wav", "b.mp4", "c.wav"]),  # unknown sizes last
    ("kindAsc", ["a.wav", "c.wav", "b.mp4", "d.mp4"]),
    ("dateAsc", ["b.mp4", "a.wav", "d.mp4", "c.wav"]),
    ("dateDesc", ["c.wav", "d.mp4", "a.wav", "b.mp4"]),
])
def test_item_46_sort_orders(emulator, client, sort_by, expected):
    create(emulator, video("b", duration=5, size=200), audio("a", duration=30, size=100))
    emulator.advance(1)
    create(emulator, video("d", duration=20, size=50), audio("c", duration=2))
    assert [a.name for a in client.assets.list(sort_by=sort_by).items] == expected


def test_item_46_project_id_filter(emulator, client):
    create(emulator, video("p"), audio("p"), projectId="proj-1")
    create(emulator, video("q"), audio("q"))
    assert sorted(a.name for a in client.assets.list(project_id="proj-1").items) == ["p.mp4", "p.wav"]
    assert client.assets.list(project_id="proj-2").items == []
    assert listing(emulator, projectId="proj-1").json()["items"][0]["projectId"] == "proj-1"


def test_item_46_get_asset_and_errors(emulator, client):
    create(emulator, video(), audio())
    first = client.assets.list().items[0]
    assert client.assets.get(first.id) == first
    with pytest.raises(NotFoundError):
        client.assets.get("00000000-0000-4000-8000-000000000000")
    missing = requests.get(f"{emulator.url}/v2/assets/00000000-0000-4000-8000-000000000000", headers=KEY,
                           timeout=10)
    assert missing.status_code == 404 and missing.json()["errorCode"] == "asset_not_found"
    with pytest.raises(ApiError) as err:
        client.assets.get("not-a-uuid")
    assert err.value.status_code == 400 and err.value.body["errorCode"] == "invalid_asset_id_format"


def test_item_46_assets_are_per_api_key(emulator, client):
    create(emulator, video(), audio(), key={"x-api-key": "sk-other"})
    assert client.assets.list().items == []
    theirs = requests.get(f"{emulator.url}/v2/assets", headers={"x-api-key": "sk-other"}, timeout=10).json()
    assert theirs["totalCount"] == 2
    assert requests.get(f"{emulator.url}/v2/assets/{theirs['items'][0]['id']}", headers=KEY,
                        timeout=10).status_code == 404
    assert requests.get(f"{emulator.url}/v2/assets", timeout=10).status_code == 401
