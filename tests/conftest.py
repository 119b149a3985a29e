"""Shared fixtures. Tests make their own data; nothing here touches the network or ../shared."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session", autouse=True)
def _facelab_home(tmp_path_factory):
    """Every test session gets its own facelab home (prepared caches) and runs folder."""
    home = tmp_path_factory.mktemp("facelab_home")
    old = {k: os.environ.get(k) for k in ("FACELAB_HOME", "FACELAB_RUNS", "FACELAB_DATA")}
    os.environ["FACELAB_HOME"] = str(home)
    os.environ["FACELAB_RUNS"] = str(home / "runs")
    os.environ["FACELAB_DATA"] = str(home / "no-shared-data")  # tests never read ../shared
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch) -> Path:
    """A fresh runs folder for one test."""
    d = tmp_path / "runs"
    monkeypatch.setenv("FACELAB_RUNS", str(d))
    return d


@pytest.fixture(scope="session")
def synth_celeba(tmp_path_factory) -> Path:
    """A small synthetic CelebA in the official layout (600 images)."""
    from facelab.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("celeba"), kind="celeba", n=600, seed=0)


@pytest.fixture(scope="session")
def synth_fer(tmp_path_factory) -> Path:
    """A small synthetic FER2013 (fer2013.csv, 350 rows)."""
    from facelab.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("fer"), kind="fer2013", n=350, seed=0)


@pytest.fixture(scope="session")
def synth_folder(tmp_path_factory) -> Path:
    """A small folder-per-identity dataset (4 people x 30 photos)."""
    from facelab.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("people"), kind="folder", n=120, seed=0, identities=4)


@pytest.fixture(scope="session")
def prepared_celeba(synth_celeba, tmp_path_factory):
    from facelab.data.cache import prepare

    return prepare(synth_celeba, size=32, out=tmp_path_factory.mktemp("prep") / "celeba32", progress=False)


@pytest.fixture(scope="session")
def prepared_fer(synth_fer, tmp_path_factory):
    from facelab.data.cache import prepare

    return prepare(synth_fer, size=32, grey=True, out=tmp_path_factory.mktemp("prep") / "fer32", progress=False)


def _java_ok() -> bool:
    from facelab.errors import ConfigError
    from facelab.scale.spark import java_version

    try:
        return java_version()[1] >= 17
    except ConfigError:
        return False


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session for every test that needs one (starting one takes ~10 s)."""
    pytest.importorskip("pyspark", reason="the Spark tests need pyspark (pip install 'facelab[spark]')")
    if not _java_ok():
        pytest.skip("Spark needs a Java 17 runtime (apt-get install openjdk-17-jre-headless)")
    from facelab.scale.spark import get_spark

    s = get_spark("local[2]")
    yield s
    s.stop()


def pytest_collection_modifyitems(config, items):
    """The fast lane: mark the tests that :mod:`fast_lane` names as ``slow``."""
    from fast_lane import mark_slow

    mark_slow(items)
