"""How records cross the store boundary when the store is a file (``SqliteStore``).

Providers keep working with objects — ``Job`` dataclasses, dicts holding ``bytes``, webhook
deliveries with their signer closures — so the codec is pickle (stdlib, C-fast, exact for
all of them) with two additions:

* the live runtime's parts (clock, store, runtime...) are written as *names* and bound to
  the current process's objects when read back (``persistent_id``), so a signer closing
  over ``rt.clock`` still works in another worker or after a restart;
* functions that pickle cannot name — lambdas and closures, e.g. a provider's webhook
  signer — are written as (module, qualified name, first line, closure values) and rebuilt
  from the module's own code object, so the code is never stored, only where to find it.

The data directory is the emulator's own and trusted, like any pickle file: never point
``--data-dir`` at files from elsewhere. Its format follows the emulator version
(``FORMAT``); a directory written by another format is refused rather than misread.

    >>> from lipsync_emulator.core.clock import VirtualClock
    >>> clock = VirtualClock(start=0)
    >>> codec = Codec({"clock": clock})
    >>> back = codec.loads(codec.dumps({"data": b"mp4", "clock": clock}))
    >>> back["data"], back["clock"] is clock
    (b'mp4', True)
"""

from __future__ import annotations

import importlib
import io
import pickle
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

FORMAT = "1"


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _find_code(module: types.ModuleType, qualname: str, firstlineno: int) -> types.CodeType:
    seen: set[int] = set()
    stack: list[Any] = list(vars(module).values())
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            for code in _code_objects(obj.__code__):
                if code.co_qualname == qualname and code.co_firstlineno == firstlineno:
                    return code
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            stack.extend(vars(obj).values())
        elif isinstance(obj, staticmethod | classmethod):
            stack.append(obj.__func__)
    raise LookupError(f"no code for {module.__name__}.{qualname} (line {firstlineno}): the emulator changed")


def rebuild_function(module_name: str, qualname: str, firstlineno: int, cells: tuple[Any, ...] | None,
                     defaults: tuple[Any, ...] | None, kwdefaults: dict[str, Any] | None) -> types.FunctionType:
    """The inverse of ``Codec``'s function reduction (module-level so pickle can name it)."""
    module = importlib.import_module(module_name)
    code = _find_code(module, qualname, firstlineno)
    closure = tuple(types.CellType(value) for value in cells) if cells is not None else None
    fn = types.FunctionType(code, vars(module), code.co_name, defaults, closure)
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    return fn


def _importable(fn: types.FunctionType) -> bool:
    module = sys.modules.get(fn.__module__ or "")
    target: Any = module
    for part in fn.__qualname__.split("."):
        target = getattr(target, part, None)
        if target is None:
            return False
    return target is fn


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, names: Mapping[int, str]) -> None:
        super().__init__(file, protocol=5)
        self._names = names

    def persistent_id(self, obj: Any) -> str | None:
        return self._names.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and not _importable(obj):
            cells = tuple(c.cell_contents for c in obj.__closure__) if obj.__closure__ else None
            return rebuild_function, (obj.__module__, obj.__qualname__, obj.__code__.co_firstlineno, cells,
                                      obj.__defaults__, obj.__kwdefaults__)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, objects: Mapping[str, Any]) -> None:
        super().__init__(file)
        self._objects = objects

    def persistent_load(self, pid: Any) -> Any:
        try:
            return self._objects[pid]
        except KeyError:
            raise pickle.UnpicklingError(f"unknown runtime object {pid!r}") from None


class Codec:
    """``objects``: the live objects written by name (``{"clock": rt.clock, ...}``)."""

    def __init__(self, objects: Mapping[str, Any] | None = None) -> None:
        self.objects: dict[str, Any] = dict(objects or {})

    def bind(self, name: str, obj: Any) -> None:
        self.objects[name] = obj

    def dumps(self, value: Any) -> bytes:
        # Plain records (jobs, dicts, bytes) take the C pickler alone, 3x faster than with the
        # Python-level hooks; anything it refuses (a closure, a lock inside a runtime object)
        # takes the hooked one. The first byte says which, for loads.
        try:
            return b"P" + pickle.dumps(value, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError):
            buf = io.BytesIO(b"H")
            buf.seek(1)
            _Pickler(buf, {id(obj): name for name, obj in self.objects.items()}).dump(value)
            return buf.getvalue()

    def loads(self, data: bytes) -> Any:
        if data[:1] == b"P":
            return pickle.loads(data[1:])
        return _Unpickler(io.BytesIO(data[1:]), self.objects).load()
