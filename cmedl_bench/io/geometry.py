"""Image grids: one comparison with its tolerances, orientation codes, and the exact mapping between two grids that
cover the same voxels in another axis order or direction.

Tolerances (mm for spacing and origin, direction cosines unitless) are those every reader of this project uses; they
absorb the rounding of NIfTI's float32 header fields and DICOM's decimal strings, nothing more.

Orientation follows DICOM's convention (LPS patient axes, as SimpleITK's ``DICOMOrient``): a code such as ``LPS``
names where each voxel axis points. Training reads every volume in :data:`CANONICAL_ORIENTATION`; predictions go
back to each scan's own grid.
"""

from __future__ import annotations

import numpy as np

TOLERANCES = {"size": 0.0, "spacing": 1e-4, "origin": 1e-3, "direction": 1e-5}
CANONICAL_ORIENTATION = "LPS"
#: a spacing above these is implausible for a thoracic CT/CBCT/MRI (mm): probably a header in cm or a wrong field
PLAUSIBLE_SPACING_MM = {"in-plane": 10.0, "slice": 20.0}


def grid(image) -> dict[str, tuple]:
    return {"size": image.GetSize(), "spacing": image.GetSpacing(), "origin": image.GetOrigin(),
            "direction": image.GetDirection()}


def grid_difference(image, reference) -> tuple[str, tuple, tuple] | None:
    """The first of size, spacing, origin and direction in which ``image`` differs from ``reference``: (name,
    image's values, reference's values), rounded for display; None when they share one grid."""
    return grids_differ(grid(image), grid(reference))


def grids_differ(a: dict[str, tuple], b: dict[str, tuple]) -> tuple[str, tuple, tuple] | None:
    """:func:`grid_difference` of two grids already read (:func:`grid`)."""
    for name, tol in TOLERANCES.items():
        if len(a[name]) != len(b[name]) or not np.allclose(a[name], b[name], rtol=0, atol=tol):
            show = (lambda v: tuple(round(float(x), 4) for x in v))
            return name, show(a[name]), show(b[name])
    return None


def orientation(image) -> str:
    """The DICOM orientation code of a 3D image's voxel axes (``LPS``, ``RAS``, ...)."""
    import SimpleITK as sitk

    return sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(image.GetDirection())


def reorient(image, code: str):
    """``image`` with its voxel axes permuted and flipped to ``code``; voxel values and physical positions kept."""
    import SimpleITK as sitk

    return image if orientation(image) == code else sitk.DICOMOrient(image, code)


def index_mapping(image, reference) -> np.ndarray | None:
    """When every voxel of ``reference`` is the centre of exactly one voxel of ``image`` (the same physical grid,
    up to axis order and direction), the affine (4 x 4) that maps reference indices to image indices: a signed
    permutation with an integer offset. None otherwise."""
    return grid_mapping(grid(image), grid(reference))


def grid_mapping(image: dict[str, tuple], reference: dict[str, tuple]) -> np.ndarray | None:
    """:func:`index_mapping` of two grids already read (:func:`grid`)."""
    if len(image["size"]) != len(reference["size"]):
        return None
    dims = len(image["size"])

    def to_physical(g: dict[str, tuple]) -> np.ndarray:
        direction = np.asarray(g["direction"]).reshape(dims, dims)
        affine = np.eye(dims + 1)
        affine[:dims, :dims] = direction @ np.diag(g["spacing"])
        affine[:dims, dims] = g["origin"]
        return affine

    mapping = np.linalg.inv(to_physical(image)) @ to_physical(reference)
    linear, offset = mapping[:dims, :dims], mapping[:dims, dims]
    rounded = np.round(linear)
    tol = TOLERANCES["origin"]
    if (not np.allclose(linear, rounded, atol=1e-4) or not np.allclose(np.abs(rounded).sum(0), 1)
            or not np.allclose(np.abs(rounded).sum(1), 1) or not np.allclose(offset, np.round(offset), atol=tol)):
        return None
    corners = np.array(np.meshgrid(*[[0, s - 1] for s in reference["size"]], indexing="ij")).reshape(dims, -1)
    mapped = rounded @ corners + np.round(offset)[:, None]
    if not (np.allclose(mapped.min(1), 0) and np.allclose(mapped.max(1), np.asarray(image["size"]) - 1)):
        return None
    out = np.eye(dims + 1)
    out[:dims, :dims], out[:dims, dims] = rounded, np.round(offset)
    return out


def onto_grid(image, reference):
    """``image`` resampled onto ``reference``'s grid when :func:`index_mapping` finds the two grids hold the same
    voxels: a pure re-indexing, voxel-exact (nearest neighbour at integer positions). None when they do not."""
    import SimpleITK as sitk

    if index_mapping(image, reference) is None:
        return None
    return sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())


def spacing_warning(image) -> str | None:
    """A warning when the spacing is implausible for thoracic imaging (see :data:`PLAUSIBLE_SPACING_MM`)."""
    spacing = image.GetSpacing()
    if max(spacing[:2]) > PLAUSIBLE_SPACING_MM["in-plane"] or spacing[2] > PLAUSIBLE_SPACING_MM["slice"]:
        return (f"implausible voxel spacing {tuple(round(s, 3) for s in spacing)} mm (expected at most "
                f"{PLAUSIBLE_SPACING_MM['in-plane']:g} mm in-plane and {PLAUSIBLE_SPACING_MM['slice']:g} mm between "
                f"slices; a header in cm?)")
    return None
