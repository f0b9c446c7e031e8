"""Training-step throughput, eager fp32 against the optimised path, in the same run.

Steps: CBCT only (``unet`` + ``none``) and CMEDL (``cx`` + ``unet`` + ``hint``: two translator generators, two
discriminators, VGG19 for the contextual loss, student and teacher U-Nets) at the preset a user of the device runs:
on a GPU the ``paper`` preset (full-width networks at 256 x 256) at batch 2 (the paper's) and 8, on the CPU the
``cpu`` preset (quarter-width U-Nets, eighth-width translators, 96 x 96 crops) at its batch 8. Variants:

- ``eager-fp32``: no autocast, no channels-last, no compilation (the baseline of each group);
- ``optimised``: what a run does on its device (on CUDA: bf16 autocast, channels-last, fused Adam, cuDNN autotuning
  and ``torch.compile`` of every module; on the CPU nothing changes but the memory layout a run uses).

Each measurement also counts the model FLOPs of one step (``torch.utils.flop_counter``) and reports achieved
FLOP/s as a fraction of two peaks: the device's dense matrix-multiply throughput measured in the same run (bf16 on
a GPU, fp32 on the CPU, which trains in fp32), and on a GPU whose data sheet is known, its bf16 dense peak. The
matrix-multiply reference is measured again right after each step's measurement (interleaved: a shared or
throttling machine moves both), never once for the whole session.

    python -m pytest benchmarks/test_training_step.py --benchmark-enable --benchmark-only
"""

import functools
import time
from dataclasses import replace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cmedl_bench.config import PRESETS
from cmedl_bench.engine.performance import tune_for_device, to_device
from cmedl_bench.stages.building import build_fusion

#: dense bf16 tensor-core peak, TFLOP/s (vendor data sheets; SXM parts)
PEAK_BF16_TFLOPS = {"H200": 989.5, "H100": 989.5, "A100": 312.0, "L40S": 362.1, "V100": 125.0}
STEPS = {"cbct-only": ("none", "unet", "none"), "cmedl": ("cx", "unet", "hint")}
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
PRESET = PRESETS["paper" if DEVICE.type == "cuda" else "cpu"]
BATCHES = [2, 8] if DEVICE.type == "cuda" else [PRESET.batch_size]


def _peak_flops() -> float | None:
    if DEVICE.type != "cuda":
        return None
    name = torch.cuda.get_device_name(DEVICE)
    return next((tflops * 1e12 for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)


def _measured_peak() -> float:
    """Best of several large square matrix products, FLOP/s: bf16 on CUDA, fp32 on the CPU."""
    n, dtype, repeats = (8192, torch.bfloat16, 10) if DEVICE.type == "cuda" else (2048, torch.float32, 1)
    a, b = (torch.randn(n, n, device=DEVICE, dtype=dtype) for _ in range(2))
    best = float("inf")
    for _ in range(6):
        _synchronise()
        tic = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _synchronise()
        best = min(best, (time.perf_counter() - tic) / repeats)
    return 2 * n**3 / best


def _fusion(step: str, batch: int, optimised: bool):
    translator, segmenter, fusion = STEPS[step]
    preset = replace(PRESET, batch_size=batch, mixed_precision=optimised, compile=optimised and DEVICE.type == "cuda")
    torch.manual_seed(0)
    built = build_fusion(fusion, segmenter, translator, preset, DEVICE, {"gan_mode": "log"})
    if optimised:
        tune_for_device(built.modules(), DEVICE, compile_modules=preset.compile)
    built.train(True)
    return built


def _batch(batch: int, with_mri: bool, optimised: bool) -> dict[str, torch.Tensor]:
    """Random crops with a disc-shaped tumour, moved as a run moves them (``to_device``) on the optimised path."""
    generator = torch.Generator().manual_seed(1)
    move = (lambda t: to_device(t, DEVICE)) if optimised else (lambda t: t.to(DEVICE))
    size = PRESET.crop_size
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disc = (((yy - size // 2) ** 2 + (xx - size // 2 + 8) ** 2) < (size // 8) ** 2).float()
    disc = disc.expand(batch, 1, size, size).contiguous()
    out = {}
    for cohort in ("cbct", "mri") if with_mri else ("cbct",):
        out[cohort] = move(torch.randn(batch, 1, size, size, generator=generator))
        out[f"{cohort}_label"] = move(disc)
    return out


@functools.lru_cache(maxsize=None)
def _flops(step: str, batch: int) -> int:
    """Model FLOPs of one training step (forward, backward, optimiser), counted on the eager model."""
    fusion = _fusion(step, batch, optimised=False)
    with FlopCounterMode(display=False) as counter:
        _step(fusion, _batch(batch, "mri" in fusion.cohorts, optimised=False))
    return counter.get_total_flops()


def _synchronise() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _step(fusion, batch):
    losses = fusion.train_step(batch)
    _synchronise()
    return losses


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("variant", ["eager-fp32", "optimised"])
def test_training_step(benchmark, record_value, step, batch, variant):
    benchmark.group = f"{step} batch {batch} ({DEVICE.type})"
    flops = _flops(step, batch)
    fusion = _fusion(step, batch, variant == "optimised")
    data = _batch(batch, "mri" in fusion.cohorts, variant == "optimised")
    _step(fusion, data)  # warm-up: compiles the optimised variant, autotunes cuDNN, creates the optimiser state
    rounds = 5 if DEVICE.type == "cuda" else 3
    warmup = 1 if DEVICE.type == "cuda" else 0
    losses = benchmark.pedantic(_step, args=(fusion, data), rounds=rounds, warmup_rounds=warmup)
    assert all(torch.isfinite(v).all() for v in losses.values())
    if benchmark.stats is None:
        return
    seconds = benchmark.stats.stats.mean
    role = "baseline" if variant == "eager-fp32" else variant
    record_value(f"{step} b{batch} slices/s", role, batch / seconds, "sl/s")
    record_value(f"{step} b{batch} TFLOP/s", role, flops / seconds / 1e12, "TF/s")
    matmul = _measured_peak()  # interleaved: measured now, next to these steps
    record_value(f"{step} b{batch} matmul peak ({DEVICE.type})", role, matmul / 1e12, "TF/s")
    record_value(f"{step} b{batch} % of matmul peak", role, 100 * flops / seconds / matmul, "%")
    peak = _peak_flops()
    if peak:
        record_value(f"{step} b{batch} % of bf16 peak", role, 100 * flops / seconds / peak, "%")
