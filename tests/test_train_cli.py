"""`facelab train/models/runs`, configs, transfer (--init, --weights) and classical models via train()."""
from __future__ import annotations

import pytest
import torch
import yaml

from facelab.cli.main import main
from facelab.errors import ConfigError
from facelab.models import get_model
from facelab.train.config import TrainConfig
from facelab.runs import Run
from facelab.train.trainer import train
from train_helpers import TINY, make_cache

torch.set_num_threads(1)
FAST = dict(params=TINY, batch_size=32, progress=False, threads=1, augment=False)


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("rgb") / "c", n=160, classes=3)


@pytest.fixture(scope="module")
def grey(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("grey") / "c", n=160, channels=1, classes=4, splits=(0.15, 0.15))


def test_cli_train_models_runs(rgb, runs_dir, capsys):
    main(["train", str(rgb.path), "--target", "A", "--epochs", "1", "--name", "cli", "--no-progress",
          "--threads", "1", "--param", "widths=[8,16]", "--param", "depths=[1,1]",
          "--set", "ema=0.99", "--set", "tta=true", "--set", "erase=0.1", "--aux", "B",
          "--set", "aux_weight=0.5"])
    out = capsys.readouterr().out
    assert "val_accuracy" in out and str(runs_dir / "cli") in out
    run = Run.load("cli")
    assert run.config["params"]["widths"] == [8, 16]
    assert (run.config["ema"], run.config["tta"], run.config["erase"]) == (0.99, True, 0.1)
    assert (run.config["aux"], run.config["aux_weight"]) == ("B", 0.5)
    with pytest.raises(SystemExit) as e:  # a misspelt option names the right one
        main(["train", str(rgb.path), "--target", "A", "--no-progress", "--set", "emma=0.9"])
    assert e.value.code == 2 and "did you mean 'ema'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # an option with its own flag is not taken twice
        main(["train", str(rgb.path), "--target", "A", "--no-progress", "--set", "lr=0.1"])
    assert e.value.code == 2 and "use --lr" in capsys.readouterr().err
    main(["runs"])
    assert "cli" in capsys.readouterr().out
    main(["models", "--size", "48", "--channels", "1"])
    out = capsys.readouterr().out
    for name in ("cnn", "mobilenetv2", "resnet18"):
        assert name in out
    with pytest.raises(SystemExit) as e:  # a user error: message, exit code 2, no traceback
        main(["train", str(rgb.path), "--target", "Smiling", "--no-progress"])
    assert e.value.code == 2
    assert "unknown target" in capsys.readouterr().err


def test_config_file_round_trip_and_overrides(rgb, runs_dir, tmp_path):
    run = train(rgb, target="A", epochs=1, name="cfg", **FAST)
    cfg = TrainConfig.load(run.path / "config.yaml")
    assert cfg.target == "A" and cfg.params["widths"] == [8, 16]
    again = TrainConfig.resolve(run.path / "config.yaml", epochs=4, name="x")
    assert again.epochs == 4 and again.name == "x" and again.lr == cfg.lr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"epoch": 3}))
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        TrainConfig.load(bad)
    with pytest.raises(ConfigError, match="epochs must be"):
        TrainConfig.resolve(None, epochs=0)


def test_init_transfers_the_backbone_rgb_to_grey(rgb, grey, runs_dir):
    src = train(rgb, target="all", epochs=1, name="src", **FAST)
    dst = train(grey, init="src", epochs=1, name="dst", **FAST)
    assert dst.task.kind == "multiclass" and dst.state["init"]["adapted"] == ["stem.0.weight"]
    assert dst.state["init"]["loaded"] == dst.state["init"]["total"]
    assert "Started from" in (dst.path / "card.md").read_text()
    assert dst.metrics.get("test_accuracy") is not None  # the grey cache has a test split
    with pytest.raises(ConfigError, match="is a cnn, not a resnet18"):
        train(grey, init=src.name, model="resnet18", epochs=1, **{**FAST, "params": None})


def test_weights_file_starts_a_run_and_bad_files_are_refused(rgb, runs_dir, tmp_path):
    from safetensors.torch import save_file

    w = tmp_path / "mnv2.safetensors"
    save_file(get_model("mobilenetv2").build(3, 1000, width_mult=0.25).state_dict(), str(w))
    run = train(rgb, target="A", model="mobilenetv2", weights=str(w), epochs=1,
                **{**FAST, "params": {"width_mult": 0.25}})
    assert run.state["init"]["loaded"] == run.state["init"]["total"]
    other = tmp_path / "resnet.pth"
    torch.save(get_model("resnet18").build(3, 10).state_dict(), other)
    with pytest.raises(ConfigError, match="does not fit mobilenetv2"):
        train(rgb, target="A", model="mobilenetv2", weights=str(other), epochs=1,
              **{**FAST, "params": {"width_mult": 0.25}})
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a weights file"):
        train(rgb, target="A", weights=str(junk), epochs=1, **FAST)


def test_classical_model_trains_into_a_run(rgb, runs_dir):
    run = train(rgb, target="A", model="logreg", progress=False, params={"n_components": 8})
    assert run.spec.kind == "classical" and run.torch_model() is None
    assert run.metrics["val_accuracy"] > 0.7
    assert run.predict_proba(rgb.images[:4]).shape == (4, 1)
    assert Run.load(run.name).predictions()["split"].eq("val").any()
    with pytest.raises(ConfigError, match="need a network"):
        train(rgb, target="A", model="logreg", aux="B", progress=False)


def test_ctrl_c_exits_130(rgb, runs_dir, monkeypatch):
    def stop(ev):
        raise KeyboardInterrupt

    import facelab.train.trainer as trainer

    real = trainer.train
    monkeypatch.setattr(trainer, "train", lambda *a, **k: real(*a, callbacks=[stop], **k))
    with pytest.raises(SystemExit) as e:
        main(["train", str(rgb.path), "--target", "A", "--epochs", "3", "--name", "cc", "--no-progress",
              "--threads", "1", "--param", "widths=[8,16]", "--param", "depths=[1,1]"])
    assert e.value.code == 130
    assert Run.load("cc").status == "interrupted"


@pytest.mark.parametrize("argv, message", [
    (["train", "somewhere", "--no-such-option"], "No such option: --no-such-option"),
    (["trian"], "Did you mean 'train'?"),
    (["train", "somewhere", "--epochs", "many"], "Invalid value for '--epochs'"),
])
def test_usage_errors_print_a_message_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_runs_dir_option_on_every_run_command(rgb, runs_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACELAB_RUNS", str(runs_dir))  # restored after the test: --runs-dir sets it
    elsewhere = tmp_path / "elsewhere"
    main(["train", str(rgb.path), "--target", "A", "--epochs", "1", "--name", "away", "--no-progress",
          "--threads", "1", "--param", "widths=[8,16]", "--param", "depths=[1,1]", "--runs-dir", str(elsewhere)])
    assert (elsewhere / "away" / "model.safetensors").is_file() and not (runs_dir / "away").exists()
    capsys.readouterr()
    main(["runs", "--runs-dir", str(elsewhere)])
    assert "away" in capsys.readouterr().out
    monkeypatch.setenv("FACELAB_RUNS", str(runs_dir))
    main(["evaluate", "away", "--runs-dir", str(elsewhere), "--json"])
    assert list((elsewhere / "away" / "eval").glob("*/metrics.json"))  # test, or val when there is none
    main(["export", "away", "--runs-dir", str(elsewhere)])
    assert (elsewhere / "away" / "model.onnx").is_file()
    capsys.readouterr()
    main(["cluster", str(rgb.path), "--features", "run:away", "--k", "2,3", "--components", "5",
          "--out", str(tmp_path / "clusters"), "--runs-dir", str(elsewhere)])
    assert "run:away" in capsys.readouterr().out and (tmp_path / "clusters" / "report.html").is_file()
