"""``sensitivity``: sensitivity to weight perturbation (paper III.E, Fig. 8): test-time dropout on the weights of the last two
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
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.engine.devices import select_device
from cmedl_bench.errors import CmedlError
from cmedl_bench.io.atomic import atomic_write_text
from cmedl_bench.io.checkpoints import load_checkpoint
from cmedl_bench.results.figures import plot_sensitivity
from cmedl_bench.results.records import read_record
from cmedl_bench.scoring import dice
from cmedl_bench.stages.building import build_fusion
from cmedl_bench.stages.progress import Reporter

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
    config = record["config"]
    fusion = build_fusion(config["fusion"], config["segmenter"], config["translator"], Preset(**config["preset"]),
                          device, config.get("options"))
    fusion.load_weights(load_checkpoint(run_dir / "best.pt", device)["weights"])
    fusion.train(False)
    return fusion


def sensitivity(reporter: Reporter, run_dir: Path, head: str | None = None, passes: int = 10, rate: float = 0.5,
                seed: int = 0) -> dict[str, Any]:
    """Test-time dropout on a finished run: ``passes`` predictions per test case with dropout at ``rate`` on the
    weights of the head network's last two layers; per-case DSC spread and mSD. Writes ``sensitivity.json`` and
    ``sensitivity.png`` into the run folder."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    if record is None or record.get("status") != "finished":
        raise CmedlError(f"{run_dir} is not a finished run folder (no run.json with status finished)")
    if not 0 < rate < 1 or passes < 2:
        raise CmedlError("--rate must be in (0, 1) and --passes at least 2")
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
    with reporter.task("test-time dropout", total=len(cases) * passes, info=head) as task:
        for case in cases:
            prepared = prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size, depth)
            reference = prepared.volume.label
            _set_weights(layers, originals)
            unperturbed = dice(fusion.predict_probability(head, prepared) > 0.5, reference)
            scores = []
            for _ in range(passes):
                _set_weights(layers, [w * (torch.rand(w.shape, generator=generator) >= rate).to(w.device) / (1 - rate)
                                      for w in originals])
                scores.append(dice(fusion.predict_probability(head, prepared) > 0.5, reference))
                task.advance()
            per_case[case.case_id] = {"dsc": scores, "mean": float(np.mean(scores)),
                                      "sd": float(np.std(scores, ddof=1)), "unperturbed": unperturbed}
    _set_weights(layers, originals)
    result = {"run_id": record["run_id"], "head": head, "passes": passes, "rate": rate, "seed": seed,
              "layers": [type(layer).__name__ for layer in layers], "cases": per_case,
              "mean_sd": float(np.mean([c["sd"] for c in per_case.values()]))}
    atomic_write_text(run_dir / "sensitivity.json", json.dumps(result, indent=2))
    plot_sensitivity(result, run_dir / "sensitivity.png")
    return result
