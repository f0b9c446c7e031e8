"""Training crops: 2D slices that contain tumour, cropped to the preset size around the tumour (paper II.F), mixed
with crops drawn anywhere in the body.

The paper trains on tumour slices only; a network trained so never sees tumour-free tissue and, predicting every
slice of a volume, marks distant false positives. nnU-Net forces a third of each batch to contain foreground and
draws the rest at random (``oversample_foreground_percent = 0.33``). ``foreground`` is that fraction here: the first
``ceil(foreground x batch)`` crops of a batch are tumour-centred, the others are drawn uniformly over all slices of
all volumes (tumour-free slices included) at a uniform position of the body-cropped image. ``foreground = 1`` is the
paper's tumour-only sampling (the ``paper`` preset's); the ``cpu`` preset uses 0.33, chosen on validation
(:mod:`cmedl_bench.config`).

Sampling is driven by a generator seeded per epoch, so a resumed run draws the same crops as an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np

from cmedl_bench.data.preprocessing import PreparedVolume


class TumourSliceSampler:
    def __init__(self, volumes: list[PreparedVolume], crop_size: int, foreground: float = 1.0):
        if not 0.0 < foreground <= 1.0:
            raise ValueError(f"foreground fraction must be in (0, 1], not {foreground}")
        self.volumes = volumes
        self.crop = crop_size
        self.foreground = foreground
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

    def _anywhere(self, volume: PreparedVolume, z: int, rng: np.random.Generator) -> tuple[slice, ...]:
        oy = int(rng.integers(0, volume.image.shape[1] - self.crop + 1))
        ox = int(rng.integers(0, volume.image.shape[2] - self.crop + 1))
        return slice(z, z + 1), slice(oy, oy + self.crop), slice(ox, ox + self.crop)

    def _shape(self, batch_size: int) -> tuple[int, ...]:
        return batch_size, 1, self.crop, self.crop

    @property
    def channels(self) -> int:
        """2 when every volume carries its aligned MRI (cut with the same windows, as channel 1), else 1."""
        return 2 if all(v.aligned is not None for v in self.volumes) else 1

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` crops (module docstring): images (B, channels, crop, crop) and masks (B, 1, crop, crop),
        float32."""
        shape = self._shape(batch_size)
        channels = self.channels
        images = np.empty((shape[0], channels, *shape[2:]), dtype=np.float32)
        masks = np.empty(shape, dtype=np.float32)
        centred = math.ceil(self.foreground * batch_size)
        windows = [(self.items[k][0], self._window(self.volumes[self.items[k][0]], self.items[k][1], rng))
                   for k in rng.integers(len(self.items), size=centred)]
        for _ in range(batch_size - centred):
            vi = int(rng.integers(len(self.volumes)))
            windows.append((vi, self._anywhere(self.volumes[vi], int(rng.integers(self.volumes[vi].image.shape[0])),
                                               rng)))
        for b, (vi, window) in enumerate(windows):
            images[b, 0] = self.volumes[vi].image[window].reshape(shape[2:])
            if channels == 2:
                images[b, 1] = self.volumes[vi].aligned[window].reshape(shape[2:])
            masks[b, 0] = self.volumes[vi].label[window].reshape(shape[2:])
        return images, masks


class TumourPatchSampler(TumourSliceSampler):
    """3D patches (depth x crop x crop) around tumour-containing slices, for 3D segmenters."""

    def __init__(self, volumes: list[PreparedVolume], crop_size: int, depth: int, foreground: float = 1.0):
        super().__init__(volumes, crop_size, foreground)
        self.depth = depth

    def _shape(self, batch_size: int) -> tuple[int, ...]:
        return batch_size, 1, self.depth, self.crop, self.crop

    def _window(self, volume: PreparedVolume, z: int, rng: np.random.Generator) -> tuple[slice, ...]:
        _, rows, cols = super()._window(volume, z, rng)
        jitter = rng.integers(-(self.depth // 4), self.depth // 4 + 1)
        oz = int(np.clip(z - self.depth // 2 + jitter, 0, volume.image.shape[0] - self.depth))
        return slice(oz, oz + self.depth), rows, cols

    def _anywhere(self, volume: PreparedVolume, z: int, rng: np.random.Generator) -> tuple[slice, ...]:
        _, rows, cols = super()._anywhere(volume, z, rng)
        oz = int(np.clip(z - self.depth // 2, 0, volume.image.shape[0] - self.depth))
        return slice(oz, oz + self.depth), rows, cols


def sampler_for(volumes: list[PreparedVolume], crop_size: int, dims: int, depth: int,
                foreground: float = 1.0) -> TumourSliceSampler:
    if dims == 3:
        return TumourPatchSampler(volumes, crop_size, depth, foreground)
    return TumourSliceSampler(volumes, crop_size, foreground)
