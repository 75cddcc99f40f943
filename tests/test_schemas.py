"""Every provider schema is a valid OpenAPI document, and its operations are exactly the
views the provider registers (the schema is the one source of the API surface)."""

from __future__ import annotations

import marshal

import pytest
import yaml
from lipsync_emulator import schemas
from lipsync_emulator.providers import REGISTRY
from openapi_spec_validator import validate

PROVIDERS = {p.name: p for p in REGISTRY}


@pytest.mark.parametrize("name", schemas.names())
def test_schema_is_valid_openapi(name):
    validate(schemas.load(name))


@pytest.mark.parametrize("name", [p.name for p in REGISTRY if p.schema])
def test_operation_ids_equal_registered_views(name):
    provider = PROVIDERS[name]
    spec = schemas.load(provider.schema)
    operation_ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()
                     if isinstance(op, dict) and "operationId" in op}
    views = {rule.endpoint.split(".", 1)[1] for rule in _app().url_map.iter_rules()
             if rule.endpoint.startswith(provider.blueprint.name + ".") and not rule.rule.startswith("/_emulator/")}
    assert operation_ids == views


def _app():
    from lipsync_emulator import create_app

    return create_app({"clock": "virtual"})


# -- the parsed specs' cache (start-up: README, Performance) ---------------------------------

@pytest.mark.parametrize("name", schemas.names())
def test_cached_spec_is_the_yaml(name, tmp_path):
    expected = yaml.safe_load(schemas.text(name))
    assert marshal.loads(schemas.parse_cached(schemas.path(name), tmp_path, write=True)) == expected
    (cached,) = tmp_path.glob(f"{name}.*.marshal")
    assert marshal.loads(cached.read_bytes()) == expected
    assert marshal.loads(schemas.parse_cached(schemas.path(name), tmp_path, write=True)) == expected
    assert schemas.load(name) == expected
    assert schemas.load(name) is not schemas.load(name)  # each caller gets its own copy


def parsed(source, cache, write=True):
    return marshal.loads(schemas.parse_cached(source, cache, write=write))


def test_cache_is_read_and_keyed_by_the_source(tmp_path):
    source, cache = tmp_path / "spec.yaml", tmp_path / "cache"
    source.write_text("openapi: 3.0.3\ninfo: {title: a}\n")
    assert parsed(source, cache)["info"] == {"title": "a"}
    (first,) = cache.glob("spec.*.marshal")
    first.write_bytes(marshal.dumps({"from": "cache"}))  # what is read is the cached form
    assert parsed(source, cache) == {"from": "cache"}
    source.write_text("openapi: 3.0.3\ninfo: {title: b}\n")  # an edited spec: a new key
    assert parsed(source, cache)["info"] == {"title": "b"}
    (second,) = cache.glob("spec.*.marshal")  # the stale form is gone
    assert second != first


def test_cache_survives_corruption_and_writes_only_when_asked(tmp_path):
    source, cache = tmp_path / "spec.yaml", tmp_path / "cache"
    source.write_text("a: [1, 2.5, true, null, 'x']\n")
    assert parsed(source, cache, write=False) == {"a": [1, 2.5, True, None, "x"]}
    assert not cache.exists()
    parsed(source, cache)
    (cached,) = cache.glob("spec.*.marshal")
    for junk in (b"\x00garbage", marshal.dumps(None)):
        cached.write_bytes(junk)
        assert parsed(source, cache) == {"a": [1, 2.5, True, None, "x"]}
        assert marshal.loads(cached.read_bytes()) == {"a": [1, 2.5, True, None, "x"]}  # rewritten


def test_unwritable_cache_still_parses(tmp_path):
    source, blocked = tmp_path / "spec.yaml", tmp_path / "file"
    source.write_text("a: 1\n")
    blocked.write_text("not a directory")
    assert parsed(source, blocked / "cache") == {"a": 1}
    assert list(tmp_path.glob("**/*.tmp")) == []


def test_urls_build_as_werkzeug_builds_them():
    # the app compiles each rule's URL builder on first use (start-up): same URLs as eager rules
    from werkzeug.routing import Map, Rule

    app = _app()
    lazy = app.url_map.bind("localhost")
    eager = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods) for r in app.url_map.iter_rules()]).bind("localhost")
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 60
    for rule in rules:
        values = {arg: f"v{i}" for i, arg in enumerate(sorted(rule.arguments))}
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        for extra in ({}, {"q": "1 2"}):  # a value the rule has no place for goes to the query
            url = lazy.build(rule.endpoint, {**values, **extra}, method=method)
            assert url == eager.build(rule.endpoint, {**values, **extra}, method=method)
    assert lazy.build("kling.result_video", {"task_id": "t1", "name": "a.mp4"}) == "/_emulator/kling/cdn/t1/a.mp4"
