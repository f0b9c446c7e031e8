"""Volume preprocessing (paper II.A and II.F).

1. Body mask: Otsu intensity threshold, hole filling slice by slice (the lungs are holes), largest 3D connected
   component (drops the couch and noise). Voxels outside the reconstructed field of view take no part
   (:func:`outside_field_of_view`): a scanner writes them as one constant (``PixelPaddingValue``, or 0, -1000, -1024,
   -3024 HU outside a CBCT's circular field of view), and counted as image they drag the threshold (-3024 HU
   padding turns the air into "body") or become body themselves (0 HU around a 120 mm cylinder).
2. Per-volume z-score. The paper standardises each CBCT with its global mean and SD; we take the statistics inside
   the body mask, as nnU-Net does for CT with ``use_mask_for_norm``, so that the amount of air around the patient
   does not change the scaling. Voxels outside the body are set to the body's lowest value.
3. In-plane crop to the body's bounding box (the paper's removal of regions outside the body), then optional in-plane
   resampling to the preset's spacing (``cpu`` works at 2.5 mm; ``paper`` keeps the native ~1 mm), padded to at least
   the crop size.

The kept bounding box and sizes let predictions be put back on the original voxel grid, where metrics are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cmedl_bench.data.layout import Volume


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold maximising the between-class variance of a 1D sample."""
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(hist * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


#: share of a slice's edge that one exact value must cover for it to be taken as padding (noise never repeats one
#: value along most of the edge; a field of view written as a constant does)
PADDING_EDGE_SHARE = 0.5


def outside_field_of_view(image: np.ndarray) -> np.ndarray:
    """(z, y, x) voxels outside the reconstructed field of view: per slice, when one exact value covers at least
    :data:`PADDING_EDGE_SHARE` of the slice's edge, the voxels of that value connected to the edge. Found from the
    pixels, so it works for NIfTI and DICOM alike, whatever padding value the scanner chose."""
    outside = np.zeros(image.shape, dtype=bool)
    for k, plane in enumerate(image):
        edge = np.concatenate([plane[0], plane[-1], plane[1:-1, 0], plane[1:-1, -1]])
        values, counts = np.unique(edge, return_counts=True)
        if counts.max() < PADDING_EDGE_SHARE * edge.size:
            continue
        labels, _ = ndimage.label(plane == values[counts.argmax()])
        touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        outside[k] = np.isin(labels, touching[touching > 0])
    return outside


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_fill_holes`` of every (y, x) slice (4-connected background): per slice, the background
    components that touch no edge are holes. One slice's labels at a time stay in cache, where a labelling of the
    whole volume writes a 32-bit label per voxel to memory touched for the first time."""
    filled = np.empty_like(mask, dtype=bool)
    for k, plane in enumerate(mask):
        labels, count = ndimage.label(~plane)
        reaches_edge = np.zeros(count + 1, dtype=bool)
        for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
            reaches_edge[edge] = True
        reaches_edge[0] = False  # label 0: the mask itself, kept
        np.logical_not(reaches_edge[labels], out=filled[k])
    return filled


def component_sizes(labels: np.ndarray, count: int, chunk: int = 8) -> np.ndarray:
    """Voxels of each component 1..``count`` of an ``ndimage.label`` result, counted inside each component's
    bounding box (``ndimage.find_objects``), ``chunk`` planes of the first axis at a time: no volume-sized temporary,
    where ``np.bincount`` first copies the labels to 64-bit integers (on a 512 x 512 x 100 scan 0.6 s of memory
    touched for the first time)."""
    sizes = np.zeros(count, dtype=np.int64)
    for k, box in enumerate(ndimage.find_objects(labels, max_label=count), start=1):
        if box is not None:
            first, rest = box[0], box[1:]
            sizes[k - 1] = sum(np.count_nonzero(labels[(slice(start, min(start + chunk, first.stop)), *rest)] == k)
                               for start in range(first.start, first.stop, chunk))
    return sizes


def body_mask(image: np.ndarray, outside: np.ndarray | None = None) -> np.ndarray:
    """Body region of a (z, y, x) volume: threshold (from the voxels inside the field of view), per-slice hole
    filling, largest connected component; ``outside``: :func:`outside_field_of_view`, computed when not given."""
    outside = outside_field_of_view(image) if outside is None else outside
    step = max(1, image.shape[0] // 8)
    sample = image[::step][~outside[::step]]
    if sample.size == 0:
        sample = image[~outside] if (~outside).any() else image.ravel()
    mask = (image > otsu_threshold(sample)) & ~outside
    mask = fill_holes_per_slice(mask)
    labels, count = ndimage.label(mask)
    if count > 1:
        mask = labels == (1 + int(np.argmax(component_sizes(labels, count))))
    if not mask.any():  # a uniform image: treat everything as body rather than fail
        mask[:] = True
    return mask


def field_of_view_contact(body: np.ndarray, outside: np.ndarray) -> float:
    """Share of the body's in-plane outline that borders the outside of the field of view: 0 when the field of view
    holds the whole body, large when it cuts the body (a CBCT of a broad patient)."""
    edge = body & ~np.stack([ndimage.binary_erosion(s) for s in body])
    if not edge.any():
        return 0.0
    grown = np.stack([ndimage.binary_dilation(s) for s in outside])
    return float((edge & grown).sum() / edge.sum())


def zscore(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` standardised with the mean and SD of its voxels inside ``mask``, voxels outside set to the lowest
    value inside; float32, computed in one new volume."""
    inside = image[mask]
    out = np.subtract(image, inside.mean(), dtype=np.float32)
    out /= max(float(inside.std()), 1e-6)
    out[~mask] = float(out[mask].min())
    return out


@dataclass
class PreparedVolume:
    """A volume ready for the network, plus what is needed to map predictions back."""

    volume: Volume
    image: np.ndarray  # (z, h, w) float32, z-scored, body-cropped, resampled, padded
    label: np.ndarray  # (z, h, w) uint8 on the same grid
    bbox: tuple[int, int, int, int]  # y0, y1, x0, x1 of the body box on the original grid
    resampled_hw: tuple[int, int]  # size of the box after resampling, before padding
    #: the aligned MRI of the scan (cohort ``mri-aligned``) on the same grid, z-scored in its own body; None unless
    #: the run reads it (reference rows and diagnostics only)
    aligned: np.ndarray | None = None

    @property
    def tumour_slices(self) -> np.ndarray:
        return np.nonzero(self.label.reshape(self.label.shape[0], -1).any(axis=1))[0]


def resize_slices(array: np.ndarray, size: tuple[int, int], order: int) -> np.ndarray:
    """Resize each (y, x) slice of a (z, y, x) array to ``size`` with spline ``order`` (0 nearest, 1 linear)."""
    if array.shape[1:] == tuple(size):
        return array
    if not array.any():  # an empty mask (a scan without reference): zero at any order, no interpolation needed
        return np.zeros((array.shape[0], *size), dtype=array.dtype)
    factors = (1.0, size[0] / array.shape[1], size[1] / array.shape[2])
    out = ndimage.zoom(array, factors, order=order, mode="nearest", grid_mode=True)
    return out[:, : size[0], : size[1]]


def prepare(volume: Volume, spacing_xy_mm: float | None, min_size: int, min_depth: int = 1,
            margin_mm: float = 10.0, aligned: Volume | None = None, body: np.ndarray | None = None
            ) -> PreparedVolume:
    """``aligned``: the scan's aligned MRI (on its grid), cropped, resampled and padded exactly as the scan
    (:func:`with_aligned`); ``body``: the scan's :func:`body_mask`, computed when not given."""
    body = body_mask(volume.image) if body is None else body
    image = zscore(volume.image, body)
    ys, xs = np.nonzero(body.any(axis=0))
    sy, sx = volume.spacing_zyx[1], volume.spacing_zyx[2]
    my, mx = int(round(margin_mm / sy)), int(round(margin_mm / sx))
    bbox = (max(0, ys.min() - my), min(body.shape[1], ys.max() + 1 + my),
            max(0, xs.min() - mx), min(body.shape[2], xs.max() + 1 + mx))
    y0, y1, x0, x1 = bbox
    size = (y1 - y0, x1 - x0)
    if spacing_xy_mm is not None:
        size = (max(1, round(size[0] * sy / spacing_xy_mm)), max(1, round(size[1] * sx / spacing_xy_mm)))
    shape = (max(min_depth, body.shape[0]), max(min_size, size[0]), max(min_size, size[1]))
    prepared = PreparedVolume(volume, _working_grid(image, bbox, size, shape, order=1),
                              _working_grid(volume.label, bbox, size, shape, order=0, fill=0),
                              tuple(int(v) for v in bbox), (int(size[0]), int(size[1])))
    return with_aligned(prepared, aligned) if aligned is not None else prepared


def _working_grid(array: np.ndarray, bbox, size: tuple[int, int], shape: tuple[int, int, int], order: int,
                  fill: float | None = None) -> np.ndarray:
    """An original-grid (z, y, x) array cropped to the body box, resampled in-plane to ``size`` and padded to
    ``shape`` (with its minimum, or ``fill``)."""
    y0, y1, x0, x1 = bbox
    out = resize_slices(array[:, y0:y1, x0:x1], size, order=order)
    pad = tuple((0, max(0, want - have)) for want, have in zip(shape, out.shape))
    if any(after for _, after in pad):
        out = np.pad(out, pad, constant_values=float(out.min()) if fill is None else fill)
    return np.ascontiguousarray(out, dtype=np.float32 if order else array.dtype)


def with_aligned(prepared: PreparedVolume, aligned: Volume) -> PreparedVolume:
    """``prepared`` with its scan's aligned MRI, z-scored in its own body and put on the scan's working grid (the
    scan's body box, resampling and padding)."""
    if aligned.image.shape != prepared.volume.shape:
        from cmedl_bench.errors import DatasetError

        raise DatasetError(f"{aligned.case.image_path}: aligned MRI of shape {aligned.image.shape} does not lie on "
                           f"its CBCT scan's grid {prepared.volume.shape}")
    image = zscore(aligned.image, body_mask(aligned.image))
    prepared.aligned = _working_grid(image, prepared.bbox, prepared.resampled_hw, prepared.image.shape, order=1)
    return prepared

