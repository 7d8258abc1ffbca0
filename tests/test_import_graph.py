"""The package's import graph, read from the source (an AST walk of every import: at module
level, inside functions and under TYPE_CHECKING): no circles, and imports point one way down
the stages (ingest -> index -> qa -> evals / apps), with nothing sideways between the chat and
the evals. The command line (apps/cli.py) is where the stages are put together, so it may
call the evals' runner."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "app" / "ncpi_qa"
# Lower number: lower stage. A module may import its own stage or any lower one.
STAGES = {
    "ncpi_qa.errors": 0,
    "ncpi_qa.settings": 0,
    "ncpi_qa.ingest": 1,
    "ncpi_qa.schema": 2,
    "ncpi_qa.index": 2,
    "ncpi_qa.qa": 3,
    "ncpi_qa.evals": 4,
    "ncpi_qa.apps": 4,
}
COMPOSITION_ROOT = "ncpi_qa.apps.cli"


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            edges[m] |= {n for n in names if n in mods and n != m}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _stage(module: str) -> tuple[str, int] | None:
    for prefix, level in sorted(STAGES.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, level
    return None


def test_the_walk_sees_imports_inside_functions_and_under_type_checking():
    edges = _graph()
    # qa/answer.py imports the reader inside a property (a deferred heavy import)
    assert "ncpi_qa.qa.reader" in edges["ncpi_qa.qa.answer"]
    # schema.py imports the chunk under TYPE_CHECKING
    assert "ncpi_qa.ingest.chunking" in edges["ncpi_qa.schema"]


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_imports_point_down_the_stages_and_never_sideways():
    bad = []
    for m, targets in _graph().items():
        here = _stage(m)
        for t in targets:
            there = _stage(t)
            if here is None or there is None or m == COMPOSITION_ROOT:
                continue
            if there[1] > here[1] or (there[1] == here[1] and there[0] != here[0]):
                if {here[0], there[0]} <= {"ncpi_qa.schema", "ncpi_qa.index"}:
                    continue  # the index stores what schema describes; schema never imports it
                bad.append(f"{m} -> {t}")
    assert bad == []
