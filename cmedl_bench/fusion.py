"""The fusion contract: a training recipe that owns the translator and segmenter modules and names the heads
that are scored. The engine drives it; plugins subclass :class:`Fusion`.

Imported only by fusion factories (it imports torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cmedl_bench.config import Preset
from cmedl_bench.engine.devices import autocast
from cmedl_bench.errors import PluginError
from cmedl_bench.modules import ModuleGroup
from cmedl_bench.registry import Component
from cmedl_bench.translator import Translator, build_translator


@dataclass(frozen=True)
class FusionSpec:
    segmenter: Component
    translator: Component | None
    preset: Preset
    device: torch.device
    options: dict[str, Any] = field(default_factory=dict)  # translator options (gan_mode, vgg19) and loss weights
    #: False when the fusion is rebuilt from a trained run for inference only (predict, export, sensitivity): build
    #: no optimiser (``optimizers()`` may be empty) and pass it on to ``build_translator``
    training: bool = True


class Fusion(ModuleGroup):
    """Base class. Subclasses build modules and optimisers in ``__init__`` and implement ``train_step`` and
    ``predict_logits``; the base class handles modes and (de)serialisation."""

    heads: tuple[str, ...] = ("student",)
    #: heads that need the aligned MRI (:meth:`predict_logits` with ``aligned``): validated for the learning curves
    #: where the dataset has it (``val_dsc_<head>``), never scored as rows nor used for model selection
    diagnostic_heads: tuple[str, ...] = ()
    #: heads whose path from CBCT to logits is the segmenter alone (or other networks without per-image statistics):
    #: they are predicted on whole slices when the segmenter declares ``input_multiple`` and the preset's
    #: ``whole_slice_inference`` is on (:mod:`cmedl_bench.engine.inference`); other heads use sliding windows
    whole_slice_heads: tuple[str, ...] = ()
    #: the head whose validation DSC selects the best checkpoint
    selection_head: str = "student"
    #: training cohorts each batch holds: ``cbct``/``cbct_label`` and, with "mri", ``mri``/``mri_label``
    cohorts: tuple[str, ...] = ("cbct",)

    def __init__(self, spec: FusionSpec):
        self.spec = spec
        self.device = spec.device
        self.dims = spec.segmenter.info.dims

    def predict_probability(self, head: str, prepared) -> "np.ndarray":
        """Tumour probability of one prepared CBCT volume on its original grid, as ``head`` sees it; a volume that
        carries its aligned MRI (read only for a fusion whose info declares ``aligned_mri``) hands each crop's
        aligned MRI to :meth:`predict_logits` as ``aligned``."""
        from cmedl_bench.engine.inference import predict_probability

        p = self.spec.preset
        depth = p.patch_depth if self.dims == 3 else None
        multiple = self.slice_multiple(head)
        if prepared.aligned is None:
            return predict_probability(lambda x: self.predict_logits(head, x), prepared, p.crop_size, self.device,
                                       depth, slice_multiple=multiple)
        return predict_probability(lambda x: self.predict_logits(head, x[:, :1], aligned=x[:, 1:]), prepared,
                                   p.crop_size, self.device, depth, aligned=True, slice_multiple=multiple)

    def slice_multiple(self, head: str) -> int | None:
        """The input multiple of whole-slice inference for ``head``; None where it uses sliding windows."""
        if self.dims != 2 or not self.spec.preset.whole_slice_inference or head not in self.whole_slice_heads:
            return None
        return self.spec.segmenter.info.input_multiple

    def build_segmenter(self, in_channels: int = 1) -> torch.nn.Module:
        """A new network of the selected segmenter at the preset's width, on the run's device; call it once per
        network (a student and a teacher are two calls). ``in_channels`` 2 for CBCT and pseudo-MRI stacked."""
        return self.spec.segmenter.factory(in_channels=in_channels, out_channels=1,
                                           width=self.spec.preset.width).to(self.device)

    def build_translator(self) -> Translator:
        """The selected translator at the preset's translator width and learning rate, with every run option
        forwarded (so a translator's declared option always takes effect), built for inference when
        ``spec.training`` is False; kept as ``self.translator``, whose ``info`` goes into ``run.json``."""
        if self.spec.translator is None:
            raise PluginError(f"fusion {type(self).__name__} needs a translator; its FusionInfo should declare "
                              f"needs_translator=True")
        self.translator = build_translator(self.spec.translator, self.spec.preset, self.device, self.spec.options,
                                           self.spec.training)
        return self.translator

    def before_fit(self, train: dict[str, list], seed: int, run_dir: Path, progress=None) -> None:
        """A first training stage that precedes the fit loop (e.g. a translator trained on its own); resumable.
        ``progress`` is a :class:`cmedl_bench.stages.progress.Reporter` (``with progress.task(...) as task``)."""

    def head_network(self, head: str) -> torch.nn.Module:
        """The segmentation network behind a head (its last layers are perturbed by the sensitivity analysis)."""
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch (``cbct``, ``cbct_label``, ...); returns detached losses."""
        raise NotImplementedError

    def predict_logits(self, head: str, cbct: torch.Tensor, aligned: torch.Tensor | None = None) -> torch.Tensor:
        """Tumour logits (B, 1, H, W) for a batch of CBCT crops, as the given head sees them. ``aligned``: the
        crops' aligned MRI (z-scored), passed only to a fusion whose info declares ``aligned_mri`` and only where
        the dataset has it; its ``train_step`` batch then holds the training crops' as ``cbct_aligned``."""
        raise NotImplementedError

    @property
    def translator_info(self) -> dict[str, Any] | None:
        """What the run record says about the translator (e.g. ``cx_features``); None without one."""
        translator = getattr(self, "translator", None)
        return translator.info if translator is not None else None

    def autocast(self):
        return autocast(self.device, self.spec.preset.mixed_precision)

