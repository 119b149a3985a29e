"""Registry sweeps, as model zoos keep them: every registered torch model trains, saves, loads,
exports to ONNX and predicts the same through ONNX Runtime; every public name resolves."""
from __future__ import annotations

import numpy as np
import pytest

import facelab
from facelab.models import get_model, list_models

TORCH_MODELS = [n for n in list_models() if get_model(n).kind == "torch"]
#: small variants, so that the sweep stays a test (the architecture is the same)
SMALL = {"cnn": {"widths": [8, 16], "depths": [1, 1]}, "mobilenetv2": {"width_mult": 0.25}}


def test_every_public_name_resolves():
    for name in facelab.__all__:
        assert getattr(facelab, name) is not None, name
    assert {"Run", "list_runs", "train", "evaluate", "compare", "search", "Predictor", "export_onnx"} <= set(facelab.__all__)


def test_the_registry_has_every_model_file():
    # the registry imports its model files by name: all four families are there
    assert {"cnn", "mobilenetv2", "resnet18", "logreg"} <= set(list_models())


@pytest.mark.slow
@pytest.mark.parametrize("model", TORCH_MODELS)
def test_every_torch_model_trains_loads_exports_and_round_trips(model, prepared_celeba, runs_dir):
    import torch

    from facelab.faces.align import crop_aligned
    from facelab.predict import Predictor, export_onnx
    from facelab.runs import Run
    from facelab.train.trainer import train
    from predict_support import face

    torch.set_num_threads(2)
    run = train(prepared_celeba.path, target="Smiling", model=model, epochs=1, minutes=0.2, name=f"sweep-{model}",
                seed=0, progress=False, params=SMALL.get(model))
    loaded = Run.load(run.name)  # train → load by name from the runs folder
    x = np.stack([crop_aligned(face(s), loaded.input) for s in range(4)])
    want = loaded.predict_proba(x)
    assert want.shape == (4, 1) and np.all((want >= 0) & (want <= 1))
    np.testing.assert_allclose(want, run.predict_proba(x), atol=1e-6)
    res = export_onnx(loaded)
    assert res.max_abs_diff <= 1e-4
    onnx = Predictor.from_run(loaded, backend="onnx")
    np.testing.assert_allclose(onnx.classify(x), want, atol=1e-4)
