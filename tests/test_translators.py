"""Translator plugins: the paper's sizes, one training step each, the contextual loss, VGG19 loading, KL."""

import json
import warnings

import numpy as np
import pytest
import scipy.stats
import torch

from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import get_registry
from cmedl_bench.translator import ImagePool, TranslatorSpec, gan_loss, to_unit_range
from tests.conftest import cli

#: the learning translators (the reference ones, oracle and identity, learn nothing: tests/test_diagnostics.py)
TRANSLATORS = [name for name in get_registry().names("translator") if name not in ("oracle", "identity")]


def test_cyclegan_has_the_reference_parameter_counts():
    from cmedl_bench_plugins.cyclegan_nets import PatchDiscriminator, ResnetGenerator

    expected = get_registry().get("translator", "cycle").info.paper_parameters
    assert sum(p.numel() for p in ResnetGenerator(1, 1, 1.0).parameters()) == expected["generator"] == 11_365_633
    assert sum(p.numel() for p in PatchDiscriminator(1, 1.0).parameters()) == expected["discriminator"] == 2_763_585


def test_patchgan_has_a_70_pixel_receptive_field():
    from cmedl_bench_plugins.cyclegan_nets import PatchDiscriminator

    d = PatchDiscriminator(1, 0.125).eval()
    x = torch.zeros(1, 1, 140, 140, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1))
    assert int(rows.max() - rows.min() + 1) == 70


@pytest.mark.parametrize("name", TRANSLATORS)
def test_translator_trains_one_step_and_translates(name):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cx without VGG19 weights warns
        model = get_registry().get("translator", name).factory(TranslatorSpec(0.125, 1e-3, torch.device("cpu")))
    cbct, mri = torch.rand(2, 1, 64, 64) * 2 - 1, torch.rand(2, 1, 64, 64) * 2 - 1
    before = {n: [p.clone() for p in m.parameters()] for n, m in model.modules().items()}
    losses = model.train_step(cbct, mri)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    for n, m in model.modules().items():  # generators and discriminators were both updated
        assert any(not torch.equal(a, b) for a, b in zip(before[n], m.parameters())), n
    model.train(False)
    with torch.no_grad():
        pmri, pcbct = model.to_mri(cbct), model.to_cbct(mri)
    assert pmri.shape == pcbct.shape == (2, 1, 64, 64)
    assert pmri.abs().max() <= 1.0


def test_gan_loss_forms():
    logits = torch.tensor([0.0, 2.0])
    assert gan_loss(logits, True, "log") == pytest.approx(float(torch.nn.functional.softplus(-logits).mean()))
    assert gan_loss(logits, False, "lsgan") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="gan_mode"):
        gan_loss(logits, True, "wgan")


def test_image_pool_returns_history_once_full():
    pool = ImagePool(size=3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as given
    mixed = torch.cat([pool.query(torch.full((1, 1, 1, 1), 10.0 + k)) for k in range(50)])
    assert (mixed < 10).any() and (mixed >= 10).any()  # some old images come back, some new pass through


def test_unit_range_clips_at_three_sd():
    assert to_unit_range(torch.tensor([-6.0, -1.5, 0.0, 3.0, 9.0])).tolist() == [-1.0, -0.5, 0.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- contextual loss


@pytest.mark.parametrize("block_elements", [1 << 22, 50, 1])
def test_blocked_contextual_loss_equals_naive(monkeypatch, block_elements):
    from cmedl_bench_plugins import contextual

    monkeypatch.setattr(contextual, "BLOCK_ELEMENTS", block_elements)
    torch.manual_seed(1)
    layers = [(2, 16, 6, 5), (2, 32, 3, 3)]
    gen = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in layers]
    tgt = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in layers]
    naive = contextual.contextual_loss(gen, tgt, naive=True)
    blocked = contextual.contextual_loss(gen, tgt)
    assert blocked.item() == pytest.approx(naive.item(), abs=1e-5)
    grads_naive = torch.autograd.grad(naive, gen + tgt)
    grads_blocked = torch.autograd.grad(blocked, gen + tgt)
    for a, b in zip(grads_naive, grads_blocked):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_contextual_loss_is_zero_for_identical_features():
    from cmedl_bench_plugins.contextual import contextual_loss

    x = torch.randn(1, 8, 5, 5)
    assert float(contextual_loss([x], [x.clone()])) == pytest.approx(0.0, abs=1e-3)
    assert float(contextual_loss([torch.randn(1, 8, 5, 5)], [x])) > 0.1


# ----------------------------------------------------------------------------- VGG19


def test_vgg19_paper_layers_have_the_papers_shapes():
    from cmedl_bench_plugins.vgg19 import VGG19Features

    with torch.no_grad():
        features = VGG19Features()(torch.zeros(1, 1, 64, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(256, 16, 16), (256, 16, 16), (512, 8, 8)]


def test_vgg19_without_weights_is_random_init_and_fixed(monkeypatch, tmp_path):
    from cmedl_bench_plugins.vgg19 import load_vgg19

    monkeypatch.delenv("CMEDL_BENCH_VGG19", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="random VGG19"):
        a, provenance = load_vgg19()
    with pytest.warns(UserWarning):
        b, _ = load_vgg19()
    assert provenance == "random-init"
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _torchvision_style_state(tmp_path):
    from cmedl_bench_plugins.vgg19 import VGG19Features

    model = VGG19Features(("conv16",))
    state = {f"features.{k}": torch.randn_like(v) for k, v in model.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    return path, state


def test_vgg19_loads_torchvision_state_dict_from_env(monkeypatch, tmp_path):
    from cmedl_bench_plugins.vgg19 import load_vgg19

    path, state = _torchvision_style_state(tmp_path)
    monkeypatch.setenv("CMEDL_BENCH_VGG19", str(path))
    model, provenance = load_vgg19()
    assert provenance.startswith("imagenet:vgg19-dcbb9e9d.pth:")
    assert torch.equal(model.features[0].weight, state["features.0.weight"])



def test_a_narrower_loss_network_keeps_the_first_filters_of_each_layer(monkeypatch, tmp_path):
    """``loss_network_width`` 0.25: a quarter of each layer's filters (the truncated ImageNet network keeps the first
    filters and their weights on the kept inputs), a quarter of the features' channels, and a refused width."""
    from cmedl_bench.errors import CmedlError
    from cmedl_bench_plugins.vgg19 import load_vgg19

    path, state = _torchvision_style_state(tmp_path)
    monkeypatch.setenv("CMEDL_BENCH_VGG19", str(path))
    model, _ = load_vgg19(width=0.25)
    assert torch.equal(model.features[0].weight, state["features.0.weight"][:16])
    assert torch.equal(model.features[2].weight, state["features.2.weight"][:16, :16])
    with torch.no_grad():
        features = model(torch.zeros(1, 1, 64, 64))
    assert [f.shape[1] for f in features] == [64, 64, 128]
    with pytest.raises(CmedlError, match="loss_network_width must be in"):
        load_vgg19(width=0)


def test_vgg19_from_torch_hub_cache(monkeypatch, tmp_path):
    from cmedl_bench_plugins.vgg19 import load_vgg19

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    _torchvision_style_state(checkpoints)
    monkeypatch.delenv("CMEDL_BENCH_VGG19", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert load_vgg19()[1].startswith("imagenet:")


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint", "cannot be read as a torch state dict"),
    (None, "is not a torchvision vgg19 state dict"),
])
def test_vgg19_bad_files_are_clear_errors(tmp_path, content, message):
    from cmedl_bench_plugins.vgg19 import load_vgg19

    path = tmp_path / "vgg.pth"
    if content is None:
        torch.save({"conv.weight": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CmedlError, match=message):
        load_vgg19(weights=path)
    with pytest.raises(CmedlError, match="does not exist"):
        load_vgg19(weights=tmp_path / "missing.pth")


def test_cli_bad_vgg19_is_one_line(tmp_path, small_phantom):
    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"garbage")
    result = cli("translate", "--translator", "cx", "--preset", "smoke", "--data", str(small_phantom),
                 "--vgg19", str(bad), "--results", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot be read as a torch state dict" in lines[0], result.stderr


# ----------------------------------------------------------------------------- KL


def test_kl_matches_scipy_and_is_zero_for_equal_distributions():
    from cmedl_bench_plugins.translation_metrics import histogram, kl

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.3, 5000), rng.normal(0.2, 0.4, 5000)
    assert kl(a, a).value == pytest.approx(0.0, abs=1e-12)
    assert kl(a, b).value == pytest.approx(scipy.stats.entropy(histogram(b), histogram(a)))
    assert kl(a, b).value > 0.05


# ----------------------------------------------------------------------------- translate end to end


@pytest.mark.parametrize("name", ["cycle", "cx"])
def test_translate_smoke_run(name, small_phantom, tmp_path):
    result = cli("translate", "--translator", name, "--preset", "smoke", "--data", str(small_phantom),
                 "--results", str(tmp_path), "--quiet", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    run_dir = tmp_path / record["run_id"]
    assert record["status"] == "finished" and record["plugins"]["translator"]["name"] == name
    assert record["summary"]["test"]["pmri"]["kl"]["n"] == record["summary"]["test"]["cbct"]["kl"]["n"] >= 1
    weights = torch.load(run_dir / "translator.pt", weights_only=True)["weights"]
    assert {"g_cm", "g_mc", "d_m", "d_c"} <= set(weights)
    assert (run_dir / "translation_examples.png").stat().st_size > 5000
    if name == "cx":
        assert record["translator"]["cx_features"] == "random-init"
        assert "random VGG19" in result.stderr
