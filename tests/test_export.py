"""ONNX export round trip, and the ONNX Runtime predictor without torch."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from facelab.errors import RunError
from facelab.predict import Predictor, export_onnx
from predict_support import face, paste, trained_run

TINY = {"widths": [8, 16], "depths": [1, 1]}


@pytest.fixture(scope="module")
def cnn_run(prepared_celeba):
    return trained_run(prepared_celeba.path, target=["Smiling", "Male"], model="cnn", name="export-cnn",
                       epochs=1, params=TINY)


def test_export_round_trip(cnn_run):
    res = export_onnx(cnn_run)
    assert res.path == cnn_run.path / "model.onnx" and res.path.is_file()
    assert res.max_abs_diff <= 1e-4 and res.checked_on == 16 and res.outputs == 2
    meta = json.loads((cnn_run.path / "model.json").read_text())
    assert meta["classes"] == ["Smiling", "Male"] and meta["input"] == "uint8 NHWC"
    # the exported graph, fed real face crops, agrees with the run's own predictions
    import onnxruntime as ort

    from facelab.faces.align import crop_aligned

    x = np.stack([crop_aligned(face(s), cnn_run.input) for s in range(4)])
    got = ort.InferenceSession(str(res.path)).run(None, {"faces": x})[0]
    np.testing.assert_allclose(got, cnn_run.predict_proba(x), atol=1e-4)


def test_onnx_predictor_matches_torch(cnn_run):
    export_onnx(cnn_run)
    photo = paste([face(3)], seed=3)
    a = Predictor.from_run(cnn_run).predict(photo)
    b = Predictor.from_run(cnn_run, backend="onnx").predict(photo)
    assert len(a.faces) == len(b.faces) == 1
    assert a.faces[0].probabilities == pytest.approx(b.faces[0].probabilities, abs=1e-4)
    assert a.faces[0].labels == b.faces[0].labels


def test_onnx_predictor_runs_without_torch(cnn_run, tmp_path):
    export_onnx(cnn_run)
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.fromarray(paste([face(4)], seed=4)).save(photo)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now fails
        from facelab.predict import Predictor
        p = Predictor.from_run({str(cnn_run.path)!r}, backend="onnx")
        r = p.predict({str(photo)!r})
        assert len(r.faces) == 1 and r.faces[0].classified, r
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
        print("ok", sorted(r.faces[0].probabilities))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok ['Male', 'Smiling']" in out.stdout


def test_export_refuses_classical_runs_and_bad_checks(prepared_celeba, cnn_run, tmp_path):
    lr = trained_run(prepared_celeba.path, target="Smiling", model="logreg", name="export-logreg")
    with pytest.raises(RunError, match="classical"):
        export_onnx(lr)
    with pytest.raises(RunError, match="disagree"):
        export_onnx(cnn_run, tmp_path / "m.onnx", atol=-1.0)  # no difference can pass a negative bound
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.onnx.tmp").exists()
