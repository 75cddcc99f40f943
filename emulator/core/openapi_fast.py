"""A fast *accept* path for request validation, exactly equivalent to openapi-core's verdict.

openapi-core spends about 2 ms on every request (it re-walks the spec through jsonschema-path
on each call; 85 % of a request's time in the profile). Almost every request is valid, so
this module answers one question quickly — "would openapi-core find nothing wrong?" — and
when the answer is anything but a certain yes, ``SpecValidator`` runs openapi-core as
before, so every ``SchemaViolation`` (field, keyword, message) is exactly what it was.

Equivalence, by construction:

* the operation is chosen the way openapi-core's path finder chooses it (concrete suffix
  match first, then templates with fewer variables, then the relative server ``/``);
  the fast path answers only when that choice is the operation being served;
* parameters: the same style deserialisation and casting for the simple cases (primitive
  path/query/header parameters, exploded query arrays of primitives); anything else that is
  present makes it defer;
* schemas are compiled with jsonschema-rs after a translation that keeps exactly the
  keywords openapi-schema-validator's ``OAS30WriteValidator`` evaluates (``nullable`` becomes
  a ``null`` type, ``$ref`` siblings are kept through ``allOf``, write-only ``required``
  drops read-only properties); the keywords whose Python and Rust semantics could differ
  (``pattern``, ``format``, ``multipleOf``, ``uniqueItems``, ``readOnly``) are delegated to
  the Python validator itself; a schema using anything else (``discriminator``, tuple
  ``items``, ``patternProperties``, ``id``...) has no fast path;
* a body that needed Python's own JSON parser (NaN, Infinity, integers beyond 64 bits,
  lone surrogates) defers, so jsonschema-rs never sees a value the two could disagree on.

tests/core/test_openapi_fast.py checks the verdicts against openapi-core on generated requests.

    >>> fast = FastSpec({"openapi": "3.0.3", "servers": [{"url": "/"}], "paths": {"/v1/x": {"post": {
    ...     "operationId": "makeX", "requestBody": {"required": True, "content": {"application/json": {
    ...     "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}}}}}}})
    >>> op = fast.operation("makeX")
    >>> op.accepts_body({"n": 1}, "application/json"), op.accepts_body({"n": "1"}, "application/json")
    (True, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import jsonschema_rs
import orjson

# What OAS30WriteValidator evaluates (openapi_schema_validator.validators.OAS30_VALIDATORS plus
# the write variants); every other key of a schema node is ignored by it, so it is dropped here.
_COPIED = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "maxLength", "minLength",
           "maxItems", "minItems", "maxProperties", "minProperties", "enum")
_DELEGATED = ("pattern", "format", "multipleOf", "uniqueItems", "readOnly")
_UNSUPPORTED = ("discriminator", "patternProperties", "id", "dependencies", "additionalItems")
_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})
_BOOL_TRUE = ("y", "yes", "t", "true", "on", "1")  # openapi_core.util.BOOLEAN_TRUE_VALUES
_BOOL_FALSE = ("n", "no", "f", "false", "off", "0")
_PARAM_PATTERN = r"[^/]*"  # openapi_core.templating.paths.parsers.PathParser._PARAM_PATTERN
_MISSING = object()
LONG_NUMBER = re.compile(rb"\d{19}")
MAX_BRACKETS = 512
MAX_DEPTH = 64  # deeper values go to openapi-core (jsonschema-rs recursion on a small thread stack)


class Unsupported(Exception):
    """The schema or parameter uses something the fast path does not reproduce exactly."""


def _python_validator(keyword: str, value: Any) -> Any:
    # Imported on first use: openapi-schema-validator costs ~0.2 s to import, and most
    # schemas never need it.
    from openapi_schema_validator import OAS30WriteValidator

    return OAS30WriteValidator({keyword: value}, format_checker=OAS30WriteValidator.FORMAT_CHECKER)


def _delegate(keyword: str) -> type:
    class Delegated:
        """One keyword checked by openapi-schema-validator itself."""

        def __init__(self, parent_schema: Any, value: Any, schema_path: Any) -> None:
            self._validator = _python_validator(keyword, value)

        def validate(self, instance: Any) -> None:
            try:
                ok = self._validator.is_valid(instance)
            except Exception:  # noqa: BLE001 - anything odd: let openapi-core decide
                ok = False
            if not ok:
                raise ValueError(f"{keyword} failed")

    Delegated.__name__ = f"Delegated_{keyword}"
    return Delegated


_KEYWORDS = {f"x-emu-{k}": _delegate(k) for k in _DELEGATED}


def translate(node: Any) -> dict[str, Any]:
    """An OAS 3.0 schema node as a draft-4 schema jsonschema-rs validates the same way."""
    if not isinstance(node, Mapping):
        raise Unsupported(f"schema node {node!r}")
    for key in _UNSUPPORTED:
        if key in node:
            raise Unsupported(key)
    out: dict[str, Any] = {}
    for key in _COPIED:
        if key in node:
            out[key] = node[key]
    for key in ("exclusiveMaximum", "exclusiveMinimum"):
        if key in out and not isinstance(out[key], bool):
            raise Unsupported(key)
    if "type" in node:
        kind = node["type"]
        if not isinstance(kind, str) or kind not in _TYPES:
            raise Unsupported(f"type {kind!r}")
        # nullable is honoured only next to a type, and only when exactly true [OAS 3.0.3]
        out["type"] = [kind, "null"] if node.get("nullable") is True else kind
    for key in _DELEGATED:
        if key in node:
            if key == "readOnly" and not node[key]:
                continue
            out[f"x-emu-{key}"] = node[key]
    props = node.get("properties")
    if props is not None:
        if not isinstance(props, Mapping):
            raise Unsupported("properties")
        out["properties"] = {name: translate(sub) for name, sub in props.items()}
    if "required" in node:
        required = node["required"]
        if not isinstance(required, list):
            raise Unsupported("required")
        raw_props = props if isinstance(props, Mapping) else {}
        # OAS30WriteValidator: a required property whose (literal) schema is readOnly is not required
        kept = [name for name in required
                if not (isinstance(raw_props.get(name), Mapping) and raw_props[name].get("readOnly", False))]
        if kept:
            out["required"] = kept
    if "items" in node:
        if not isinstance(node["items"], Mapping):
            raise Unsupported("tuple items")
        out["items"] = translate(node["items"])
    if "additionalProperties" in node:
        extra = node["additionalProperties"]
        out["additionalProperties"] = extra if isinstance(extra, bool) else translate(extra)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            if not isinstance(node[key], list) or not node[key]:
                raise Unsupported(key)
            out[key] = [translate(sub) for sub in node[key]]
    if "not" in node:
        out["not"] = translate(node["not"])
    if "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
            raise Unsupported(f"$ref {ref!r}")
        # OAS30's validator evaluates a $ref's siblings too (draft 4 would ignore them)
        return {"allOf": [{"$ref": ref}, out]} if out else {"$ref": ref}
    return out


def _refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


class _Compiler:
    """Translated component schemas, and compiled validators for one spec."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        raw = (spec.get("components") or {}).get("schemas") or {}
        self.raw: Mapping[str, Any] = raw
        self.translated: dict[str, Any] = {}
        self.bad: set[str] = set()
        for name, schema in raw.items():
            try:
                self.translated[name] = translate(schema)
            except Unsupported:
                self.bad.add(name)

    def closure(self, node: Any) -> set[str]:
        seen: set[str] = set()
        todo = list(_refs(node, set()))
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += list(_refs(self.raw.get(name), set()))
        return seen

    def compile(self, schema: Any) -> Any:
        """A jsonschema-rs validator equivalent to OAS30WriteValidator for ``schema``, or None."""
        used = self.closure(schema)
        if used & self.bad or any(name not in self.raw for name in used):
            return None
        try:
            root: dict[str, Any] = {"allOf": [translate(schema)]}
            root["components"] = {"schemas": {name: self.translated[name] for name in used}}
            return jsonschema_rs.Draft4Validator(root, validate_formats=False, keywords=_KEYWORDS)
        except (Unsupported, ValueError, TypeError):
            return None


def _resolve_param(spec: Mapping[str, Any], param: Any) -> Any:
    if isinstance(param, Mapping) and "$ref" in param:
        ref = param["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/components/parameters/"):
            raise Unsupported(f"parameter $ref {ref!r}")
        return ((spec.get("components") or {}).get("parameters") or {}).get(ref.rsplit("/", 1)[1])
    return param


def _resolve_schema(spec: Mapping[str, Any], schema: Any) -> Any:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
            raise Unsupported(f"$ref {ref!r}")
        schema = ((spec.get("components") or {}).get("schemas") or {}).get(ref.rsplit("/", 1)[1])
        seen += 1
    return schema


class _Param:
    """One parameter: how openapi-core would read and cast it, for the simple cases."""

    def __init__(self, spec: Mapping[str, Any], param: Mapping[str, Any], compiler: _Compiler) -> None:
        self.name = str(param["name"])
        self.location = str(param["in"])
        self.required = bool(param.get("required", False))
        self.supported = True
        self.validator: Any = None
        self.kind = ""
        self.item_kind = ""
        self.default_ok = True
        self._verdicts: dict[str, bool] = {}
        try:
            self._compile(spec, param, compiler)
        except Unsupported:
            self.supported = False

    def _compile(self, spec: Mapping[str, Any], param: Mapping[str, Any], compiler: _Compiler) -> None:
        if self.location not in ("path", "query", "header") or "content" in param or "schema" not in param:
            raise Unsupported("parameter")
        default_style = "form" if self.location == "query" else "simple"
        style = param.get("style", default_style)
        explode = param.get("explode", style == "form")
        if style != default_style or explode != (style == "form") or param.get("allowEmptyValue") is not None:
            raise Unsupported("style")
        schema = _resolve_schema(spec, param["schema"])
        if not isinstance(schema, Mapping):
            raise Unsupported("schema")
        self.kind = str(schema.get("type", ""))
        if self.kind == "array":
            if self.location != "query":
                raise Unsupported("array outside the query")
            items = _resolve_schema(spec, schema.get("items", {}))
            self.item_kind = str(items.get("type", "")) if isinstance(items, Mapping) else ""
            if self.item_kind not in ("string", "integer", "number", "boolean"):
                raise Unsupported("array items")
        elif self.kind not in ("string", "integer", "number", "boolean"):
            raise Unsupported("parameter type")
        self.validator = compiler.compile(param["schema"])
        if self.validator is None:
            raise Unsupported("parameter schema")
        if "default" in schema:
            try:
                self.default_ok = bool(self.validator.is_valid(schema["default"]))
            except Exception:  # noqa: BLE001
                self.default_ok = False

    @staticmethod
    def _cast(kind: str, value: str) -> Any:
        """openapi-core's casters (casting/schemas/casters.py); raises ValueError like them."""
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            if value.lower() not in _BOOL_TRUE + _BOOL_FALSE:
                raise ValueError("not a boolean")
            return value.lower() in _BOOL_TRUE
        return value

    def accepts(self, location: Any) -> bool:
        """True only if openapi-core would read this parameter from ``location`` without error."""
        if self.name not in location:
            if self.required:
                return False
            return self.default_ok
        if not self.supported:
            return False
        try:
            if self.kind == "array":
                value: Any = [self._cast(self.item_kind, v) for v in location.getlist(self.name)]
            else:
                raw = location[self.name]
                if self.location == "query" and raw == "":
                    return False  # EmptyQueryParameterValue
                # A verdict depends on the raw text alone: remembered (bounded), since a
                # client polls the same id again and again.
                verdict = self._verdicts.get(raw)
                if verdict is None:
                    verdict = bool(self.validator.is_valid(self._cast(self.kind, raw)))
                    if len(self._verdicts) >= 4096:
                        self._verdicts.clear()
                    self._verdicts[raw] = verdict
                return verdict
            return bool(self.validator.is_valid(value))
        except Exception:  # noqa: BLE001 - a cast or conversion error: openapi-core reports it
            return False


class _PathTemplate:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.names: list[str] = []
        parts: list[str] = []
        i = 0
        while i < len(pattern):
            start = pattern.find("{", i)
            if start == -1:
                parts.append(re.escape(pattern[i:]))
                break
            end = pattern.find("}", start + 1)
            if end == -1:
                raise Unsupported("template")
            parts.append(re.escape(pattern[i:start]))
            parts.append(f"(?P<g{len(self.names)}>{_PARAM_PATTERN})")
            self.names.append(pattern[start + 1:end])
            i = end + 1
        self.regex = re.compile("".join(parts) + "$")

    def search(self, url: str) -> dict[str, str] | None:
        match = self.regex.search(url)
        if match is None:
            return None
        return {name: match.group(f"g{n}") for n, name in enumerate(self.names)}


class FastOperation:
    def __init__(self, spec: FastSpec, operation_id: str, method: str, path: str,
                 item: Mapping[str, Any], op: Mapping[str, Any]) -> None:
        self.spec = spec
        self.operation_id = operation_id
        self.method = method
        self.path = path
        params: dict[tuple[str, str], _Param] = {}
        for raw in list(op.get("parameters", [])) + list(item.get("parameters", [])):
            param = _resolve_param(spec.spec, raw)
            if not isinstance(param, Mapping) or "name" not in param or "in" not in param:
                raise Unsupported("parameter")
            key = (str(param["name"]), str(param["in"]))
            if key in params:
                continue  # an operation's parameter overrides the path item's
            if key[1] == "cookie":
                raise Unsupported("cookie parameter")
            params[key] = _Param(spec.spec, param, spec.compiler)
        self.params = list(params.values())
        self.has_body = "requestBody" in op
        body = op.get("requestBody") or {}
        if "$ref" in body:
            ref = body["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/components/requestBodies/"):
                raise Unsupported("requestBody $ref")
            body = ((spec.spec.get("components") or {}).get("requestBodies") or {}).get(ref.rsplit("/", 1)[1])
            if not isinstance(body, Mapping) or "$ref" in body:
                raise Unsupported("requestBody $ref")
        self.body_required = bool(body.get("required", False))
        content = body.get("content") or {}
        self.json_media = "application/json" in content
        media = content.get("application/json") or {}
        self.json_has_schema = media.get("schema") is not None
        self.body_validator = spec.compiler.compile(media["schema"]) if self.json_has_schema else None
        self.json_fast = self.json_media and (not self.json_has_schema or self.body_validator is not None)

    def accepts_body(self, body: Any, mimetype: str) -> bool:
        """``body``: the parsed JSON (must not be the sentinel)."""
        if not self.has_body:
            return True
        if not self.json_fast or not _is_plain_json(mimetype):
            return False
        if not self.json_has_schema:
            return True
        try:
            return bool(self.body_validator.is_valid(body))  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - e.g. a lone surrogate rust cannot hold
            return False

    def accepts_parameters(self, path_values: Mapping[str, str], query: Any, headers: Any) -> bool:
        locations = {"path": path_values, "query": query, "header": headers}
        return all(p.accepts(locations[p.location]) for p in self.params)


def _is_plain_json(mimetype: str) -> bool:
    """openapi-core's MediaTypeFinder would pick ``application/json`` for this Content-Type,
    and parse its parameters without error."""
    parts = mimetype.split(";")
    if parts[0].lower().rstrip() != "application/json":
        return False
    return all(part.count("=") == 1 for part in parts[1:])


class FastSpec:
    """Fast verdicts for one spec (the working copy: security removed, server ``/``)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.compiler = _Compiler(spec)
        self._ops: dict[str, FastOperation | None] = {}
        self._paths = [(path, _PathTemplate(path) if "{" in path else None, item)
                       for path, item in (spec.get("paths") or {}).items()]
        servers_ok = spec.get("servers") == [{"url": "/"}] and not any(
            isinstance(item, Mapping) and ("servers" in item or any(
                isinstance(op, Mapping) and "servers" in op for op in item.values()))
            for _, _, item in self._paths)
        self.enabled = servers_ok

    def operation(self, operation_id: str) -> FastOperation | None:
        if operation_id in self._ops:
            return self._ops[operation_id]
        found: FastOperation | None = None
        if self.enabled:
            for path, _, item in self._paths:
                for method, op in item.items():
                    if isinstance(op, Mapping) and op.get("operationId") == operation_id:
                        try:
                            found = FastOperation(self, operation_id, method.lower(), path, item, op)
                        except Unsupported:
                            found = None
        self._ops[operation_id] = found
        return found

    def find(self, method: str, full_url: str) -> tuple[str, dict[str, str]] | None:
        """(operationId, path values) that openapi-core's APICallPathFinder would choose."""
        concrete: list[tuple[str, Mapping[str, Any], dict[str, str]]] = []
        templated: list[tuple[str, Mapping[str, Any], dict[str, str]]] = []
        for path, template, item in self._paths:
            if full_url.endswith(path):
                concrete.append((path, item, {}))
            elif template is not None:
                values = template.search(full_url)
                if values is not None:
                    templated.append((path, item, values))
        templated.sort(key=lambda c: len(c[2]))
        for path, item, values in concrete + templated:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            resolved = path.format(**values) if values else path
            prefix = urlparse(full_url.rsplit(resolved, 1)[0]).path
            if prefix in ("", "/"):  # the relative server "/" (TemplateServersIterator)
                return str(op.get("operationId")), values
        return None


def fast_loads(raw: bytes) -> Any:
    """Parse JSON with orjson when it can, else the stdlib; returns ``_MISSING`` when the
    stdlib parser was needed (the value may hold NaN, huge integers...) or parsing failed."""
    if not orjson_safe(raw):
        return _MISSING
    try:
        return orjson.loads(raw)
    except Exception:  # noqa: BLE001
        return _MISSING


def orjson_safe(raw: bytes) -> bool:
    """Whether orjson gives json's answer for ``raw`` and survives it: it reads integers
    beyond 64 bits as floats, and deep nesting overflows the small native stacks of a
    server's threads (a crash, not an error): bodies with many brackets go to json, which
    stops at its recursion limit."""
    return not LONG_NUMBER.search(raw) and raw.count(b"[") + raw.count(b"{") <= MAX_BRACKETS


def finite(value: Any) -> bool:
    """No NaN or infinity anywhere in ``value`` (jsonschema-rs and openapi-schema-validator
    disagree on whether NaN is a number, and a ``not`` or ``oneOf`` could turn that into a
    more lenient verdict)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
        elif not (item is None or isinstance(item, str | int)):
            return False  # tuples, bytes...: not what a JSON parser makes
    return True


MISSING: Any = _MISSING
