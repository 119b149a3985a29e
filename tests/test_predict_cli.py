"""`facelab predict` and `facelab export` from the command line."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from facelab.predict.batch import expand_sources
from predict_support import face, paste, run_cli, trained_run


@pytest.fixture(scope="module")
def run(prepared_celeba):
    return trained_run(prepared_celeba.path, target=["Smiling", "Male"], model="cnn", name="cli-cnn",
                       epochs=1, params={"widths": [8, 16], "depths": [1, 1]})


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    Image.fromarray(paste([face(1)], seed=1)).save(d / "one.jpg")
    Image.fromarray(paste([face(2), face(3)], size=(900, 400), scale=1.3,
                          positions=[(40, 50), (600, 60)], seed=2)).save(d / "sub" / "two.png")
    Image.fromarray(paste([], seed=3)).save(d / "empty.jpg")  # background only
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (d / "readme.txt").write_text("not a photo")
    Image.fromarray(face(4)).save(d / "aligned.jpg")
    return d


_cli = run_cli


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_predict_folder_to_each_format(run, photos, tmp_path, capsys, fmt):
    out = tmp_path / f"faces.{fmt}"
    code, cap = _cli(["predict", str(run.path), str(photos), "--out", str(out), "--no-progress"], capsys)
    assert code == 0, cap.err
    assert "could not be read" in cap.out and "broken.jpg" in cap.out and "1 non-image files skipped" in cap.out
    if fmt == "json":
        data = json.loads(out.read_text())
        assert data["classes"] == ["Smiling", "Male"] and len(data["photos"]) == 5
        two = next(p for p in data["photos"] if p["source"].endswith("two.png"))
        assert len(two["faces"]) == 2
        return
    df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert {"file", "face", "status", "x", "y", "w", "h", "labels", "p_Smiling", "p_Male"} <= set(df.columns)
    st = df.groupby(df.file.map(lambda f: f.rsplit("/", 1)[-1])).status.agg(list).to_dict()
    assert st["one.jpg"] == ["ok"] and st["two.png"] == ["ok", "ok"]
    assert st["empty.jpg"] == ["no face"] and st["broken.jpg"] == ["error"]
    assert df.loc[df.status == "ok", "p_Smiling"].between(0, 1).all()


def test_crops_annotations_and_aligned(run, photos, tmp_path, capsys):
    crops, ann = tmp_path / "crops", tmp_path / "ann"
    code, cap = _cli(["predict", str(run.path), str(photos / "sub" / "two.png"), str(photos / "one.jpg"),
                      "--save-crops", str(crops), "--annotate", str(ann), "--no-progress", "--max-side", "320"],
                     capsys)
    assert code == 0, cap.err
    assert sorted(p.name for p in crops.iterdir() if p.name != ".facelab") == ["one_face0.png", "two_face0.png", "two_face1.png"]
    assert Image.open(crops / "one_face0.png").size == (32, 32)
    assert sorted(p.name for p in ann.iterdir() if p.name != ".facelab") == ["one.jpg", "two.jpg"]
    assert Image.open(ann / "two.jpg").size == (900, 400)
    assert "3 faces" in cap.out
    code, cap = _cli(["predict", str(run.path), str(photos / "aligned.jpg"), "--aligned", "--no-progress"], capsys)
    assert code == 0 and "aligned" in cap.out and "1 faces" in cap.out


def test_globs_bad_names_and_all_failed(run, photos, tmp_path, capsys):
    paths, problems, _ = expand_sources([str(photos / "*.jpg"), str(photos / "nope.jpg"), str(photos / "*.gif")])
    assert {p.rsplit("/", 1)[-1] for p in paths} == {"one.jpg", "empty.jpg", "broken.jpg", "aligned.jpg"}
    assert [p.error.split(":")[0] for p in problems] == ["no such file or folder", f"the pattern {photos}/*.gif matches no file"]
    code, cap = _cli(["predict", str(run.path), str(photos / "broken.jpg"), "--no-progress"], capsys)
    assert code == 1 and "broken.jpg" in cap.out
    code, cap = _cli(["predict", str(run.path), str(photos), "--out", str(tmp_path / "x.xlsx")], capsys)
    assert code == 2 and "csv, json or parquet" in cap.err
    code, cap = _cli(["predict", "no-such-run", str(photos)], capsys)
    assert code == 2 and "no run" in cap.err


def test_export_command(run, capsys, tmp_path):
    code, cap = _cli(["export", str(run.path), "--format", "onnx"], capsys)
    assert code == 0, cap.err
    assert "max |diff|" in cap.out and (run.path / "model.onnx").is_file()
    code, cap = _cli(["predict", str(run.path), str(tmp_path), "--backend", "onnx", "--no-progress"], capsys)
    # the onnx backend loads; an empty folder is "no photo found" and a non-zero exit
    assert code == 2 and "no photo found" in cap.err
    code, cap = _cli(["export", str(run.path), "--format", "tflite"], capsys)
    assert code == 2 and "onnx" in cap.err
