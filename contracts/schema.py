"""The providers' OpenAPI files as the contracts see them: loaded from ``schemas/`` (or from a
served copy), with response conformance checked by openapi-core.

    >>> spec = ContractSchema.load("syncso")
    >>> spec.operation("getGeneration").path
    '/v2/generate/{id}'
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from lipsync_emulator import schemas
from lipsync_emulator.contracts.targets import Response
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    spec: Mapping[str, Any]

    def url(self, **params: Any) -> str:
        path = self.path
        for key, value in params.items():
            path = path.replace("{" + key + "}", str(value))
        return path


class _Request:
    """openapi-core's request protocol over what a contract sent."""

    def __init__(self, response: Response) -> None:
        self.host_url = "http://localhost"
        self.path = response.path
        self.method = response.method.lower()
        pairs: list[tuple[str, str]] = []
        for part in response.query.split("&"):
            if part:
                key, _, value = part.partition("=")
                pairs.append((unquote_plus(key), unquote_plus(value)))
        query: ImmutableMultiDict[str, str] = ImmutableMultiDict(pairs)
        self.parameters = RequestParameters(query=query, header=Headers(response.request_headers))
        self.body = response.request_body
        self.content_type = response.request_headers.get("Content-Type", "application/json")


class _Response:
    def __init__(self, response: Response) -> None:
        self.status_code = response.status
        self.headers = response.headers
        self.data = response.body
        self.content_type = response.content_type or "application/octet-stream"


class ContractSchema:
    """One provider's OpenAPI document: operations by id, and response conformance."""

    def __init__(self, name: str, spec: Mapping[str, Any]) -> None:
        self.name = name
        self.spec = spec
        self.operations: dict[str, Operation] = {}
        for path, item in spec.get("paths", {}).items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.operations[op["operationId"]] = Operation(op["operationId"], method.upper(), path, op)
        working = copy.deepcopy(dict(spec))
        working["servers"] = [{"url": "/"}]
        self._openapi = OpenAPI.from_dict(working)

    @classmethod
    @functools.cache
    def load(cls, name: str | Path) -> ContractSchema:
        """From the installed ``schemas`` package (the source of truth), or an OpenAPI file."""
        return cls(name.stem if isinstance(name, Path) else name, schemas.load(name))

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def response_problems(self, response: Response) -> list[str]:
        """Why ``response`` does not conform to the schema (empty when it does): an undeclared
        status, a wrong content type, a body that does not match the declared schema."""
        path = urlsplit(response.path).path
        problems = []
        for err in self._openapi.iter_response_errors(_Request(response), _Response(response)):  # type: ignore[arg-type]
            cause = err.__cause__
            detail = ""
            schema_errors = getattr(cause, "schema_errors", None)
            if schema_errors:
                detail = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
                                   for e in list(schema_errors)[:3])
            problems.append(f"{response.method} {path} -> {response.status}: {type(err).__name__}"
                            f"{': ' + (detail or str(cause or err)) if (detail or cause or str(err)) else ''}")
        return problems
