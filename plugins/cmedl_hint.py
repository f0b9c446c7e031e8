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

The three updates of a step come from one forward of every network (the reference alternates full passes): the
translator's objective, the teacher on MRI and on pseudo-MRI and the student on CBCT are computed once, then each
update takes the gradient of its own objective with respect to its own networks only (the generators' objective to
the generators, the segmenters' to the segmenters; the segmenters' update sees the pseudo-MRI as a constant, as in
the reference's detached step 3), all before any weight moves. The values are those of the alternating form; the
networks' batch-norm statistics are updated once per step instead of twice.

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

    def train_step(self, batch):
        cbct, cbct_label, mri, mri_label = batch["cbct"], batch["cbct_label"], batch["mri"], batch["mri_label"]
        cbct_unit, mri_unit = to_unit_range(cbct), to_unit_range(mri)
        if not self.translator.trainable:  # a fixed translator: only the segmenters learn (step 3)
            aligned = batch.get("cbct_aligned")
            with torch.no_grad(), self.autocast():
                pmri = self.translator.pseudo_mri(cbct_unit, None if aligned is None else to_unit_range(aligned))
            teacher_seg, student_seg, hint = self.segmenter_losses(cbct, cbct_label, mri_unit, mri_label, pmri)
            generators = None
        else:  # steps 1-3 from one forward of every network: each update takes its gradient to its own networks
            with self.autocast():
                total, parts, images = self.translator.generator_objective(cbct_unit, mri_unit)
            t_mri, t_pmri, t_features, s_logits, s_features = self._segmenters_forward(cbct, mri_unit, images["pmri"])
            seg_pmri = dice_loss(t_pmri, cbct_label)
            generators = (total + self.lambda_hint * hint_loss([f.detach() for f in s_features], t_features)
                          + self.lambda_seg * seg_pmri)
            teacher_seg, student_seg, hint = self._segmenter_terms(t_mri, mri_label, seg_pmri, s_logits, cbct_label,
                                                                   s_features, t_features)
        segmenters = self.segmenter_objective(teacher_seg, student_seg, hint)
        losses = {"seg_student": student_seg.detach(), "seg_teacher": teacher_seg.detach(), "hint": hint.detach()}
        if generators is None:
            self.optimizer.zero_grad(set_to_none=True)
            segmenters.backward()
            self.optimizer.step()
            return losses
        opt_g = self.translator.optimizers()["generators"]
        step_generators, step_segmenters = _gradients([(opt_g, generators), (self.optimizer, segmenters)])
        step_generators()  # 1. generators
        d_parts = self.translator.discriminator_step(cbct_unit, mri_unit, images)  # 2. discriminators
        step_segmenters()  # 3. segmenters, from the same (pre-update) pseudo-MRI, as eq. 7 orders them
        return parts | d_parts | losses

    def _segmenters_forward(self, cbct, mri_unit, pmri):
        """One forward of each segmenter: the teacher on MRI and on pseudo-MRI (with hint features), the student on
        CBCT (with hint features); batch-norm statistics are updated once per step."""
        with self.autocast():
            t_mri = self.teacher(mri_unit)
            t_pmri, t_features = self.teacher(pmri, return_features=True)
            s_logits, s_features = self.student(cbct, return_features=True)
        return t_mri, t_pmri, t_features, s_logits, s_features

    def _segmenter_terms(self, t_mri, mri_label, seg_pmri, s_logits, cbct_label, s_features, t_features):
        teacher_seg = dice_loss(t_mri, mri_label) + seg_pmri
        student_seg = dice_loss(s_logits, cbct_label)
        target = t_features if self.hint_teacher else [f.detach() for f in t_features]
        return teacher_seg, student_seg, hint_loss(s_features, target)

    def segmenter_objective(self, teacher_seg, student_seg, hint):
        return self.segmenter_seg_weight * (teacher_seg + student_seg) + self.lambda_hint * hint

    def segmenter_losses(self, cbct, cbct_label, mri_unit, mri_label, pmri):
        """Step 3's terms: the teacher's Dice on MRI and pseudo-MRI, the student's on CBCT, and the hint (the
        teacher's features detached unless ``hint_teacher``)."""
        t_mri, t_pmri, t_features, s_logits, s_features = self._segmenters_forward(cbct, mri_unit, pmri)
        return self._segmenter_terms(t_mri, mri_label, dice_loss(t_pmri, cbct_label), s_logits, cbct_label,
                                     s_features, t_features)

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


def _gradients(updates):
    """For each (optimiser, loss): the gradient of the loss with respect to the optimiser's parameters only, all
    computed before any parameter moves; returns one function per update that puts its gradients in place and steps
    (the distributed engine averages them in the optimiser's pre-step hook)."""
    computed = []
    for k, (optimizer, loss) in enumerate(updates):
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        grads = torch.autograd.grad(loss, params, retain_graph=k < len(updates) - 1, allow_unused=True)
        computed.append((optimizer, params, grads))

    def stepper(optimizer, params, grads):
        def step():
            optimizer.zero_grad(set_to_none=True)
            for param, grad in zip(params, grads):
                param.grad = grad
            optimizer.step()
        return step

    return [stepper(*entry) for entry in computed]
