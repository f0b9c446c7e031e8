"""Sensitivity to weight perturbation (paper III.E, Fig. 8): test-time dropout on the weights of the last two
layers of the head's network, rate 0.5, 10 passes per test case; the spread of each case's DSC and the mean of the
per-case standard deviations (mSD; 0.016 for CMEDL-Unet against 0.024 for CBCT-only Unet in the paper).

Dropped weights are zeroed and the kept ones scaled by 1 / (1 - rate) (inverted dropout, as ``torch.nn.Dropout``),
so that each layer's expected output is unchanged; the paper says only that weights were zeroed at random.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cmedl_bench.config import Preset
from cmedl_bench.data.layout import load_index, read_volume
from cmedl_bench.io.atomic import atomic_write_text
from cmedl_bench.io.checkpoints import load_checkpoint
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.engine.devices import select_device
from cmedl_bench.engine.fit import volume_dsc
from cmedl_bench.errors import CmedlError
from cmedl_bench.fusion import FusionSpec
from cmedl_bench.plugins import get_registry

_LAYERS = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)


def last_layers(network: nn.Module, count: int = 2) -> list[nn.Module]:
    """The last ``count`` weight layers in definition order (for the built-in networks, forward order)."""
    layers = [m for m in network.modules() if isinstance(m, _LAYERS)]
    return layers[-count:]


@torch.no_grad()
def _set_weights(layers: list[nn.Module], weights: list[torch.Tensor]) -> None:
    for layer, weight in zip(layers, weights):
        layer.weight.copy_(weight)


def rebuild(record: dict[str, Any], run_dir: Path, device: torch.device):
    """The fusion of a finished run with its best checkpoint loaded."""
    registry = get_registry()
    config = record["config"]
    translator = None if config["translator"] == "none" else registry.get("translator", config["translator"])
    spec = FusionSpec(registry.get("segmenter", config["segmenter"]), translator, Preset(**config["preset"]), device,
                      dict(config.get("options") or {}))
    fusion = registry.get("fusion", config["fusion"]).factory(spec)
    fusion.load_weights(load_checkpoint(run_dir / "best.pt", device)["weights"])
    fusion.train(False)
    return fusion


def run_sensitivity(run_dir: Path, record: dict[str, Any], head: str | None, passes: int, rate: float, seed: int,
                    quiet: bool, progress) -> dict[str, Any]:
    device = select_device(None)
    fusion = rebuild(record, run_dir, device)
    head = head or fusion.selection_head
    if head not in fusion.heads:
        raise CmedlError(f"run {record['run_id']} has no head {head!r}; heads: {', '.join(fusion.heads)}")
    preset = fusion.spec.preset
    index = load_index(Path(record["dataset"]["path"]))
    cases = index.split_cases("cbct", "test")[: preset.max_test_cases or None]
    layers = last_layers(fusion.head_network(head))
    originals = [layer.weight.detach().clone() for layer in layers]
    generator = torch.Generator(device="cpu").manual_seed(seed)
    per_case: dict[str, dict[str, Any]] = {}
    depth = preset.patch_depth if fusion.dims == 3 else 1
    with progress:
        task = progress.add_task("test-time dropout", total=len(cases) * passes, info=head)
        for case in cases:
            prepared = prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size, depth)
            reference = prepared.volume.label
            _set_weights(layers, originals)
            unperturbed = volume_dsc(fusion.predict_probability(head, prepared), reference)
            scores = []
            for _ in range(passes):
                _set_weights(layers, [w * (torch.rand(w.shape, generator=generator) >= rate).to(w.device) / (1 - rate)
                                      for w in originals])
                scores.append(volume_dsc(fusion.predict_probability(head, prepared), reference))
                progress.advance(task)
            per_case[case.case_id] = {"dsc": scores, "mean": float(np.mean(scores)),
                                      "sd": float(np.std(scores, ddof=1)), "unperturbed": unperturbed}
    _set_weights(layers, originals)
    result = {"run_id": record["run_id"], "head": head, "passes": passes, "rate": rate, "seed": seed,
              "layers": [type(layer).__name__ for layer in layers], "cases": per_case,
              "mean_sd": float(np.mean([c["sd"] for c in per_case.values()]))}
    atomic_write_text(run_dir / "sensitivity.json", json.dumps(result, indent=2))
    plot_sensitivity(result, run_dir / "sensitivity.png")
    return result


def plot_sensitivity(result: dict[str, Any], path: Path) -> None:
    """Per-case DSC under test-time dropout: box per case, unperturbed DSC as a dot (like the paper's Fig. 8)."""
    from cmedl_bench.results.figures import _pyplot, _save

    plt = _pyplot()
    names = list(result["cases"])
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 4))
    ax.boxplot([result["cases"][n]["dsc"] for n in names], showfliers=True)
    ax.plot(range(1, len(names) + 1), [result["cases"][n]["unperturbed"] for n in names], "r.", label="no dropout")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=60, fontsize=8)
    ax.set_ylabel("DSC")
    ax.set_ylim(0, 1)
    ax.set_title(f"{result['run_id']} [{result['head']}]: dropout {result['rate']} on the last two layers, "
                 f"{result['passes']} passes; mSD {result['mean_sd']:.3f}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
