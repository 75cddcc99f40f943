"""contracts.strategies._schema: values derived from a schema are valid against it, and every
break derived from a valid value breaks exactly the rule it names."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lipsync_emulator import schemas
from lipsync_emulator.contracts.strategies._schema import REMOVE, SchemaStrategies, dotted, rule_path

SPEC = {"components": {"schemas": {
    "Kind": {"type": "string", "enum": ["a", "b"]},
    "Item": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"$ref": "#/components/schemas/Kind"},
        "size": {"type": "integer", "minimum": 1, "maximum": 9},
        "name": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[a-z]+$"},
        "url": {"type": "string"}, "id": {"type": "string"}},
        "anyOf": [{"required": ["url"]}, {"required": ["id"]}]},
    "Body": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/components/schemas/Item"}},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1}, "flag": {"type": "boolean"}}},
}}}
SS = SchemaStrategies(SPEC)
CFG = settings(max_examples=40, derandomize=True, database=None, deadline=None)


def test_dotted_and_rule_paths() -> None:
    assert dotted(("input", 1, "provider", "script")) == "input[1].provider.script"
    assert rule_path(("input", 1, "provider", "script")) == "input[].provider.script"


@CFG
@given(SS.strategy("Body"))
def test_derived_values_are_valid(body: dict) -> None:
    assert SS.is_valid("Body", body)
    assert all(("url" in item) or ("id" in item) for item in body["items"])  # anyOf honoured


@CFG
@given(SS.strategy("Body"))
def test_every_break_breaks_the_schema_and_names_its_rule(body: dict) -> None:
    before = copy.deepcopy(body)
    breaks = SS.breaks("Body", body)
    assert breaks, "a valid body always has something to break (items is required)"
    for brk in breaks:
        broken = brk.apply(body)
        assert not SS.is_valid("Body", broken), brk.rule
        assert brk.rule.startswith(f"schema:{brk.keyword}:")
    assert body == before  # breaks apply to copies


def test_breaks_cover_each_keyword() -> None:
    body = {"items": [{"kind": "a", "size": 3, "name": "ab", "url": "u"}], "ratio": 0.5, "flag": True}
    rules = {b.rule for b in SS.breaks("Body", body)}
    assert {"schema:required:items", "schema:minItems:items", "schema:maxItems:items", "schema:type:items",
            "schema:required:items[].kind", "schema:enum:items[].kind", "schema:minimum:items[].size",
            "schema:maximum:items[].size", "schema:type:items[].size", "schema:minLength:items[].name",
            "schema:maxLength:items[].name", "schema:pattern:items[].name", "schema:anyOf:items[]",
            "schema:minimum:ratio", "schema:maximum:ratio", "schema:type:flag"} <= rules
    anyof = next(b for b in SS.breaks("Body", body) if b.keyword == "anyOf")
    assert anyof.field == "items[0]" and "url" not in anyof.apply(body)["items"][0]


def test_required_break_removes_the_key() -> None:
    body = {"items": [{"kind": "a", "url": "u"}]}
    brk = next(b for b in SS.breaks("Body", body) if b.rule == "schema:required:items[].kind")
    assert brk.value is REMOVE and brk.apply(body) == {"items": [{"url": "u"}]}


@pytest.mark.parametrize("name", schemas.names())
def test_every_provider_component_yields_valid_values(name: str) -> None:
    """Each provider schema's request components derive valid values (the strategies' base)."""
    ss = SchemaStrategies(schemas.load(name))

    @settings(max_examples=len(ss.components) * 4, derandomize=True, database=None, deadline=None)
    @given(st.data())
    def valid(data: st.DataObject) -> None:
        component = data.draw(st.sampled_from(sorted(ss.components)))
        value = data.draw(ss.strategy(component))
        assert ss.is_valid(component, value), (component, value)

    valid()


def test_overrides_replace_derived_values() -> None:
    ss = SchemaStrategies(SPEC, overrides={"Item.url": st.just("https://x/v.mp4")})

    @settings(max_examples=10, derandomize=True, database=None)
    @given(ss.strategy("Item"))
    def uses(item: dict) -> None:
        assert item.get("url") in (None, "https://x/v.mp4")

    uses()
