"""Reading and writing 3D images with SimpleITK: one scalar volume per file, every failure one line naming the file,
non-finite voxels found for every format (:mod:`cmedl_bench.io.nifti`), writes atomic and, on request, reoriented.
IMAGE_ENDINGS are the endings the importers and ``evaluate`` recognise (longest first)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from cmedl_bench.errors import DatasetError
from cmedl_bench.io.atomic import atomic_write
from cmedl_bench.io.geometry import reorient

IMAGE_ENDINGS = (".seg.nrrd", ".nii.gz", ".nrrd", ".nii", ".mha", ".mhd")


def read_image(path: Path, what: str, finite: bool = True):
    """One 3D scalar image; every failure (unreadable, not 3D, vector pixels and, with ``finite``, non-finite
    voxels) is one line naming the file."""
    image, bad = read_scan(path, what)
    if bad and finite:
        raise DatasetError(f"{path}: {bad} NaN or infinite voxels")
    return image


def read_scan(path: Path, what: str):
    """One 3D scalar image and its number of NaN or infinite voxels, the header read first. A float NIfTI file's
    voxels are read once, from its raw data block (ITK's NIfTI reader turns NaN into 0: :mod:`cmedl_bench.io.nifti`),
    and given the header's geometry: the image ITK's reader gives, with the count it hides."""
    import SimpleITK as sitk

    from cmedl_bench.io.nifti import float_nifti_voxels

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
        if reader.GetDimension() != 3:
            raise DatasetError(f"{path}: expected a 3D volume, got {reader.GetDimension()}D")
        if reader.GetNumberOfComponents() != 1:
            raise DatasetError(f"{path}: {reader.GetNumberOfComponents()} components per voxel; expected a scalar "
                               f"image")
        read = float_nifti_voxels(path)
        if read is None:
            image = reader.Execute()
            array = sitk.GetArrayViewFromImage(image)
            return image, int((~np.isfinite(array)).sum()) if array.dtype.kind == "f" else 0
    except (RuntimeError, ValueError, EOFError, OSError, struct.error) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(f"{path}: unreadable {what} ({first[:100]})") from None
    voxels, non_finite = read
    if voxels.shape != tuple(reversed(reader.GetSize())):
        raise DatasetError(f"{path}: unreadable {what} (data block of shape {voxels.shape}, header size "
                           f"{reader.GetSize()})")
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing(reader.GetSpacing())
    image.SetOrigin(reader.GetOrigin())
    image.SetDirection(reader.GetDirection())
    return image, non_finite


def on_grid(array: np.ndarray, spacing_zyx, origin=None, direction=None, orientation_code: str | None = None,
            like=None):
    """A (z, y, x) array as a SimpleITK image with the given geometry (reoriented to ``orientation_code`` if given).
    With ``like`` (the SimpleITK image the array was computed from), the header is copied from it, so size, spacing,
    origin and direction are the source's exactly, not recomputed by the reorientation."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))
    if origin is not None:
        image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    if orientation_code is not None:
        image = reorient(image, orientation_code)
    if like is not None:
        image.CopyInformation(like)
    return image


def write_image(path: Path, image) -> None:
    """Write a SimpleITK image atomically, compressed."""
    import SimpleITK as sitk

    atomic_write(path, lambda tmp: sitk.WriteImage(image, tmp, useCompression=True))


def write_volume(path: Path, array: np.ndarray, spacing_zyx, origin=None, direction=None,
                 orientation_code: str | None = None, like=None) -> None:
    """Write a (z, y, x) array with the geometry :func:`on_grid` gives it, atomically."""
    write_image(path, on_grid(array, spacing_zyx, origin, direction, orientation_code, like))
