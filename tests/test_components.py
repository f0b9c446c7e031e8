"""Contract tests over every registered segmenter and fusion (timm's test_model_forward over list_models()),
and the paper's parameter count."""

import pytest
import torch

from cmedl_bench.config import PRESETS
from cmedl_bench.registry import get_registry

SEGMENTERS = get_registry().names("segmenter")
FUSIONS = get_registry().names("fusion")


@pytest.mark.parametrize("name, expected", [("unet", 13_394_177), ("densefcn57", 1_374_001)])
def test_segmenters_have_the_papers_parameter_counts(name, expected):
    component = get_registry().get("segmenter", name)
    model = component.factory(in_channels=1, out_channels=1, width=1.0)
    assert sum(p.numel() for p in model.parameters()) == expected == component.info.paper_parameters


def test_unet_hint_layers_have_the_papers_shapes():
    model = get_registry().get("segmenter", "unet").factory(in_channels=1, out_channels=1, width=1.0).eval()
    with torch.no_grad():
        logits, (penultimate, last) = model(torch.zeros(1, 1, 256, 256), return_features=True)
    assert logits.shape == (1, 1, 256, 256)
    assert penultimate.shape == (1, 64, 128, 128) and last.shape == (1, 64, 256, 256)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmenter_forward_backward(name):
    component = get_registry().get("segmenter", name)
    spatial = (32, 32) if component.info.dims == 2 else (8, 32, 32)
    torch.manual_seed(0)
    model = component.factory(in_channels=2, out_channels=1, width=0.125)
    x = torch.randn(2, 2, *spatial)
    logits = model(x)
    assert logits.shape == (2, 1, *spatial)
    logits.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    if component.info.hint_features:
        _, features = model(x, return_features=True)
        assert len(features) == 2 and all(f.shape[0] == 2 for f in features)


def _combinations():
    """Every fusion x segmenter x translator (or none) that :func:`cmedl_bench.selection.select` accepts."""
    from cmedl_bench.errors import PluginError
    from cmedl_bench.selection import select

    registry = get_registry()
    for fusion_name in FUSIONS:
        for segmenter_name in SEGMENTERS:
            for translator_name in ["none", *registry.names("translator")]:
                try:
                    select(registry, translator_name, segmenter_name, fusion_name, "phantom")
                except PluginError:
                    continue
                translator = None if translator_name == "none" else translator_name
                yield pytest.param(fusion_name, segmenter_name, translator,
                                   id=f"{fusion_name}-{segmenter_name}-{translator}")


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
@pytest.mark.parametrize("fusion_name, segmenter_name, translator_name", list(_combinations()))
def test_fusion_trains_one_step_and_predicts(fusion_name, segmenter_name, translator_name):
    """Every fusion x compatible segmenter x compatible translator: one training step, then every head predicts.
    (A two-stage fusion's translator stage is exercised end to end in test_fusions.)"""
    from cmedl_bench.stages.building import build_fusion

    torch.manual_seed(0)
    obj = build_fusion(fusion_name, segmenter_name, translator_name or "none", PRESETS["smoke"], torch.device("cpu"))
    trained = [name for name, opt in obj.optimizers().items() if name.startswith("segment")]
    before = {name: {k: v.clone() for k, v in obj.weights()[name].items()} for name in obj.modules()}
    shape = (2, 1, 32, 32) if obj.dims == 2 else (2, 1, 8, 32, 32)
    batch = {"cbct": torch.randn(shape), "cbct_label": (torch.rand(shape) > 0.7).float(),
             "mri": torch.randn(shape), "mri_label": (torch.rand(shape) > 0.7).float(),
             "cbct_aligned": torch.randn(shape)}  # where the dataset has aligned MRI (phantom v4)
    obj.train(True)
    losses = obj.train_step({k: v for k, v in batch.items() if k.split("_")[0] in obj.cohorts})
    assert trained and all(torch.isfinite(v) for v in losses.values())
    after = obj.weights()
    changed = {name for name in before if any(not torch.equal(before[name][k], after[name][k]) for k in before[name])}
    assert changed & {"segmenter", "student", "teacher"}, changed
    obj.train(False)
    info = get_registry().get("fusion", fusion_name).info
    aligned = {"aligned": batch["cbct_aligned"]} if info.aligned_mri != "unused" else {}
    for head in info.heads:
        assert obj.predict_logits(head, batch["cbct"], **aligned).shape == shape
