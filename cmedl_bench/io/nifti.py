"""NIfTI details SimpleITK does not cover: non-finite voxels, which its reader silently turns into 0, and
fractions stored compactly as 8-bit integers with a scale factor, which its writer cannot set.

ITK's NIfTI image IO replaces NaN and infinite float voxels by zero on reading (checked: a float32 ``.nii.gz`` with
one NaN and one Inf reads back with neither), so a NaN check on the array it returns never fires for NIfTI. This
module reads the raw data block after the header (NIfTI-1: 348-byte header, NIfTI-2: 540 bytes; ``vox_offset``,
``datatype``, ``dim`` at the offsets of the NIfTI-1/2 standards) and counts them itself. Integer data types cannot
hold a NaN and are not read.

A map of fractions (a probability, its SD over dropout passes) is written by :func:`write_fraction_map` as uint8
with ``scl_slope`` = 1/255 (NIfTI-1 header bytes 112-119, ``scl_slope`` and ``scl_inter``): every NIfTI reader
(ITK, nibabel, 3D Slicer) returns the fraction as float, to within 1/510, at a quarter of float32's size before
compression and a small part of it after (float noise does not compress; 256 levels do).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of FLOAT32 and FLOAT64
_LAYOUT = {348: ("h", 40, 70, 108, "f"), 540: ("q", 16, 12, 168, "q")}  # dim type, dim, datatype, vox_offset
_SCALE_AT = 112  # NIfTI-1: float32 scl_slope, then scl_inter
FRACTION_LEVELS = 255


def non_finite_nifti_voxels(path: Path) -> int:
    """How many NaN or infinite voxels a ``.nii``/``.nii.gz`` file holds (0 for other files and integer data)."""
    name = Path(path).name
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return 0
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read(max(_LAYOUT))  # the header first: integer data are never unpacked here
        if _float_datatype(raw):
            raw += handle.read()
        else:
            return 0
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


def _float_datatype(header: bytes) -> bool:
    """Whether a NIfTI-1/2 header announces float voxels (the only ones that can be NaN)."""
    for endian in "<>":
        size = struct.unpack(f"{endian}i", header[:4])[0] if len(header) >= 4 else 0
        if size in _LAYOUT and len(header) >= size:
            type_at = _LAYOUT[size][2]
            return struct.unpack(f"{endian}h", header[type_at:type_at + 2])[0] in _FLOAT_TYPES
    return False


def write_fraction_map(path: Path, image) -> Path:
    """Write a SimpleITK image of values in [0, 1] to ``path`` (``.nii.gz``) as uint8 with scale factor
    1/:data:`FRACTION_LEVELS` (module docstring), atomically."""
    import tempfile

    import SimpleITK as sitk

    from cmedl_bench.io.atomic import atomic_write

    levels = np.clip(np.rint(sitk.GetArrayViewFromImage(image) * FRACTION_LEVELS), 0, FRACTION_LEVELS)
    quantised = sitk.GetImageFromArray(levels.astype(np.uint8))
    quantised.CopyInformation(image)
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "map.nii"
        sitk.WriteImage(quantised, str(plain))
        raw = bytearray(plain.read_bytes())
    endian = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    struct.pack_into(f"{endian}ff", raw, _SCALE_AT, 1.0 / FRACTION_LEVELS, 0.0)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(gzip.compress(bytes(raw), compresslevel=6)))
