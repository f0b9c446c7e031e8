"""Fusion ``attention-transfer``: distillation by attention maps (Zagoruyko and Komodakis, "Paying more attention to
attention", ICLR 2017) in place of CMEDL's feature distance.

A teacher segments the pseudo-MRI of the selected translator, the student segments CBCT. At each hint layer of the
segmenter (``return_features=True``) a spatial attention map is the channel mean of the squared activations,
flattened and L2-normalised per image; the transfer loss is the mean squared difference of the student's and the
teacher's maps, summed over layers and weighted by ``beta / 2`` (the paper's beta = 1000, option ``beta``). The
teacher's maps are the target (detached), so the transfer pulls the student only.

The translator is trained first, on its own (``before_fit``: cmedl-bench's ``fit_translator_first``), then frozen;
a translator that does not learn is used as it is. Written against docs/writing-plugins.md ("Fusions") alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cmedl_bench.plugin import Fusion, adam, dice_loss, fit_translator_first, to_unit_range

#: the paper's weight of the attention-transfer term (its loss is beta / 2 times the map distance)
BETA = 1000.0


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) activations -> (B, H * W) attention: channel mean of the squares, L2-normalised."""
    return F.normalize(features.float().pow(2).mean(1).flatten(1), dim=1)


def attention_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    return sum((attention_map(s) - attention_map(t)).pow(2).mean() for s, t in zip(student, teacher))


class AttentionTransfer(Fusion):
    heads = ("student", "teacher")
    whole_slice_heads = ("student",)  # the teacher's path holds the translator
    selection_head = "student"
    cohorts = ("cbct", "mri")

    def __init__(self, spec):
        super().__init__(spec)
        self.beta = float(spec.options.get("beta", BETA))
        self.translator = self.build_translator()  # the run's translator options reach it
        self.student = self.build_segmenter()
        self.teacher = self.build_segmenter()
        self.optimizer = adam([*self.student.parameters(), *self.teacher.parameters()], spec.preset.lr_segmenter,
                              self.device) if spec.training else None

    def before_fit(self, train, seed, run_dir, progress=None):
        fit_translator_first(self.translator, train, self.spec.preset, seed, run_dir / "translator.pt", progress)

    def train(self, mode: bool = True) -> None:
        self.student.train(mode)  # the translator stays frozen in evaluation mode
        self.teacher.train(mode)

    def modules(self):
        return {"student": self.student, "teacher": self.teacher, **self.translator.modules()}

    def optimizers(self):
        return {"segmenters": self.optimizer} if self.optimizer else {}

    def head_network(self, head):
        return {"student": self.student, "teacher": self.teacher}[head]

    def train_step(self, batch):
        with torch.no_grad(), self.autocast():
            pmri = self.translator.pseudo_mri(to_unit_range(batch["cbct"])).float()
        with self.autocast():
            teacher_mri = self.teacher(to_unit_range(batch["mri"]))
            teacher_pmri, teacher_features = self.teacher(pmri, return_features=True)
            student, student_features = self.student(batch["cbct"], return_features=True)
        seg_teacher = dice_loss(teacher_mri, batch["mri_label"]) + dice_loss(teacher_pmri, batch["cbct_label"])
        seg_student = dice_loss(student, batch["cbct_label"])
        transfer = attention_loss(student_features, [f.detach() for f in teacher_features])
        self.optimizer.zero_grad(set_to_none=True)
        (seg_teacher + seg_student + self.beta / 2 * transfer).backward()
        self.optimizer.step()
        # "seg..." and "hint..." names are drawn with the segmentation losses, any other with the translation ones
        return {"seg_student": seg_student.detach(), "seg_teacher": seg_teacher.detach(),
                "hint_attention": transfer.detach()}

    def predict_logits(self, head, cbct):
        with self.autocast():
            if head == "student":
                return self.student(cbct).float()
            if head == "teacher":
                return self.teacher(self.translator.pseudo_mri(to_unit_range(cbct))).float()
        raise KeyError(head)
