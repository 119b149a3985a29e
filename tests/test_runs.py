"""The saved run (`facelab.runs`): one layout, one resolver, one headline, and ONNX serving
without torch (the server process cannot import it)."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from facelab.errors import ConfigError, RunError
from facelab.runs import flat_metrics, headline, list_runs, resolve_name, resolve_run, run_names
from facelab.runs import layout
from test_serve_support import TINY_RUN, face_photo, free_port, tiny_run_dir


@pytest.fixture(scope="module")
def onnx_runs(prepared_celeba, tmp_path_factory):
    """A runs folder with a copy of the tiny CNN run and its ONNX export."""
    from facelab.predict import export_onnx

    runs = tmp_path_factory.mktemp("onnx-runs")
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    export_onnx(runs / TINY_RUN)
    return runs


def test_layout_names_every_file_once():
    names = [v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str)]
    assert len(names) == len(set(names)) and layout.ONNX_FILE == "model.onnx" and layout.CONFIG == "config.yaml"
    from facelab.runs import derived  # where export, predict and serve find a run's model.onnx

    assert derived.ONNX_FILE is layout.ONNX_FILE and derived.EVAL_DIR is layout.EVAL_DIR


def test_resolve_run_accepts_a_name_or_a_folder_and_refuses_escapes(onnx_runs, tmp_path):
    assert resolve_run(TINY_RUN, onnx_runs) == onnx_runs / TINY_RUN
    assert resolve_run(onnx_runs / TINY_RUN) == onnx_runs / TINY_RUN
    with pytest.raises(RunError, match="Did you mean"):
        resolve_run(TINY_RUN[:-1], onnx_runs)
    assert resolve_name(onnx_runs, TINY_RUN) == (onnx_runs / TINY_RUN).resolve()
    for bad in ("../x", "/etc", "a/b", ".."):
        with pytest.raises(ConfigError):
            resolve_name(onnx_runs, bad)
    (onnx_runs / "not-a-run").mkdir(exist_ok=True)
    assert run_names(onnx_runs) == [TINY_RUN] and [r.name for r in list_runs(onnx_runs)] == [TINY_RUN]


def test_train_refuses_a_run_name_that_leaves_the_runs_folder(prepared_celeba, runs_dir):
    from facelab.train.trainer import train

    with pytest.raises(ConfigError, match="refused run name"):
        train(prepared_celeba.path, target="Smiling", model="logreg", name="../outside")
    assert not (runs_dir.parent / "outside").exists()


def test_one_headline_for_every_surface(onnx_runs):
    from facelab.runs import Run

    run = Run.load(onnx_runs / TINY_RUN)
    assert run.key_metric == headline(run.metrics) == ("val_accuracy", run.metrics["val_accuracy"])
    assert run.summary()["metric"] == "val_accuracy"
    assert flat_metrics({"a": {"b": 1, "c": True, "d": "x"}}) == {"a.b": 1.0}
    assert headline({}) is None


def test_loading_a_run_does_not_import_torch(onnx_runs):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None
        from facelab.runs import Run, list_runs
        run = Run.load({str(onnx_runs / TINY_RUN)!r})
        assert run.task.classes == ["Smiling"] and run.temperature > 0 and run.key_metric[1] is not None
        assert [r.name for r in list_runs({str(onnx_runs)!r})] == [{TINY_RUN!r}]
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_serve_onnx_backend_without_torch(onnx_runs):
    """`facelab serve --backend onnx` starts, answers /v1/health and predicts a photo in a
    process where `import torch` fails."""
    port = free_port()
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now fails
        from facelab.cli.main import main
        main(["serve", "--runs-dir", {str(onnx_runs)!r}, "--backend", "onnx", "--port", "{port}",
              "--workers", "1", "--log-level", "warning"])
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not start in 120 s"
            try:
                with urllib.request.urlopen(f"{base}/v1/health", timeout=5) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.2)
        assert health["runs"] == [TINY_RUN] and not health["failed"]
        body = json.dumps({"image": base64.b64encode(face_photo()).decode()}).encode()
        req = urllib.request.Request(f"{base}/v1/predict", data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            res = json.loads(r.read())
        (pred,) = res["predictions"]
        assert pred["run"] == TINY_RUN and len(pred["faces"]) == 1, res
        probs = pred["faces"][0]["probabilities"]
        assert set(probs) == {"Smiling"} and 0.0 <= probs["Smiling"] <= 1.0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
