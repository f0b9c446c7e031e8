"""Named experiment grids: the rows of the paper's Tables 1 (U-Net) and 2 (DenseFCN57), and the evidence protocol.

A row is (translator, segmenter, fusion[, dataset]); a fusion may score several heads (``hint`` scores ``student``,
the CMEDL row, and ``teacher``, the pMRI-CMEDL row). A row without a dataset takes the sweep's ``--dataset``.
A suite may fix a training budget per preset (preset fields) that the command line can still override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple



class Row(NamedTuple):
    translator: str
    segmenter: str
    fusion: str
    dataset: str | None = None  # None: the sweep's dataset
    options: dict[str, Any] | None = None  # component options the row fixes (e.g. the dataset's train_patients)


TABLE1: list[Row] = [
    Row("none", "unet", "none"),  # CBCT only
    Row("cycle", "unet", "pmri"),  # pMRI-Cycle
    Row("unit", "unet", "pmri"),  # pMRI-UNIT
    Row("none", "unet3d", "none"),  # 3DUnet
    Row("cycle", "unet", "two-channel"),  # CT+pMRI
    Row("cx", "unet", "hint"),  # pMRI-CMEDL (teacher) and CMEDL (student)
]
TABLE2: list[Row] = [
    Row("none", "densefcn57", "none"),
    Row("cycle", "densefcn57", "pmri"),
    Row("unit", "densefcn57", "pmri"),
    Row("cx", "densefcn57", "hint"),
]
#: The evidence protocol (docs/results.md): does distilling MRI features help the CBCT segmenter,
#: and does the gain vanish when MRI carries no tumour information (the ``phantom-mri-null`` negative control)?
EVIDENCE: list[Row] = [
    Row("none", "unet", "none"),  # the reference: CBCT only
    Row("cx", "unet", "hint"),  # CMEDL and pMRI-CMEDL
    Row("cycle", "unet", "hint"),  # CMEDL without the contextual loss
    Row("cx", "unet", "hint", "phantom-mri-null"),  # negative control: same CBCT scans, MRI without tumour contrast
]


#: The reference rows that say why a method wins or loses (docs/reference.md §4, "Diagnostics"): what CBCT alone can
#: give with many more patients (the CBCT ceiling, 5 and 10 times phantom v4's 16 training patients), what MRI could
#: give (the MRI oracle), what the hint delivers when translation is perfect (the oracle translator) and what it
#: delivers with no MRI at all (self-distillation: the identity translator). Headroom captured is computed against
#: them (:mod:`cmedl_bench.results.headroom`).
DIAGNOSTICS: list[Row] = [
    Row("none", "unet", "none"),  # CBCT only
    Row("none", "unet", "mri-oracle"),  # MRI oracle
    Row("none", "unet", "none", options={"train_patients": 80}),  # CBCT ceiling, 5x
    Row("none", "unet", "none", options={"train_patients": 160}),  # CBCT ceiling, 10x
    Row("oracle", "unet", "hint"),  # CMEDL with the oracle translator
    Row("identity", "unet", "hint"),  # self-distillation
]


#: The ladder (pre-registered in docs/ladder.md before its first run): every step from what CBCT alone gives to what
#: MRI could give, at phantom v4's own training cohort. The primary rows come first, so that a sweep cut short has
#: them; the CBCT ceiling here is the 5x cohort (80 patients).
LADDER: list[Row] = [
    Row("none", "unet", "none"),  # CBCT only
    Row("none", "unet", "mri-oracle"),  # MRI oracle
    Row("oracle", "unet", "hint"),  # CMEDL with the oracle translator (teacher on true MRI)
    Row("cx", "unet", "hint"),  # CMEDL and pMRI-CMEDL
    Row("identity", "unet", "hint"),  # self-distillation
    Row("none", "unet", "none", options={"train_patients": 80}),  # CBCT ceiling, 5x
    Row("cycle", "unet", "hint"),  # CMEDL without the contextual loss
    Row("cx", "unet", "hint", "phantom-mri-null"),  # negative control: MRI without tumour information
    Row("cycle", "unet", "two-channel"),  # CT+pMRI
    Row("cycle", "unet", "pmri"),  # pMRI-Cycle
]
#: training-cohort sizes of the learning curve; phantom v4's own cohort (16 patients) is the ladder's rows themselves
LEARNING_CURVE_SIZES: tuple[int, ...] = (4, 8, 16, 48)
OWN_COHORT = 16


def _at_size(row: Row, size: int) -> Row:
    return row if size == OWN_COHORT else row._replace(options={"train_patients": size})


#: The learning curve (docs/ladder.md): CBCT only, CMEDL ``cx`` and CMEDL with the oracle translator at 4, 8, 16 and
#: 48 training patients, the same validation and test patients at every size; smallest sizes first.
LEARNING_CURVE: list[Row] = [_at_size(row, size) for size in LEARNING_CURVE_SIZES
                             for row in (LADDER[0], LADDER[3], LADDER[2])]


@dataclass(frozen=True)
class Suite:
    rows: list[Row]
    #: preset name -> preset fields the suite fixes there (its training budget); command-line options win
    budget: dict[str, dict[str, Any]] = field(default_factory=dict)


#: the evidence suite's budget on the cpu preset, set from the budget study on validation only (docs/results.md):
#: CBCT only plateaus by epoch 13-22, the CMEDL teacher reaches that level by epoch 16; 24 epochs
#: for every row, no early stopping, the best validation epoch kept. Its sampling is the one it was registered and run
#: with, tumour-only crops (the cpu preset's default has since become 0.33), so that the suite repeats the published
#: protocol.
EVIDENCE_BUDGET: dict[str, dict[str, Any]] = {"cpu": {"max_epochs": 24, "patience": 24, "foreground_fraction": 1.0}}

SUITES: dict[str, Suite] = {"paper-table1": Suite(TABLE1), "paper-table2": Suite(TABLE2),
                            "paper": Suite(TABLE1 + TABLE2), "evidence": Suite(EVIDENCE, EVIDENCE_BUDGET),
                            "diagnostics": Suite(DIAGNOSTICS, EVIDENCE_BUDGET),
                            "ladder": Suite(LADDER, EVIDENCE_BUDGET),
                            "learning-curve": Suite(LEARNING_CURVE, EVIDENCE_BUDGET)}


#: (translator, fusion, head) -> the row's name in the paper's tables, and the diagnostics' reference rows
PAPER_ROWS: dict[tuple[str, str, str], str] = {
    ("none", "none", "student"): "CBCT only",
    ("cycle", "pmri", "pmri"): "pMRI-Cycle",
    ("unit", "pmri", "pmri"): "pMRI-UNIT",
    ("cycle", "two-channel", "student"): "CT+pMRI",
    ("cx", "hint", "teacher"): "pMRI-CMEDL",
    ("cx", "hint", "student"): "CMEDL",
    ("none", "mri-oracle", "mri"): "MRI oracle",
    ("oracle", "hint", "student"): "CMEDL, oracle translator",
    ("oracle", "hint", "teacher"): "teacher on true MRI",
    ("identity", "hint", "student"): "self-distillation",
    ("identity", "hint", "teacher"): "self-distillation teacher",
}


def paper_row_name(translator: str, segmenter: str, fusion: str, head: str) -> str | None:
    """The name of the paper's row that a combination and head reproduce (``3DUnet`` for the 3D CBCT-only row)."""
    if segmenter == "unet3d" and (translator, fusion) == ("none", "none"):
        return "3DUnet"
    return PAPER_ROWS.get((translator, fusion, head))
