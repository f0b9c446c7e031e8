"""Phantom version 2: the CBCT physics reconstructs what it projects, scatter cups, and the dataset is what the
pipeline expects; version 1 stays selectable."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from cmedl_bench.registry import get_registry
from cmedl_bench_plugins.cbct_physics import FanBeam, simulate_cbct
from tests.conftest import cli


def _disk_phantom(n=128, pixel=2.5):
    axis = (np.arange(n) - (n - 1) / 2) * pixel
    y, x = np.meshgrid(axis, axis, indexing="ij")
    hu = np.full((2, n, n), -1000.0)
    hu[:, (x / 120) ** 2 + (y / 90) ** 2 <= 1] = 0.0  # water
    hu[:, ((x - 50) / 12) ** 2 + (y / 12) ** 2 <= 1] = 1000.0  # bone insert
    hu[:, ((x + 50) / 15) ** 2 + (y / 15) ** 2 <= 1] = -800.0  # lung insert
    return hu, x, y


def test_noise_free_acquisition_reconstructs_the_hu_map():
    hu, x, y = _disk_phantom()
    out = simulate_cbct(hu, 2.5, np.random.default_rng(0), FanBeam(photons=1e12, scatter_fraction=0.0),
                        downsample=1)
    water = (x / 100) ** 2 + (y / 70) ** 2 <= 1
    water &= ((x - 50) ** 2 + y**2 > 25**2) & ((x + 50) ** 2 + y**2 > 28**2)
    assert abs(np.median(out[0][water])) < 15
    assert abs(np.median(out[0][(x - 50) ** 2 + y**2 <= 6**2]) - 1000) < 60
    assert abs(np.median(out[0][(x + 50) ** 2 + y**2 <= 8**2]) + 800) < 40
    assert np.median(out[0][(x / 150) ** 2 + (y / 130) ** 2 > 1.2]) < -950  # air around the body


def test_scatter_cups_and_photons_set_the_noise():
    hu, x, y = _disk_phantom()
    centre, rim = (x**2 + y**2) <= 15**2, ((x / 110) ** 2 + (y / 80) ** 2 <= 1) & ((x / 95) ** 2 + (y / 65) ** 2 > 1)
    clean = simulate_cbct(hu, 2.5, np.random.default_rng(0), FanBeam(photons=1e12, scatter_fraction=0.3),
                          downsample=1)
    cupping = np.median(clean[0][rim]) - np.median(clean[0][centre])
    assert cupping > 30  # the centre reads low
    low_dose = simulate_cbct(hu, 2.5, np.random.default_rng(0), FanBeam(photons=2e3, scatter_fraction=0.0),
                             downsample=1)
    high_dose = simulate_cbct(hu, 2.5, np.random.default_rng(0), FanBeam(photons=2e5, scatter_fraction=0.0),
                              downsample=1)
    assert np.std(low_dose[0][centre]) > 4 * np.std(high_dose[0][centre])  # noise ~ 1 / sqrt(photons)


def test_v2_dataset_layout_grids_and_preview(tmp_path):
    from cmedl_bench.api import synth

    v2 = synth(tmp_path / "v2", dataset="phantom-v2", size="small", quiet=True)
    meta = json.loads((v2 / "dataset.json").read_text())
    assert meta["version"] == 2
    cbct = sitk.ReadImage(str(v2 / "cbct" / "imagesTr" / "C000W1_0000.nii.gz"))
    mri = sitk.ReadImage(str(v2 / "mri" / "imagesTr" / "M000_0000.nii.gz"))
    assert cbct.GetSpacing() != mri.GetSpacing() and mri.GetSpacing()[2] == pytest.approx(4.0)
    hu = sitk.GetArrayFromImage(cbct)
    assert hu.min() < -900 and -300 < np.median(hu[hu > -500]) < 150
    result = cli("data", "synth", str(tmp_path / "p"), "--size", "small", "--preview", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p" / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_earlier_versions_stay_selectable():
    registry = get_registry()
    assert registry.get("dataset", "phantom").info.version == 4
    assert registry.get("dataset", "phantom-v3").info.version == 3
    assert registry.get("dataset", "phantom-mri-null-v3").info.version == 3
    assert registry.get("dataset", "phantom-v2").info.version == 2
    assert registry.get("dataset", "phantom-v1").info.version == 1
