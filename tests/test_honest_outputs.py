"""Honest outputs: detector scores in 0–1 and a verdict for every classified face."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from PIL import Image

from facelab.faces.detect import get_detector, haar_score
from facelab.predict.results import verdict
from predict_support import face, paste, trained_run


def test_haar_scores_are_between_0_and_1_and_keep_order():
    det = get_detector("haar")
    scores = [f.score for s in range(3) for f in det.detect(paste([face(s)], seed=s))]
    assert scores and all(0.0 <= s <= 1.0 for s in scores)
    assert min(scores) > 0.9  # clear synthetic faces: the raw weights are about 55
    w = np.linspace(-100, 100, 41)
    squashed = [haar_score(x) for x in w]
    assert all(0.0 <= s <= 1.0 for s in squashed) and squashed == sorted(squashed)


def test_verdict_words():
    assert verdict({"Smiling": 0.12}, "binary") == "not Smiling 0.88"
    assert verdict({"Smiling": 0.55}, "binary", [0.6]) == "not Smiling 0.45"  # the run's own threshold
    assert verdict({"Smiling": 0.2, "Male": 0.7}, "multilabel") == "Male 0.70"
    assert verdict({"Smiling": 0.2, "Male": 0.3}, "multilabel") == "not Smiling 0.80, not Male 0.70"
    many = {f"A{i}": 0.1 for i in range(40)}
    assert verdict(many, "multilabel") == "none of the 40 outputs above its threshold"
    assert verdict({"angry": 0.2, "happy": 0.8}, "multiclass") == "happy 0.80"


def test_predict_csv_and_json_carry_score_and_verdict(prepared_celeba, tmp_path, capsys):
    from facelab.cli.main import main

    run = trained_run(prepared_celeba.path, target="Smiling", model="logreg", name="honest-logreg")
    for s in range(4):
        Image.fromarray(paste([face(s)], seed=s)).save(tmp_path / f"p{s}.jpg")
    main(["predict", str(run.path), str(tmp_path), "--out", str(tmp_path / "faces.csv"), "--no-progress"])
    df = pd.read_csv(tmp_path / "faces.csv")
    ok = df[df.status == "ok"]
    assert len(ok) == 4 and ok.score.between(0, 1).all()
    for _, row in ok.iterrows():
        p = row["p_Smiling"]
        assert row["verdict"] == (f"Smiling {p:.2f}" if p >= 0.5 else f"not Smiling {1 - p:.2f}")
    capsys.readouterr()
    main(["predict", str(run.path), str(tmp_path / "p0.jpg"), "--json", "--no-progress"])
    f = json.loads(capsys.readouterr().out)["photos"][0]["faces"][0]
    assert f["verdict"].endswith(f"{max(f['probabilities']['Smiling'], 1 - f['probabilities']['Smiling']):.2f}")
    assert 0 <= f["box"]["score"] <= 1
