"""Named experiment grids: the rows of the paper's Tables 1 (U-Net) and 2 (DenseFCN57).

A row is (translator, segmenter, fusion); a fusion may score several heads (``hint`` scores ``student``, the CMEDL
row, and ``teacher``, the pMRI-CMEDL row).
"""

from __future__ import annotations

from cmedl_bench.errors import CmedlError

Row = tuple[str, str, str]

TABLE1: list[Row] = [
    ("none", "unet", "none"),  # CBCT only
    ("cycle", "unet", "pmri"),  # pMRI-Cycle
    ("unit", "unet", "pmri"),  # pMRI-UNIT
    ("none", "unet3d", "none"),  # 3DUnet
    ("cycle", "unet", "two-channel"),  # CT+pMRI
    ("cx", "unet", "hint"),  # pMRI-CMEDL (teacher) and CMEDL (student)
]
TABLE2: list[Row] = [
    ("none", "densefcn57", "none"),
    ("cycle", "densefcn57", "pmri"),
    ("unit", "densefcn57", "pmri"),
    ("cx", "densefcn57", "hint"),
]
SUITES: dict[str, list[Row]] = {"paper-table1": TABLE1, "paper-table2": TABLE2, "paper": TABLE1 + TABLE2}


def suite(name: str) -> list[Row]:
    try:
        return list(SUITES[name])
    except KeyError:
        raise CmedlError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}") from None


#: (translator, fusion, head) -> the row's name in the paper's tables
PAPER_ROWS: dict[tuple[str, str, str], str] = {
    ("none", "none", "student"): "CBCT only",
    ("cycle", "pmri", "pmri"): "pMRI-Cycle",
    ("unit", "pmri", "pmri"): "pMRI-UNIT",
    ("cycle", "two-channel", "student"): "CT+pMRI",
    ("cx", "hint", "teacher"): "pMRI-CMEDL",
    ("cx", "hint", "student"): "CMEDL",
}


def paper_row_name(translator: str, segmenter: str, fusion: str, head: str) -> str | None:
    """The name of the paper's row that a combination and head reproduce (``3DUnet`` for the 3D CBCT-only row)."""
    if segmenter == "unet3d" and (translator, fusion) == ("none", "none"):
        return "3DUnet"
    return PAPER_ROWS.get((translator, fusion, head))
