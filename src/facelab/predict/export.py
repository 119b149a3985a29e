"""Export a run's network to ONNX, preprocessing and output activation included.

The exported graph takes ``uint8`` faces ``(N, size, size, C)`` exactly as :func:`facelab.faces.align`
(or the prepared cache) makes them and returns probabilities ``(N, outputs)``: the run's
normalisation (``input.json`` mean/std) and the sigmoid/softmax live inside the graph, so the
ONNX Runtime path of :class:`~facelab.predict.predictor.Predictor` needs numpy and onnxruntime only.

After writing, the export is checked: ONNX Runtime and PyTorch must agree to ``atol`` (1e-4) on
a batch of faces; a disagreement raises :class:`~facelab.errors.RunError` and removes the file.

Example:
    >>> import shutil, tempfile
    >>> from facelab.pretrained import shipped_path
    >>> run = shutil.copytree(shipped_path("fer-emotions"), Path(tempfile.mkdtemp()) / "emotions")
    >>> res = export_onnx(run)
    >>> res.path.name, res.max_abs_diff < 1e-4
    ('model.onnx', True)
"""
from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RunError


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote and how closely ONNX Runtime matched PyTorch."""

    path: Path
    opset: int
    inputs: list[int]
    outputs: int
    max_abs_diff: float
    checked_on: int
    size_bytes: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def _wrapper(run):
    """torch module: uint8 NHWC → the run's preprocessing → network → probabilities."""
    import torch

    from ..runs.preprocess import to_float

    model = run.torch_model()
    task = run.task
    mean, std = run.input["mean"], run.input["std"]

    class Exported(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x):
            return task.probabilities(self.net(to_float(x, mean, std)))

    return Exported().eval()


def _check_faces(run, n: int, seed: int) -> np.ndarray:
    """Faces for the agreement check: random pixels plus smooth images (both kinds of input)."""
    size, c = int(run.input["size"]), int(run.input["channels"])
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n // 2, size, size, c), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    smooth = []
    for i in range(n - n // 2):
        a, b = rng.uniform(-1, 1, 2)
        img = 127.5 + 120 * np.sin(3 * (a * xx + b * yy) + i)
        smooth.append(np.repeat(img[..., None], c, axis=2))
    return np.concatenate([noise, np.clip(smooth, 0, 255).astype(np.uint8)])


def _is_export_json(path: Path) -> bool:
    """The ``<stem>.json`` an earlier export wrote beside its ONNX file."""
    from ..outputs import json_with_keys

    return json_with_keys("opset", "run", "input")(path)


def weights_digest(folder: Path) -> str | None:
    """SHA-256 of the run's weights file (``model.safetensors``/``.pth``/``.pt``), or None."""
    import hashlib

    for name in ("model.safetensors", "model.pth", "model.pt"):
        f = Path(folder) / name
        if f.is_file():
            h = hashlib.sha256()
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()
    return None


def is_fresh(onnx: Path, folder: Path) -> bool:
    """``onnx`` is a complete export of the run's current weights: its description records the
    weights' SHA-256 and it matches (an export without one: not older than the weights file)."""
    sidecar = onnx.parent / (onnx.stem + ".json")
    if not (onnx.is_file() and sidecar.is_file() and _is_export_json(sidecar)):
        return False
    try:
        recorded = json.loads(sidecar.read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return False
    if recorded:
        return recorded == weights_digest(folder)
    weights = [p for p in Path(folder).glob("model.*") if p.suffix in (".safetensors", ".pth", ".pt") and p.is_file()]
    return all(onnx.stat().st_mtime >= w.stat().st_mtime for w in weights)


def fresh_onnx(folder: Path, home_dir: Path | None = None) -> Path | None:
    """The first up-to-date ``model.onnx`` of the run in :func:`~facelab.runs.derived.onnx_places`
    (a model shipped with facelab carries its own), or None."""
    from ..runs.derived import onnx_places

    return next((p for p in onnx_places(Path(folder), home_dir) if is_fresh(p, Path(folder))), None)


def export_onnx(run, out: str | Path | None = None, *, opset: int = 17, check: bool = True,
                atol: float = 1e-4, samples: int = 16, runs_dir: str | Path | None = None) -> ExportResult:
    """Write ``model.onnx`` for a run (torch models only) and check it against PyTorch.

    Args:
        run: a :class:`~facelab.runs.Run`, its folder or its name.
        out: output file (default: ``<run>/model.onnx``, where the onnx predictor looks; for a model
            shipped with facelab, ``$FACELAB_HOME/onnx/<name>-<key>/model.onnx``).
        opset: ONNX opset version.
        check: compare ONNX Runtime with PyTorch on ``samples`` faces.
        atol: largest allowed absolute difference between the two probabilities.
        runs_dir: where a run name is looked up (default ``$FACELAB_RUNS`` or ``./runs``).

    Returns:
        an :class:`ExportResult`.

    Raises:
        RunError: the run is classical (no network) or the two runtimes disagree.
        ConfigError: onnx/onnxruntime are not installed.

    Example: the module's own example above.
    """
    import torch

    from ..runs import Run, resolve_run

    run = run if isinstance(run, Run) else Run.load(resolve_run(run, runs_dir))
    if not run.spec.exports_onnx:
        raise RunError(f"run {run.name} uses the classical model {run.model_name!r}; only torch networks "
                       "export to ONNX", path=run.path, fix="export a run trained with a torch model (e.g. cnn)")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("ONNX export needs onnx and onnxruntime", fix="pip install 'facelab[onnx]'") from None
    from ..runs.derived import export_place

    out = Path(out) if out is not None else export_place(run.path)  # a shipped model: under $FACELAB_HOME
    from ..outputs import check_file  # an export replaces only an earlier export, never a user's file

    sidecar = out.parent / (out.stem + ".json")
    check_file(sidecar, what="export description", recognise=_is_export_json)
    check_file(out, what="ONNX file", recognise=lambda p: sidecar.is_file() and _is_export_json(sidecar))
    out.parent.mkdir(parents=True, exist_ok=True)
    module = _wrapper(run)
    size, c = int(run.input["size"]), int(run.input["channels"])
    example = torch.zeros((2, size, size, c), dtype=torch.uint8)
    buf = io.BytesIO()
    try:
        import warnings

        # the TorchScript-based exporter: no onnxscript dependency, dynamic batch axis. Its tracer
        # warns that mean/std become constants, which is exactly what is wanted here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module, (example,), buf, input_names=["faces"], output_names=["probabilities"],
                              dynamic_axes={"faces": {0: "batch"}, "probabilities": {0: "batch"}},
                              opset_version=opset, dynamo=False)
    except Exception as e:  # the exporter, deep in torch: any failure becomes one RunError naming the run
        raise RunError(f"torch could not export {run.name} to ONNX: {type(e).__name__}: {e}", path=run.path,
                       fix="report this model; the torch backend still predicts") from None
    from ..outputs import write_text, writing

    data = buf.getvalue()
    tmp = out.with_suffix(".onnx.tmp")
    try:
        with writing(out, "ONNX file"):
            tmp.write_bytes(data)
    except BaseException:
        tmp.unlink(missing_ok=True)  # half an export is no export
        raise
    diff = 0.0
    if check:
        faces = _check_faces(run, samples, seed=0)
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"faces": faces})[0]
        want = run.predict_proba(faces)
        diff = float(np.max(np.abs(got - want))) if got.size else 0.0
        if got.shape != want.shape or not diff <= atol:
            tmp.unlink(missing_ok=True)
            raise RunError(f"ONNX Runtime and PyTorch disagree on {run.name} (max |diff| {diff:.2e} > {atol:g})",
                           path=run.path, fix="export with another --opset, or predict with the torch backend")
    res = ExportResult(out, opset, [size, size, c], run.task.outputs, diff, samples if check else 0,
                       tmp.stat().st_size)
    tmp.replace(out)
    try:  # the description is written last; without it the export is not complete: no model.onnx
        write_text(sidecar, json.dumps({**res.to_dict(), "run": run.name, "kind": run.task.kind,
                                        "classes": run.task.classes, "input": "uint8 NHWC",
                                        "output": "probabilities", "weights_sha256": weights_digest(run.path)}, indent=1), "export description")
    except BaseException:
        out.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise
    return res
