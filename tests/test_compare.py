"""compare() and search() on the small synthetic CelebA cache, and the eval CLI commands."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facelab.errors import ConfigError
from facelab.evaluate.leaderboard import Leaderboard, rank
from facelab.experiments.compare import compare, parse_models
from facelab.evaluate.report import evaluate
from facelab.experiments.search import resized_cache, search, space


# Own single-process caches rather than the shared prepared_* fixtures: these tests then do not
# depend on prepare()'s worker pool (a fork-based pool once deadlocked here after OpenCV had run).
@pytest.fixture(scope="module")
def prepared_celeba(synth_celeba, tmp_path_factory):
    from facelab.data.cache import prepare

    return prepare(synth_celeba, size=32, workers=1, out=tmp_path_factory.mktemp("cmp") / "celeba32", progress=False)


@pytest.fixture(scope="module")
def prepared_fer(synth_fer, tmp_path_factory):
    from facelab.data.cache import prepare

    return prepare(synth_fer, size=32, grey=True, workers=1, out=tmp_path_factory.mktemp("cmp") / "fer32",
                   progress=False)


def test_parse_models(tmp_path):
    assert parse_models("logreg, cnn") == [{"model": "logreg"}, {"model": "cnn"}]
    y = tmp_path / "models.yaml"
    y.write_text("- logreg\n- model: cnn\n  params: {widths: [8, 16, 32, 64]}\n  lr: 0.01\n")
    assert parse_models(y) == [{"model": "logreg"},
                               {"model": "cnn", "params": {"widths": [8, 16, 32, 64]}, "lr": 0.01}]
    y.write_text("models:\n  - model: logreg\n")
    assert parse_models(str(y)) == [{"model": "logreg"}]
    with pytest.raises(ConfigError, match="unknown model"):
        parse_models("logreg,cnnn")
    with pytest.raises(ConfigError):
        parse_models([{"params": {}}])
    with pytest.raises(ConfigError, match="not found"):
        parse_models(tmp_path / "missing.yaml")
    y.write_text("- model: cnn\n  params: 3\n")
    with pytest.raises(ConfigError, match="mapping"):
        parse_models(y)


def test_rank_orders_by_metric_then_time():
    t = rank([{"run": "a", "accuracy": 0.7, "train_s": 5.0}, {"run": "b", "accuracy": 0.9, "train_s": 50.0},
              {"run": "c", "accuracy": 0.7, "train_s": 1.0}, {"run": "d", "accuracy": None, "train_s": 1.0}])
    assert t["run"].tolist() == ["b", "c", "a", "d"] and t["rank"].tolist() == [1, 2, 3, 4]
    board = Leaderboard(t, target="Smiling")
    assert board.best_run == "b" and board.run_names[0] == "b" and "| 1 | b |" in board.to_markdown()


def test_compare_trains_scores_and_writes(prepared_celeba, runs_dir, tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("- model: logreg\n  params: {n_components: 16}\n"
                 "- model: logreg\n  name: hog\n  params: {features: hog}\n"
                 "- model: cnn\n  params: {widths: [8, 16, 16, 32]}\n")
    board = compare(prepared_celeba.path, target="Smiling", models=y, epochs=1, seed=0, threads=1,
                    out=tmp_path / "board", progress=False)
    assert len(board.table) == 3 and board.path == tmp_path / "board"
    for f in ("leaderboard.md", "leaderboard.csv", "leaderboard.png"):
        assert (board.path / f).stat().st_size > 0
    t = pd.read_csv(board.path / "leaderboard.csv")
    assert t["rank"].tolist() == [1, 2, 3]
    assert (t["accuracy"].diff().dropna() <= 1e-12).all()  # ranked best first
    assert set(t["model"]) == {"logreg", "cnn"} and "hog" in set(t["run"])
    assert (t["latency_ms"] > 0).all() and (t["throughput"] > 0).all() and (t["train_s"] > 0).all()
    assert (t["split"] == "test").all() and (t["n_eval"] == prepared_celeba.split("test").size).all()
    # the leaderboard figure is the one evaluate() computes for the same run
    rep = evaluate(board.best_run, progress=False)
    assert rep.overall["accuracy"] == pytest.approx(float(t.iloc[0]["accuracy"]))
    cnn = t[t["model"] == "cnn"].iloc[0]
    assert cnn["parameters"] > 1000 and "widths=[8, 16, 16, 32]" in cnn["params"]
    # every accuracy comes with its interval, and each run below the top is compared with it on
    # the same images: the note's gap is the difference of the two accuracies, in points
    assert (t["accuracy_low"] <= t["accuracy"]).all() and (t["accuracy"] <= t["accuracy_high"]).all()
    assert rep.overall["accuracy_low"] == pytest.approx(float(t.iloc[0]["accuracy_low"]))
    pairs = [n for n in board.notes if n.startswith("#1 ")]
    assert len(pairs) == 2 and all(f"same {rep.n} test images" in n for n in pairs)
    gap = 100 * (t.iloc[0]["accuracy"] - t.iloc[2]["accuracy"])
    assert f"{gap:+.1f} accuracy points" in pairs[1] and f"#3 {t.iloc[2]['model']}" in pairs[1]
    assert any(w in pairs[1] for w in ("more than noise", "within noise"))
    assert pairs[0] in (board.path / "leaderboard.md").read_text()


def test_compare_needs_a_budget(prepared_celeba):
    with pytest.raises(ConfigError, match="budget"):
        compare(prepared_celeba.path, target="Smiling", models="logreg")
    with pytest.raises(ConfigError, match="metric"):
        compare(prepared_celeba.path, target="Smiling", models="logreg", epochs=1, metric="speed")


def test_resized_cache(prepared_celeba):
    import cv2

    from facelab.data.prepared import open_prepared

    path = resized_cache(prepared_celeba.path, 16)
    ds = open_prepared(path)
    assert ds.size == 16 and len(ds) == len(prepared_celeba) and ds.meta["derived_from"] == str(prepared_celeba.path)
    want = cv2.resize(np.asarray(prepared_celeba.images[3]), (16, 16), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(ds.images[3], want)
    assert resized_cache(prepared_celeba.path, 16) == path  # reused
    assert resized_cache(prepared_celeba.path, prepared_celeba.size) == prepared_celeba.path
    with pytest.raises(ConfigError, match="larger"):
        resized_cache(prepared_celeba.path, 64)
    sp = space("cnn", 64)
    assert sp["resolution"][1] == [32, 40, 48, 56, 64] and sp["lr"][0] == "log" and "width" in sp
    assert space("logreg", 48)["resolution"][1] == [32, 40, 48]


def test_search_logreg_trials_join_a_leaderboard(prepared_celeba, runs_dir):
    board = search(prepared_celeba.path, target="Smiling", model="logreg", trials=2, seed=0, study="t1")
    assert len(board.table) == 2 and board.metric == "val_accuracy"
    assert sorted(board.table["run"]) == [f"search-t1-{i}" for i in range(2)]
    assert (board.table["val_accuracy"].diff().dropna() <= 1e-12).all()
    best = json.loads((board.path / "best.json").read_text())
    assert best["run"] == board.best_run and set(best["params"]) == {"resolution", "C", "n_components"}
    assert (board.path / "trials.csv").is_file() and (board.path / "leaderboard.md").is_file()
    # seeded TPE: the same study proposes the same first parameters
    joined = board.path.parent / "joined"
    from dataclasses import replace

    stale = "#1 logreg vs #2 logreg: +9.9 accuracy points (against the old top row)"
    replace(board, metric="accuracy", notes=[*board.notes, stale]).save(joined)  # stands in for a compare board
    again = search(prepared_celeba.path, target="Smiling", model="logreg", trials=1, seed=0, study="t2",
                   join=joined)
    first = board.table.set_index("trial").loc[0]
    assert again.table.iloc[0]["C"] == pytest.approx(first["C"])
    t = pd.read_csv(joined / "leaderboard.csv")
    assert len(t) == 3 and "search-t2-0" in set(t["run"]) and t["rank"].tolist() == [1, 2, 3]
    assert (t["accuracy"].diff().dropna() <= 1e-12).all()  # re-ranked by the board's test metric
    from facelab.evaluate.leaderboard import Leaderboard

    kept = Leaderboard.load(joined)  # the board keeps its own metric, target and data
    assert (kept.metric, kept.target, kept.data) == ("accuracy", board.target, board.data)
    # the pairings are redone against the re-ranked top row; the stale one is gone
    pairs = [n for n in kept.notes if n.startswith("#1 ")]
    assert stale not in kept.notes and len(pairs) == 2
    gap = 100 * (t.iloc[0]["accuracy"] - t.iloc[2]["accuracy"])
    assert f"{gap:+.1f} accuracy points on the same {t.iloc[0]['n_eval']} test images" in pairs[1]
    with pytest.raises(ConfigError, match="leaderboard"):
        search(prepared_celeba.path, target="Smiling", model="logreg", trials=1, join=joined / "nope")


def test_search_resolution_uses_derived_caches(prepared_celeba, runs_dir):
    board = search(prepared_celeba.path, target="Smiling", model="logreg", trials=2, seed=3, study="r",
                   sizes="16,32")
    from facelab.runs import Run

    for row in board.table.itertuples():
        assert Run.load(row.run).input["size"] == row.resolution
    assert set(board.table["resolution"]) == {16, 32}  # seeded: both sizes are tried
    with pytest.raises(ConfigError, match="resolutions"):
        search(prepared_celeba.path, target="Smiling", model="logreg", trials=1, sizes=[64])


@pytest.mark.slow
def test_search_cnn_with_resolution(prepared_celeba, runs_dir):
    board = search(prepared_celeba.path, target="Smiling", model="cnn", trials=2, epochs=1, seed=1,
                   study="c", threads=1, batch_size=64)
    assert len(board.table) == 2
    assert {"lr", "width", "augment", "resolution"} <= set(board.table.columns)
    from facelab.runs import Run

    run = Run.load(board.best_run)
    assert run.input["size"] == board.table.iloc[0]["resolution"]


def test_search_needs_a_bound(prepared_celeba):
    with pytest.raises(ConfigError, match="bound"):
        search(prepared_celeba.path, target="Smiling", model="logreg")


def test_cli_evaluate_compare_search(prepared_celeba, runs_dir, capsys):
    from facelab.cli.main import main

    main(["compare", str(prepared_celeba.path), "--target", "Smiling", "--models", "logreg", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "ranked by accuracy" in out and "logreg" in out
    name = next(p.name for p in runs_dir.iterdir() if p.name.startswith("cmp-"))
    main(["evaluate", name, "--groups", "Male", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["run"] == name and data["subgroups"][0]["group"] == "Male"
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "no-such-run"])
    assert e.value.code == 2 and "no run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["search", str(prepared_celeba.path), "--target", "Smiling", "--model", "logreg"])
    assert e.value.code == 2


def test_search_prunes_a_trial_below_the_median(prepared_celeba, runs_dir, monkeypatch):
    """The pruning path with a stand-in trainer that reports chosen per-epoch val accuracies."""
    from types import SimpleNamespace

    from facelab.train import trainer

    real_train = trainer.train
    calls = []

    def fake_train(data, *, callbacks=(), **kw):
        n = len(calls)
        calls.append(n)
        for cb in callbacks:  # trials 0 and 1 look good after epoch 1, trial 2 looks bad
            cb(SimpleNamespace(epoch=1, history={"val_accuracy": 0.9 if n < 2 else 0.1}))
        return real_train(data, **kw)

    monkeypatch.setattr(trainer, "train", fake_train)
    board = search(prepared_celeba.path, target="Smiling", model="logreg", trials=3, seed=0, study="p")
    assert len(calls) == 3 and len(board.table) == 2  # the pruned trial is not on the board
    states = pd.read_csv(board.path / "trials.csv")["state"].tolist()
    assert states == ["COMPLETE", "COMPLETE", "PRUNED"]


def test_compare_multiclass_default_target_and_typo(prepared_fer, runs_dir):
    with pytest.raises(ConfigError, match="Smilng"):
        compare(prepared_fer.path, target="Smilng", models="logreg", epochs=1)
    assert not runs_dir.exists() or not any(runs_dir.glob("cmp-*"))  # nothing trained before the error
    board = compare(prepared_fer.path, target=None, models="logreg", epochs=1, progress=False)
    assert board.target == "emotion" and board.run_names[0].startswith("cmp-emotion-")
    rep = evaluate(board.best_run, progress=False)
    assert rep.kind == "multiclass" and len(rep.per_label) == 7
    assert rep.overall["accuracy"] == pytest.approx(board.table.iloc[0]["accuracy"])


def test_compare_says_when_the_budget_cut_a_network_short(prepared_celeba, runs_dir, tmp_path, monkeypatch):
    import facelab.evaluate.leaderboard as C

    # how many epochs a tiny network fits in a second depends on the machine: any count is "few" here
    monkeypatch.setattr(C, "FEW_EPOCHS", 10**6)
    board = compare(prepared_celeba.path, target="Smiling", models="cnn", minutes=0.01, seed=0, threads=1, patience=0,
                    params={"widths": [8, 16, 16, 32]}, out=tmp_path / "short", progress=False)
    m = json.loads((runs_dir / board.best_run / "metrics.json").read_text())
    assert m["stop_reason"] == "minutes" and m["steps"] >= 1
    note = [n for n in board.notes if n.startswith("cnn: ")]
    assert len(note) == 1 and f"stopped it after {m['epochs']} epoch" in note[0] and "under-trained" in note[0]
    assert note[0] in (board.path / "leaderboard.md").read_text()


def test_training_notes_name_models_not_ranks():
    from facelab.evaluate.leaderboard import training_notes

    table = pd.DataFrame([{"rank": 1, "run": "a", "model": "cnn", "balanced_accuracy": 0.9},
                          {"rank": 2, "run": "b", "model": "cnn", "balanced_accuracy": 0.51},
                          {"rank": 3, "run": "c", "model": "logreg", "balanced_accuracy": 0.26}])
    binary = {"kind": "binary", "classes": ["Smiling"], "metrics": {"epochs": 30, "stop_reason": "minutes"}}
    infos = {"a": binary, "b": binary, "c": {"kind": "multiclass", "classes": list("abcd"), "metrics": {}}}
    # two cnn runs: named by run; a join may re-rank the board, so no rank is written
    assert training_notes(table, infos) == [
        "b: balanced accuracy 0.510 is chance for 2 classes: it learned nothing usable in this budget",
        "logreg: balanced accuracy 0.260 is chance for 4 classes: it learned nothing usable in this budget"]


def test_training_notes_count_optimizer_steps_as_well_as_epochs():
    from facelab.evaluate.leaderboard import FEW_STEPS, training_notes

    table = pd.DataFrame([{"rank": r, "run": n, "model": n, "balanced_accuracy": 0.9}
                          for r, n in enumerate(["small", "enough", "chosen", "old"], 1)])
    def info(**m):
        return {"kind": "binary", "classes": ["Smiling"], "metrics": {"stop_reason": "minutes", **m}}
    infos = {"small": info(epochs=8, steps=64, train_seconds=80.0),   # a small dataset: 8 steps an epoch
             "enough": info(epochs=8, steps=FEW_STEPS),
             "chosen": {**info(epochs=8, steps=64), "metrics": {"epochs": 8, "steps": 64, "stop_reason": "epochs"}},
             "old": info(epochs=8)}                                     # metrics without steps
    assert training_notes(table, infos) == [
        "small: the budget stopped it after 8 epochs (10 s each, 64 optimizer steps in all): under-trained, "
        "which says little about the model; give it more minutes"]
