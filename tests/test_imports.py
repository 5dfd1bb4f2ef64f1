"""The house rules of imports, read from the source: no cycles between modules, and one-way packages.

model imports none of the others; analysis never imports Ray, sweep or cluster; sweep never imports cluster; nothing
outside cluster imports it. Every import counts, also one inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "sweep", "analysis", "cluster", "bench")
FORBIDDEN = {  # importer package -> packages (or top-level libraries) it must never import
    "model": ("sweep", "analysis", "cluster"),
    "analysis": ("ray", "sweep", "cluster"),
    "sweep": ("cluster",),
    "bench": ("cluster",),
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every module named by an import in ``path``: ``from a import b`` is a.b when that is a module, else a."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules it imports (all of them, third-party libraries included)."""
    files = {module_name(p, root): p for package in PACKAGES for p in (root / package).rglob("*.py")}
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself): Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue  # a library
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that break a rule of FORBIDDEN, as 'importer -> imported' lines."""
    bad = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        for target in sorted(targets):
            top = target.split(".")[0]
            if top in FORBIDDEN.get(package, ()) or (top == "cluster" and package != "cluster"):
                bad.append(f"{module} -> {target}")
    return bad


def test_no_import_cycles_anywhere():
    assert cycles(import_graph()) == []


def test_packages_import_one_way():
    graph = import_graph()
    assert len(graph) > 40 and "sweep.study.worker" in graph  # the whole tree was read
    assert violations(graph) == []


def test_the_checks_fail_on_a_cycle_and_on_a_forbidden_import(tmp_path):
    """The same functions on a small tree of files with a cycle, a self-import and forbidden directions."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "sweep" / "a.py").write_text("from sweep import b\n")
    (tmp_path / "sweep" / "b.py").write_text("def f():\n    import sweep.a\n")  # lazy, still a cycle
    (tmp_path / "model" / "m.py").write_text("from sweep.a import x\n")
    (tmp_path / "analysis" / "r.py").write_text("import ray.tune\n")
    (tmp_path / "sweep" / "c.py").write_text("from cluster import submit\n")
    (tmp_path / "bench" / "s.py").write_text("import bench.s\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["bench.s"], ["sweep.a", "sweep.b"]]
    assert violations(graph) == ["analysis.r -> ray.tune", "model.m -> sweep.a", "sweep.c -> cluster"]


@pytest.mark.parametrize("package", ["model", "analysis"])
def test_lower_packages_import_without_the_upper_ones(package):
    """At run time too: importing every module of model (or analysis) loads no sweep, cluster or Ray."""
    import subprocess
    import sys

    modules = [m for m in import_graph() if m.split(".")[0] == package]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'sweep', 'cluster', 'ray'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
