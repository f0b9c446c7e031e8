"""Fusion ``mri-oracle``: the most MRI can give. CBCT only (:mod:`cmedl_bench_plugins.cbct_only`: one segmenter,
the Dice loss of eq. 5, Adam at the segmenter learning rate) trained, validated and tested on the MRI aligned to each
CBCT scan (cohort ``mri-aligned``: the same patients, splits, crops and labels as the CBCT rows). Its test scores,
paired per patient with CBCT only's, bound what any method that brings MRI information to CBCT can gain on these
data (the leaderboard's "headroom captured"). Not a method: it needs MRI of the test patient at test time."""

from __future__ import annotations

from cmedl_bench.plugin import FusionSpec, PluginError
from cmedl_bench_plugins.cbct_only import CbctOnly


class MriOracle(CbctOnly):
    heads = ("mri",)
    whole_slice_heads = ("mri",)
    selection_head = "mri"

    def images(self, batch):
        return _aligned(batch.get("cbct_aligned"))

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
