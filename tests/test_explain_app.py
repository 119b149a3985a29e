"""The dashboard's explain toggle (Predict page) and saliency tab (Models page), with AppTest."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from test_app import MAIN
from test_serve_support import TINY_RUN, tiny_run_dir


@pytest.fixture(scope="module")
def runs(prepared_celeba, tmp_path_factory):
    """A runs folder with the tiny Smiling run and an evaluation holding dataset saliency maps."""
    from facelab.explain.report import write_saliency
    from facelab.runs import Run

    runs = tmp_path_factory.mktemp("explain-app") / "runs"
    runs.mkdir()
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    ev = runs / TINY_RUN / "eval" / "test"
    ev.mkdir(parents=True)
    images = np.asarray(prepared_celeba.images[:12])
    smiling = prepared_celeba.table["Smiling"].to_numpy()[:12].reshape(-1, 1)
    male = prepared_celeba.table["Male"].to_numpy()[:12]
    write_saliency(Run.load(runs / TINY_RUN), images, smiling, {"Male": male}, {"Male": ["not Male", "Male"]}, ev)
    return runs


@pytest.fixture()
def app(runs, monkeypatch, tmp_path):
    monkeypatch.setenv("FACELAB_RUNS", str(runs))
    monkeypatch.setenv("FACELAB_APP_DATA", str(tmp_path))
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_predict_page_explain_toggle_overlays_the_map(app):
    at = app
    at.switch_page("views/predict.py")
    at.run()
    at.radio(key="predict_source").set_value("Samples").run()
    at.toggle(key="predict_explain").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_input(key="predict_explain_output").set_value("Smiling").run()
    assert not at.exception, [e.value for e in at.exception]
    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    captions = [str(n.proto) for n in walk(at.main) if type(n).__name__ == "Image"]  # the captions are in it
    assert any("where it looked for Smiling" in c and "integrated-gradients" in c for c in captions), captions


def test_models_page_shows_the_dataset_maps(app):
    at = app
    at.switch_page("views/models.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [df.value for df in at.dataframe if "agreement_with_mean_face_difference" in df.value.columns]
    assert tables and tables[0]["group"].tolist() == ["all faces", "not Male", "Male"]
    assert any("mean saliency (integrated-gradients) over 12" in c.value for c in at.caption)
