"""Fusions that train the translator first, on its own, then a segmenter with it frozen (paper III, Tables 1-2):

- ``pmri``: the segmenter learns on real MRI (MRI labels) and on pseudo-MRI of CBCT (CBCT labels) and, at test time,
  segments the pseudo-MRI of each CBCT (the pMRI-Cycle and pMRI-UNIT rows). Head ``pmri``.
- ``two-channel``: the segmenter sees CBCT and its pseudo-MRI stacked as two channels (the CT+pMRI row, whose paper
  pMRI came from CycleGAN). Head ``student``.

Stage one is :func:`cmedl_bench.trainers.translator_trainer.fit_translator` (the ``translate`` verb's trainer), checkpointed in
the run folder's ``translator.pt`` and resumed from there.
"""

from __future__ import annotations

import torch

from cmedl_bench.plugin import (
    Fusion, FusionSpec, adam, dice_loss, fit_translator_first, to_unit_range)


class _TranslatorFirst(Fusion):
    in_channels = 1

    def __init__(self, spec: FusionSpec):
        super().__init__(spec)
        p = spec.preset
        self.translator = self.build_translator()
        self.segmenter = self.build_segmenter(self.in_channels)
        self.optimizer = adam(self.segmenter.parameters(), p.lr_segmenter, self.device) if spec.training else None

    def before_fit(self, train, seed, run_dir, progress=None):
        fit_translator_first(self.translator, train, self.spec.preset, seed, run_dir / "translator.pt", progress)

    def train(self, mode: bool = True) -> None:
        self.segmenter.train(mode)  # the translator stays frozen in evaluation mode

    def modules(self):
        return {"segmenter": self.segmenter, **self.translator.modules()}

    def optimizers(self):
        return {"segmenter": self.optimizer} if self.optimizer else {}

    def head_network(self, head):
        return self.segmenter

    @torch.no_grad()
    def pseudo_mri(self, cbct: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.translator.to_mri(to_unit_range(cbct)).float()

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


class PseudoMRI(_TranslatorFirst):
    heads = ("pmri",)
    selection_head = "pmri"
    cohorts = ("cbct", "mri")

    def train_step(self, batch):
        pmri = self.pseudo_mri(batch["cbct"])
        with self.autocast():
            loss_mri = dice_loss(self.segmenter(to_unit_range(batch["mri"])), batch["mri_label"])
            loss_pmri = dice_loss(self.segmenter(pmri), batch["cbct_label"])
        self._step(loss_mri + loss_pmri)
        return {"seg_mri": loss_mri.detach(), "seg_pmri": loss_pmri.detach()}

    def predict_logits(self, head, cbct):
        if head != "pmri":
            raise KeyError(head)
        with self.autocast():
            return self.segmenter(self.pseudo_mri(cbct)).float()


class TwoChannel(_TranslatorFirst):
    heads = ("student",)
    selection_head = "student"
    cohorts = ("cbct", "mri")  # MRI trains the translator (stage 1)
    in_channels = 2

    def _stack(self, cbct: torch.Tensor) -> torch.Tensor:
        return torch.cat([cbct, self.pseudo_mri(cbct)], dim=1)

    def train_step(self, batch):
        with self.autocast():
            loss = dice_loss(self.segmenter(self._stack(batch["cbct"])), batch["cbct_label"])
        self._step(loss)
        return {"seg": loss.detach()}

    def predict_logits(self, head, cbct):
        if head != "student":
            raise KeyError(head)
        with self.autocast():
            return self.segmenter(self._stack(cbct)).float()


def build_pmri(spec: FusionSpec) -> PseudoMRI:
    return PseudoMRI(spec)


def build_two_channel(spec: FusionSpec) -> TwoChannel:
    return TwoChannel(spec)
