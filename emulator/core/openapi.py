"""Request validation against each provider's OpenAPI file (``schemas/<name>.yaml``). The
schema is the one source of structure: a view never re-checks a type, an enum or a required
field by hand. Violations come back as ``SchemaViolation`` (dotted field path, jsonschema
keyword, message) for the provider's renderer to turn into its own error.

Each operation gets one validator, built from the schema at start (``OperationValidator``):
its parameters read and cast as OpenAPI 3.0 says (path, query, header; query arrays also as
comma-separated values, since docs and SDKs disagree on which one they send), and its body
checked by openapi-schema-validator's OAS 3.0 validator. The view knows its operation, so
nothing routes a request a second time. Auth is done by the providers themselves (each has
documented bodies for it), so ``security`` is not checked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync_emulator import schemas
from lipsync_emulator.schemas import dotted
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaError

MISSING: Any = object()
INLINED = "x-inlined-from"  # marks a schema copied in place of a reference to it
_BOOL_TRUE = ("y", "yes", "t", "true", "on", "1")
_BOOL_FALSE = ("n", "no", "f", "false", "off", "0")


@dataclass(frozen=True)
class SchemaViolation:
    """``field``: dotted path (``input[1].url``; the parameter name for query/path params).
    ``keyword``: the jsonschema keyword that failed (``required``, ``enum``, ``type``, ...),
    or ``content_type`` / ``missing_body``. ``location``: body | query | path | header."""

    field: str
    keyword: str
    message: str
    location: str = "body"
    value: Any = None
    hints: dict[str, Any] = dataclass_field(default_factory=dict)  # x-* keys of the failing schema node
    expected: Any = None  # the keyword's value in the schema: the enum list, the type, the bound

    def describe(self) -> str:
        """Plain English naming the field, e.g. ``model must be one of: a, b (got 'c')``."""
        got = _short(self.value)
        if "x-message" in self.hints:
            return f"{self.field}: {self.hints['x-message']}"
        f, exp = self.field, self.expected
        templates = {
            "required": "{f} is required",
            "enum": "{f} must be one of: {choices} (got {got})",
            "type": "{f} must be of type {exp} (got {got})",
            "minLength": "{f} must not be empty" if exp == 1 else "{f} must be at least {exp} characters long",
            "maxLength": "{f} must be at most {exp} characters long",
            "pattern": "{f} must match the pattern {exp} (got {got})",
            "minimum": "{f} must be greater than or equal to {exp} (got {got})",
            "maximum": "{f} must be less than or equal to {exp} (got {got})",
            "exclusiveMinimum": "{f} must be greater than {exp} (got {got})",
            "exclusiveMaximum": "{f} must be less than {exp} (got {got})",
            "minItems": "{f} must contain at least {exp} item(s)",
            "maxItems": "{f} must contain at most {exp} item(s)",
            "additionalProperties": "{f} is not an allowed property",
            "content_type": "Unsupported Content-Type: {message}",
            "missing_body": "A request body is required",
        }
        template = templates.get(self.keyword)
        # a null in an enum is how a nullable field admits null (OAS 3.0.3), not a choice to offer
        choices = ", ".join(str(c) for c in exp if c is not None) if isinstance(exp, list) else str(exp)
        text = template.format(f=f, exp=exp, got=got, choices=choices, message=self.message) if template else None
        return text or f"{self.field}: {self.message}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _from_schema_error(err: SchemaError, location: str, prefix: str = "") -> SchemaViolation:
    path = list(err.absolute_path)
    keyword = str(err.validator)
    if keyword == "required":
        # jsonschema reports the missing property on the parent; name the property itself.
        missing = err.message.split("'")[1] if "'" in err.message else ""
        path.append(missing)
    elif keyword == "additionalProperties" and "'" in err.message:
        path.append(err.message.split("'")[1])
    name = dotted(path)
    if prefix:
        name = prefix + ("" if not name else ("" if name.startswith("[") else ".") + name)
    schema = err.schema if isinstance(err.schema, dict) else {}
    hints = {k: v for k, v in schema.items() if isinstance(k, str) and k.startswith("x-")}
    if keyword == "required" and isinstance(schema.get("properties"), dict):
        # the missing property's own hints (its error code) belong to this violation too
        prop = schema["properties"].get(path[-1] if path else "", {})
        if isinstance(prop, dict) and INLINED not in prop:
            hints.update({k: v for k, v in prop.items() if isinstance(k, str) and k.startswith("x-")})
    return SchemaViolation(field=name or prefix or "body", keyword=keyword, message=err.message,
                           location=location, value=err.instance, hints=hints, expected=err.validator_value)


def _best(errors: Iterable[SchemaError]) -> SchemaError | None:
    from jsonschema.exceptions import ValidationError as SchemaError
    from jsonschema.exceptions import best_match

    errors = list(errors)
    if not errors:
        return None
    best = best_match(errors)
    # best_match stops at anyOf/oneOf; descend to the cause, but stop at a node that carries
    # its own message (``x-message``), and for a oneOf of typed variants follow the variant
    # whose ``type`` matched (a discriminator, without OpenAPI 3.0's discriminator support).
    while best.context and not (isinstance(best.schema, dict) and "x-message" in best.schema):
        context = list(best.context)
        if best.validator == "oneOf" and not isinstance(best.instance, dict):
            # not even an object: say so, rather than quote one variant's message
            kinds = [e for e in context if e.validator == "type" and not list(e.relative_path)]
            if kinds and len(kinds) == len(context):
                return SchemaError(kinds[0].message, validator="type", validator_value=kinds[0].validator_value,
                                   instance=best.instance, path=list(best.absolute_path),
                                   schema={"type": kinds[0].validator_value})
        if best.validator == "oneOf":
            failed_type = {e.relative_schema_path[0] for e in context if _type_failed(e)}
            matching = [e for e in context if e.relative_schema_path[0] not in failed_type]
            if not matching and failed_type:
                # no variant's ``type`` matched: the discriminator itself is what is wrong
                return _discriminator_error(best, context)
            context = matching or context
        best = best_match(context)
    return best


def _type_failed(err: SchemaError) -> bool:
    """Whether a variant failed on its ``type`` (a wrong value, or none at all)."""
    path = list(err.relative_path)
    return path[:1] == ["type"] or (err.validator == "required" and not path and err.message.startswith("'type' "))


def _discriminator_error(parent: SchemaError, context: list[SchemaError]) -> SchemaError:
    """One ``enum`` error on ``type`` listing every variant's value (instead of the first
    variant's complaint about a property the value never meant to have)."""
    from jsonschema.exceptions import ValidationError as SchemaError

    allowed: list[Any] = []
    for err in context:
        if list(err.relative_path)[:1] == ["type"] and err.validator in ("enum", "const"):
            values = err.validator_value if err.validator == "enum" else [err.validator_value]
            allowed += [v for v in values if v not in allowed]
    if not isinstance(parent.instance, dict) or "type" not in parent.instance:
        return SchemaError("'type' is a required property", validator="required", validator_value=["type"],
                           instance=parent.instance, path=list(parent.absolute_path), schema={"required": ["type"]})
    value = parent.instance["type"]
    return SchemaError(f"{value!r} is not one of {allowed!r}", validator="enum", validator_value=allowed,
                       instance=value, path=[*parent.absolute_path, "type"], schema={"enum": allowed})


def _array_items(value: str) -> list[str]:
    """One value of an array parameter as its items: a JSON array of strings (what Fern's
    TypeScript SDKs send: ``status=["COMPLETED"]``) or a comma-separated list. A value that
    looks like JSON but is not an array of strings stays whole, for the schema to reject."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
        return [value]
    return value.split(",")


def normalized_query(request: Request, array_params: frozenset[str]) -> Any:
    """The query string with the values of array parameters split into their items, as
    validation and the views see it. An empty part stays an empty value (``status=`` is
    ``[""]``, which the schema rejects), as a server splitting on commas would see it, rather
    than no filter; an empty JSON array (``status=[]``) is no filter."""
    args = request.args
    if array_params & set(args):
        items = []
        for key, value in args.items(multi=True):
            if key in array_params:
                items += [(key, v) for v in _array_items(value)]
            else:
                items.append((key, value))
        args = ImmutableMultiDict(items)
    return args


def _validator(schema: Any, components: Mapping[str, Any]) -> Any:
    """An OAS 3.0 request (write) validator for ``schema``, its references inlined (resolving
    one on every use costs several times the rest of the validation)."""
    from jsonschema.validators import extend
    from openapi_schema_validator import OAS30WriteValidator

    inlined = _inline(schema, components.get("schemas") or {}, ())
    root = dict(inlined) if isinstance(inlined, Mapping) else {}
    root["components"] = components  # what a recursive reference, left as it is, resolves against
    validator = extend(OAS30WriteValidator, {"oneOf": _typed_one_of(OAS30WriteValidator.VALIDATORS["oneOf"])})
    return validator(root, format_checker=OAS30WriteValidator.FORMAT_CHECKER)


def _typed_one_of(one_of: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """``oneOf`` that first tries the one variant whose ``type`` enum admits the value's
    ``type`` (sync.so's input items): when every variant lists its ``type`` values, the others
    reject the value, so if that one accepts it the value is valid without trying the rest.
    Anything else, invalid values included, is the standard ``oneOf``: errors read the same."""

    def keyword(validator: Any, variants: Any, instance: Any, schema: Any) -> Iterator[Any]:
        kind = instance.get("type") if isinstance(instance, dict) else None
        if isinstance(kind, str):
            enums = [_type_enum(v) for v in variants]
            admitting = [v for v, enum in zip(variants, enums, strict=True) if kind in enum]
            if all(enums) and len(admitting) == 1 and validator.evolve(schema=admitting[0]).is_valid(instance):
                return
        yield from one_of(validator, variants, instance, schema)

    return keyword


def _type_enum(variant: Any) -> tuple[Any, ...]:
    """The values a variant's ``type`` property is limited to (none: it is not limited)."""
    prop = (variant.get("properties") or {}).get("type") if isinstance(variant, Mapping) else None
    return tuple(prop.get("enum") or ()) if isinstance(prop, Mapping) else ()


def _inline(node: Any, schemas: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """``node`` with each ``#/components/schemas/...`` reference replaced by a copy of its
    target; a recursive one stays."""
    if isinstance(node, list):
        return [_inline(item, schemas, seen) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name in seen or name not in schemas:
            return dict(node)
        target = _inline(schemas[name], schemas, (*seen, name))
        rest = {k: _inline(v, schemas, seen) for k, v in node.items() if k != "$ref"}
        # a reference with keys of its own keeps them apart (allOf); a bare one is its target,
        # marked as such: a missing property takes no hints from its referenced schema
        return {"allOf": [target], **rest} if rest else {**target, INLINED: name}
    return {k: _inline(v, schemas, seen) for k, v in node.items()}


def _resolve(spec: Mapping[str, Any], node: Any) -> Any:
    for _ in range(32):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
            break
        _, section, kind, name = node["$ref"].split("/", 3)
        node = spec[section][kind][name]
    return node


class _Param:
    """One parameter: where it is read, how it is cast, and its schema's validator."""

    def __init__(self, spec: Mapping[str, Any], param: Mapping[str, Any]) -> None:
        self.name, self.location = str(param["name"]), str(param["in"])
        self.required = bool(param.get("required", False))
        schema = param.get("schema") or {}
        resolved = _resolve(spec, schema)
        self.kind = str(resolved.get("type", ""))
        self.item_kind = str(_resolve(spec, resolved.get("items") or {}).get("type", "")) if self.kind == "array" else ""
        self.validator = _validator(schema, spec.get("components") or {})

    def violation(self, source: Any) -> SchemaViolation | None:
        if self.name not in source:
            if self.required:
                return SchemaViolation(self.name, "required", f"{self.name} is required", self.location)
            return None
        if self.kind == "array":
            raw: Any = source.getlist(self.name)
        else:
            raw = source[self.name]
            if self.location == "query" and raw == "":
                return SchemaViolation(self.name, "type", f"{self.name}: a query parameter cannot be empty",
                                       self.location, value=raw, expected=self.kind or "a valid value")
        try:
            value = [_cast(self.item_kind, v) for v in raw] if self.kind == "array" else _cast(self.kind, raw)
        except ValueError as exc:
            kind = self.item_kind if self.kind == "array" else self.kind
            return SchemaViolation(self.name, "type", f"{self.name}: {exc}", self.location, value=exc.args[1],
                                   expected=kind)
        best = _best(self.validator.iter_errors(value))
        return None if best is None else _from_schema_error(best, self.location, prefix=self.name)


def _cast(kind: str, value: str) -> Any:
    """A parameter's text as its schema's type (integer, number, boolean; others stay text)."""
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        raise ValueError(f"cannot read {value!r} as {kind}", value) from None
    if kind == "boolean":
        if value.lower() not in _BOOL_TRUE + _BOOL_FALSE:
            raise ValueError(f"cannot read {value!r} as boolean", value)
        return value.lower() in _BOOL_TRUE
    return value


class OperationValidator:
    """Validates requests of one operation: parameters first, then the body."""

    def __init__(self, spec: Mapping[str, Any], path: str, item: Mapping[str, Any], op: Mapping[str, Any]) -> None:
        components = spec.get("components") or {}
        params: dict[tuple[str, str], _Param] = {}
        for raw in list(op.get("parameters", [])) + list(item.get("parameters", [])):
            param = _resolve(spec, raw)
            if param["in"] in ("path", "query", "header"):
                params.setdefault((param["name"], param["in"]), _Param(spec, param))  # the operation's wins
        self.params = list(params.values())
        self.array_params = frozenset(p.name for p in self.params if p.location == "query" and p.kind == "array")
        names: list[str] = []

        def group(match: re.Match[str]) -> str:
            names.append(match.group(1))
            return f"(?P<p{len(names) - 1}>[^/]*)"

        pattern = re.sub(r"\\\{([^}]*)\\\}", group, re.escape(path))
        self._path = re.compile(pattern + "$")
        self._path_names = names
        body = _resolve(spec, op.get("requestBody"))
        self.has_body = isinstance(body, Mapping)
        self.body_required = bool(self.has_body and body.get("required", False))
        content = (body or {}).get("content") or {}
        self.media: dict[str, Any] = {mime: _validator(media["schema"], components)
                                      if isinstance(media, Mapping) and "schema" in media else None
                                      for mime, media in content.items()}
        # multipart fields: which are files (bytes) and which repeat (lists), as their schemas say
        self.fields: dict[str, dict[str, str]] = {}
        for mime, media in content.items():
            props = (_resolve(spec, (media or {}).get("schema")) or {}).get("properties") or {}
            self.fields[mime] = {name: "binary" if _resolve(spec, prop).get("format") == "binary"
                                 else str(_resolve(spec, prop).get("type", "")) for name, prop in props.items()}

    def path_values(self, path: str) -> dict[str, str]:
        match = self._path.search(path)
        return {} if match is None else {name: match.group(f"p{n}") for n, name in enumerate(self._path_names)}

    def violations(self, request: Request, body: bytes | None, content_type: str | None,
                   parsed: Any) -> list[SchemaViolation]:
        sources = {"path": self.path_values(request.path), "query": normalized_query(request, self.array_params),
                   "header": request.headers}
        out = [v for p in self.params if (v := p.violation(sources[p.location])) is not None]
        if self.has_body:
            found = self._body_violation(request, body, content_type, parsed)
            if found is not None:
                out.append(found)
        return out

    def _body_violation(self, request: Request, body: bytes | None, content_type: str | None,
                        parsed: Any) -> SchemaViolation | None:
        raw = body if body is not None else (None if parsed is not MISSING else request.get_data())
        if parsed is MISSING and not raw:
            return SchemaViolation("body", "missing_body", "a request body is required") if self.body_required else None
        full_type = content_type or request.content_type or "application/octet-stream"
        mime = full_type.split(";")[0].strip().lower()
        if any(part.count("=") != 1 for part in full_type.split(";")[1:]):
            return SchemaViolation("Content-Type", "content_type", f"cannot parse {full_type!r}", "header",
                                   value=full_type)
        chosen = mime if mime in self.media else next((m for m in self.media if fnmatch(mime, m)), None)
        if chosen is None:
            return SchemaViolation("Content-Type", "content_type", f"Content for the following mimetype not found: "
                                   f"{full_type}. Valid mimetypes: {list(self.media)}", "header")
        validator = self.media[chosen]
        if chosen == "multipart/form-data":
            value: Any = self._form(request, self.fields.get(chosen, {}))
        elif parsed is not MISSING:
            value = parsed
        else:
            try:
                value = json.loads(raw) if chosen.endswith("json") else raw
            except (ValueError, RecursionError) as exc:
                return SchemaViolation("body", "type", f"the body is not JSON: {exc}")
        if validator is None:
            return None
        best = _best(validator.iter_errors(value))
        return None if best is None else _from_schema_error(best, "body")

    @staticmethod
    def _form(request: Request, fields: dict[str, str]) -> dict[str, Any]:
        """A multipart body as a mapping: files as bytes, a repeated field as a list only where
        its schema is an array (else its first value)."""
        out: dict[str, Any] = {}
        for name, values in request.form.lists():
            out[name] = values if fields.get(name) == "array" else values[0]
        for name, upload in request.files.items():
            data = upload.stream.read()
            upload.stream.seek(0)
            out[name] = data if fields.get(name, "binary") == "binary" else data.decode("utf-8", "replace")
        return out


class SpecValidator:
    """One provider's spec: an ``OperationValidator`` per operation, built at start."""

    def __init__(self, name: str | Path) -> None:
        self.name = name.stem if isinstance(name, Path) else name
        self.spec = schemas.load(name)
        self.operations: dict[str, tuple[str, str]] = {}
        self.validators: dict[str, OperationValidator] = {}
        for path, item in self.spec.get("paths", {}).items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.operations[op["operationId"]] = (method.upper(), path)
                    self.validators[op["operationId"]] = OperationValidator(self.spec, path, item, op)

    def violations(self, request: Request, operation_id: str, body: bytes | None = None,
                   content_type: str | None = None, *, parsed: Any = MISSING) -> list[SchemaViolation]:
        """Every violation found (parameters first, then the body's best match). ``body`` and
        ``content_type`` replace the request's (e.g. a multipart request re-checked as the
        equivalent JSON payload). ``parsed``: the JSON body already parsed."""
        return self.validators[operation_id].violations(request, body, content_type, parsed)

    def body_violations(self, operation_id: str, body: bytes,
                        content_type: str = "application/json") -> list[SchemaViolation]:
        """Violations of ``body`` as the request body of ``operation_id`` alone, whatever
        request is being served: e.g. each line of a batch file checked as the request it
        stands for. Parameters are not checked."""
        from werkzeug.test import EnvironBuilder

        method, path = self.operations[operation_id]
        environ = EnvironBuilder(path=re.sub(r"\{[^}]+\}", "_", path), method=method, data=body,
                                 content_type=content_type).get_environ()
        return [v for v in self.violations(Request(environ), operation_id)
                if v.location == "body" or v.keyword == "content_type"]

    def query(self, request: Request, operation_id: str) -> Any:
        """The query string with comma-separated array values split, as validation saw it."""
        return normalized_query(request, self.validators[operation_id].array_params)
