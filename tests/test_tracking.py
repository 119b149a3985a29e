"""Experiment tracking (`--track mlflow|tensorboard`): real local stores, read back with the tools'
own readers (MlflowClient, TensorBoard's EventAccumulator)."""
from __future__ import annotations

import sys

import pytest

from facelab.cli.main import main
from facelab.train.trainer import train

mlflow = pytest.importorskip("mlflow", reason="the track extra (mlflow-skinny) is not installed")
pytest.importorskip("tensorboard", reason="the track extra (tensorboard) is not installed")

TINY = dict(model="cnn", epochs=2, params={"widths": [8, 16], "depths": [1, 1]}, threads=1, progress=False,
            seed=0)


def _client(store):
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=store.as_uri())


def test_mlflow_params_epochs_artifacts(prepared_celeba, runs_dir, tmp_path):
    store = tmp_path / "mlruns"
    run = train(prepared_celeba.path, target="Smiling", name="tracked-cnn", track="mlflow",
                track_uri=store.as_uri(), **TINY)
    client = _client(store)
    exp = client.get_experiment_by_name("facelab-Smiling")
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.run_name == "tracked-cnn" and r.info.status == "FINISHED"
    assert r.data.params["model"] == "cnn" and r.data.params["task.kind"] == "binary"
    hist = client.get_metric_history(r.info.run_id, "val_accuracy")
    assert [m.step for m in hist] == [1, 2]
    assert r.data.metrics["final.val_accuracy"] == pytest.approx(run.metrics["val_accuracy"])
    assert "train_loss" in r.data.metrics and "final.train_seconds" in r.data.metrics
    arts = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"config.yaml", "model.safetensors", "metrics.json", "history.csv"} <= arts
    assert "checkpoint.safetensors" not in arts
    assert (run.path / "metrics.json").is_file()  # the run folder is still the source of truth


def test_mlflow_default_store_under_runs_folder_for_a_classical_model(prepared_celeba, runs_dir):
    train(prepared_celeba.path, target="Smiling", model="logreg", name="tracked-logreg", track="mlflow",
          progress=False)
    client = _client(runs_dir / "_mlflow")
    (r,) = client.search_runs([client.get_experiment_by_name("facelab-Smiling").experiment_id])
    assert r.info.run_name == "tracked-logreg" and "final.val_accuracy" in r.data.metrics
    from facelab.runs import run_names

    assert run_names(runs_dir) == ["tracked-logreg"]  # the store is not mistaken for a run


def test_mlflow_run_marked_failed_when_stopped(prepared_celeba, runs_dir, tmp_path):
    store = tmp_path / "mlruns"

    def stop(ev):
        if ev.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(prepared_celeba.path, target="Smiling", name="stopped-cnn", track="mlflow",
              track_uri=store.as_uri(), callbacks=[stop], **{**TINY, "epochs": 3})
    client = _client(store)
    (r,) = client.search_runs([client.get_experiment_by_name("facelab-Smiling").experiment_id])
    assert r.info.status == "FAILED" and len(client.get_metric_history(r.info.run_id, "val_loss")) >= 1


def test_tensorboard_scalars(prepared_celeba, runs_dir, tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code = 0
    try:
        main(["train", str(prepared_celeba.path), "--target", "Smiling", "--model", "cnn", "--epochs", "2",
              "--param", "widths=[8,16]", "--param", "depths=[1,1]", "--threads", "1", "--name", "tb-cnn",
              "--no-progress", "--track", "tensorboard"])
    except SystemExit as e:
        code = e.code
    assert code == 0
    assert "tracked in" in capsys.readouterr().out
    acc = EventAccumulator(str(runs_dir / "_tensorboard" / "tb-cnn"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"val_accuracy", "train_loss", "lr"} <= set(tags)
    assert [e.step for e in acc.Scalars("val_loss")][:2] == [1, 2]


def test_missing_extra_names_the_install(prepared_celeba, runs_dir, monkeypatch, capsys):
    for mod in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed: `import mlflow` fails
    with pytest.raises(SystemExit) as e:
        main(["train", str(prepared_celeba.path), "--target", "Smiling", "--model", "logreg", "--track", "mlflow"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert 'pip install "facelab[track]"' in err
    from facelab.runs import run_names

    assert run_names(runs_dir) == []  # refused before any work
