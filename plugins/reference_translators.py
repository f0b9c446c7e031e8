"""Reference translators: the two ends of the translation step of CMEDL's chain (translator -> teacher -> hint ->
student), so that a run can say how much of a method's result the translation made or lost.

- ``oracle``: perfect translation. The pseudo-MRI of each CBCT crop is that crop's aligned true MRI (cohort
  ``mri-aligned``, cut and augmented with the CBCT crop by the paired-crop loader, :mod:`cmedl_bench.engine.batches`);
  with the ``hint`` fusion, the teacher sees real MRI of the very patient the student sees: what the hint can deliver
  when translation loses nothing. It needs a dataset with aligned MRI (phantom v4 has it).
- ``identity``: no translation. The pseudo-MRI is the CBCT itself, so the ``hint`` teacher is just another CBCT
  network: self-distillation, what the hint's extra regularisation gives without any MRI.

Neither learns (no generators' optimiser), so ``hint`` runs only its segmenter step with them, as with any fixed
translator. The paper has neither; they follow the oracle and ablation rows of knowledge-distillation studies (a
teacher trained on the privileged modality itself; a teacher of the student's own modality).
"""

from __future__ import annotations

import torch

from cmedl_bench.plugin import PluginError, Translator, TranslatorSpec


class OracleTranslator(Translator):
    def pseudo_mri(self, cbct: torch.Tensor, aligned: torch.Tensor | None = None) -> torch.Tensor:
        if aligned is None:
            raise PluginError("translator 'oracle' returns the aligned true MRI of each CBCT crop, and none was given: "
                              "use a dataset with aligned MRI (cohort mri-aligned)")
        return aligned

    def to_mri(self, cbct: torch.Tensor) -> torch.Tensor:
        return self.pseudo_mri(cbct)


class IdentityTranslator(Translator):
    def to_mri(self, cbct: torch.Tensor) -> torch.Tensor:
        return cbct

    def to_cbct(self, mri: torch.Tensor) -> torch.Tensor:
        return mri


def build_oracle(spec: TranslatorSpec) -> OracleTranslator:
    return OracleTranslator(spec)


def build_identity(spec: TranslatorSpec) -> IdentityTranslator:
    return IdentityTranslator(spec)
