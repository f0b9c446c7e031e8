"""Training crops: 2D slices that contain tumour, cropped to the preset size around the tumour (paper II.F).

Sampling is driven by a generator seeded per epoch, so a resumed run draws the same crops as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from cmedl_bench.data.preprocessing import PreparedVolume


class TumourSliceSampler:
    def __init__(self, volumes: list[PreparedVolume], crop_size: int):
        self.volumes = volumes
        self.crop = crop_size
        self.items = [(i, int(z)) for i, v in enumerate(volumes) for z in v.tumour_slices]
        if not self.items:
            raise ValueError("no training slice contains tumour")

    def __len__(self) -> int:
        return len(self.items)

    def _origin(self, centre: float, extent: int, rng: np.random.Generator) -> int:
        jitter = rng.uniform(-self.crop / 3, self.crop / 3)
        return int(np.clip(round(centre - self.crop / 2 + jitter), 0, extent - self.crop))

    def _window(self, volume: PreparedVolume, z: int, rng: np.random.Generator) -> tuple[slice, ...]:
        ys, xs = np.nonzero(volume.label[z])
        oy = self._origin(ys.mean(), volume.image.shape[1], rng)
        ox = self._origin(xs.mean(), volume.image.shape[2], rng)
        return slice(z, z + 1), slice(oy, oy + self.crop), slice(ox, ox + self.crop)

    def _shape(self, batch_size: int) -> tuple[int, ...]:
        return batch_size, 1, self.crop, self.crop

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` random crops: images and masks of shape (B, 1, crop, crop), float32."""
        shape = self._shape(batch_size)
        images, masks = np.empty(shape, dtype=np.float32), np.empty(shape, dtype=np.float32)
        for b, k in enumerate(rng.integers(len(self.items), size=batch_size)):
            vi, z = self.items[k]
            window = self._window(self.volumes[vi], z, rng)
            images[b, 0] = self.volumes[vi].image[window].reshape(shape[2:])
            masks[b, 0] = self.volumes[vi].label[window].reshape(shape[2:])
        return images, masks


class TumourPatchSampler(TumourSliceSampler):
    """3D patches (depth x crop x crop) around tumour-containing slices, for 3D segmenters."""

    def __init__(self, volumes: list[PreparedVolume], crop_size: int, depth: int):
        super().__init__(volumes, crop_size)
        self.depth = depth

    def _shape(self, batch_size: int) -> tuple[int, ...]:
        return batch_size, 1, self.depth, self.crop, self.crop

    def _window(self, volume: PreparedVolume, z: int, rng: np.random.Generator) -> tuple[slice, ...]:
        _, rows, cols = super()._window(volume, z, rng)
        jitter = rng.integers(-(self.depth // 4), self.depth // 4 + 1)
        oz = int(np.clip(z - self.depth // 2 + jitter, 0, volume.image.shape[0] - self.depth))
        return slice(oz, oz + self.depth), rows, cols


def sampler_for(volumes: list[PreparedVolume], crop_size: int, dims: int, depth: int) -> TumourSliceSampler:
    return TumourPatchSampler(volumes, crop_size, depth) if dims == 3 else TumourSliceSampler(volumes, crop_size)
