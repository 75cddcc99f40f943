"""Strategies and one-rule breaks derived from an OpenAPI 3.0 schema.

The schema is the one source of structure, so what it can say — types, enums, required keys,
lengths, ranges, patterns, ``oneOf`` variants, ``anyOf`` alternatives — is generated from it
here, for every provider alike. Provider modules hand-write only what the schema cannot say
(refIds that must match, crop pairs, face ids from an earlier call...).

Two halves:

* ``SchemaStrategies.strategy(name)`` — a Hypothesis strategy of values valid against a
  component. Values are kept small and readable: short ASCII text, numbers with at most two
  decimals, optional keys that shrink away, URLs from ``overrides``.
* ``SchemaStrategies.breaks(name, value)`` — every way to break exactly one schema rule of a
  valid value (drop a required key, leave the enum, exceed a bound, wrong type...), each a
  ``Break`` naming the rule, the dotted field path and the keyword, for the provider module
  to turn into the error that provider returns.

    >>> ss = SchemaStrategies({"components": {"schemas": {"Thing": {
    ...     "type": "object", "required": ["size"],
    ...     "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 3}}}}}})
    >>> [b.rule for b in ss.breaks("Thing", {"size": 2})]
    ['schema:required:size', 'schema:minimum:size', 'schema:maximum:size', 'schema:type:size']
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from hypothesis import strategies as st
from lipsync_emulator.schemas import dotted
from openapi_schema_validator import OAS30Validator

JSON = Any
Path = tuple[str | int, ...]
TEXT_ALPHABET = string.ascii_letters + string.digits + "_-"


def rule_path(path: Path) -> str:
    """A rule id's path: indices dropped so the id is stable across examples (``input[].url``)."""
    out = ""
    for part in path:
        out += "[]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Break:
    """One schema rule broken in one place. ``rule``: ``schema:<keyword>:<path>``; ``field``:
    the dotted path with indices (what a provider names in its error); ``hints``: the ``x-*``
    keys of the schema node holding the keyword; ``prop_hints``: for ``required``, the
    missing property's own ``x-*`` keys."""

    rule: str
    keyword: str
    field: str
    path: Path
    value: Any  # the replacement value, or ``REMOVE``
    hints: Mapping[str, Any] = dc_field(default_factory=dict)
    prop_hints: Mapping[str, Any] = dc_field(default_factory=dict)
    expected: Any = None  # the keyword's value in the schema (the enum, the bound...)
    removes: tuple[str, ...] = ()  # anyOf breaks remove several keys of one object

    def apply(self, value: JSON) -> JSON:
        """A deep copy of ``value`` with this break applied."""
        out = copy.deepcopy(value)
        if self.keyword == "anyOf":
            target = _get(out, self.path)
            for key in self.removes:
                target.pop(key, None)
            return out
        if not self.path:
            return self.value
        parent = _get(out, self.path[:-1])
        if self.value is REMOVE:
            del parent[self.path[-1]]
        else:
            parent[self.path[-1]] = self.value
        return out


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


def _get(value: JSON, path: Path) -> JSON:
    for part in path:
        value = value[part]
    return value


class SchemaStrategies:
    """Strategies and breaks for one OpenAPI document (only ``components.schemas`` is read).

    ``overrides`` maps ``"Component"`` or ``"Component.property"`` to a strategy used instead of
    the derived one (media URLs are strings to the schema, but must look like media)."""

    def __init__(self, spec: Mapping[str, Any], overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
                 *, max_text: int = 12, max_extra_items: int = 2, nulls: bool = False) -> None:
        self.spec = spec
        self.components: dict[str, Any] = dict(spec.get("components", {}).get("schemas", {}))
        self.overrides = dict(overrides or {})
        self.max_text = max_text
        self.max_extra_items = max_extra_items
        self.nulls = nulls
        self._validators: dict[str, OAS30Validator] = {}
        self._cache: dict[tuple[str, tuple[str, ...], tuple[str, ...]], st.SearchStrategy[Any]] = {}

    # -- lookup ------------------------------------------------------------------------------

    def component(self, name: str) -> dict[str, Any]:
        return self.components[name]

    def resolve(self, node: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """Follow ``$ref`` chains and merge ``allOf``; returns the node and the last component
        name seen."""
        name = None
        seen = 0
        while isinstance(node, Mapping) and "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            node = self.components[name]
            seen += 1
            if seen > 20:
                raise ValueError(f"$ref cycle at {name}")
        out = dict(node)
        if "allOf" in out:
            parts = out.pop("allOf")
            merged: dict[str, Any] = {}
            for part in parts:
                sub, sub_name = self.resolve(part)
                name = name or sub_name
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                required = [*merged.get("required", []), *sub.get("required", [])]
                merged.update(sub)
                if props:
                    merged["properties"] = props
                if required:
                    merged["required"] = list(dict.fromkeys(required))
            props = {**merged.get("properties", {}), **out.get("properties", {})}
            required = list(dict.fromkeys([*merged.get("required", []), *out.get("required", [])]))
            merged.update(out)
            if props:
                merged["properties"] = props
            if required:
                merged["required"] = required
            out = merged
        return out, name

    def is_valid(self, schema: Mapping[str, Any] | str, value: JSON) -> bool:
        """Whether ``value`` is valid against a component name or a schema node."""
        key = schema if isinstance(schema, str) else repr(sorted(schema.items(), key=str))
        validator = self._validators.get(key)
        if validator is None:
            node = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else dict(schema)
            validator = OAS30Validator({**node, "components": {"schemas": self.components}})
            self._validators[key] = validator
        return bool(validator.is_valid(value))

    # -- valid values ------------------------------------------------------------------------

    def strategy(self, schema: Mapping[str, Any] | str, *, exclude: tuple[str, ...] = (),
                 require: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
        """Values valid against a component (by name) or a schema node. ``exclude`` leaves
        properties out (a provider module sets them by hand); ``require`` always includes some."""
        if isinstance(schema, str):
            key = (schema, exclude, require)
            if key not in self._cache:  # strategies are immutable: build each one once
                node = {"$ref": f"#/components/schemas/{schema}"}
                self._cache[key] = self._strategy(node, None, exclude=exclude, require=require)
            return self._cache[key]
        return self._strategy(schema, None, exclude=exclude, require=require)

    def _strategy(self, node: Mapping[str, Any], owner: str | None, *, exclude: tuple[str, ...] = (),
                  require: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
        if "$ref" in node or "allOf" in node:
            resolved, name = self.resolve(node)
            if name in self.overrides and not exclude and not require:
                return self.overrides[name]
            return self._strategy(resolved, name or owner, exclude=exclude, require=require)
        base = self._base(node, owner, exclude=exclude, require=require)
        if node.get("nullable") and self.nulls:
            return st.one_of(base, st.none())
        return base

    def _base(self, node: Mapping[str, Any], owner: str | None, *, exclude: tuple[str, ...],
              require: tuple[str, ...]) -> st.SearchStrategy[Any]:
        if "enum" in node:
            return st.sampled_from([v for v in node["enum"] if v is not None])
        if "oneOf" in node:
            return st.one_of([self._strategy(branch, owner) for branch in node["oneOf"]])
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            return self._object(node, owner, exclude, require)
        if kind == "array":
            low = int(node.get("minItems", 0))
            high = min(int(node.get("maxItems", low + self.max_extra_items)), low + self.max_extra_items)
            return st.lists(self._strategy(node.get("items", {}), owner), min_size=low, max_size=high)
        if kind == "string":
            return self._string(node)
        if kind in ("number", "integer"):
            return self._number(node, integer=kind == "integer")
        if kind == "boolean":
            return st.booleans()
        return st.one_of(st.integers(0, 9), st.text(TEXT_ALPHABET, max_size=4))

    def _object(self, node: Mapping[str, Any], owner: str | None, exclude: tuple[str, ...],
                require: tuple[str, ...]) -> st.SearchStrategy[Any]:
        props: dict[str, Any] = dict(node.get("properties", {}))
        required = [p for p in [*node.get("required", []), *require] if p not in exclude]
        alternatives = [tuple(b.get("required", ())) for b in node.get("anyOf", []) if set(b) <= {"required"}]

        def build(extra: tuple[str, ...]) -> st.SearchStrategy[Any]:
            must = list(dict.fromkeys([*required, *extra]))
            fixed = {p: self._prop(owner, p, props.get(p, {})) for p in must}
            optional = {p: self._prop(owner, p, s) for p, s in props.items()
                        if p not in must and p not in exclude and s.get("format") != "binary"}
            return st.fixed_dictionaries(fixed, optional=optional)

        if alternatives:
            return st.one_of([build(alt) for alt in alternatives])
        return build(())

    def _prop(self, owner: str | None, name: str, node: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        key = f"{owner}.{name}" if owner else name
        if key in self.overrides:
            return self.overrides[key]
        return self._strategy(node, owner)

    def _string(self, node: Mapping[str, Any]) -> st.SearchStrategy[str]:
        low = int(node.get("minLength", 0))
        high = int(node.get("maxLength", low + self.max_text))
        high = min(high, low + self.max_text)
        if "pattern" in node:
            pattern = node["pattern"]
            try:
                base = st.from_regex(pattern, fullmatch=True, alphabet=TEXT_ALPHABET)
                base.validate()
            except Exception:  # the pattern needs more than letters and digits (a URL...)
                base = st.from_regex(pattern, fullmatch=True, alphabet=st.characters(min_codepoint=33,
                                                                                     max_codepoint=126))
            return base.filter(lambda s: low <= len(s) <= high)
        return st.text(TEXT_ALPHABET, min_size=low, max_size=high)

    def _number(self, node: Mapping[str, Any], *, integer: bool) -> st.SearchStrategy[Any]:
        step = 1 if integer else 100  # numbers with at most two decimals read well and round-trip
        minimum, maximum = node.get("minimum"), node.get("maximum")
        low: float = float(minimum) if minimum is not None else (float(maximum) - 1000 if maximum is not None else -1000)
        high: float = float(maximum) if maximum is not None else low + (1000 if minimum is not None else 2000)
        lo, hi = int(round(low * step)), int(round(high * step))
        if node.get("exclusiveMinimum"):
            lo += 1
        if node.get("exclusiveMaximum"):
            hi -= 1
        if integer:
            return st.integers(lo, hi)
        return st.integers(lo, hi).map(lambda n: n / step if n % step else n // step)

    # -- one-rule breaks -----------------------------------------------------------------------

    def breaks(self, schema: Mapping[str, Any] | str, value: JSON, *,
               skip: Callable[[Path], bool] | None = None, validate: bool = True) -> list[Break]:
        """Every single-rule break of ``value`` (which must be valid). ``skip(path)`` prunes
        sub-trees a provider module owns (e.g. fields whose break would also break a
        cross-field rule). Each returned break leaves the value invalid — checked, unless
        ``validate=False`` (a strategy that draws one break checks only that one: faster)."""
        node = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
        out: list[Break] = []
        for brk in self._walk(node, value, (), skip or (lambda _p: False)):
            if not validate or not self.is_valid(node, brk.apply(value)):
                out.append(brk)
        return out

    def one_break(self, schema: Mapping[str, Any] | str, value: JSON, *,
                  skip: Callable[[Path], bool] | None = None) -> st.SearchStrategy[Break]:
        """One single-rule break of ``value``, drawn, then checked to break the schema."""
        node = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
        candidates = self.breaks(schema, value, skip=skip, validate=False)
        if not candidates:
            return st.nothing()
        return st.sampled_from(candidates).filter(lambda b: not self.is_valid(node, b.apply(value)))

    def _walk(self, node: Mapping[str, Any], value: JSON, path: Path,
              skip: Callable[[Path], bool]) -> Iterator[Break]:
        if skip(path):
            return
        node, _ = self.resolve(node)
        hints = {k: v for k, v in node.items() if isinstance(k, str) and k.startswith("x-")}
        if value is None:
            return  # a nullable value: nothing under it to break
        if "oneOf" in node:
            branch = next((b for b in node["oneOf"] if self.is_valid(b, value)), None)
            if branch is not None:
                yield from self._walk(branch, value, path, skip)
            return

        def brk(keyword: str, new: Any, expected: Any = None, **extra: Any) -> Break:
            return Break(rule=f"schema:{keyword}:{rule_path(path) or '<body>'}", keyword=keyword,
                         field=dotted(path), path=path, value=new, hints=hints, expected=expected, **extra)

        kind = node.get("type")
        if "enum" in node:
            bogus = _not_in(node["enum"])
            if bogus is not None:
                yield brk("enum", bogus, node["enum"])
            return
        if kind == "object" or "properties" in node:
            if not isinstance(value, dict):
                return
            props = node.get("properties", {})
            for name in node.get("required", []):
                if name in value and not skip((*path, name)):
                    prop, _ = self.resolve(props.get(name, {}))
                    prop_hints = {k: v for k, v in props.get(name, {}).items() if str(k).startswith("x-")}
                    prop_hints.update({k: v for k, v in prop.items() if str(k).startswith("x-")})
                    yield Break(rule=f"schema:required:{rule_path((*path, name))}", keyword="required",
                                field=dotted((*path, name)), path=(*path, name), value=REMOVE, hints=hints,
                                prop_hints=prop_hints, expected=name)
            alternatives = [tuple(b.get("required", ())) for b in node.get("anyOf", []) if set(b) <= {"required"}]
            if alternatives:
                keys = tuple(dict.fromkeys(k for alt in alternatives for k in alt))
                if any(k in value for k in keys) and not any(k in node.get("required", []) for k in keys):
                    yield Break(rule=f"schema:anyOf:{rule_path(path) or '<body>'}", keyword="anyOf",
                                field=dotted(path), path=path, value=None, hints=hints, removes=keys,
                                expected=[list(a) for a in alternatives])
            if path:  # an object where a non-object belongs (the body itself is the parser's business)
                yield brk("type", "not-an-object", "object")
            for name, sub in value.items():
                if name in props:
                    yield from self._walk(props[name], sub, (*path, name), skip)
            return
        if kind == "array":
            if not isinstance(value, list):
                return
            low, high = int(node.get("minItems") or 0), node.get("maxItems")
            if low and len(value) >= low:
                yield brk("minItems", value[: low - 1], low)
            if high is not None and value and len(value) <= int(high):
                yield brk("maxItems", value + [copy.deepcopy(value[-1])] * (int(high) + 1 - len(value)), high)
            yield brk("type", "not-an-array", "array")
            for i, item in enumerate(value):
                yield from self._walk(node.get("items", {}), item, (*path, i), skip)
            return
        if kind == "string":
            if not isinstance(value, str):
                return
            shortest, longest = int(node.get("minLength") or 0), node.get("maxLength")
            if shortest:
                yield brk("minLength", "x" * (shortest - 1), shortest)
            if longest is not None:
                yield brk("maxLength", "x" * (int(longest) + 1), longest)
            if "pattern" in node:
                bad = _not_matching(node["pattern"], shortest, longest)
                if bad is not None:
                    yield brk("pattern", bad, node["pattern"])
            if node.get("format") != "binary":
                yield brk("type", 12345, "string")
            return
        if kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return
            if "minimum" in node:
                yield brk("minimum", node["minimum"] - 1, node["minimum"])
            if "maximum" in node:
                yield brk("maximum", node["maximum"] + 1, node["maximum"])
            if kind == "integer":
                yield brk("type", 1.5, "integer")
            else:
                yield brk("type", "12", kind)
            return
        if kind == "boolean":
            yield brk("type", "yes", "boolean")


def _not_in(enum: list[Any]) -> Any:
    for candidate in ("bogus", "bogus-value", "unknown-0"):
        if candidate not in enum:
            return candidate
    return None


def _not_matching(pattern: str, low: int, high: int | None) -> str | None:
    for candidate in ("bad value!", "has space", "!", "%%%", "a/b"):
        if re.search(pattern, candidate) is None and len(candidate) >= low and (high is None or len(candidate) <= high):
            return candidate
    return None
