"""`facelab demo`: where it writes (FACELAB_HOME/FACELAB_RUNS honoured), the export lines it prints,
and that the commands it suggests find its runs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from facelab.demo import DemoResult, closing_lines, demo_paths
from facelab.paths import Paths


def test_demo_paths_keep_what_the_user_set_and_leave_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "my-runs"))
    monkeypatch.delenv("FACELAB_HOME", raising=False)
    paths, exports = demo_paths(tmp_path / "d")
    assert exports == {"FACELAB_HOME": str(tmp_path / "d" / "home")}
    assert paths == Paths(home=tmp_path / "d" / "home", runs=tmp_path / "my-runs")
    assert os.environ["FACELAB_RUNS"] == str(tmp_path / "my-runs") and "FACELAB_HOME" not in os.environ


def test_closing_lines_print_the_exports_and_the_next_commands(tmp_path):
    res = DemoResult(root=tmp_path, source=tmp_path / "data", cache=tmp_path / "c",
                     paths=Paths(home=tmp_path / "home", runs=tmp_path / "runs"),
                     exports={"FACELAB_RUNS": str(tmp_path / "runs")}, best_run="cmp-x-cnn")
    lines = closing_lines(res)
    assert f"  export FACELAB_RUNS={tmp_path / 'runs'}" in lines
    assert "  facelab evaluate cmp-x-cnn" in lines


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FACELAB_HOME", "FACELAB_RUNS", "COLUMNS", "TERMINAL_WIDTH", "TQDM_MININTERVAL")}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


@pytest.mark.slow
def test_demo_prints_exports_that_the_next_commands_use(tmp_path):
    work = tmp_path / "a-working-folder-whose-path-is-long-enough-to-have-been-folded-by-rich"
    work.mkdir()
    r = subprocess.run([sys.executable, "-m", "facelab.cli.main", "demo", "--n", "300", "--minutes", "0.05"],
                       cwd=work, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    root = work / "facelab-demo"
    lines = r.stdout.splitlines()
    assert f"  export FACELAB_RUNS={root / 'runs'}" in lines, r.stdout[-3000:]
    assert f"  export FACELAB_HOME={root / 'home'}" in lines
    evaluate = next(line.strip() for line in lines if line.strip().startswith("facelab evaluate "))
    best = evaluate.split()[-1]
    assert (root / "runs" / best / "config.yaml").is_file()
    assert "\r" not in r.stderr and "%|" not in r.stderr, r.stderr[-2000:]  # piped: no progress bars
    # the suggested commands, with the exported variables, find the demo's runs
    env = _env(FACELAB_RUNS=str(root / "runs"), FACELAB_HOME=str(root / "home"))
    runs = subprocess.run([sys.executable, "-m", "facelab.cli.main", "runs", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert best in runs.stdout, runs.stderr


@pytest.mark.slow
def test_demo_honours_facelab_runs(tmp_path):
    runs = tmp_path / "elsewhere" / "runs"
    r = subprocess.run([sys.executable, "-m", "facelab.cli.main", "demo", "--n", "300", "--minutes", "0.05",
                        "--out", str(tmp_path / "demo")],
                       cwd=tmp_path, env=_env(FACELAB_RUNS=str(runs), FACELAB_HOME=str(tmp_path / "home")),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "export " not in r.stdout  # nothing to export: the user's folders were used
    assert any(p.name.startswith("cmp-Smiling") for p in runs.iterdir())
    assert not (tmp_path / "demo" / "runs").exists() and (tmp_path / "home" / "prepared").is_dir()
