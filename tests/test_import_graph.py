"""The package's import graph, read from the source (an AST walk of every import: at module
level, inside functions and under TYPE_CHECKING): no circles, and imports point one way down
the stages (ingest -> index -> qa -> evals / apps), with nothing sideways between the chat and
the evals. The command line (apps/cli.py) is where the stages are put together, so it may
call the evals' runner. And every name is imported from the module that defines it (app/,
tests/ and tools/): no module passes on names it imports (a re-export block)."""

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


# -- where a name comes from: no re-exports

ROOT = PACKAGE.parents[1]
# Files of tools/bench that the benchmark's owner is changing, and the names they still import
# from a module that does not define them (index/store.py keeps three for these callers only).
# Empty this when they import the names from where they are defined.
NOT_YET: set[tuple[str, str]] = set()


def _bound_here(tree: ast.Module) -> set[str]:
    """Names a module defines at its top level (functions, classes, assignments, and imports
    from outside the package), looking into top-level if/try/with blocks; a name it imports
    from ncpi_qa is not one of them."""
    out: set[str] = set()
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import):
            out |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("ncpi_qa"):
                out |= {a.asname or a.name for a in node.names}
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            todo += [n for part in ("body", "orelse", "finalbody") for n in getattr(node, part, [])]
            todo += [n for h in getattr(node, "handlers", []) for n in h.body]
    return out


def _taken_from_elsewhere() -> tuple[list[str], set[tuple[str, str]]]:
    """Every ``from ncpi_qa.x import name`` and every read of ``alias.name`` (``alias`` an
    imported ncpi_qa module; not a name the file monkeypatches there) in app/, tests/ and
    tools/ whose module does not define ``name`` itself: a name passed on by a module that
    imports it. Also which of ``NOT_YET`` are still there."""
    mods = _modules()
    bound = {m: _bound_here(ast.parse(f.read_text(encoding="utf-8"))) for m, f in mods.items()}

    def elsewhere(module: str, name: str) -> bool:
        return name not in bound[module] and f"{module}.{name}" not in mods

    files = [
        *PACKAGE.rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "tools").rglob("*.py"),
    ]
    bad, not_yet = [], set()
    for f in sorted(files):
        where = f.relative_to(ROOT).as_posix()
        tree = ast.parse(f.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in mods:
                for a in node.names:
                    if f"{node.module}.{a.name}" in mods:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                    elif elsewhere(node.module, a.name) and (where, a.name) in NOT_YET:
                        not_yet.add((where, a.name))
                    elif elsewhere(node.module, a.name):
                        bad.append(f"{where}:{node.lineno}: {a.name} from {node.module}")
            elif isinstance(node, ast.Import):
                aliases |= {a.asname: a.name for a in node.names if a.asname and a.name in mods}
        patched = {  # monkeypatch.setattr(alias, "name", ...): a name replaced where it is used
            (n.args[0].id, n.args[1].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "setattr"
            and len(n.args) >= 2
            and isinstance(n.args[0], ast.Name)
            and isinstance(n.args[1], ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and (node.value.id, node.attr) not in patched
                and elsewhere(aliases[node.value.id], node.attr)
            ):
                bad.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return bad, not_yet


def test_every_name_is_imported_from_the_module_that_defines_it():
    """No re-export blocks: reading an import tells where the code is."""
    bad, not_yet = _taken_from_elsewhere()
    assert bad == []
    assert not_yet == NOT_YET  # an entry no longer needed goes from the list


def test_the_check_sees_a_name_passed_on():
    mods = _modules()

    def bound(m: str) -> set[str]:
        return _bound_here(ast.parse(mods[m].read_text(encoding="utf-8")))

    # index/store.py imports scan and Manifest to use them: not its own, so never taken from it
    assert "build_index" in bound("ncpi_qa.index.store")
    assert not {"scan", "Manifest", "Store"} & bound("ncpi_qa.index.store")
    # ingest/documents.py uses LoadError (errors.py's), so bench_corpus's import is caught
    assert "load_document" in bound("ncpi_qa.ingest.documents")
    assert "LoadError" not in bound("ncpi_qa.ingest.documents")
