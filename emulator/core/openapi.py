"""Request validation against each provider's OpenAPI file (``schemas/<name>.yaml``), with
openapi-core. The schema is the one source of structure: a view never re-checks a type, an
enum or a required field by hand. Violations come back as ``SchemaViolation`` (dotted field
path, jsonschema keyword, message) for the provider's renderer to turn into its own error.

Auth is done by the providers themselves (each has documented bodies for it), so the copy of
the spec used here has its ``security`` removed, and a relative server so any host matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from lipsync_emulator import schemas
from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.wrappers import Request

if TYPE_CHECKING:  # jsonschema is imported when a violation is explained, not at start-up
    from jsonschema.exceptions import ValidationError as SchemaError
from lipsync_emulator.core.openapi_fast import MISSING, FastSpec, fast_loads, finite

# openapi-core (0.7 s to import, 0.25 s to build a spec) is loaded on the first request the
# fast path cannot vouch for: see emulator/core/openapi_fast.py.


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


def _param_type(cause: BaseException | None) -> str:
    return str(getattr(cause, "type", "") or "a valid value")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


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
        hints.update({k: v for k, v in prop.items() if isinstance(k, str) and k.startswith("x-")} if isinstance(prop, dict) else {})
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


class _FlaskOpenAPIRequest:
    """openapi-core's request protocol over a Werkzeug request, with two provider-neutral
    normalisations: array query parameters accept comma-separated values as well as repeated
    keys (docs and SDKs disagree on which one they send), and the body may be replaced."""

    def __init__(self, request: Request, array_params: frozenset[str], body: bytes | None,
                 content_type: str | None = None) -> None:
        from openapi_core.datatypes import RequestParameters

        self.request = request
        self._content_type = content_type
        args = normalized_query(request, array_params)
        self.parameters = RequestParameters(query=args, header=Headers(request.headers), cookie=request.cookies)
        self._body = body

    @property
    def host_url(self) -> str:
        return self.request.host_url

    @property
    def path(self) -> str:
        return self.request.root_path + self.request.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._body if self._body is not None else self.request.get_data(as_text=False)

    @property
    def content_type(self) -> str:
        return self._content_type or self.request.content_type or "application/octet-stream"


class SpecValidator:
    """One provider's spec, loaded once."""

    def __init__(self, name: str | Path) -> None:
        self.name = name.stem if isinstance(name, Path) else name
        self.spec = schemas.load(name)
        working = schemas.load(name)
        working.pop("security", None)
        working["servers"] = [{"url": "/"}]
        self.array_params: dict[str, frozenset[str]] = {}
        self.operations: dict[str, tuple[str, str]] = {}
        for path, item in working.get("paths", {}).items():
            for method, op in item.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                op.pop("security", None)
                self.operations[op["operationId"]] = (method.upper(), path)
                arrays = {p["name"] for p in op.get("parameters", []) + item.get("parameters", [])
                          if p.get("in") == "query" and p.get("schema", {}).get("type") == "array"}
                self.array_params[op["operationId"]] = frozenset(arrays)
        self._working = working
        self._openapi_instance: Any = None
        self.fast = FastSpec(working)
        self._found: dict[tuple[Any, ...], Any] = {}

    @property
    def _openapi(self) -> Any:
        if self._openapi_instance is None:
            from openapi_core import OpenAPI

            self._openapi_instance = OpenAPI.from_dict(self._working)
        return self._openapi_instance

    def warm(self) -> None:
        """Build now what the first request of each kind would build: every operation's
        fast validator (importing openapi-schema-validator) and openapi-core's validator
        for the first invalid request (~150 and ~200 ms of CPU, measured)."""
        for operation_id in self.operations:
            self.fast.operation(operation_id)
        self._openapi.request_validator  # noqa: B018 - built on first access

    def violations(self, request: Request, operation_id: str, body: bytes | None = None,
                   content_type: str | None = None, *, parsed: Any = MISSING) -> list[SchemaViolation]:
        """Every violation found (parameters first, then the body's best match). ``body`` and
        ``content_type`` replace the request's (e.g. a multipart request re-checked as the
        equivalent JSON payload). ``parsed``: the JSON body already parsed, standing for
        ``json.dumps(parsed)`` (saves a dump and a parse when the request is valid)."""
        if self.accepts(request, operation_id, body, content_type, parsed):
            return []
        if body is None and parsed is not MISSING:
            body = json.dumps(parsed).encode()
        return self.full_violations(request, operation_id, body, content_type)

    def full_violations(self, request: Request, operation_id: str, body: bytes | None = None,
                        content_type: str | None = None) -> list[SchemaViolation]:
        """``violations`` through openapi-core alone (what the fast path stands in for)."""
        wrapped = _FlaskOpenAPIRequest(request, self.array_params.get(operation_id, frozenset()), body,
                                       content_type)
        out: list[SchemaViolation] = []
        try:
            for exc in self._openapi.request_validator.iter_errors(wrapped):  # type: ignore[union-attr]
                out.append(self._convert(exc))
        except ValueError:
            # openapi-core cannot parse a Content-Type parameter without "=" ("application/json;x")
            if not any(part.count("=") != 1 for part in wrapped.content_type.split(";")[1:]):
                raise
            return [SchemaViolation("Content-Type", "content_type", f"cannot parse {wrapped.content_type!r}",
                                    "header", value=wrapped.content_type)]
        except AssertionError:
            # openapi-core asserts every multipart part has a name; a part without one is a
            # malformed body, not a server error (found by Schemathesis in the contract suite)
            return [SchemaViolation("body", "type", "malformed multipart/form-data body: a part has no name",
                                    "body")]
        return out

    def body_violations(self, operation_id: str, body: bytes,
                        content_type: str = "application/json") -> list[SchemaViolation]:
        """Violations of ``body`` as the request body of ``operation_id`` alone, whatever
        request is being served: e.g. each line of a batch file checked as the request it
        stands for. Parameters are not checked (path parameters get a placeholder)."""
        from werkzeug.test import EnvironBuilder

        method, path = self.operations[operation_id]
        environ = EnvironBuilder(path=re.sub(r"\{[^}]+\}", "_", path), method=method, data=body,
                                 content_type=content_type).get_environ()
        return [v for v in self.violations(Request(environ), operation_id)
                if v.location == "body" or v.keyword == "content_type"]

    def query(self, request: Request, operation_id: str) -> Any:
        """The query string with comma-separated array values split, as validation saw it."""
        return normalized_query(request, self.array_params.get(operation_id, frozenset()))

    def accepts(self, request: Request, operation_id: str, body: bytes | None = None,
                content_type: str | None = None, parsed: Any = MISSING) -> bool:
        """True only when openapi-core would report no violation (see openapi_fast)."""
        op = self.fast.operation(operation_id)
        if op is None:
            return False
        # the operation openapi-core would pick depends on the URL's path alone (the schemas'
        # server is the relative "/"; urljoin resolves dot segments as it does): remembered
        # per path (bounded), so a poll repeated on one job costs a dict lookup
        key = (request.method, request.root_path, request.path)
        found = self._found.get(key, MISSING)
        if found is MISSING:
            found = self.fast.find(request.method.lower(), urljoin("http://emulator/", request.root_path + request.path))
            if len(self._found) >= 4096:
                self._found.clear()
            self._found[key] = found
        if found is None or found[0] != operation_id:
            return False
        query = normalized_query(request, self.array_params.get(operation_id, frozenset()))
        if not op.accepts_parameters(found[1], query, request.headers):
            return False
        if not op.has_body:
            return True
        if parsed is MISSING:
            raw = body if body is not None else request.get_data()
            if not raw:
                return not op.body_required
            parsed = fast_loads(raw)
            if parsed is MISSING:
                return False
        elif not finite(parsed):
            return False
        return op.accepts_body(parsed, content_type or request.content_type or "application/octet-stream")

    @staticmethod
    def _convert(exc: Exception) -> SchemaViolation:
        from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
        from openapi_core.validation.request.exceptions import (
            InvalidParameter,
            InvalidRequestBody,
            MissingRequiredParameter,
            MissingRequiredRequestBody,
            ParameterValidationError,
        )

        cause = exc.__cause__
        if isinstance(exc, InvalidRequestBody):
            best = _best(getattr(cause, "schema_errors", ()) or ())
            if best is not None:
                return _from_schema_error(best, "body")
            return SchemaViolation("body", "type", str(cause or exc))
        if isinstance(exc, MissingRequiredRequestBody):
            return SchemaViolation("body", "missing_body", "a request body is required")
        if isinstance(exc, MissingRequiredParameter):
            return SchemaViolation(exc.name, "required", f"{exc.name} is required", exc.location)
        if isinstance(exc, InvalidParameter | ParameterValidationError) and not getattr(cause, "schema_errors", None):
            # a value that could not even be cast (``limit=abc``)
            return SchemaViolation(exc.name, "type", f"{exc.name}: {cause or exc}", exc.location,
                                   value=getattr(cause, "value", None), expected=_param_type(cause))
        if isinstance(exc, InvalidParameter | ParameterValidationError):
            best = _best(getattr(cause, "schema_errors", ()) or ())
            if best is not None:
                return _from_schema_error(best, exc.location, prefix=exc.name)
            return SchemaViolation(exc.name, "type", f"{exc.name}: {cause or exc}", exc.location)
        if isinstance(cause, MediaTypeNotFound) or isinstance(exc, MediaTypeNotFound):
            return SchemaViolation("Content-Type", "content_type", str(cause or exc), "header")
        return SchemaViolation("body", "type", str(cause or exc))
