"""``facelab evaluate RUN --saliency``: dataset maps per output and subgroup in the evaluation report."""
from __future__ import annotations

import json

import numpy as np

from explain_support import squares_run
from train_helpers import run_cli


def test_evaluate_writes_dataset_maps_beside_the_mean_faces(tmp_path_factory, tmp_path):
    from facelab.evaluate.report import evaluate

    run = squares_run(tmp_path_factory.getbasetemp())
    rep = evaluate(run, groups="B", out=tmp_path / "ev", saliency=True, progress=False)
    for k in ("saliency_html", "saliency_json", "saliency_A", "saliency_B"):
        assert rep.files[k].is_file(), k
    assert rep.files["saliency_A"].name == "saliency-A.png"
    data = json.loads(rep.files["saliency_json"].read_text())
    groups = [(g["output"], g["group"]) for g in data["groups"]]
    assert groups[:3] == [("A", "all faces"), ("A", "not B"), ("A", "B")]
    a_all = data["groups"][0]
    assert a_all["n"] == rep.n and a_all["method"] == "integrated-gradients"
    assert np.array(a_all["saliency"]).shape == (16, 16)
    peak = np.unravel_index(np.argmax(a_all["saliency"]), (16, 16))
    assert peak[0] < 8 and peak[1] < 8  # A's square is at the top left
    assert "saliency.html" in (tmp_path / "ev" / "report.md").read_text()
    assert "saliency-A.png" in rep.files["saliency_html"].read_text()


def test_evaluate_cli_saliency_option(tmp_path_factory, tmp_path, capsys):
    run = squares_run(tmp_path_factory.getbasetemp())
    code, out, err = run_cli(["evaluate", run.path, "--groups", "B", "--out", tmp_path / "ev2", "--saliency",
                              "--saliency-faces", "10"], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "ev2" / "saliency.json").read_text())
    assert data["n"] == 10
