"""Every dashboard page with Streamlit's AppTest, pointed at a tiny trained run and report folders."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from facelab.app.common import AppConfig, find_reports, parse_config
from facelab.runs import headline

from test_serve_support import TINY_RUN, tiny_run_dir

MAIN = Path(__file__).resolve().parents[1] / "src" / "facelab" / "app" / "main.py"
PAGES = ["overview", "findings", "data", "models", "clusters", "predict", "api"]


def _png(path: Path, seed: int = 0) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def workspace(prepared_celeba, tmp_path_factory):
    """A runs folder (tiny run + leaderboard + eval outputs) and a data folder with two reports."""
    root = tmp_path_factory.mktemp("app")
    runs = root / "runs"
    runs.mkdir()
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    board = runs / "compare-Smiling"
    board.mkdir()
    pd.DataFrame({"model": ["cnn", "logreg"], "accuracy": [0.81, 0.74]}).to_csv(board / "leaderboard.csv", index=False)
    _png(board / "leaderboard.png")
    ev = runs / TINY_RUN / "eval" / "test"
    _png(ev / "confusion.png", 1)
    _png(ev / "reliability.png", 2)
    pd.DataFrame({"group": ["Male", "Female"], "accuracy": [0.8, 0.82]}).to_csv(ev / "subgroups.csv", index=False)
    data = root / "demo"
    for kind in ("explore", "cluster"):
        folder = data / kind
        folder.mkdir(parents=True)
        (folder / "report.html").write_text(f"<html><body>{kind}</body></html>")
        _png(folder / ("balance.png" if kind == "explore" else "sweep.png"), 3)
        _png(folder / ("mean_faces.png" if kind == "explore" else "clusters.png"), 4)
        (folder / f"{kind}.json").write_text('{"n": 600}')
    # the explore report's saved numbers (as facelab.explore writes them): the Data page charts
    # them, the Findings page reads the mean-face difference
    (data / "explore" / "explore.json").write_text(json.dumps({
        "kind": "explore", "n": 600,
        "attribute_statistics": {"n": 600, "names": ["Smiling", "Male", "Young"], "prevalence": [0.5, 0.4, 0.7],
                                 "correlation": [[1, -0.1, 0.2], [-0.1, 1, -0.3], [0.2, -0.3, 1]],
                                 "conditional": [[1, 0.45, 0.6], [0.36, 1, 0.3], [0.84, 0.52, 1]]},
        "mean_face_differences": {"Smiling": {"n_with": 300, "n_without": 300, "difference": 9.5, "baseline": 1.9,
                                              "ratio": 5.0},
                                  "Male": {"n_with": 240, "n_without": 360, "difference": 2.0, "baseline": 1.8,
                                           "ratio": 1.11}}}))
    return runs, data


@pytest.fixture()
def app(workspace, monkeypatch):
    runs, data = workspace
    monkeypatch.setenv("FACELAB_RUNS", str(runs))
    monkeypatch.setenv("FACELAB_APP_DATA", str(data))
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"views/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_overview_lists_the_run(app):
    assert app.title[0].value == "facelab"
    runs_metric = [m for m in app.metric if m.label == "Runs"][0]
    assert runs_metric.value == "1"
    table = app.dataframe[0].value
    assert list(table["run"]) == [TINY_RUN] and list(table["target"]) == ["Smiling"]


def _charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def test_data_page_shows_the_explore_report(app):
    at = _page(app, "data")
    subheaders = [s.value for s in at.subheader]
    assert "Label balance" in subheaders and "Mean faces and differences" in subheaders
    assert "Attributes" in subheaders and len(_charts(at)) >= 4  # interactive charts from explore.json
    assert not at.info  # a report was found
    pairs = at.dataframe[0].value
    assert pairs["attribute"].tolist() == ["Young", "Smiling"]  # against Male, strongest first
    at.selectbox(key="data_attribute").set_value("Smiling").run()
    assert not at.exception
    assert at.dataframe[0].value["attribute"].tolist() == ["Young", "Male"]


def test_findings_page_states_question_hypothesis_method_answer(app):
    at = _page(app, "findings")
    assert at.selectbox(key="findings_subject").value == "Smiling"  # the one attribute a run predicts
    text = " ".join(m.value for m in at.markdown)
    assert at.header[0].value.startswith("Do smiling faces")  # the question
    for part in ("**Hypothesis.**", "**How it was tested.**", "**Answer ("):
        assert part in text, part
    assert f"`{TINY_RUN}`" in text and "held-out" in text and "5.0×" in text  # run and mean face
    verdicts = [*at.success, *at.error, *at.warning, *at.info]
    assert verdicts and any(v in verdicts[0].value.lower() for v in ("supported", "inconclusive"))
    table = at.dataframe[-1].value
    assert table["attribute / target"].tolist() == ["Smiling", "Male"]  # a run's target, then the report's
    assert table.set_index("attribute / target").loc["Male", "verdict"] == "not enough evidence"
    at.selectbox(key="findings_subject").set_value("Male").run()
    assert not at.exception
    assert any("facelab train DATA --target Male" in m.value for m in at.markdown)


def test_models_page(app):
    at = _page(app, "models")
    assert list(at.dataframe[0].value["model"]) == ["cnn", "logreg"]  # the leaderboard
    subs = [s.value for s in at.subheader]
    assert "Confusion matrices" in subs and "Calibration" in subs
    assert any("accuracy" in str(df.value.columns.tolist()) for df in at.dataframe[1:])  # subgroup table
    labels = [m.label for m in at.metric]
    assert "val accuracy (95% CI)" in labels and not any("_" in lab for lab in labels)  # tiles in words
    assert {"true positives (TP)", "true negatives (TN)", "false positives (FP)", "false negatives (FN)"} <= set(labels)
    report = next(df.value for df in at.dataframe if "precision" in df.value.columns)
    assert list(report.columns) == ["class", "precision", "recall", "F1", "support", "TP", "FN", "FP", "TN"]
    assert report["class"].tolist() == ["Smiling", "not Smiling"]
    tp = int(next(m.value for m in at.metric if m.label == "true positives (TP)").replace(",", ""))
    assert tp == report.iloc[0]["TP"]


def test_clusters_page(app):
    at = _page(app, "clusters")
    assert "Choosing k" in [s.value for s in at.subheader]


def test_predict_page_on_a_sample_photo(app):
    at = _page(app, "predict")
    at.radio(key="predict_source").set_value("Samples").run()
    assert not at.exception, at.exception
    faces = [m.value for m in at.markdown if m.value.startswith("**face #")]
    assert faces, [m.value for m in at.markdown]
    table = at.dataframe[-1].value
    assert {"file", "run", "x", "y", "w", "h", "p_Smiling"} <= set(table.columns)
    # the sample offered first is one the model was checked to get right, or the page says it gets none
    none_right = any("gets none of the sample photos right" in w.value for w in at.warning)
    if none_right:
        assert table["file"].tolist() == ["smiling-woman.jpg"]
    else:
        assert len(table) == 1 and any(s.value.startswith("right: Smiling: expected") for s in at.success)
        assert any(c.value.startswith("Sample photos the chosen model(s) get right") for c in at.caption)


def test_api_page_has_working_examples(app):
    at = _page(app, "api")
    code = "\n".join(c.value for c in at.code)
    assert "/v1/predict" in code and f"run={TINY_RUN}" in code and "requests.post" in code


def test_pages_say_what_to_run_when_pieces_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "none"))
    monkeypatch.delenv("FACELAB_APP_DATA", raising=False)
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.run()
    for name in PAGES:
        at = _page(at, name) if name != "overview" else at
        text = " ".join(i.value for i in at.info)
        if name == "predict":  # a fresh install predicts with the models shipped with facelab
            assert "shipped with facelab" in " ".join(c.value for c in at.caption), name
        elif name != "api":
            assert "run `facelab" in text, (name, text)


def test_config_and_helpers(tmp_path):
    cfg = parse_config(["--runs", str(tmp_path), "--data", "d", "--server.port", "1"])
    assert cfg.runs == tmp_path and cfg.data == Path("d")
    # one headline for every surface: validation first (as Run.key_metric), test when there is no val
    assert headline({"test": {"loss": 0.3, "accuracy": 0.9}, "val": {"accuracy": 0.8}}) == ("val.accuracy", 0.8)
    assert headline({"test": {"loss": 0.3, "accuracy": 0.9}}) == ("test.accuracy", 0.9)
    assert find_reports(AppConfig(tmp_path, None, ""), "explore") == []
    # Reports are found under --data; a run's own eval report is not taken for an explore report.
    (tmp_path / "reports" / "explore").mkdir(parents=True)
    (tmp_path / "reports" / "explore" / "report.html").write_text("x")
    (tmp_path / "reports" / "explore" / "explore.json").write_text('{"kind": "explore"}')  # reports say their kind
    (tmp_path / "reports" / "cluster-hog").mkdir(parents=True)
    (tmp_path / "reports" / "cluster-hog" / "report.html").write_text("x")
    (tmp_path / "reports" / "cluster-hog" / "cluster.json").write_text('{"kind": "cluster"}')
    (tmp_path / "runs" / "r1" / "eval").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "config.yaml").write_text("model: cnn")
    (tmp_path / "runs" / "r1" / "eval" / "report.html").write_text("x")
    cfg = AppConfig(tmp_path / "runs", tmp_path, "")
    assert find_reports(cfg, "explore") == [tmp_path / "reports" / "explore"]
    assert find_reports(cfg, "cluster") == [tmp_path / "reports" / "cluster-hog"]


def test_run_lists_open_on_the_newest_leaderboards_winner(tmp_path):
    import os

    from facelab.app.common import run_names

    runs = tmp_path / "runs"
    for i, name in enumerate(["cnn-run", "logreg-run", "resnet-run"]):  # trained in this order
        (runs / name).mkdir(parents=True)
        (runs / name / "config.yaml").write_text("model: x")
        os.utime(runs / name, (1000 + i, 1000 + i))
    assert run_names(str(runs)) == ["resnet-run", "logreg-run", "cnn-run"]  # no leaderboard: newest first
    old, new = runs / "_leaderboards" / "a", runs / "_leaderboards" / "b"
    for board, winner in ((old, "logreg-run"), (new, "cnn-run")):
        board.mkdir(parents=True)
        others = [n for n in ("cnn-run", "logreg-run", "resnet-run") if n != winner]
        pd.DataFrame({"rank": [2, 1, 3], "run": [others[0], winner, others[1]]}).to_csv(board / "leaderboard.csv",
                                                                                       index=False)
    os.utime(old / "leaderboard.csv", (2000, 2000))
    os.utime(new / "leaderboard.csv", (3000, 3000))
    run_names.clear()  # the page caches the listing for 10 s
    assert run_names(str(runs)) == ["cnn-run", "resnet-run", "logreg-run"]
    (runs / "later-run").mkdir()  # trained after the comparison: the newest run leads again
    (runs / "later-run" / "config.yaml").write_text("model: x")
    os.utime(runs / "later-run", (4000, 4000))
    run_names.clear()
    assert run_names(str(runs)) == ["later-run", "resnet-run", "logreg-run", "cnn-run"]
    os.utime(runs / "later-run", (1500, 1500))  # ... but not one trained before it
    run_names.clear()
    assert run_names(str(runs))[0] == "cnn-run"
    (new / "leaderboard.csv").write_text("not,a\nleaderboard")  # unreadable: newest first again
    os.utime(new / "leaderboard.csv", (3000, 3000))
    run_names.clear()
    assert run_names(str(runs)) == ["later-run", "resnet-run", "logreg-run", "cnn-run"]


def test_report_figures_go_to_the_most_specific_section():
    from facelab.app.report_view import assign_sections

    pngs = [Path(n + ".png") for n in ("attr_cluster_means", "mean_attributes", "balance_attributes", "xyz")]
    got = assign_sections(pngs, [("Mean", ("mean",)), ("Balance", ("balance",)), ("Clusters", ("attr_cluster",))])
    assert got == {"Mean": [pngs[1]], "Balance": [pngs[2]], "Clusters": [pngs[0]], "": [pngs[3]]}


def test_cli_app_and_serve_options(tmp_path, capsys):
    from facelab.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["app", "--runs", str(tmp_path / "missing")])
    assert e.value.code == 2 and "does not exist" in " ".join(capsys.readouterr().err.split())  # Rich wraps
    with pytest.raises(SystemExit) as e:
        main(["serve", "--runs-dir", str(tmp_path), "--workers", "0"])
    assert e.value.code == 2 and "--workers" in " ".join(capsys.readouterr().err.split())


def test_launch_command(tmp_path):
    from facelab.app.launch import launch, streamlit_command
    from facelab.errors import RunError

    cmd = streamlit_command(runs=tmp_path, port=8765)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("main.py") and Path(cmd[4]).is_file()
    assert "8765" in cmd and cmd[cmd.index("--") + 1:] == ["--runs", str(tmp_path.resolve())]
    with pytest.raises(RunError, match="does not exist"):
        launch(runs=tmp_path / "missing")


def test_predict_samples_are_checked_with_the_shipped_models_on_a_fresh_install(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "none"))
    monkeypatch.delenv("FACELAB_APP_DATA", raising=False)
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    at = _page(at, "predict")
    at.radio(key="predict_source").set_value("Samples").run()
    assert not at.exception, at.exception
    # the shipped model was checked on the samples (a right answer, a wrong one named, or "cannot be checked")
    said = [s.value for s in at.success] + [w.value for w in at.warning] + [i.value for i in at.info] + [
        c.value for c in at.caption]
    assert any(t.startswith(("right:", "wrong:", "Sample photos the chosen model(s) get right"))
               or "sample photos" in t for t in said), said
    assert any(m.value.startswith("**face #") for m in at.markdown)


def test_predict_page_tracks_the_faces_of_a_sample_clip(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "none"))  # the shipped models
    monkeypatch.delenv("FACELAB_APP_DATA", raising=False)
    at = AppTest.from_file(str(MAIN), default_timeout=300)
    at.run()
    at = _page(at, "predict")
    at.radio(key="predict_source").set_value("Video").run()
    assert not at.exception, at.exception
    at.radio(key="predict_video_kind").set_value("Sample clip").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("frames analysed" in c.value for c in at.caption), [c.value for c in at.caption]
    assert any("labels held by 0.15" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.get("video"), "no video element"
    tracks = at.dataframe[0].value
    assert {"track", "first", "last", "duration"} <= set(tracks.columns) and len(tracks) >= 2  # two people
