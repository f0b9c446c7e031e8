"""Fusion ``mri-oracle``: the most MRI can give. One segmenter trained, validated and tested on the MRI aligned to
each CBCT scan (cohort ``mri-aligned``: the same patients, splits, crops and labels as the CBCT rows), with the Dice
loss (eq. 5) and Adam at the segmenter learning rate, as CBCT only (``none``) trains on CBCT. Its test scores,
paired per patient with CBCT only's, bound what any method that brings MRI information to CBCT can gain on these
data (the leaderboard's "headroom captured"). Not a method: it needs MRI of the test patient at test time."""

from __future__ import annotations

from cmedl_bench.plugin import Fusion, FusionSpec, PluginError, adam, dice_loss


class MriOracle(Fusion):
    heads = ("mri",)
    selection_head = "mri"

    def __init__(self, spec: FusionSpec):
        super().__init__(spec)
        self.segmenter = spec.segmenter.factory(in_channels=1, out_channels=1, width=spec.preset.width)
        self.segmenter.to(self.device)
        self.optimizer = adam(self.segmenter.parameters(), spec.preset.lr_segmenter, self.device) if spec.training \
            else None

    def modules(self):
        return {"segmenter": self.segmenter}

    def optimizers(self):
        return {"segmenter": self.optimizer} if self.optimizer else {}

    def head_network(self, head):
        return self.segmenter

    def train_step(self, batch):
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            logits = self.segmenter(_aligned(batch.get("cbct_aligned")))
        loss = dice_loss(logits, batch["cbct_label"])
        loss.backward()
        self.optimizer.step()
        return {"seg": loss.detach()}

    def predict_logits(self, head, cbct, aligned=None):
        if head != "mri":
            raise KeyError(head)
        with self.autocast():
            return self.segmenter(_aligned(aligned)).float()


def _aligned(images):
    if images is None:
        raise PluginError("fusion 'mri-oracle' segments the aligned MRI of each CBCT scan, and none was given")
    return images


def build(spec: FusionSpec) -> MriOracle:
    return MriOracle(spec)
