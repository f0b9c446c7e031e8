"""Fusion ``none``: the "CBCT only" rows of Tables 1 and 2. One segmenter trained on CBCT with the Dice loss
(eq. 5) and Adam at the segmenter learning rate (2e-4 in the paper preset)."""

from __future__ import annotations

from cmedl_bench.plugin import Fusion, FusionSpec, adam, dice_loss


class CbctOnly(Fusion):
    heads = ("student",)
    whole_slice_heads = ("student",)
    selection_head = "student"

    def __init__(self, spec: FusionSpec):
        super().__init__(spec)
        self.segmenter = self.build_segmenter()
        self.optimizer = adam(self.segmenter.parameters(), spec.preset.lr_segmenter, self.device) if spec.training \
            else None

    def modules(self):
        return {"segmenter": self.segmenter}

    def optimizers(self):
        return {"segmenter": self.optimizer} if self.optimizer else {}

    def head_network(self, head):
        return self.segmenter

    def images(self, batch):
        """What the segmenter trains on: the batch's CBCT crops (a subclass may read another channel)."""
        return batch["cbct"]

    def train_step(self, batch):
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            logits = self.segmenter(self.images(batch))
        loss = dice_loss(logits, batch["cbct_label"])
        loss.backward()
        self.optimizer.step()
        return {"seg": loss.detach()}

    def predict_logits(self, head, cbct):
        if head != "student":
            raise KeyError(head)
        with self.autocast():
            return self.segmenter(cbct).float()


def build(spec: FusionSpec) -> CbctOnly:
    return CbctOnly(spec)
