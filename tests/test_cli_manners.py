"""CLI manners: --version, one name per concept, --json, a run by name or folder, and
whole lines off a terminal (subprocesses with piped stdout/stderr, as in CI logs or `| tee`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facelab.cli.main import main
from predict_support import face, paste, trained_run

LONG = "a-deliberately-long-run-name-that-rich-used-to-fold-at-eighty-columns-smiling-cnn-2026"


def _cli(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr()


def _piped(args, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH", "TQDM_MININTERVAL")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "facelab.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def long_run(prepared_celeba):
    return trained_run(prepared_celeba.path, target="Smiling", model="logreg", name=LONG)


def test_version_flag_and_command(capsys):
    from facelab import __version__

    assert _cli(["--version"], capsys)[1].out.strip() == __version__
    assert _cli(["version"], capsys)[1].out.strip() == __version__


def test_runs_and_models_json(long_run, capsys):
    code, cap = _cli(["runs", "--json", "--runs-dir", str(long_run.path.parent)], capsys)
    assert code == 0
    listing = json.loads(cap.out)  # nothing but JSON on stdout
    runs = listing["runs"]
    row = next(r for r in runs if r["name"] == LONG)
    assert listing["broken"] == [] and listing["shipped"]  # the shipped models in their own key
    assert LONG not in {r["name"] for r in listing["shipped"]}
    assert row["model"] == "logreg" and row["target"] == "Smiling" and Path(row["path"]) == long_run.path
    code, cap = _cli(["models", "--json", "--size", "32"], capsys)
    listing = json.loads(cap.out)
    models = {m["name"]: m for m in listing["models"]}
    assert listing["shipped"]
    assert {"logreg", "cnn"} <= set(models) and models["cnn"]["parameters"] > 0 and models["cnn"]["size"] == 32


def test_piped_runs_table_keeps_long_names_whole(long_run):
    """Off a terminal Rich must not fold at 80 columns: the name and the folder stay on one line."""
    r = _piped(["runs", "--runs-dir", str(long_run.path.parent)])
    assert r.returncode == 0, r.stderr
    assert any(LONG in line for line in r.stdout.splitlines()), r.stdout
    assert any(str(long_run.path.parent) in line for line in r.stdout.splitlines()), r.stdout


def test_piped_predict_json_is_the_whole_stdout(long_run, tmp_path):
    from PIL import Image

    Image.fromarray(paste([face(1)], seed=1)).save(tmp_path / "one.jpg")
    # a run given as a folder, not a name
    r = _piped(["predict", str(long_run.path), str(tmp_path / "one.jpg"), "--json"])
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["run"] == LONG and data["summary"]["photos"] == 1 and len(data["photos"]) == 1
    assert "\r" not in r.stdout


@pytest.mark.slow
def test_piped_train_prints_whole_lines_and_little_progress(prepared_celeba, tmp_path):
    """A torch run, piped: the suggested paths stay whole, tqdm does not stream carriage returns."""
    runs = tmp_path / "runs-folder-with-a-long-enough-name-to-pass-eighty-columns-on-its-own"
    r = _piped(["train", str(prepared_celeba.path), "--target", "Smiling", "--model", "cnn", "--epochs", "2",
                "--name", LONG, "--param", "widths=[8,16]", "--param", "depths=[1,1]", "--threads", "1",
                "--runs-dir", str(runs)])
    assert r.returncode == 0, r.stderr[-2000:]
    folder = [line for line in r.stdout.splitlines() if "run folder" in line]
    assert folder and str(runs / LONG) in folder[0], r.stdout
    assert LONG in next(line for line in r.stdout.splitlines() if line.startswith("done"))
    # two epochs of a few batches: a bar that updated every 0.5 s would write many '\r'
    assert r.stderr.count("\r") <= 8, r.stderr[-2000:]
    assert "epoch 2:" in r.stderr  # the per-epoch lines are still there


def test_serve_takes_a_run_folder(long_run, tmp_path):
    from facelab.cli.serve import runs_by_name
    from facelab.errors import ConfigError

    names, root = runs_by_name([str(long_run.path)], tmp_path / "elsewhere")
    assert names == [LONG] and Path(root).resolve() == long_run.path.parent.resolve()
    # names still go to the server as names (it reports the ones it cannot load)
    names, root = runs_by_name(["not-trained-yet"], tmp_path)
    assert names == ["not-trained-yet"] and root == tmp_path
    other = tmp_path / "other" / "run2"
    other.mkdir(parents=True)
    (other / "config.yaml").write_text("model: logreg\n")
    with pytest.raises(ConfigError, match="different folders"):
        runs_by_name([str(long_run.path), str(other)], None)


def test_app_takes_runs_dir_and_the_old_runs_flag(tmp_path, capsys):
    missing = tmp_path / "no-such-runs"
    for flag in ("--runs-dir", "--runs"):
        code, cap = _cli(["app", flag, str(missing)], capsys)
        assert code == 2 and "does not exist" in cap.err and "--runs-dir" in cap.err


def test_one_name_for_k(capsys):
    """explore and cluster both take --k (explore's old --ks still parses, hidden)."""
    for cmd in ("explore", "cluster"):
        code, cap = _cli([cmd, "--help"], capsys)
        assert "--k" in cap.out and "--ks" not in cap.out
    code, cap = _cli(["explore", "no-such-folder", "--ks", "2-3"], capsys)
    assert "No such option" not in cap.err + cap.out and code == 2


@pytest.mark.slow
def test_serve_a_run_folder_end_to_end(long_run, tmp_path):
    """`facelab serve /path/to/run` serves the run from its folder's parent."""
    import httpx

    from test_serve_support import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facelab.cli.main", "serve", str(long_run.path), "--port", str(port),
                             "--workers", "1", "--runs-dir", str(tmp_path / "not-the-runs-folder")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=120)
        r = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=30)
        assert r.status_code == 200 and r.json()["runs"] == [LONG]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
