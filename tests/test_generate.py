"""facelab.generate: the DCGAN, its run folder, resume, the quality scores, bad input, the CLI."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from facelab.cli.main import main
from facelab.errors import ConfigError, DataError, RunError
from facelab.generate import interpolate, sample
from facelab.generate import task as gtask
from facelab.generate.dcgan import Discriminator, Generator
from facelab.generate.quality import attribute_agreement, face_rate, frechet_distance
from facelab.generate.run import GeneratorRun
from facelab.generate.train import GanWarning, train_gan
from facelab.runs import Run, list_runs

torch.set_num_threads(1)
# Tiny networks and short epochs: a few steps each, seconds per test.
FAST = dict(ngf=8, ndf=8, nz=16, batch_size=32, epoch_images=96, quality_every=0, threads=1, progress=False)


@pytest.fixture(scope="module")
def classifier(prepared_celeba, tmp_path_factory):
    """A tiny classifier run on Smiling and Male (features for the Fréchet distance, attribute agreement)."""
    import os

    from facelab.train.trainer import train

    old = os.environ["FACELAB_RUNS"]
    os.environ["FACELAB_RUNS"] = str(tmp_path_factory.mktemp("clf"))
    try:
        run = train(prepared_celeba, target="Smiling,Male", model="cnn", epochs=1, progress=False, threads=1,
                    params={"widths": [8, 16], "depths": [1, 1]}, name="clf")
    finally:
        os.environ["FACELAB_RUNS"] = old
    return run


@pytest.mark.parametrize("size,channels,n_cond", [(64, 3, 0), (32, 1, 0), (32, 3, 2)])
def test_networks_make_and_judge_images_of_the_right_shape(size, channels, n_cond):
    g, d = Generator(size, channels, nz=10, width=4, n_cond=n_cond), Discriminator(size, channels, width=4, n_cond=n_cond)
    y = torch.ones(3, n_cond) if n_cond else None
    x = g(torch.randn(3, 10), y)
    assert x.shape == (3, channels, size, size) and x.min() >= -1 and x.max() <= 1
    assert d(x, y).shape == (3,)


def test_the_auxiliary_classifier_sees_images_not_labels():
    """A conditional discriminator (AC-GAN) judges the picture alone and names its attributes; the
    older label-plane one takes the labels as input planes."""
    ac = Discriminator(32, 3, width=4, n_cond=2, aux=True)
    x = torch.randn(3, 3, 32, 32)
    assert ac.main[0].in_channels == 3  # the requested labels are no input it could copy
    real, attrs = ac(x, with_aux=True)
    assert real.shape == (3,) and attrs.shape == (3, 2) and torch.equal(ac(x), real)
    planes = Discriminator(32, 3, width=4, n_cond=2)
    assert planes.main[0].in_channels == 5 and planes(x, torch.ones(3, 2)).shape == (3,)
    with pytest.raises(ConfigError, match="auxiliary"):
        planes(x, torch.ones(3, 2), with_aux=True)


@pytest.mark.filterwarnings("ignore::facelab.generate.train.GanWarning")  # tiny nets start collapsed
def test_the_auxiliary_classifier_learns_the_attribute(prepared_celeba, runs_dir):
    """The auxiliary head of a conditional run's D learns Smiling from real faces: its loss on
    real faces falls below chance within a few dozen steps."""
    import torch.nn.functional as F

    from facelab.generate.dcgan import from_uint8

    run = train_gan(prepared_celeba, epochs=4, name="ac", condition="Smiling", **{**FAST, "epoch_images": 640})
    assert run.config["ac_weight"] == 1.0
    from safetensors.torch import load_file

    from facelab.generate.dcgan import build

    _, d = build(run.config)
    d.load_state_dict(load_file(str(run.path / "D.safetensors")))
    d.eval()
    rows = prepared_celeba.split("train")[:256]
    x = from_uint8(np.asarray(prepared_celeba.images[np.sort(rows)]))
    x = F.avg_pool2d(x, x.shape[-1] // 32) if x.shape[-1] != 32 else x
    y = torch.from_numpy(prepared_celeba.table["Smiling"].to_numpy()[np.sort(rows)].astype(np.float32))
    with torch.no_grad():
        _, logits = d(x, with_aux=True)
    assert float(F.binary_cross_entropy_with_logits(logits[:, 0], y)) < 0.69  # log 2: chance


def test_a_run_without_the_auxiliary_classifier_loads():
    from facelab.generate.dcgan import build
    from facelab.runs.migrate import upgrade

    cfg = {"kind": "generator", "size": 32, "channels": 3, "nz": 8, "ngf": 4, "ndf": 4, "condition": ["Smiling"]}
    old = upgrade({"config": cfg, "task": {"kind": "generator"}, "state": {}})["config"]  # format 0: no ac_weight
    _, d = build(old)  # the label-plane discriminator
    assert not d.aux and d.main[0].in_channels == 4
    _, d = build({**cfg, "ac_weight": 1.0})
    assert d.aux and d.main[0].in_channels == 3


def test_a_few_steps_train_and_write_a_complete_run(prepared_celeba, runs_dir):
    run = train_gan(prepared_celeba, epochs=2, name="g", **FAST)
    files = {p.name for p in run.path.iterdir()}
    assert {"config.yaml", "task.json", "input.json", "G.safetensors", "D.safetensors", "optim_G.safetensors",
            "optim_D.safetensors", "state.json", "history.csv", "metrics.json", "card.md", "progress.png"} <= files
    assert sorted(p.name for p in (run.path / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]
    assert (run.path / "plots" / "curves.png").is_file()
    hist = run.history()
    assert list(hist["epoch"]) == [1, 2] and (hist["steps"] == 3).all()
    assert {"loss_d", "loss_g", "d_x", "d_gz", "images_per_s", "diversity"} <= set(hist.columns)
    assert np.isfinite(hist[["loss_d", "loss_g"]].to_numpy()).all()
    assert run.status == "finished" and run.epochs == 2 and run.config["kind"] == "generator"
    # listed beside classifier runs, and told apart from them
    listed = {r.name: r for r in list_runs()}
    assert listed["g"].summary()["kind"] == "generator"
    with pytest.raises(RunError, match="generator run"):
        Run.load("g")
    # runs/ tells it apart from its small files alone (runs is below generate: it never imports it)
    from facelab.evaluate.leaderboard import ordered_run_names
    from facelab.runs import GeneratorEntry, broken_runs, run_names

    assert type(listed["g"]) is GeneratorEntry and listed["g"].summary() == run.summary()
    assert broken_runs() == [] and run_names() == ["g"]
    assert run_names(generators=False) == [] and ordered_run_names(run.path.parent) == []
    # sampling repeats with its seed, and differs with another
    a, b, c = run.sample(5, seed=3), GeneratorRun.load("g").sample(5, seed=3), run.sample(5, seed=4)
    assert a.shape == (5, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sample_and_interpolate_write_files(prepared_celeba, runs_dir, tmp_path):
    train_gan(prepared_celeba, epochs=1, name="g", **FAST)
    assert sample("g", 10, out=tmp_path / "grid.png").shape == (10, 32, 32, 3)
    assert (tmp_path / "grid.png").is_file()
    sample("g", 3, out=tmp_path / "each")
    assert len(list((tmp_path / "each").glob("*.png"))) == 3
    frames = interpolate("g", steps=6, out=tmp_path / "walk.gif")
    assert frames.shape == (6, 32, 32, 3) and (tmp_path / "walk.gif").stat().st_size > 0
    interpolate("g", steps=4, out=tmp_path / "walk.png")
    # the end points are the two latent points: the walk changes from one end to the other
    assert not np.array_equal(frames[0], frames[-1])
    with pytest.raises(ConfigError):
        interpolate("g", steps=1)
    # the write guard (facelab.outputs): facelab's own pictures are replaced, a user's never
    sample("g", 4, out=tmp_path / "grid.png")
    interpolate("g", steps=3, out=tmp_path / "walk.gif")
    sample("g", 2, out=tmp_path / "each")  # the folder it claimed
    mine = tmp_path / "mine.png"
    from PIL import Image

    Image.new("RGB", (4, 4)).save(mine)
    (tmp_path / "notes.txt").write_text("mine")
    users = tmp_path / "users"
    users.mkdir()
    (users / "photo.jpg").write_bytes(b"mine")
    for call in (lambda: sample("g", 2, out=mine), lambda: interpolate("g", steps=3, out=mine),
                 lambda: sample("g", 2, out=users), lambda: interpolate("g", steps=3, out=tmp_path / "notes.txt")):
        with pytest.raises(ConfigError):
            call()
    assert (users / "photo.jpg").read_bytes() == b"mine" and (tmp_path / "notes.txt").read_text() == "mine"
    assert Image.open(mine).size == (4, 4)
    with pytest.raises(ConfigError, match="not conditional"):
        sample("g", 2, condition="Smiling=1")


def test_resume_continues_exactly_where_it_stopped(prepared_celeba, runs_dir):
    from safetensors.torch import load_file

    straight = train_gan(prepared_celeba, epochs=2, name="straight", **FAST)
    train_gan(prepared_celeba, epochs=1, name="halves", **FAST)
    resumed = train_gan(prepared_celeba, epochs=2, resume="halves", threads=1, progress=False)
    assert resumed.epochs == 2 and len(resumed.history()) == 2
    a, b = load_file(str(straight.path / "G.safetensors")), load_file(str(resumed.path / "G.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.allclose(straight.history()["loss_d"], resumed.history()["loss_d"])


def test_ctrl_c_saves_and_the_run_resumes(prepared_celeba, runs_dir, monkeypatch):
    calls = {"n": 0}
    real_step = gtask.GanTask.step

    def step(self, x, y):
        calls["n"] += 1
        if calls["n"] == 5:  # in the second epoch
            raise KeyboardInterrupt
        return real_step(self, x, y)

    monkeypatch.setattr(gtask.GanTask, "step", step)
    with pytest.raises(KeyboardInterrupt):  # the one policy of every run: saved, marked, re-raised
        train_gan(prepared_celeba, epochs=3, name="cc", **FAST)
    monkeypatch.setattr(gtask, "COLLAPSE_RATIO", 0.0)  # tiny networks look collapsed; not this test's point
    run = GeneratorRun.load("cc")
    assert run.status == "interrupted" and run.epochs == 1 and (run.path / "G.safetensors").is_file()
    monkeypatch.setattr(gtask.GanTask, "step", real_step)
    run = train_gan(prepared_celeba, resume="cc", threads=1, progress=False)
    assert run.status == "finished" and run.epochs == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(prepared_celeba, runs_dir, monkeypatch):
    real_step = gtask.GanTask.step
    calls = {"n": 0}

    def step(self, x, y):
        calls["n"] += 1
        out = real_step(self, x, y)
        return (float("nan"), *out[1:]) if calls["n"] > 3 else out

    monkeypatch.setattr(gtask.GanTask, "step", step)
    with pytest.raises(RunError, match="NaN") as e:  # the one policy of every run: marked, then raised
        train_gan(prepared_celeba, epochs=3, name="nan", **FAST)
    assert "epoch 1" in str(e.value) and "--lr" in e.value.fix
    run = GeneratorRun.load("nan")
    assert run.status == "nan" and run.epochs == 1
    assert run.sample(2).shape == (2, 32, 32, 3)  # epoch 1's generator is intact


def test_a_discriminator_that_wins_outright_gets_a_warning(prepared_celeba, runs_dir, monkeypatch):
    real_step = gtask.GanTask.step
    monkeypatch.setattr(gtask, "D_WINS_STEPS", 3)
    monkeypatch.setattr(gtask.GanTask, "step", lambda self, x, y: (0.001, *real_step(self, x, y)[1:]))
    with pytest.warns(GanWarning, match="discriminator wins"):
        run = train_gan(prepared_celeba, epochs=1, name="dwins", **FAST)
    assert (run.path / "G.safetensors").is_file()


def test_samples_that_all_look_alike_get_a_mode_collapse_warning(prepared_celeba, runs_dir):
    # Networks this small, after 9 steps, still draw one grey blur for every noise vector: a collapse
    # by the warning's own measure (the diversity column), which speaks from epoch 3 on.
    with pytest.warns(GanWarning, match="mode collapse"):
        run = train_gan(prepared_celeba, epochs=3, name="alike", **FAST)
    assert run.history()["diversity"].iloc[-1] < gtask.COLLAPSE_RATIO


def test_conditional_run_follows_the_labels(prepared_celeba, runs_dir):
    run = train_gan(prepared_celeba, epochs=1, name="cond", condition="Smiling,Male", **FAST)
    assert run.condition == ["Smiling", "Male"]
    assert "AC-GAN" in (run.path / "card.md").read_text()  # the card names how it is conditioned
    images, labels = run.sample_with_labels(6, seed=0, condition={"Smiling": 1})
    assert images.shape == (6, 32, 32, 3) and (labels[:, 0] == 1).all() and set(labels[:, 1]) <= {0.0, 1.0}
    with pytest.raises(ConfigError, match="Eyeglasses"):
        run.sample(2, condition={"Eyeglasses": 1})
    with pytest.raises(ConfigError, match="Smilling"):
        train_gan(prepared_celeba, epochs=1, name="bad", condition="Smilling", **FAST)


def test_bad_input_gets_clear_errors(prepared_celeba, prepared_fer, synth_celeba, runs_dir, tmp_path, classifier):
    from facelab.data.cache import prepare

    tiny = prepare(synth_celeba, size=32, limit=40, out=tmp_path / "tiny", progress=False)
    with pytest.raises(DataError, match="too few"):
        train_gan(tiny, epochs=1, **FAST)
    with pytest.raises(ConfigError, match="64 or 32"):
        train_gan(prepared_celeba, size=48, epochs=1, **FAST)
    with pytest.raises(ConfigError, match="needs a cache of 64"):
        train_gan(prepared_celeba, size=64, epochs=1, **FAST)
    train_gan(prepared_celeba, epochs=1, name="rgb", **FAST)
    with pytest.raises(ConfigError, match="grey"):  # resuming an RGB run on a grey cache
        train_gan(prepared_fer, resume="rgb", epochs=2, threads=1, progress=False)
    with pytest.raises(RunError, match="not a generator run"):
        sample(classifier.path, 4)
    with pytest.raises(ConfigError, match="unknown option"):
        train_gan(prepared_celeba, epochs=1, bogus=1)


def test_frechet_distance_on_known_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    # N(0, I) against N(mu, 4 I) in 3 dimensions: |mu|² + 3 (1 + 4 - 2·2) = 4 + 3 = 7
    b = rng.normal(size=(20000, 3)) * 2 + [2.0, 0.0, 0.0]
    assert frechet_distance(a, b) == pytest.approx(7.0, rel=0.03)
    with pytest.raises(DataError):
        frechet_distance(a[:1], b)


def test_face_rate_finds_faces_not_noise():
    from facelab.data.synth import render_face

    rng = np.random.default_rng(0)
    faces = []
    for _ in range(6):
        img, _ = render_face({}, rng=rng)
        y0 = (img.shape[0] - img.shape[1]) // 2  # a square crop, as the cache's
        from PIL import Image

        faces.append(np.asarray(Image.fromarray(img[y0:y0 + img.shape[1]]).resize((64, 64))))
    assert face_rate(np.stack(faces)) >= 0.8
    assert face_rate(rng.integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)) == 0.0


def test_attribute_agreement_and_frechet_with_a_feature_run(prepared_celeba, classifier, runs_dir):
    from facelab.generate.quality import FeatureSpace

    x = np.asarray(prepared_celeba.images[:60])
    pred = (classifier.predict_proba(x) >= 0.5).astype(np.float32)
    assert attribute_agreement(x, pred, ["Smiling", "Male"], classifier) == {"Smiling": 1.0, "Male": 1.0}
    assert attribute_agreement(x, 1 - pred[:, 1:], ["Male"], classifier) == {"Male": 0.0}
    with pytest.raises(ConfigError, match="does not predict"):
        attribute_agreement(x, pred, ["Eyeglasses"], classifier)
    fs = FeatureSpace(classifier)
    fs.fit_real(x)
    assert fs.distance(x) == pytest.approx(0, abs=1e-3)
    assert fs.distance(np.zeros_like(x)) > 0.1
    # and a training run that scores itself each epoch writes the figures into its history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GanWarning)
        run = train_gan(prepared_celeba, epochs=1, name="scored", condition="Smiling", feature_run=classifier,
                        **{**FAST, "quality_every": 1, "quality_samples": 20})
    row = run.history().iloc[-1]
    assert {"frechet", "face_rate", "real_face_rate", "agree_Smiling"} <= set(row.index)
    assert row["frechet"] > 0 and 0 <= row["face_rate"] <= 1 and row["real_face_rate"] > 0.5


def test_cli_train_runs_sample_and_errors(prepared_celeba, runs_dir, tmp_path, capsys, classifier):
    main(["generate", "train", str(prepared_celeba.path), "--epochs", "1", "--name", "cli", "--ngf", "8",
          "--ndf", "8", "--batch-size", "32", "--epoch-images", "64", "--quality-every", "0", "--threads", "1",
          "--no-progress"])
    assert "finished" in capsys.readouterr().out
    main(["runs"])
    out = capsys.readouterr().out
    assert "generator" in out and "broken" not in out
    # the plain conditional GAN is still one flag away (--ac-weight 0: the labels as D's input planes)
    main(["generate", "train", str(prepared_celeba.path), "--epochs", "1", "--name", "planes", "--condition",
          "Smiling", "--ac-weight", "0", "--ngf", "8", "--ndf", "8", "--batch-size", "32", "--epoch-images", "64",
          "--quality-every", "0", "--threads", "1", "--no-progress"])
    assert "input planes" in (runs_dir / "planes" / "card.md").read_text()
    (tmp_path / "user.png").write_bytes(b"not facelab's")
    with pytest.raises(SystemExit) as e:  # the write guard: a user's file is never replaced
        main(["generate", "sample", "cli", "-n", "4", "--out", str(tmp_path / "user.png")])
    assert e.value.code == 2 and "did not write" in capsys.readouterr().err
    assert (tmp_path / "user.png").read_bytes() == b"not facelab's"
    main(["generate", "sample", "cli", "-n", "4", "--out", str(tmp_path / "s.png")])
    main(["generate", "interpolate", "cli", "--steps", "3", "--out", str(tmp_path / "w.gif")])
    assert (tmp_path / "s.png").is_file() and (tmp_path / "w.gif").is_file()
    with pytest.raises(SystemExit) as e:
        main(["generate", "sample", str(classifier.path)])
    assert e.value.code == 2 and "not a generator run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["predict", "cli", str(tmp_path / "s.png")])
    assert e.value.code == 2 and "generator run" in capsys.readouterr().err


def test_dashboard_generate_page(prepared_celeba, runs_dir, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    train_gan(prepared_celeba, epochs=1, name="gan", **FAST)
    monkeypatch.setenv("FACELAB_RUNS", str(runs_dir))
    main_py = Path(__file__).resolve().parents[1] / "src" / "facelab" / "app" / "main.py"
    at = AppTest.from_file(str(main_py), default_timeout=120)
    at.run()
    assert [m for m in at.metric if m.label == "Runs"][0].value == "0"  # classifier pages skip generator runs
    at.switch_page("views/generate.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Generate" and at.selectbox[0].value == "gan"
    at.button(key="generate_draw").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "DownloadButton(label='Download PNG')" in repr(at)  # drawn, and offered as a download


def test_a_feature_run_framed_otherwise_than_the_cache_is_warned_about(synth_celeba, prepared_celeba, runs_dir,
                                                                        tmp_path, classifier):
    """The judge of Fréchet and agreement must see faces framed as it was trained: a square-crop
    classifier scoring a face-crop cache gets a warning naming the fix; the same framing none."""
    from facelab.data.cache import prepare

    faces = prepare(synth_celeba, size=32, crop="face", out=tmp_path / "face32", progress=False)
    with pytest.warns(GanWarning, match="--crop square"):
        train_gan(faces, epochs=1, name="framed", feature_run=classifier, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GanWarning)
        train_gan(prepared_celeba, epochs=1, name="same", feature_run=classifier, **FAST)


def test_a_generator_run_name_that_leaves_the_runs_folder_is_refused(prepared_celeba, runs_dir, tmp_path):
    with pytest.raises(ConfigError, match="refused generator run name"):
        train_gan(prepared_celeba, epochs=1, name="../elsewhere", **FAST)
    assert not (tmp_path / "elsewhere").exists() and not (runs_dir.parent / "elsewhere").exists()
