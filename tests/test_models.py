"""Every registered model trains a step and round-trips through save/load; weights files load safely."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facelab.errors import ConfigError
from facelab.models import get_model, list_models
from facelab.train.modelinfo import model_info
from facelab.train.weights import head_prefix, load_matching, read_state_dict

torch.set_num_threads(2)
SMALL = {"cnn": {"widths": [8, 16], "depths": [1, 1]}, "mobilenetv2": {"width_mult": 0.25}}


def _inputs(estimator, n: int = 24, seed: int = 0):
    """Faces (or face descriptors, for a model that takes them) and a label that depends on them."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
    y = (x[:, :, :16].mean((1, 2, 3)) > x[:, :, 16:].mean((1, 2, 3))).astype(np.int64)
    if estimator.takes_descriptors:
        x = rng.normal(size=(n, 128)).astype(np.float32)
        x[:, 0] += 2 * y  # the label shows in the first dimension
    return x, y


def _params(est) -> dict:
    """An estimator's constructor parameters as it holds them (public, not learned: no ``_`` at the end)."""
    return {k: v for k, v in vars(est).items() if not k.startswith("_") and not k.endswith("_")}


# The common checks (as scikit-learn's parametrize_with_checks and timm's registry tests): every
# registered model, whatever its family, satisfies the one contract of facelab.models.adapter.
@pytest.mark.parametrize("task,outputs", [("binary", 1), ("multiclass", 2)])
@pytest.mark.parametrize("name", list_models())
def test_every_model_satisfies_the_contract(name, task, outputs, tmp_path):
    import json

    from facelab.models.adapter import ADAPTERS, Adapter, adapt

    spec = get_model(name)
    assert spec.kind in ADAPTERS and spec.adapter is type(adapt(spec, in_channels=3, outputs=outputs, task=task,
                                                                   params=SMALL.get(name)))
    m = adapt(spec, in_channels=3, outputs=outputs, task=task, params=SMALL.get(name))
    assert isinstance(m, Adapter)
    x, y = _inputs(m)
    before = _params(m.model) if not m.trains_in_epochs else None
    assert m.fit(x, y) is m  # fit returns self
    if before is not None:  # scikit-learn manners: fit learns attributes ending in _, leaves params alone
        assert _params(m.model) == before
        assert any(k.endswith("_") and not k.startswith("_") for k in vars(m.model))
    p = m.predict_proba(x)
    assert p.shape == (len(x), outputs) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    if task == "multiclass":
        np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    e = m.embed(x)
    assert e.ndim == 2 and len(e) == len(x) and e.shape[1] > 0 and np.isfinite(e).all()
    d = m.describe()
    assert d["name"] == name and d["task"] == task and d["outputs"] == outputs
    json.dumps(d)  # plain values
    weights = m.export(tmp_path / "w.safetensors")
    again = adapt(spec, in_channels=3, outputs=outputs, task=task, params=SMALL.get(name)).load(weights)
    np.testing.assert_allclose(again.predict_proba(x), p, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in list_models() if get_model(n).trains_in_epochs])
def test_every_network_trains_a_step_and_exposes_features(name):
    spec = get_model(name)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
    y = (x[:, :, :16].mean((1, 2, 3)) > x[:, :, 16:].mean((1, 2, 3))).astype(np.int64)
    net = spec.build(3, 2, **{**spec.default_params, **SMALL.get(name, {})})
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss = torch.nn.functional.cross_entropy(net(xt), torch.from_numpy(y))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.features(xt).shape == (24, net.head.in_features)


@pytest.mark.parametrize("name", [n for n in list_models() if get_model(n).trains_in_epochs])
def test_model_info_counts_parameters_and_flops(name):
    info = model_info(name, size=32, channels=1)
    assert info.parameters > 1000 and info.flops > info.parameters  # a conv net reuses its weights
    assert model_info(name, size=64, channels=1).flops > 3 * info.flops  # 4x the pixels


def test_torchvision_parameter_names():
    r = get_model("resnet18").build(3, 1000).state_dict()
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "layer4.1.bn2.weight", "fc.weight", "fc.bias"} <= set(r)
    assert sum(v.numel() for k, v in r.items() if "running" not in k and "num_batches" not in k) == 11_689_512
    m = get_model("mobilenetv2").build(3, 1000).state_dict()
    assert {"features.0.0.weight", "features.0.1.weight", "features.1.conv.0.0.weight",
            "features.2.conv.3.weight", "features.18.0.weight", "classifier.1.weight"} <= set(m)
    assert sum(v.numel() for k, v in m.items() if "running" not in k and "num_batches" not in k) == 3_504_872


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_published_style_checkpoint_loads_into_a_grey_model(tmp_path, suffix):
    # A "published" ImageNet checkpoint: 1000 classes, RGB, torchvision names.
    src = get_model("resnet18").build(3, 1000)
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".pth":
        torch.save(src.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file(src.state_dict(), str(path))
    net = get_model("resnet18").build(1, 7)
    rep = load_matching(net, read_state_dict(path), source=str(path), model_name="resnet18")
    assert rep.loaded == rep.total and rep.adapted == ["conv1.weight"]
    torch.testing.assert_close(net.conv1.weight, src.conv1.weight.sum(1, keepdim=True))
    torch.testing.assert_close(net.layer3[1].conv2.weight, src.layer3[1].conv2.weight)
    assert net.fc.weight.shape == (7, 512) and head_prefix(net) == "fc."


def test_wrong_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(get_model("resnet18").build(3, 1000).state_dict(), path)
    net = get_model("mobilenetv2").build(3, 1)
    with pytest.raises(ConfigError, match="does not fit mobilenetv2") as e:
        load_matching(net, read_state_dict(path), source=str(path), model_name="mobilenetv2")
    assert "unexpected e.g." in str(e.value) and e.value.fix


def test_not_a_weights_file_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(ConfigError, match="not a weights file"):
        read_state_dict(text)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match="not a weights file"):
        read_state_dict(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pth")


class Payload:  # an arbitrary object: weights_only loading must refuse to unpickle it
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_objects_are_never_unpickled(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"w": Payload()}, path)
    with pytest.raises(ConfigError, match="not a weights file"):
        read_state_dict(path)
    assert "code ran" not in capsys.readouterr().out
    plain = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], plain)
    with pytest.raises(ConfigError, match="does not hold a state_dict"):
        read_state_dict(plain)


def test_cnn_shape_options():
    net = get_model("cnn").build(1, 7, widths=[16, 32, 64], depths=[0, 1, 2])
    assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    assert net.features(torch.zeros(2, 1, 48, 48)).shape == (2, 64)
