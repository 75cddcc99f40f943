"""contracts.strategies.syncso: valid bodies obey the schema and every cross-field rule of
shared/reference/syncso.md §7–§8; invalid ones break exactly the rule they name."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from lipsync_emulator.contracts import strategies as st
from lipsync_emulator.contracts.strategies.base import Invalid

CFG = settings(max_examples=30, derandomize=True, database=None, deadline=None)
SYNC = st.syncso


def voices(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in body["input"] if i["type"] in ("audio", "text")]


def broken_rules(body: dict[str, Any], duration: float = 10.0) -> list[str]:
    """An independent, literal reading of the reference's rules (the oracle of this test)."""
    out = []
    videos = [i for i in body["input"] if i["type"] == "video"]
    if len(videos) != 1:
        out.append("one video")
    refs = [v.get("refId") for v in voices(body) if v.get("refId")]
    if len(refs) != len(set(refs)):
        out.append("unique refIds")
    segments = body.get("segments")
    if not segments and len(voices(body)) != 1:
        out.append("one voice without segments")
    for seg in segments or []:
        audio = seg["audioInput"]
        if audio["refId"] not in refs:
            out.append("known refId")
        if ("startTime" in audio) != ("endTime" in audio):
            out.append("crop pair")
        if "startTime" in audio and not audio["startTime"] < audio["endTime"]:
            out.append("crop order")
        if not 0 <= seg["startTime"] < seg["endTime"] <= duration:
            out.append("segment inside the video, positive length")
    ordered = sorted(segments or [], key=lambda s: s["startTime"])
    if any(b["startTime"] < a["endTime"] for a, b in zip(ordered, ordered[1:], strict=False)):
        out.append("no overlap")
    return out


@CFG
@given(SYNC.create_requests())
def test_valid_bodies_are_schema_valid_and_obey_every_rule(body: dict[str, Any]) -> None:
    assert SYNC.SCHEMA.is_valid("CreateGenerationDto", body)
    assert broken_rules(body) == []


@CFG
@given(SYNC.create_requests(video_duration=30, segmented=True))
def test_segmented_bodies_use_every_ref_id_within_the_video(body: dict[str, Any]) -> None:
    assert "?duration=30" in next(i for i in body["input"] if i["type"] == "video")["url"]
    assert broken_rules(body, 30) == []
    used = {s["audioInput"]["refId"] for s in body["segments"]}
    assert used == {v["refId"] for v in voices(body)} or len(body["segments"]) < len(voices(body))


@CFG
@given(SYNC.segments(video_duration=30, ref_ids=("host", "guest")))
def test_segments_strategy_as_in_the_readme(segments: list[dict[str, Any]]) -> None:
    """``st.syncso.segments(video_duration=30)``: ordering free, gaps allowed, inside 0–30 s."""
    assert 1 <= len(segments) <= 3
    for seg in segments:
        assert 0 <= seg["startTime"] < seg["endTime"] <= 30
        assert seg["audioInput"]["refId"] in ("host", "guest")


def test_minimal_request_is_what_hypothesis_shrinks_to() -> None:
    from hypothesis import find

    found = find(SYNC.create_requests(segmented=False), lambda _: True,
                 settings=settings(database=None, derandomize=True, max_examples=50))
    assert found == SYNC.minimal_request()


@pytest.mark.parametrize("rule", SYNC.RULES)
def test_each_invalid_example_breaks_exactly_its_rule(rule: str) -> None:
    cfg = SYNC.Config(segment_overlap="reject", zero_length_segments="reject")

    @settings(max_examples=8, derandomize=True, database=None, deadline=None)
    @given(SYNC.invalid_requests(rule, config=cfg))
    def check(bad: Invalid) -> None:
        assert bad.rule == rule
        assert bad.expected.status in (400, 422) and bad.expected.code and bad.expected.message
        assert SYNC.SCHEMA.is_valid("CreateGenerationDto", bad.request), "cross-field rules are schema-valid"
        if rule in ("video_missing", "too_many_visual"):
            assert broken_rules(bad.request)[0] == "one video"

    check()


@CFG
@given(SYNC.invalid_requests("schema"))
def test_schema_examples_break_the_schema_once(bad: Invalid) -> None:
    assert bad.rule.startswith("schema:")
    assert not SYNC.SCHEMA.is_valid("CreateGenerationDto", bad.request)
    assert bad.field and bad.field in bad.expected.message


def test_schema_error_codes_follow_the_reference() -> None:
    body = SYNC.minimal_request() | {"input": [{"type": "video", "url": "https://x/v.mp4"},
                                               {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v",
                                                                             "script": "hi"}}]}
    by_rule = {b.rule: b for b in SYNC.schema_breaks(body)}
    assert by_rule["schema:enum:model"].expected.code == "generation_unsupported_model"
    assert by_rule["schema:maxLength:input[].provider.script"].expected.code == "generation_text_length_exceeded"
    assert by_rule["schema:required:input[].provider.script"].expected.code == "generation_input_validation_failed"
    assert by_rule["schema:minLength:input[].provider.script"].expected.code == "generation_input_validation_failed"


def test_rule_ids_follow_the_configuration() -> None:
    assert "segment_overlap" not in SYNC.rule_ids()
    assert "duplicate_ref_id" in SYNC.rule_ids()
    assert "segment_overlap" in SYNC.rule_ids(SYNC.Config(segment_overlap="reject"))
    assert "duplicate_ref_id" not in SYNC.rule_ids(SYNC.Config(duplicate_ref_ids="allow"))
    with pytest.raises(KeyError):
        SYNC.invalid_requests("no_such_rule")


def test_strategies_compose_in_user_tests() -> None:
    """Strategies are ordinary Hypothesis strategies: they combine with the user's own."""

    @settings(max_examples=5, derandomize=True, database=None)
    @given(body=SYNC.create_requests(webhook_url="https://app.example/hooks"), n=hst.integers(1, 3))
    def user_test(body: dict[str, Any], n: int) -> None:
        assert body["webhookUrl"] == "https://app.example/hooks"

    user_test()
