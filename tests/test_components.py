"""Contract tests over every registered segmenter and fusion (timm's test_model_forward over list_models()),
and the paper's parameter count."""

import pytest
import torch

from cmedl_bench.config import PRESETS
from cmedl_bench.plugins import get_registry

SEGMENTERS = get_registry().names("segmenter")
FUSIONS = get_registry().names("fusion")


def test_unet_has_the_papers_parameter_count():
    unet = get_registry().get("segmenter", "unet")
    model = unet.factory(in_channels=1, out_channels=1, width=1.0)
    count = sum(p.numel() for p in model.parameters())
    assert count == 13_394_177 == unet.capabilities["paper_parameters"]


def test_unet_hint_layers_have_the_papers_shapes():
    model = get_registry().get("segmenter", "unet").factory(in_channels=1, out_channels=1, width=1.0).eval()
    with torch.no_grad():
        logits, (penultimate, last) = model(torch.zeros(1, 1, 256, 256), return_features=True)
    assert logits.shape == (1, 1, 256, 256)
    assert penultimate.shape == (1, 64, 128, 128) and last.shape == (1, 64, 256, 256)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmenter_forward_backward(name):
    component = get_registry().get("segmenter", name)
    if component.capabilities.get("dims", 2) != 2:
        pytest.skip("3D segmenters have their own contract")
    torch.manual_seed(0)
    model = component.factory(in_channels=2, out_channels=1, width=0.125)
    x = torch.randn(2, 2, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 1, 32, 32)
    logits.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    if component.capabilities.get("hint_features"):
        _, features = model(x, return_features=True)
        assert len(features) == 2 and all(f.shape[0] == 2 for f in features)


@pytest.mark.parametrize("fusion_name", FUSIONS)
@pytest.mark.parametrize("segmenter_name", SEGMENTERS)
def test_fusion_trains_one_step_and_predicts(fusion_name, segmenter_name):
    from cmedl_bench.fusion import FusionSpec

    registry = get_registry()
    fusion, segmenter = registry.get("fusion", fusion_name), registry.get("segmenter", segmenter_name)
    if segmenter.capabilities.get("dims", 2) not in fusion.capabilities.get("dims", (2,)):
        pytest.skip("incompatible pair")
    if fusion.capabilities.get("needs_translator"):
        pytest.skip("translator fusions are covered with the translators")
    torch.manual_seed(0)
    obj = fusion.factory(FusionSpec(segmenter, None, PRESETS["smoke"], torch.device("cpu")))
    before = {k: v.clone() for k, v in obj.weights()["segmenter"].items()}
    batch = {"cbct": torch.randn(2, 1, 32, 32), "cbct_label": (torch.rand(2, 1, 32, 32) > 0.7).float()}
    losses = obj.train_step(batch)
    assert all(torch.isfinite(v) for v in losses.values())
    after = obj.weights()["segmenter"]
    assert any(not torch.equal(before[k], after[k]) for k in before)
    obj.train(False)
    for head in fusion.capabilities["heads"]:
        assert obj.predict_logits(head, batch["cbct"]).shape == (2, 1, 32, 32)
