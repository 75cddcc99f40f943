"""Every provider schema is a valid OpenAPI document, and its operations are exactly the
views the provider registers (the schema is the one source of the API surface)."""

from __future__ import annotations

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


@pytest.mark.parametrize("name", schemas.names())
def test_a_loaded_spec_is_the_yaml_a_fresh_copy_and_nothing_is_written_beside_it(name):
    before = sorted(p.name for p in schemas.HERE.rglob("*"))
    expected = yaml.safe_load(schemas.text(name))
    assert schemas.load(name) == expected
    assert schemas.load(name) is not schemas.load(name)  # each caller gets its own copy
    assert sorted(p.name for p in schemas.HERE.rglob("*")) == before
