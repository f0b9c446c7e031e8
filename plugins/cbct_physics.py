"""Physical CBCT rendering for phantom version 2: attenuation from HU, fan-beam forward projection over a limited
number of views, scatter, Poisson noise, and filtered back-projection.

Per axial slice (the cone angle of a linac-mounted CBCT is small, so each slice is treated as a fan):

1. linear attenuation mu = mu_water (1 + HU / 1000), with mu_water = 0.0193 / mm (water at about 70 keV, a typical
   effective energy of a 100-125 kVp CBCT beam; NIST XCOM);
2. line integrals along the rays of a fan beam, source-to-isocentre 1000 mm and a virtual detector through the
   isocentre (the geometry of Varian's On-Board Imager: SAD 1000 mm, SDD 1500 mm), over ``views`` source angles in
   360 degrees, sampled every pixel within the field of view (the inscribed circle: corners are air);
3. scatter: a smooth, low-frequency fluence added to the primary, produced in proportion to T ln(1/T) of each ray
   (T the primary transmission) and spread by a broad kernel, after Ohnesorge et al. (Med Phys 1999); it is what
   makes CBCT cup and lose soft-tissue contrast; optionally (``scatter_residual``) a scatter correction subtracts
   the expected scatter after detection, leaving its noise;
4. Poisson noise on the detected photons, ``photons`` per detector bin for an unattenuated ray;
5. reconstruction: the fan-beam sinogram is rebinned to parallel beams (a ray through source angle beta at detector
   position u is the parallel ray theta = beta - acos(t / R) with t = -u R / sqrt(R^2 + u^2)), ramp-filtered with a
   Hann window (Kak and Slaney, ch. 3, eq. 61 for the discrete Ram-Lak kernel), and back-projected.

The projector and back-projector run on torch ``grid_sample`` with the slices as channels, so one sampling grid
serves a whole volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MU_WATER_PER_MM = 0.0193


@dataclass(frozen=True)
class FanBeam:
    views: int = 90
    bins: int = 128
    source_to_isocentre_mm: float = 1000.0
    photons: float = 1.5e4
    scatter_fraction: float = 0.12
    #: the share of the scatter left after a scatter correction (1.0: none, as phantom v2); clinical CBCT subtracts a
    #: model-based scatter estimate before reconstruction (e.g. Sun and Star-Lack, Phys Med Biol 2010), which removes
    #: most of the cupping but not the noise the scatter adds
    scatter_residual: float = 1.0


def _normalised(coord_mm, half_extent_mm):
    """Map mm to grid_sample's [-1, 1] (align_corners=False: pixel centres at (i + 0.5) / n * 2 - 1)."""
    return coord_mm / half_extent_mm


def forward_project(mu, pixel_mm: float, beam: FanBeam):
    """Fan-beam line integrals of ``mu`` (torch, (slices, n, n), per mm) -> (slices, views, bins)."""
    import torch
    import torch.nn.functional as F

    n = mu.shape[-1]
    half = n * pixel_mm / 2
    radius = beam.source_to_isocentre_mm
    beta = torch.arange(beam.views, dtype=torch.float32) * (2 * np.pi / beam.views)
    u = (torch.arange(beam.bins, dtype=torch.float32) - (beam.bins - 1) / 2) * (2 * half * 1.05 / beam.bins)
    step = pixel_mm
    s = torch.arange(radius - half, radius + half, step, dtype=torch.float32)
    source = torch.stack([radius * torch.cos(beta), radius * torch.sin(beta)], -1)  # (views, 2)
    detector_dir = torch.stack([-torch.sin(beta), torch.cos(beta)], -1)
    target = u[None, :, None] * detector_dir[:, None, :]  # (views, bins, 2)
    direction = target - source[:, None, :]
    direction = direction / direction.norm(dim=-1, keepdim=True)
    points = source[:, None, None, :] + s[None, None, :, None] * direction[:, :, None, :]  # (views, bins, samples, 2)
    grid = _normalised(points.reshape(1, beam.views, -1, 2), half)
    sampled = F.grid_sample(mu[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled.reshape(mu.shape[0], beam.views, beam.bins, -1).sum(-1) * step, u


def detect(line_integrals, beam: FanBeam, rng: np.random.Generator, scatter_fraction: float):
    """Primary transmission plus scatter, Poisson-sampled, back to measured line integrals."""
    import torch
    from scipy import ndimage

    primary = torch.exp(-line_integrals).numpy()
    # scatter is produced where the beam is attenuated but not absorbed (T ln(1/T): zero in air and behind thick
    # tissue) and reaches the detector spread widely (Ohnesorge et al., 1999, kernel model of scatter)
    source = primary * line_integrals.numpy()
    scatter = scatter_fraction * ndimage.gaussian_filter(source, (0, 2, beam.bins / 6), mode="nearest")
    counts = rng.poisson(beam.photons * (primary + scatter)).astype(np.float32)
    if beam.scatter_residual < 1.0:
        counts = counts - ((1.0 - beam.scatter_residual) * beam.photons * scatter).astype(np.float32)
    return torch.from_numpy(-np.log(np.maximum(counts, 1.0) / beam.photons))


def _ramp_filter(n_t: int, dt: float, padded: int):
    """Frequency response of the discrete Ram-Lak kernel (h(0) = 1/(4 dt^2), h(odd k) = -1/(k pi dt)^2) times a Hann
    window, for ``padded``-point FFTs; includes the dt of the convolution sum."""
    import torch

    k = torch.arange(-(n_t - 1), n_t, dtype=torch.float64)
    h = torch.zeros_like(k)
    h[k == 0] = 1 / (4 * dt**2)
    odd = (k.abs() % 2) == 1
    h[odd] = -1 / (k[odd] * np.pi * dt) ** 2
    kernel = torch.zeros(padded, dtype=torch.float64)
    kernel[: n_t] = h[n_t - 1:]
    kernel[-(n_t - 1):] = h[: n_t - 1]
    response = torch.fft.rfft(kernel).real * dt
    frequency = torch.fft.rfftfreq(padded)
    return (response * 0.5 * (1 + torch.cos(2 * np.pi * frequency))).float()


def reconstruct(sinogram, u, pixel_mm: float, n: int, beam: FanBeam):
    """Rebin (slices, views, bins) fan data to parallel beams and apply filtered back-projection -> (slices, n, n)."""
    import torch
    import torch.nn.functional as F

    radius = beam.source_to_isocentre_mm
    half = n * pixel_mm / 2
    n_theta, n_t = beam.views // 2, beam.bins
    theta = torch.arange(n_theta, dtype=torch.float32) * (np.pi / n_theta)
    t = (torch.arange(n_t, dtype=torch.float32) - (n_t - 1) / 2) * (2 * half * 1.05 / n_t)
    beta = (theta[:, None] + torch.arccos(t[None, :] / radius)) % (2 * np.pi)
    u_needed = (-t / torch.sqrt(1 - (t / radius) ** 2))[None, :].expand(n_theta, n_t)
    # periodic in beta: append the first view after the last, then interpolate bilinearly
    wrapped = torch.cat([sinogram, sinogram[:, :1]], dim=1)
    beta_coord = beta / (2 * np.pi) * beam.views  # in view units, 0..views
    grid = torch.stack([(u_needed - u[0]) / (u[-1] - u[0]) * 2 - 1, beta_coord / beam.views * 2 - 1], -1)
    parallel = F.grid_sample(wrapped[None], grid[None], mode="bilinear", padding_mode="border",
                             align_corners=True)[0]  # (slices, n_theta, n_t)
    dt = float(t[1] - t[0])
    padded = int(2 ** np.ceil(np.log2(2 * n_t)))
    filtered = torch.fft.irfft(torch.fft.rfft(parallel, n=padded) * _ramp_filter(n_t, dt, padded), n=padded)
    filtered = filtered[..., :n_t]
    axis = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * pixel_mm
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    positions = x.reshape(1, -1) * torch.cos(theta)[:, None] + y.reshape(1, -1) * torch.sin(theta)[:, None]
    grid = torch.stack([(positions - t[0]) / (t[-1] - t[0]) * 2 - 1,
                        ((torch.arange(n_theta, dtype=torch.float32) + 0.5) / n_theta * 2 - 1)[:, None]
                        .expand(n_theta, n * n)], -1)
    values = F.grid_sample(filtered[None], grid[None], mode="bilinear", padding_mode="zeros", align_corners=True)
    return (values[0].sum(1) * (np.pi / n_theta)).reshape(-1, n, n)


def simulate_cbct(hu: np.ndarray, pixel_mm: float, rng: np.random.Generator, beam: FanBeam = FanBeam(),
                  downsample: int = 2) -> np.ndarray:
    """CBCT HU of a (z, y, x) HU volume: simulated at ``downsample`` times the pixel size (CBCT is blurrier than
    CT anyway), returned on the input grid."""
    import torch
    import torch.nn.functional as F

    mu = MU_WATER_PER_MM * (1 + torch.from_numpy(hu.astype(np.float32)) / 1000)
    mu = F.avg_pool2d(mu.clamp_min(0)[:, None], downsample)[:, 0]
    coarse = pixel_mm * downsample
    integrals, u = forward_project(mu, coarse, beam)
    measured = detect(integrals, beam, rng, beam.scatter_fraction * rng.uniform(0.7, 1.3))
    mu_hat = reconstruct(measured, u, coarse, mu.shape[-1], beam)
    fine = F.interpolate(mu_hat[:, None], scale_factor=downsample, mode="bilinear", align_corners=False)[:, 0]
    return (1000 * (fine / MU_WATER_PER_MM - 1)).numpy()
