"""Print facelab's package-level import graph, read from the source with ``ast``.

Each line is ``package -> package, package`` (subpackages of ``facelab``;
top-level modules such as ``registry`` or ``errors`` count as their own
node). Both module-level and function-level imports count, because a deferred
import is still an arrow. Run from the repository root::

    python tools/imports.py            # the graph
    python tools/imports.py --modules  # module-level detail
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "facelab"


def module_name(path: Path) -> str:
    """Dotted name of a source file under ``src/facelab``."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``facelab`` module a file imports (absolute or relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("facelab"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("facelab"):
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def node_of(module: str, known: set[str]) -> str:
    """The graph node a module belongs to: its ``facelab.<x>`` prefix."""
    parts = module.split(".")
    if len(parts) < 2:
        return "facelab"
    return parts[1] if f"facelab.{parts[1]}" in known else "facelab"


def graph(detail: bool = False) -> dict[str, set[str]]:
    """Package (or module) -> the packages (or modules) it imports."""
    files = sorted(SRC.rglob("*.py"))
    known = {module_name(f) for f in files}
    edges: dict[str, set[str]] = defaultdict(set)
    for f in files:
        src = module_name(f)
        for target in imports_of(f):
            if target not in known:
                target = target.rpartition(".")[0]  # `from pkg import name`
            if target not in known:
                continue
            if detail:
                if target != src:
                    edges[src].add(target)
            else:
                a, b = node_of(src, known), node_of(target, known)
                if a != b:
                    edges[a].add(b)
                else:
                    edges.setdefault(a, set())
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="module-level graph")
    args = parser.parse_args(argv)
    edges = graph(detail=args.modules)
    for node in sorted(edges):
        print(f"{node} -> {', '.join(sorted(edges[node])) or '(nothing)'}")
    found = cycles(edges)
    print(f"\ncycles: {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
