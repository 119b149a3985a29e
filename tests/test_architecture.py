"""The allowed import arrows, read from the source with ``ast`` (``tools/imports.py`` prints them).

Data flows one way: data → models/faces → runs → train → evaluate → leaderboard → surfaces.
A surface (cli, serve, app) may import the library; the library never imports a surface;
nothing that only *uses* a saved run (predict, serve, app, cluster) imports training; and the
package graph has no cycle.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("facelab_tools_imports", ROOT / "tools" / "imports.py")
imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(imports)

GRAPH = imports.graph()
SURFACES = {"cli", "serve", "app"}
#: what the bottom layer may import (errors, paths, registry and the write guard outputs are
#: leaves every layer uses)
DATA_MAY_IMPORT = {"errors", "paths", "registry", "outputs"}


def test_the_graph_is_read():
    assert {"data", "runs", "train", "predict", "serve", "app", "cli"} <= set(GRAPH)
    assert "runs" in GRAPH["predict"]  # a real arrow is seen


@pytest.mark.parametrize("user", ["predict", "serve", "app", "cluster", "runs", "explore", "report", "evaluate",
                                  "identity"])
def test_run_users_do_not_import_training(user):
    assert "train" not in GRAPH.get(user, set()), f"{user} imports facelab.train"


def test_data_imports_nothing_above_it():
    assert GRAPH["data"] <= DATA_MAY_IMPORT, GRAPH["data"] - DATA_MAY_IMPORT


def test_the_library_never_imports_a_surface():
    for package, targets in GRAPH.items():
        if package not in SURFACES and package != "facelab":
            assert not targets & SURFACES, f"{package} imports {targets & SURFACES}"


#: what the identity library (verify, galleries, identify, calibrate, group) may import: the layers
#: below it, never a surface, training, prediction or another analysis package
IDENTITY_MAY_IMPORT = {"faces", "data", "runs", "outputs", "errors", "paths", "registry"}


def test_identity_imports_only_the_layers_below_it():
    assert GRAPH["identity"] <= IDENTITY_MAY_IMPORT, GRAPH["identity"] - IDENTITY_MAY_IMPORT
    assert "identity" in GRAPH["cli"]  # the surfaces reach it


def test_explore_and_cluster_share_report_without_importing_each_other():
    assert "cluster" not in GRAPH["explore"] and "explore" not in GRAPH["cluster"]


def test_no_import_cycles():
    assert imports.cycles(GRAPH) == []
    # not even between modules; a package may import its own sub-modules (the model registry
    # imports each model file by name), which is a registration, not a circle between peers
    modules = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in imports.graph(detail=True).items()}
    assert imports.cycles(modules) == []


def test_no_private_names_cross_modules():
    """``from .x import _name`` couples a module to another's internals: make the name public."""
    import ast

    found = []
    for path in sorted((ROOT / "src" / "facelab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("facelab")):
                found += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []
