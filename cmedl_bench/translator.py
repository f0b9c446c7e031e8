"""The translator contract: unpaired CBCT <-> MRI image translation (paper II.D), 2D, one channel, images in
[-1, 1]. Subclasses build generators, discriminators and optimisers; fusions use

- :meth:`Translator.generator_objective` to get the generators' weighted loss (so that a fusion can add its own
  terms, e.g. CMEDL's hint and segmentation losses, eq. 7) and the translated images;
- :meth:`Translator.discriminator_step` to update the discriminators on those images;
- :meth:`Translator.to_mri` for pseudo-MRI.

A translator that does not learn (histogram matching, a fixed filter) returns no ``generators`` optimiser (or has
no trainable parameters): :attr:`Translator.trainable` is then False, translator training is skipped, and ``hint``
runs only its segmenter step. A translator implements at least :meth:`Translator.to_mri`; ``to_cbct`` is needed
only by the translation examples of ``translate`` (they are left out without it). A direction that is missing is a
one-line error naming the translator.

Imported only by translator factories (it imports torch).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch

from cmedl_bench.errors import PluginError
from cmedl_bench.modules import ModuleGroup
import torch.nn.functional as F

#: z-scored intensities are mapped to the generators' [-1, 1] range by clipping z / Z_RANGE.
Z_RANGE = 3.0


def to_unit_range(zscored: torch.Tensor) -> torch.Tensor:
    """z-scored image -> [-1, 1] (values beyond 3 SD clip; in the phantom that is air and dense bone)."""
    return (zscored / Z_RANGE).clamp(-1.0, 1.0)


@dataclass(frozen=True)
class TranslatorSpec:
    width: float
    lr: float
    device: torch.device
    options: dict[str, Any] = field(default_factory=dict)  # e.g. gan_mode, vgg19 weights path
    #: False when the translator is rebuilt for inference only (predict, export, sensitivity): build no optimiser
    #: and no training-only network (a contextual loss's VGG19); its modules and their weights are as in training
    training: bool = True
    #: channel fraction of a fixed loss network the translator trains with (the contextual loss's VGG19): the
    #: preset's ``loss_network_width``; 1.0 is the paper's network
    loss_network_width: float = 1.0


def gan_loss(logits: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """Adversarial loss on discriminator outputs. ``log``: the paper's eq. 1 (binary cross-entropy on logits);
    ``lsgan``: least squares, the CycleGAN reference's default."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "log":
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())
    if mode == "lsgan":
        return F.mse_loss(logits.float(), target.float())
    raise ValueError(f"unknown gan_mode {mode!r}; use 'log' or 'lsgan'")


class ImagePool:
    """History of generated images for the discriminator (Shrivastava et al.; CycleGAN ``util/image_pool.py``):
    once full, each returned image is with probability 1/2 an older one, swapped for the new."""

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()  # as the pool's own images: the discriminators never reach into the generators
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() < 0.5:
                k = self.rng.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


class Translator(ModuleGroup):
    """Base class; see the module docstring."""

    #: reported in the run record (e.g. which VGG19 weights a contextual loss used)
    info: dict[str, Any]

    def __init__(self, spec: TranslatorSpec):
        self.spec = spec
        self.device = spec.device
        self.gan_mode = spec.options.get("gan_mode", "log")
        self.info = {"gan_mode": self.gan_mode}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """``generators`` and ``discriminators`` for a translator that learns; empty for one that does not."""
        return {}

    def modules(self) -> dict[str, torch.nn.Module]:
        return {}

    @property
    def trainable(self) -> bool:
        """Whether there is anything to train: a ``generators`` optimiser over parameters that require grad."""
        return "generators" in self.optimizers() and any(
            p.requires_grad for module in self.modules().values() for p in module.parameters())

    def generator_objective(self, cbct: torch.Tensor, mri: torch.Tensor
                            ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(weighted total, detached parts, images) for unpaired batches in [-1, 1]; images hold at least
        ``pmri`` (CBCT -> MRI) and ``pcbct`` (MRI -> CBCT), attached to the generators' graph."""
        raise self._missing("generator_objective")

    def discriminator_step(self, cbct: torch.Tensor, mri: torch.Tensor,
                           images: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise self._missing("discriminator_step")

    def to_mri(self, cbct: torch.Tensor) -> torch.Tensor:
        raise self._missing("to_mri (CBCT -> MRI)")

    def pseudo_mri(self, cbct: torch.Tensor, aligned: torch.Tensor | None = None) -> torch.Tensor:
        """The pseudo-MRI a fusion uses, in [-1, 1]: :meth:`to_mri` of ``cbct``. ``aligned`` is the same crops'
        aligned true MRI, given where the dataset has it; only a reference translator whose info declares
        ``needs_aligned_mri`` (the oracle translator: what a perfect translation would give) reads it."""
        return self.to_mri(cbct)

    def to_cbct(self, mri: torch.Tensor) -> torch.Tensor:
        raise self._missing("to_cbct (MRI -> CBCT)")

    def _missing(self, method: str) -> PluginError:
        return PluginError(f"translator {type(self).__name__} ({type(self).__module__}) does not implement {method}")

    def train_step(self, cbct: torch.Tensor, mri: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of the generators, then of the discriminators (translation trained on its own); nothing for
        a translator that does not learn."""
        if not self.trainable:
            return {}
        opt_g = self.optimizers()["generators"]
        opt_g.zero_grad(set_to_none=True)
        total, parts, images = self.generator_objective(cbct, mri)
        total.backward()
        opt_g.step()
        return parts | self.discriminator_step(cbct, mri, images)


def build_translator(component, preset, device: torch.device, options: dict[str, Any] | None = None,
                     training: bool = True) -> Translator:
    """A translator plugin instance at the preset's width and translator learning rate (``training``:
    :attr:`TranslatorSpec.training`)."""
    return component.factory(TranslatorSpec(width=preset.translator_width, lr=preset.lr_translator, device=device,
                                            options=dict(options or {}), training=training,
                                            loss_network_width=preset.loss_network_width))
