"""NIfTI details SimpleITK does not cover: non-finite voxels, which its reader silently turns into 0, and
fractions stored compactly as 8-bit integers with a scale factor, which its writer cannot set.

ITK's NIfTI image IO replaces NaN and infinite float voxels by zero on reading (checked: a float32 ``.nii.gz`` with
one NaN and one Inf reads back with neither), so a NaN check on the array it returns never fires for NIfTI. This
module reads the raw data block after the header (NIfTI-1: 348-byte header, NIfTI-2: 540 bytes; ``vox_offset``,
``datatype``, ``dim``, ``scl_slope`` at the offsets of the NIfTI-1/2 standards) itself, in the same pass that gives
the image its voxels (:func:`cmedl_bench.io.images.read_scan`: a compressed file is decompressed once). Integer data
types cannot hold a NaN: only their header is read here.

A map of fractions (a probability, its SD over dropout passes) is written by :func:`write_fraction_map` as uint8
with ``scl_slope`` = 1/255 (NIfTI-1 header bytes 112-119, ``scl_slope`` and ``scl_inter``): every NIfTI reader
(ITK, nibabel, 3D Slicer) returns the fraction as float, to within 1/510, at a quarter of float32's size before
compression and a small part of it after (float noise does not compress; 256 levels do). It is compressed at
gzip's fastest level: on a 512 x 512 x 100 probability map 0.12 s and 1.7 MB against 0.47 s and 1.1 MB at level 6.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of FLOAT32 and FLOAT64
_LAYOUT = {348: ("h", 40, 70, 108, "f"), 540: ("q", 16, 12, 168, "q")}  # dim type, dim, datatype, vox_offset
_SCALE_AT = 112  # NIfTI-1: float32 scl_slope, then scl_inter
_SCALE_AT_NIFTI2 = 176  # NIfTI-2: float64 scl_slope, then scl_inter
FRACTION_LEVELS = 255
#: slices quantised at a time by :func:`write_fraction_map`
_QUANTISED_SLICES = 16


def float_nifti_voxels(path: Path) -> tuple[np.ndarray, int] | None:
    """The voxels of a ``.nii``/``.nii.gz`` file with float data as ITK's reader gives them, a (z, y, x) array read
    from the raw data block in one pass (NaN and infinite values set to 0, then ``scl_slope``/``scl_inter`` applied
    where the slope is set), and the number of NaN and infinite values; None for other files and for integer data,
    whose header alone is read."""
    name = Path(path).name
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        return None
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        header = _header(handle.read(max(_LAYOUT)))  # the header first: integer data are never unpacked here
    if header is None or header[2] not in _FLOAT_TYPES:
        return None
    endian, size, datatype = header
    raw = _gunzip(Path(path).read_bytes()) if name.endswith(".gz") else Path(path).read_bytes()
    dim_type, dim_at, _, offset_at, offset_type = _LAYOUT[size]
    width = struct.calcsize(dim_type)
    dims = struct.unpack(f"{endian}8{dim_type}", raw[dim_at:dim_at + 8 * width])
    shape = [max(1, int(d)) for d in dims[1:1 + dims[0]]]
    offset = int(struct.unpack(f"{endian}{offset_type}", raw[offset_at:offset_at + struct.calcsize(offset_type)])[0])
    data = np.frombuffer(raw, dtype=f"{endian}{_FLOAT_TYPES[datatype]}", count=int(np.prod(shape)), offset=offset)
    slope_type, slope_at = ("f", _SCALE_AT) if size == 348 else ("d", _SCALE_AT_NIFTI2)
    slope, inter = struct.unpack(f"{endian}2{slope_type}", raw[slope_at:slope_at + 2 * struct.calcsize(slope_type)])
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    non_finite = ~np.isfinite(data)
    count = int(non_finite.sum())
    if count:
        data = data.copy()
        data[non_finite] = 0
    if slope and np.isfinite(slope) and (slope, inter) != (1.0, 0.0):
        data = (data * slope + inter).astype(data.dtype)
    return data.reshape(shape[::-1]), count


def _gunzip(compressed: bytes) -> bytes:
    """Every member of a gzip stream, decompressed with zlib in one call per member (faster than ``gzip``'s reader)."""
    parts = []
    while compressed:
        inflater = zlib.decompressobj(31)
        parts.append(inflater.decompress(compressed))
        if not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        compressed = inflater.unused_data.lstrip(b"\0")
    return b"".join(parts)


def _header(header: bytes) -> tuple[str, int, int] | None:
    """Byte order, header size (348: NIfTI-1, 540: NIfTI-2) and datatype code of a NIfTI header; None for anything
    else."""
    for endian in "<>":
        size = struct.unpack(f"{endian}i", header[:4])[0] if len(header) >= 4 else 0
        if size in _LAYOUT and len(header) >= size:
            type_at = _LAYOUT[size][2]
            return endian, size, struct.unpack(f"{endian}h", header[type_at:type_at + 2])[0]
    return None


def write_fraction_map(path: Path, image) -> Path:
    """Write a SimpleITK image of values in [0, 1] to ``path`` (``.nii.gz``) as uint8 with scale factor
    1/:data:`FRACTION_LEVELS` (module docstring), atomically."""
    import tempfile

    import SimpleITK as sitk

    from cmedl_bench.io.atomic import atomic_write

    values = sitk.GetArrayViewFromImage(image)
    levels = np.empty(values.shape, dtype=np.uint8)
    for start in range(0, len(values), _QUANTISED_SLICES):  # a few slices at a time: no float copy of the volume
        chunk = np.multiply(values[start:start + _QUANTISED_SLICES], FRACTION_LEVELS, dtype=np.float32)
        levels[start:start + _QUANTISED_SLICES] = np.clip(np.rint(chunk, out=chunk), 0, FRACTION_LEVELS, out=chunk)
    quantised = sitk.GetImageFromArray(levels)
    quantised.CopyInformation(image)
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "map.nii"
        sitk.WriteImage(quantised, str(plain))
        raw = bytearray(plain.read_bytes())
    endian = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    struct.pack_into(f"{endian}ff", raw, _SCALE_AT, 1.0 / FRACTION_LEVELS, 0.0)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(gzip.compress(bytes(raw), compresslevel=1)))
