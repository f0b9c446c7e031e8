"""``sensitivity``: sensitivity to weight perturbation (paper III.E, Fig. 8): test-time dropout on the weights of the
last two layers of the head's network (:class:`cmedl_bench.engine.dropout.WeightDropout`), rate 0.5, 10 passes per
test case; the spread of each case's DSC and the mean of the per-case standard deviations (mSD; 0.016 for CMEDL-Unet
against 0.024 for CBCT-only Unet in the paper).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.data.layout import load_index, read_volume
from cmedl_bench.data.preprocessing import prepare
from cmedl_bench.engine.devices import select_device
from cmedl_bench.engine.dropout import WeightDropout
from cmedl_bench.errors import CmedlError
from cmedl_bench.io.atomic import atomic_write_json
from cmedl_bench.results.figures import plot_sensitivity
from cmedl_bench.scoring import dice
from cmedl_bench.stages.models import finished_record, rebuild
from cmedl_bench.stages.progress import Reporter


def sensitivity(reporter: Reporter, run_dir: Path, head: str | None = None, passes: int = 10, rate: float = 0.5,
                seed: int = 0) -> dict[str, Any]:
    """Test-time dropout on a finished run: ``passes`` predictions per test case with dropout at ``rate`` on the
    weights of the head network's last two layers; per-case DSC spread and mSD. Writes ``sensitivity.json`` and
    ``sensitivity.png`` into the run folder."""
    run_dir = Path(run_dir)
    record = finished_record(run_dir)
    if not 0 < rate < 1 or passes < 2:
        raise CmedlError("--rate must be in (0, 1) and --passes at least 2")
    device = select_device(None)
    fusion = rebuild(record, device)
    head = head or fusion.selection_head
    if head not in fusion.heads:
        raise CmedlError(f"run {record.run_id} has no head {head!r}; heads: {', '.join(fusion.heads)}")
    preset = fusion.spec.preset
    index = load_index(Path(record.dataset.path))
    cases = index.split_cases("cbct", "test")[: preset.max_test_cases or None]
    dropout = WeightDropout(fusion.head_network(head), rate, seed)
    per_case: dict[str, dict[str, Any]] = {}
    depth = preset.patch_depth if fusion.dims == 3 else 1
    with reporter.task("test-time dropout", total=len(cases) * passes, info=head) as task:
        for case in cases:
            prepared = prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size, depth)
            reference = prepared.volume.label
            dropout.restore()
            unperturbed = dice(fusion.predict_probability(head, prepared) > 0.5, reference)
            scores = []
            for _ in range(passes):
                dropout.perturb()
                scores.append(dice(fusion.predict_probability(head, prepared) > 0.5, reference))
                task.advance()
            per_case[case.case_id] = {"dsc": scores, "mean": float(np.mean(scores)),
                                      "sd": float(np.std(scores, ddof=1)), "unperturbed": unperturbed}
    dropout.restore()
    result = {"run_id": record.run_id, "head": head, "passes": passes, "rate": rate, "seed": seed,
              "layers": [type(layer).__name__ for layer in dropout.layers], "cases": per_case,
              "mean_sd": float(np.mean([c["sd"] for c in per_case.values()]))}
    atomic_write_json(run_dir / "sensitivity.json", result)
    plot_sensitivity(result, run_dir / "sensitivity.png")
    return result
