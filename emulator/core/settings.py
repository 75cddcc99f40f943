"""Typed provider settings: a provider declares its settings as a frozen dataclass whose
annotations are the types (``Literal[...]`` for a choice, ``TypedDict`` for a fixed-shape
section) and whose defaults are the provider's defaults. ``configure`` checks overrides
against it and answers the effective settings as a plain dict (what views read and
``GET /_emulator/config`` shows); an unknown key or a bad value is a ``SettingsError`` naming
the key.

    >>> from dataclasses import dataclass
    >>> from typing import Literal
    >>> @dataclass(frozen=True)
    ... class Demo:
    ...     mode: Literal["strict", "lax"] = "strict"
    ...     retries: int = 1
    >>> configure(Demo, {"retries": 3}, "demo")
    {'mode': 'strict', 'retries': 3}
    >>> try:
    ...     configure(Demo, {"mod": "lax"}, "demo")
    ... except SettingsError as exc:
    ...     print(exc)
    unknown setting demo.mod (known: mode, retries)
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

_KEY = re.compile(r"[^\s\[]+")  # the dotted key a problem's message starts with


class Retry(TypedDict, total=False):
    """A webhook retry policy (``core.webhooks.RetryPolicy``): ``max_attempts`` counts the first."""

    max_attempts: int
    backoff: float
    factor: float
    max_delay: float
    schedule: list[float]


class SettingsError(ValueError):
    """A setting that does not exist, or a value it cannot take; the message names the key,
    ``key`` is it (dotted)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """The settings of a provider that declares none."""


def default(value: Any) -> Any:
    """A mutable default (a list, a dict) for a settings field: each instance gets a copy."""
    return dataclasses.field(default_factory=lambda: copy.deepcopy(value))


def defaults(cls: type) -> dict[str, Any]:
    """The settings class's defaults, as a dict."""
    return dataclasses.asdict(cls())


def configure(cls: type, overrides: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``cls``'s defaults with ``overrides`` merged in (sections key by key), checked against
    the annotations. ``where``: the prefix error messages name keys with (the provider)."""
    if not isinstance(overrides, Mapping):
        raise SettingsError(f"{where} must be an object of settings, not {_kind(overrides)}", where)
    types = get_type_hints(cls)
    hints = {f.name: types[f.name] for f in dataclasses.fields(cls)}  # class attributes are no settings
    unknown = sorted(set(overrides) - set(hints))
    if unknown:
        raise SettingsError(f"unknown setting {where}.{unknown[0]} (known: {', '.join(sorted(hints))})",
                            f"{where}.{unknown[0]}")
    merged = defaults(cls)
    for key, value in overrides.items():
        base = merged[key]
        if isinstance(value, Mapping) and isinstance(base, dict) and is_typeddict(hints[key]):
            value = {**base, **value}
        check(value, hints[key], f"{where}.{key}")
        merged[key] = copy.deepcopy(value)
    return merged


def check(value: Any, hint: Any, path: str) -> None:
    """Raise ``SettingsError`` unless ``value`` is of type ``hint``."""
    problem = _problem(value, hint, path)
    if problem is not None:
        raise SettingsError(problem, _KEY.match(problem.removeprefix("unknown setting ")).group(0))


def _problem(value: Any, hint: Any, path: str) -> str | None:
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return None
    if hint is type(None) or hint is None:
        return None if value is None else f"{path} must be null, not {_kind(value)}"
    if origin is Literal:
        return None if value in args and type(value) in {type(a) for a in args} else \
            f"{path} must be one of {', '.join(repr(a) for a in args)}, not {value!r}"
    if origin in (Union, types.UnionType):
        problems = [_problem(value, arm, path) for arm in args]
        if None in problems:
            return None
        for arm, problem in zip(args, problems, strict=True):
            if _kind_matches(value, arm):
                return problem
        return f"{path} must be {_describe(hint)}, not {_kind(value)}"
    if is_typeddict(hint):
        if not isinstance(value, Mapping):
            return f"{path} must be an object, not {_kind(value)}"
        fields = get_type_hints(hint)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            return f"unknown setting {path}.{unknown[0]} (known: {', '.join(fields)})"
        missing = sorted(k for k in hint.__required_keys__ if k not in value)
        if missing:
            return f"{path}.{missing[0]} is required"
        return next((p for k, v in value.items() if (p := _problem(v, fields[k], f"{path}.{k}"))), None)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return f"{path} must be a list, not {_kind(value)}"
        item = args[0] if args else Any
        return next((p for i, v in enumerate(value) if (p := _problem(v, item, f"{path}[{i}]"))), None)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            return f"{path} must be an object, not {_kind(value)}"
        key_hint, value_hint = args or (Any, Any)
        for key, item in value.items():
            if (p := _problem(key, key_hint, f"{path} key")) or (p := _problem(item, value_hint, f"{path}.{key}")):
                return p
        return None
    if hint is bool:
        return None if isinstance(value, bool) else f"{path} must be true or false, not {_kind(value)}"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
        return None if ok else f"{path} must be a number, not {_kind(value)}"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{path} must be an integer, not {_kind(value)}"
    if hint is str:
        return None if isinstance(value, str) else f"{path} must be a string, not {_kind(value)}"
    raise TypeError(f"{path}: settings of type {hint!r} are not supported")


def _kind_matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` is the kind of thing ``hint`` describes (to report the useful arm's
    problem: a list with a bad item, not "must be null")."""
    origin = get_origin(hint) or hint
    if origin in (list, tuple):
        return isinstance(value, list | tuple)
    if origin is dict or is_typeddict(hint):
        return isinstance(value, Mapping)
    return False


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    names = {type(None): "null", bool: "true or false", float: "a number", int: "an integer", str: "a string"}
    if hint in names:
        return names[hint]
    return "a list" if origin in (list, tuple) else "an object"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return repr(value)
    return "a list" if isinstance(value, list | tuple) else "an object" if isinstance(value, Mapping) else \
        type(value).__name__

