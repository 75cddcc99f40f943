"""The fast accept path of request validation (emulator/core/openapi_fast.py) never accepts a
request openapi-core would reject, for every operation of every registered provider, on
generated requests (schema-guided values, mutations of them, and junk) and on hostile ones.
It also has to be useful: most schema-valid requests are accepted without openapi-core."""

from __future__ import annotations

import json
import math
import string
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lipsync_emulator.core.openapi import SpecValidator
from lipsync_emulator.core.openapi_fast import translate
from lipsync_emulator.providers import REGISTRY
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

SPECS = {p.name: SpecValidator(p.schema) for p in REGISTRY if p.schema}
OPERATIONS = [(name, op) for name, sv in SPECS.items() for op in sorted(sv.operations)]

JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _resolve(spec: dict[str, Any], schema: Any) -> Any:
    for _ in range(20):
        if isinstance(schema, dict) and "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in schema:
        try:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 200)
        except Exception:  # noqa: BLE001
            pass
    fmt = schema.get("format")
    if fmt in ("uri", "url"):
        return st.sampled_from(["https://x.test/v.mp4?duration=5", "https://x.test/a.wav", "http://127.0.0.1/i.png"])
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "date-time":
        return st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-01", "yesterday"])
    low, high = schema.get("minLength", 0), schema.get("maxLength", 12)
    return st.text(string.ascii_letters + string.digits + "-_ é", min_size=low, max_size=max(low, min(high, 12)))


def values(spec: dict[str, Any], schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by an OAS 3.0 schema (mostly valid; Hypothesis' bounds keep them small)."""
    schema = _resolve(spec, schema)
    if not isinstance(schema, dict) or depth > 5:
        return JUNK
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([values(spec, sub, depth + 1) for sub in schema[key]])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for sub in schema["allOf"]:
            sub = _resolve(spec, sub)
            for k, v in sub.items():
                if k == "properties":
                    merged.setdefault("properties", {}).update(v)
                elif k == "required":
                    merged.setdefault("required", []).extend(v)
                else:
                    merged[k] = v
        return values(spec, merged, depth + 1)
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    base: st.SearchStrategy[Any]
    if kind == "object":
        props = schema.get("properties", {})
        required = [k for k in schema.get("required", []) if k in props]
        optional = {k: values(spec, v, depth + 1) for k, v in props.items() if k not in required}
        base = st.fixed_dictionaries({k: values(spec, props[k], depth + 1) for k in required}, optional=optional)
    elif kind == "array":
        low = schema.get("minItems", 0)
        base = st.lists(values(spec, schema.get("items", {}), depth + 1), min_size=low,
                        max_size=max(low, min(schema.get("maxItems", 3), 3)))
    elif kind == "string":
        base = _string(schema)
    elif kind == "integer":
        base = st.integers(schema.get("minimum", -5), schema.get("maximum", 10**6))
    elif kind == "number":
        lo, hi = schema.get("minimum", -5.0), schema.get("maximum", 1e6)
        base = st.floats(lo, hi, allow_nan=False) | st.integers(math.ceil(lo), math.floor(hi))
    elif kind == "boolean":
        base = st.booleans()
    else:
        base = JUNK
    if schema.get("nullable") is True:
        base = base | st.none()
    return base


@st.composite
def mutated(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """A value, sometimes with one part replaced by junk or one key dropped."""
    value = draw(strategy)
    how = draw(st.sampled_from(["keep", "keep", "junk", "drop", "extra"]))
    if how == "keep" or not isinstance(value, dict) or not value:
        return value
    key = draw(st.sampled_from(sorted(value)))
    value = dict(value)
    if how == "junk":
        value[key] = draw(JUNK)
    elif how == "drop":
        del value[key]
    else:
        value[draw(st.text(max_size=5))] = draw(JUNK)
    return value


def _params(sv: SpecValidator, operation_id: str) -> list[dict[str, Any]]:
    method, path = sv.operations[operation_id]
    item = sv._working["paths"][path]
    out = []
    for raw in item[method.lower()].get("parameters", []) + item.get("parameters", []):
        if "$ref" in raw:
            raw = sv._working["components"]["parameters"][raw["$ref"].rsplit("/", 1)[1]]
        out.append(raw)
    return out


@st.composite
def requests(draw: st.DrawFn, provider: str, operation_id: str) -> tuple[Request, Any]:
    sv = SPECS[provider]
    spec = sv._working
    method, template = sv.operations[operation_id]
    path, query, headers = template, [], {}
    for param in _params(sv, operation_id):
        strategy = values(spec, param.get("schema", {})).map(lambda v: v if isinstance(v, str) else json.dumps(v))
        if param["in"] == "path":
            value = draw(strategy | st.text(max_size=6) | st.sampled_from(["..", "a/b", "%2e", "x?y", ""]))
            path = path.replace("{" + param["name"] + "}", quote(value, safe="/"))
        elif param["in"] == "query" and draw(st.booleans()):
            schema = _resolve(spec, param.get("schema", {}))
            if schema.get("type") == "array":
                for v in draw(st.lists(values(spec, schema.get("items", {})), max_size=3)):
                    query.append((param["name"], v if isinstance(v, str) else json.dumps(v)))
            else:
                query.append((param["name"], draw(strategy | st.sampled_from(["", "1.5", "yes", "-1"]))))
        elif param["in"] == "header" and draw(st.booleans()):
            headers[param["name"]] = draw(strategy.filter(lambda v: v.isprintable() and "\n" not in v))
    op = spec["paths"][template][method.lower()]
    body_schema = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
    body = draw(mutated(values(spec, body_schema)) | JUNK) if body_schema is not None else draw(st.none() | JUNK)
    content_type = draw(st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8",
                                         "text/plain", "application/json;x"]))
    builder = EnvironBuilder(path=path, method=method, query_string=query, headers=headers,
                             data=json.dumps(body).encode(), content_type=content_type)
    return Request(builder.get_environ()), body


STATS: dict[str, list[int]] = {}


@pytest.mark.parametrize(("provider", "operation_id"), OPERATIONS)
@settings(max_examples=15, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fast_path_never_accepts_what_openapi_core_rejects(provider: str, operation_id: str, data: Any) -> None:
    sv = SPECS[provider]
    request, body = data.draw(requests(provider, operation_id))
    raw = request.get_data()
    full = sv.full_violations(request, operation_id, raw)
    for fast in (sv.accepts(request, operation_id, parsed=body), sv.accepts(request, operation_id, raw)):
        if fast:
            assert full == [], f"fast path accepted {request.method} {request.full_path} {raw[:300]!r}: {full[0]}"
    stats = STATS.setdefault(provider, [0, 0])
    if not full:
        stats[0] += 1
        stats[1] += bool(sv.accepts(request, operation_id, parsed=body))


def test_fast_path_is_used_for_valid_requests() -> None:
    """Of the generated requests openapi-core found valid, the fast path vouched for most."""
    if not STATS:
        pytest.skip("run together with the generated test above")
    for provider, (valid, fast) in STATS.items():
        assert valid == 0 or fast / valid >= 0.5, f"{provider}: fast path took {fast} of {valid} valid requests"


HOSTILE = [
    b'{"model": NaN}', b'{"n": 1e999}', b'{"model": 123456789012345678901234567890}', b'"\\ud800"',
    b"[" * 50 + b"]" * 50, b"", b"null", b"{}", b'{"model": "lipsync-2", "input": []}',
]


@pytest.mark.parametrize(("provider", "operation_id"), OPERATIONS)
def test_hostile_bodies_get_the_same_verdict(provider: str, operation_id: str) -> None:
    sv = SPECS[provider]
    method, template = sv.operations[operation_id]
    for raw in HOSTILE:
        for path in (template.replace("{", "").replace("}", ""), template.replace("{", "x/../").replace("}", "")):
            request = Request(EnvironBuilder(path=path, method=method, data=raw,
                                             content_type="application/json").get_environ())
            if sv.accepts(request, operation_id, raw):
                assert sv.full_violations(request, operation_id, raw) == [], (path, raw)


def test_translation_keeps_oas30_semantics() -> None:
    """nullable only next to a type; $ref siblings kept; read-only properties not required."""
    assert translate({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert translate({"nullable": True}) == {}
    assert translate({"$ref": "#/components/schemas/A", "nullable": True, "maxLength": 3}) == {
        "allOf": [{"$ref": "#/components/schemas/A"}, {"maxLength": 3}]}
    out = translate({"type": "object", "required": ["id", "name"],
                     "properties": {"id": {"type": "string", "readOnly": True}, "name": {"type": "string"}}})
    assert out["required"] == ["name"] and out["properties"]["id"]["x-emu-readOnly"] is True
