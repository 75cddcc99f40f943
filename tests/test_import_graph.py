"""The package's import graph, read from the source (every ``import``, including those inside
function bodies): no cycles between files, and the layers the design guide draws — the core
knows no provider, a provider knows no other provider, the contracts never import the emulator."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"emulator": "lipsync_emulator", "contracts": "lipsync_emulator.contracts",
            "schemas": "lipsync_emulator.schemas"}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's ``__init__``)."""
    out = {}
    for folder, package in PACKAGES.items():
        for file in (ROOT / folder).rglob("*.py"):
            parts = list(file.relative_to(ROOT / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            out[".".join([package, *(parts[:-1] if is_package else parts)])] = (file, is_package)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports. ``from a import b`` names module ``a.b`` when
    that is a module, else ``a``."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, (file, is_package) in modules.items():
        base = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    anchor = base
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    module = f"{anchor}.{module}" if module else anchor
                for alias in node.names:
                    if f"{module}.{alias.name}" in modules:
                        targets.add(f"{module}.{alias.name}")
                    elif module in modules:
                        targets.add(module)
        targets.discard(name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert cycles(graph) == [["a", "b"]]
    built = import_graph()
    # the CLI imports the providers' registry inside a function, to start fast
    assert "lipsync_emulator.providers" in built["lipsync_emulator.cli"]


def test_no_cycles_between_files():
    assert cycles(import_graph()) == []


def test_layers():
    graph = import_graph()
    provider_of = {name: name.split(".")[2] for name in graph
                   if name.startswith("lipsync_emulator.providers.")}
    for name, targets in graph.items():
        if name.startswith("lipsync_emulator.core."):
            assert not {t for t in targets if t.startswith("lipsync_emulator.providers")}, name
        if name in provider_of:
            others = {provider_of[t] for t in targets if t in provider_of} - {provider_of[name]}
            assert not others, f"{name} imports the providers {others}"
        if name.startswith("lipsync_emulator.contracts"):
            foreign = {t for t in targets if not t.startswith(("lipsync_emulator.contracts",
                                                               "lipsync_emulator.schemas"))}
            assert not foreign, f"{name} imports the emulator: {foreign}"


def test_providers_never_read_the_namespace_header():
    """The pipeline resolves the request's namespace once; a job lands in it without the view
    naming it."""
    for root in (ROOT / "emulator" / "providers", ROOT / "tests" / "fifth_provider"):
        for file in root.rglob("*.py"):
            text = file.read_text(encoding="utf-8")
            assert "X-Emulator-Namespace" not in text and "NAMESPACE_HEADER" not in text, file


def _reads_flask_g(tree: ast.AST) -> list[int]:
    """Lines that import Flask's ``g`` or read ``flask.g``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "flask":
            lines += [node.lineno for alias in node.names if alias.name == "g"]
        elif (isinstance(node, ast.Attribute) and node.attr == "g" and isinstance(node.value, ast.Name)
              and node.value.id == "flask"):
            lines.append(node.lineno)
    return lines


def test_providers_never_read_flask_g():
    """A view is handed its request's ``Call`` (account, scenarios, body...) as an argument, and
    passes it to the helpers that need it: nothing travels through Flask's ``g``."""
    assert _reads_flask_g(ast.parse("from flask import Response, g\nimport flask\nflask.g.x = 1\n")) == [1, 3]
    for root in (ROOT / "emulator" / "providers", ROOT / "tests" / "fifth_provider"):
        for file in root.rglob("*.py"):
            assert _reads_flask_g(ast.parse(file.read_text(encoding="utf-8"))) == [], file
