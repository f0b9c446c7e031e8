"""The training step queues device work without waiting for it (issue 7): no operation inside a step reads a
device value back to the host, and every host-to-device copy is non-blocking.

On a GPU such a read-back (``.item()``, ``float(t)``, ``if t:``, boolean indexing, ``torch.unique``, ``nonzero``)
stalls the host until all queued kernels have run. These tests find them on the CPU: a dispatch mode records every
aten operation of one step, a function mode every ``Tensor.to`` copy, and the operations that must synchronise on a
GPU are refused. The steps run as on CUDA: with fused Adam (torch's default Adam reads its step counter with
``.item()``, a host-side tensor on a GPU but indistinguishable from a device read-back here). Losses are read back
only at the logging interval (once per epoch in ``engine.fit`` and ``engine.translate``).
"""

from dataclasses import replace

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from cmedl_bench.config import PRESETS
from cmedl_bench.engine.augment import augment
from cmedl_bench.engine.performance import to_device
from cmedl_bench.stages.building import build_fusion
from cmedl_bench.registry import get_registry
from cmedl_bench.translator import build_translator, to_unit_range

#: aten operations whose result size or value the host must wait for on a GPU
SYNCHRONISING = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique", "_unique2",
                 "unique_consecutive", "unique_dim", "equal", "is_nonzero", "allclose", "masked_scatter"}


class _Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.synchronising: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        boolean_index = name == "index" and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] if len(args) > 1 else []) or [])
        if name in SYNCHRONISING or boolean_index:
            self.synchronising.append(str(func))
        return func(*args, **(kwargs or {}))


class _Copies(TorchFunctionMode):
    """``Tensor.to(device)`` calls that would block the host (no ``non_blocking=True``)."""

    def __init__(self):
        super().__init__()
        self.blocking: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to:
            names_device = any(isinstance(a, (torch.device, str)) for a in args[1:]) or "device" in kwargs
            if names_device and not kwargs.get("non_blocking", False):
                self.blocking.append(f"Tensor.to{tuple(str(a) for a in args[1:])}")
        return func(*args, **kwargs)


ROWS = [("none", "unet", "none"), ("cycle", "unet", "pmri"), ("unit", "unet", "pmri"),
        ("cycle", "unet", "two-channel"), ("cx", "unet", "hint"), ("cx", "densefcn57", "hint"),
        ("none", "unet3d", "none")]


@pytest.fixture(autouse=True)
def fused_adam(monkeypatch):
    class FusedAdam(torch.optim.Adam):
        def __init__(self, params, **kwargs):
            super().__init__(params, **{**kwargs, "fused": True})

    monkeypatch.setattr(torch.optim, "Adam", FusedAdam)


def _fusion(translator: str, segmenter: str, fusion: str):
    preset = replace(PRESETS["smoke"], batch_size=2)
    torch.manual_seed(0)
    built = build_fusion(fusion, segmenter, translator, preset, torch.device("cpu"), {"gan_mode": "log"})
    built.train(True)
    return built


def _batch(fusion, generator: torch.Generator) -> dict[str, torch.Tensor]:
    size, depth = 32, 8
    shape = (2, 1, depth, size, size) if fusion.dims == 3 else (2, 1, size, size)
    batch = {}
    for cohort in fusion.cohorts:
        image = to_device(torch.randn(*shape, generator=generator), fusion.device)
        mask = to_device((torch.rand(*shape, generator=generator) > 0.7).float(), fusion.device)
        batch[cohort], batch[f"{cohort}_label"] = image, mask
    return batch


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
@pytest.mark.parametrize("row", ROWS, ids=["-".join(r) for r in ROWS])
def test_training_step_never_waits_for_the_device(row):
    fusion = _fusion(*row)
    generator = torch.Generator().manual_seed(0)
    fusion.train_step(_batch(fusion, generator))  # first step: optimiser state is created
    recorder, copies = _Recorder(), _Copies()
    with copies, recorder:
        losses = fusion.train_step(_batch(fusion, generator))
    assert recorder.synchronising == [], f"{'-'.join(row)} reads device values back: {recorder.synchronising}"
    assert copies.blocking == [], f"{'-'.join(row)} copies with a blocking transfer: {copies.blocking}"
    assert losses and all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
@pytest.mark.parametrize("name", ["cycle", "unit", "cx"])
def test_translator_step_never_waits_for_the_device(name):
    """A translator trained on its own (``translate``, and the first stage of ``pmri`` and ``two-channel``)."""
    translator = build_translator(get_registry().get("translator", name), PRESETS["smoke"], torch.device("cpu"),
                                  {"gan_mode": "log"})
    translator.train(True)
    generator = torch.Generator().manual_seed(0)

    def images():
        return [to_unit_range(to_device(torch.randn(2, 1, 32, 32, generator=generator), torch.device("cpu")))
                for _ in range(2)]

    translator.train_step(*images())
    recorder, copies = _Recorder(), _Copies()
    with copies, recorder:
        losses = translator.train_step(*images())
    assert recorder.synchronising == [] and copies.blocking == [], (recorder.synchronising, copies.blocking)
    assert losses and all(torch.isfinite(v) for v in losses.values())


def test_augmentation_never_waits_for_the_device():
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(4, 1, 32, 32, generator=generator)
    mask = (torch.rand(4, 1, 32, 32, generator=generator) > 0.7).float()
    recorder, copies = _Recorder(), _Copies()
    with copies, recorder:
        augment(image, mask, generator)
    assert recorder.synchronising == [] and copies.blocking == []


def test_the_recorder_sees_what_synchronises():
    """The detector itself: each of these would stall a GPU, and each is caught."""
    x = torch.randn(8)
    for stall in (lambda: x.sum().item(), lambda: float(x.max()), lambda: x[x > 0], lambda: torch.unique(x),
                  lambda: bool(x.any()), lambda: x.nonzero()):
        recorder = _Recorder()
        with recorder:
            stall()
        assert recorder.synchronising, stall
    copies = _Copies()
    with copies:
        x.to("cpu")
        x.to(torch.device("cpu"), non_blocking=True)
    assert len(copies.blocking) == 1
