"""Fusion ``hint``: CMEDL (paper II.E-F, eq. 5-7).

A translator G_C->M makes pseudo-MRI from CBCT. The teacher S_M segments MRI and pseudo-MRI (CBCT labels), the
student S_C segments CBCT. The hint loss (eq. 6) is the L2 distance between the student's and the teacher's features
in the last two decoder blocks, S_C(x_c) vs S_M(G_C->M(x_c)). Training is end to end and alternates (eq. 7):

1. generators: L_adv + 10 L_cyc + 1 L_CX (the translator's objective) + 1 L_hint + 5 L_seg, with L_seg the
   teacher's Dice loss on pseudo-MRI, so that translation keeps the tumour segmentable;
2. discriminators: L_adv;
3. segmenters: w (teacher L_seg(MRI) + L_seg(pseudo-MRI) + student L_seg(CBCT)) + lambda_hint L_hint.

Where the paper can be read two ways, the reading is a run option (``--lambda-hint``, ``--segmenter-seg-weight``,
``--hint-teacher``; set ones enter the configuration hash):

- ``lambda_hint`` (default 1, eq. 7);
- ``segmenter_seg_weight`` w: eq. 7 read literally weights L_seg by 5 against L_hint in every update; the sentence on
  the segmenters' gradient, -Delta theta_S (L_hint + L_seg), weights them 1:1, which is the default;
- ``hint_teacher``: whether the hint also pulls the teacher's features towards the student's (the gradient sentence
  may include it); by default the teacher's features are the hint's fixed target in this step (detached).

With a translator that does not learn (:attr:`cmedl_bench.translator.Translator.trainable` False), steps 1 and 2
are skipped and the pseudo-MRI is the fixed translation.

Heads scored: ``student`` on CBCT (the CMEDL row) and ``teacher`` on pseudo-MRI (the pMRI-CMEDL row). ``lambda_seg``
(the generators' L_seg weight, 5) is an option too.

Where the dataset has MRI aligned to the CBCT scans, the fusion never trains on it, but it hands it to a translator
that needs it (the oracle translator: what the hint delivers when translation is perfect) and validates the teacher
on it too (``val_dsc_teacher_on_mri`` in the learning curves): with ``val_dsc_teacher`` (on pseudo-MRI), the hint's
size (``train_hint``) and ``val_dsc_student``, the chain translator -> teacher -> hint -> student per epoch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cmedl_bench.plugin import Fusion, FusionSpec, adam, dice_loss, to_unit_range

LAMBDA_HINT = 1.0
LAMBDA_SEG = 5.0


def hint_loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 6: sum over the hint layers of the mean squared difference of the feature maps."""
    return sum(F.mse_loss(s.float(), t.float()) for s, t in zip(student, teacher))


class CMEDL(Fusion):
    heads = ("student", "teacher")
    diagnostic_heads = ("teacher_on_mri",)
    whole_slice_heads = ("student", "teacher_on_mri")  # not the teacher: its path holds the translator
    selection_head = "student"
    cohorts = ("cbct", "mri")

    def __init__(self, spec: FusionSpec):
        super().__init__(spec)
        p = spec.preset
        self.lambda_hint = float(spec.options.get("lambda_hint", LAMBDA_HINT))
        self.lambda_seg = float(spec.options.get("lambda_seg", LAMBDA_SEG))
        self.segmenter_seg_weight = float(spec.options.get("segmenter_seg_weight", 1.0))
        self.hint_teacher = bool(spec.options.get("hint_teacher", False))
        self.translator = self.build_translator()
        self.student = self.build_segmenter()
        self.teacher = self.build_segmenter()
        self.optimizer = adam([*self.student.parameters(), *self.teacher.parameters()], p.lr_segmenter,
                              self.device) if spec.training else None

    def modules(self):
        return {"student": self.student, "teacher": self.teacher, **self.translator.modules()}

    def optimizers(self):
        own = {"segmenters": self.optimizer} if self.optimizer else {}
        return own | {f"translator_{k}": v for k, v in self.translator.optimizers().items()}

    def head_network(self, head):
        return {"student": self.student, "teacher": self.teacher}[head]

    def _segmenters_trainable(self, flag: bool) -> None:
        for p in [*self.student.parameters(), *self.teacher.parameters()]:
            p.requires_grad_(flag)

    def train_step(self, batch):
        cbct, cbct_label, mri, mri_label = batch["cbct"], batch["cbct_label"], batch["mri"], batch["mri_label"]
        cbct_unit, mri_unit = to_unit_range(cbct), to_unit_range(mri)
        if not self.translator.trainable:  # a fixed translator: only the segmenters learn (step 3)
            aligned = batch.get("cbct_aligned")
            with torch.no_grad(), self.autocast():
                pmri = self.translator.pseudo_mri(cbct_unit, None if aligned is None else to_unit_range(aligned))
            return self._segmenter_step(cbct, cbct_label, mri_unit, mri_label, pmri)
        # 1. generators
        opt_g = self.translator.optimizers()["generators"]
        opt_g.zero_grad(set_to_none=True)
        self._segmenters_trainable(False)
        with self.autocast():
            total, parts, images = self.translator.generator_objective(cbct_unit, mri_unit)
            teacher_logits, teacher_features = self.teacher(images["pmri"], return_features=True)
            with torch.no_grad():
                _, student_features = self.student(cbct, return_features=True)
        seg_pmri = dice_loss(teacher_logits, cbct_label)
        hint_g = hint_loss(student_features, teacher_features)
        (total + self.lambda_hint * hint_g + self.lambda_seg * seg_pmri).backward()
        opt_g.step()
        self._segmenters_trainable(True)
        # 2. discriminators
        d_parts = self.translator.discriminator_step(cbct_unit, mri_unit, images)
        # 3. segmenters
        return parts | d_parts | self._segmenter_step(cbct, cbct_label, mri_unit, mri_label, images["pmri"].detach())

    def _segmenter_step(self, cbct, cbct_label, mri_unit, mri_label, pmri):
        self.optimizer.zero_grad(set_to_none=True)
        teacher_seg, student_seg, hint = self.segmenter_losses(cbct, cbct_label, mri_unit, mri_label, pmri)
        self.segmenter_objective(teacher_seg, student_seg, hint).backward()
        self.optimizer.step()
        return {"seg_student": student_seg.detach(), "seg_teacher": teacher_seg.detach(), "hint": hint.detach()}

    def segmenter_losses(self, cbct, cbct_label, mri_unit, mri_label, pmri):
        """Step 3's terms: the teacher's Dice on MRI and pseudo-MRI, the student's on CBCT, and the hint (the
        teacher's features detached unless ``hint_teacher``)."""
        with self.autocast():
            t_mri = self.teacher(mri_unit)
            t_pmri, t_features = self.teacher(pmri, return_features=True)
            s_logits, s_features = self.student(cbct, return_features=True)
        teacher_seg = dice_loss(t_mri, mri_label) + dice_loss(t_pmri, cbct_label)
        student_seg = dice_loss(s_logits, cbct_label)
        target = t_features if self.hint_teacher else [f.detach() for f in t_features]
        return teacher_seg, student_seg, hint_loss(s_features, target)

    def segmenter_objective(self, teacher_seg, student_seg, hint):
        return self.segmenter_seg_weight * (teacher_seg + student_seg) + self.lambda_hint * hint

    def predict_logits(self, head, cbct, aligned=None):
        aligned = None if aligned is None else to_unit_range(aligned)
        with self.autocast():
            if head == "student":
                return self.student(cbct).float()
            if head == "teacher":
                return self.teacher(self.translator.pseudo_mri(to_unit_range(cbct), aligned)).float()
            if head == "teacher_on_mri" and aligned is not None:
                return self.teacher(aligned).float()
        raise KeyError(head)


def build(spec: FusionSpec) -> CMEDL:
    return CMEDL(spec)
