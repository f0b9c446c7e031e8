"""Non-finite voxels of NIfTI files, which SimpleITK's NIfTI reader silently turns into 0.

ITK's NIfTI image IO replaces NaN and infinite float voxels by zero on reading (checked: a float32 ``.nii.gz`` with
one NaN and one Inf reads back with neither), so a NaN check on the array it returns never fires for NIfTI. This
module reads the raw data block after the header (NIfTI-1: 348-byte header, NIfTI-2: 540 bytes; ``vox_offset``,
``datatype``, ``dim`` at the offsets of the NIfTI-1/2 standards) and counts them itself. Integer data types cannot
hold a NaN and are not read.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of FLOAT32 and FLOAT64
_LAYOUT = {348: ("h", 40, 70, 108, "f"), 540: ("q", 16, 12, 168, "q")}  # dim type, dim, datatype, vox_offset


def non_finite_nifti_voxels(path: Path) -> int:
    """How many NaN or infinite voxels a ``.nii``/``.nii.gz`` file holds (0 for other files and integer data)."""
    name = Path(path).name
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return 0
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    for endian in "<>":
        size = struct.unpack(f"{endian}i", raw[:4])[0]
        if size in _LAYOUT:
            break
    else:
        return 0
    dim_type, dim_at, type_at, offset_at, offset_type = _LAYOUT[size]
    datatype = struct.unpack(f"{endian}h", raw[type_at:type_at + 2])[0]
    if datatype not in _FLOAT_TYPES:
        return 0
    width = struct.calcsize(dim_type)
    dims = struct.unpack(f"{endian}8{dim_type}", raw[dim_at:dim_at + 8 * width])
    count = int(np.prod([max(1, d) for d in dims[1:1 + dims[0]]]))
    offset = int(struct.unpack(f"{endian}{offset_type}", raw[offset_at:offset_at + struct.calcsize(offset_type)])[0])
    data = np.frombuffer(raw, dtype=f"{endian}{_FLOAT_TYPES[datatype]}", count=count, offset=offset)
    return int((~np.isfinite(data)).sum())
