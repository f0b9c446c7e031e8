"""Presets and the resolved run configuration (docs/reference.md §6).

- ``smoke``: seconds, for tests; tiny widths and images, a couple of steps.
- ``cpu``: the default without a GPU; a few minutes on 2 cores, images resampled to 2.5 mm in-plane, segmenters at
  a quarter and translators at an eighth of the paper's width, translators trained alone on 64 x 64 crops. Still
  learns the phantom. A third of each batch is tumour-centred, the rest drawn anywhere (``foreground_fraction``
  0.33, nnU-Net's rate): on validation (phantom v3, CBCT only, seed 0, 24 epochs) it gave DSC 0.642 against 0.630,
  HD95 21.0 against 39.6 mm and distant false positives in 12 of 18 scans against 18 of 18 with tumour-only crops
  (docs/results.md).
- ``paper``: the paper's settings (II.F): native in-plane spacing, 256 x 256 crops, batch 2, segmenter lr 2e-4,
  translator lr 1e-4, up to 100 epochs with early stopping on validation DSC, full-width networks, tumour-only crops.

3D segmenters take ``batch_size // 4`` patches per step (at least one): a patch holds ``patch_depth`` slices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from cmedl_bench.errors import CmedlError
from cmedl_bench.io.digests import json_digest

#: Surface Dice tolerance of the paper (III.B), mm.
SURFACE_DICE_TOLERANCE_MM = 4.38


@dataclass(frozen=True)
class Preset:
    name: str
    crop_size: int  # square 2D training crop, pixels
    spacing_xy_mm: float | None  # in-plane resampling before cropping; None keeps the native spacing
    width: float  # channel multiplier; 1.0 is the paper's network
    batch_size: int
    lr_segmenter: float
    lr_translator: float
    max_epochs: int
    steps_per_epoch: int | None  # None: one pass over the training slices
    patience: int  # early stopping on validation DSC, in epochs
    augment: bool
    max_val_cases: int | None = None  # validation subset per epoch (None: all)
    max_test_cases: int | None = None
    dataset_size: str = "full"  # size asked of a generated dataset (the phantom has "full" and "small")
    translator_epochs: int = 100  # translators train for a fixed number of epochs (no validation DSC to stop on)
    translator_batch_size: int = 2
    translator_crop_size: int = 256  # crops for a translator trained on its own (translate, pmri, two-channel)
    translator_width: float = 1.0  # channel multiplier of translators (1.0: the reference networks)
    patch_depth: int = 32  # slices per 3D patch (3D segmenters only)
    compile: bool = False  # torch.compile every module (opt-in: --compile)
    mixed_precision: bool = True  # bf16 autocast on CUDA (never on CPU); False trains in fp32 everywhere
    foreground_fraction: float = 1.0  # tumour-centred share of each batch; the rest anywhere (data/slices.py)
    head_curves_every: int = 1  # validate a fusion's other heads every N epochs and at max_epochs (curves only)
    #: inference on whole slices where the head's networks allow it (cmedl_bench.engine.inference), else windows
    whole_slice_inference: bool = True
    #: channel fraction of a translator's fixed loss network (the contextual loss's VGG19; plugins/vgg19.py);
    #: 1.0 is the paper's network, below it the features are a truncated (or narrower random) VGG19's
    loss_network_width: float = 1.0


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        "smoke", crop_size=32, spacing_xy_mm=5.0, width=0.125, batch_size=4, lr_segmenter=1e-3, lr_translator=1e-3,
        max_epochs=2, steps_per_epoch=2, patience=2, augment=True, max_val_cases=2, max_test_cases=2,
        dataset_size="small", translator_epochs=2, translator_batch_size=2, translator_crop_size=32,
        translator_width=0.125, patch_depth=8, loss_network_width=0.25, head_curves_every=2),
    "cpu": Preset(
        "cpu", crop_size=96, spacing_xy_mm=2.5, width=0.25, batch_size=8, lr_segmenter=2e-3, lr_translator=2e-4,
        max_epochs=12, steps_per_epoch=30, patience=4, augment=True, translator_epochs=8, translator_batch_size=4,
        translator_crop_size=64, translator_width=0.125, patch_depth=16, head_curves_every=4,
        foreground_fraction=0.33),
    "paper": Preset(
        "paper", crop_size=256, spacing_xy_mm=None, width=1.0, batch_size=2, lr_segmenter=2e-4, lr_translator=1e-4,
        max_epochs=100, steps_per_epoch=None, patience=10, augment=True),
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result. Its hash names the run folder."""

    translator: str = "none"
    segmenter: str = "unet"
    fusion: str = "none"
    dataset: str = "phantom"
    dataset_version: str | int | None = None  # of a generated dataset; part of the hash so versions never mix
    data_path: str | None = None  # a user's dataset folder; None when the dataset plugin generated it
    data_seed: int = 0  # seed of a generated dataset (fixed, so that runs with different seeds share data)
    seed: int = 0
    preset: Preset = field(default_factory=lambda: PRESETS["cpu"])
    options: dict[str, Any] = field(default_factory=dict)  # component options, e.g. gan_mode, vgg19 weights
    device_type: str = "cpu"  # cpu or cuda: CUDA runs use bf16 autocast and other kernels, so results differ
    processes: int = 1  # data-parallel processes (--gpus): batch-norm statistics and image pools are per process
    #: role -> "distribution version" of each selected plugin: a plugin upgrade is another configuration, so a run
    #: made with other plugin code is never reused or resumed
    plugin_versions: dict[str, str] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()  # the metrics scored (run --metrics; dsc always); empty: every installed one

    def to_dict(self) -> dict[str, Any]:
        """As JSON will hold it (lists, not tuples), so a fresh record and one read from run.json compare equal."""
        return asdict(self) | {"metrics": list(self.metrics)}

    def hash(self) -> str:
        return json_digest(self.to_dict())

    @property
    def run_id(self) -> str:
        """The run folder's name (a qualified component name ``DIST:name`` is written ``DIST~name``)."""
        parts = (self.translator, self.segmenter, self.fusion)
        return "-".join(p.replace(":", "~") for p in parts) + f"-{self.preset.name}-s{self.seed}-{self.hash()[:8]}"


def resolve_preset(name: str | None, cuda_available: bool, overrides: dict[str, Any] | None = None) -> Preset:
    """The named preset, or ``paper`` on a GPU and ``cpu`` otherwise, with field overrides applied."""
    chosen = name or ("paper" if cuda_available else "cpu")
    if chosen not in PRESETS:
        raise CmedlError(f"unknown preset {chosen!r}; known presets: {', '.join(PRESETS)}")
    preset = PRESETS[chosen]
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    valid = {f.name for f in fields(Preset)} - {"name"}
    unknown = set(overrides) - valid
    if unknown:
        raise CmedlError(f"unknown preset field(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(valid))}")
    for name, value in overrides.items():
        current = getattr(preset, name)
        if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
            value = overrides[name] = float(value)
        elif current is not None and not isinstance(value, type(current)):
            raise CmedlError(f"{_OPTION_NAMES.get(name, name)} takes a value of type {type(current).__name__} "
                             f"(the preset's is {current!r}), not {value!r}")
        if name in _POSITIVE and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise CmedlError(f"{_OPTION_NAMES.get(name, name)} must be a whole number of at least 1, not {value!r}")
        if name in ("foreground_fraction", "loss_network_width") and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1):
            raise CmedlError(f"{_OPTION_NAMES.get(name, name)} must be a fraction in (0, 1], not {value!r}")
    return replace(preset, **overrides)


#: preset fields that count something and must be at least 1 (0 epochs would train nothing and leave no checkpoint)
_POSITIVE = {"crop_size", "batch_size", "max_epochs", "patience", "translator_epochs", "translator_batch_size",
             "translator_crop_size", "patch_depth", "head_curves_every"}
_OPTION_NAMES = {"max_epochs": "--epochs", "translator_epochs": "--epochs", "patience": "--patience",
                 "foreground_fraction": "--foreground"}


def require_seed(seed: object) -> int:
    """Seeds seed numpy's generators, which take non-negative integers only."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CmedlError(f"--seed must be a non-negative whole number, not {seed!r}")
    return seed
