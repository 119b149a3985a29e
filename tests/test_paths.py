"""Settings travel as arguments: the runs and home folders come from the surfaces (the CLI's
--runs-dir, the demo's folders) down to where they are used, and nothing writes the environment."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from facelab.errors import ConfigError
from facelab.paths import Paths, prepared_root, runs_root


def test_paths_read_the_environment_with_fallbacks(tmp_path):
    env = {"FACELAB_HOME": str(tmp_path / "h")}
    p = Paths.from_env(env, runs=tmp_path / "r")
    assert p == Paths(home=tmp_path / "h", runs=tmp_path / "r")
    assert p.prepared == tmp_path / "h" / "prepared"
    assert p.unset_in(env) == {"FACELAB_RUNS": str(tmp_path / "r")}
    assert Paths.from_env({}).runs.name == "runs"


def test_an_explicit_folder_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "env-runs"))
    assert runs_root() == tmp_path / "env-runs"
    assert runs_root(tmp_path / "given") == tmp_path / "given"
    assert prepared_root(tmp_path / "home") == tmp_path / "home" / "prepared"


def test_runs_dir_reaches_the_library_without_touching_the_environment(tmp_path, monkeypatch, capsys):
    from facelab.cli.main import main

    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "default-runs"))
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "a-run").mkdir(parents=True)
    before = {k: v for k, v in os.environ.items() if k.startswith("FACELAB_")}
    with pytest.raises(SystemExit) as stop:  # a folder without config.yaml: not a run, said clearly
        main(["evaluate", "a-run", "--runs-dir", str(elsewhere)])
    assert stop.value.code == 2
    # --runs-dir is an argument, not an environment change (libraries such as torch set their own)
    assert {k: v for k, v in os.environ.items() if k.startswith("FACELAB_")} == before
    assert "a-run" in capsys.readouterr().err


def test_prepare_without_the_face_aligner_says_which_prepare_to_call(synth_folder, tmp_path):
    from facelab.data.cache import prepare

    with pytest.raises(ConfigError) as e:
        prepare(synth_folder, size=24, crop="detect", out=tmp_path / "c", progress=False)
    assert "facelab.prepare" in e.value.fix


def test_registries_are_filled_by_importing_their_own_package():
    """``facelab.faces`` registers every detector it holds: nothing else has to be imported first."""
    code = ("from facelab.faces.detect import DETECTORS, get_detector; get_detector('haar-fast'); "
            "print(sorted(DETECTORS.list()))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "haar-fast" in r.stdout and "haar" in r.stdout
