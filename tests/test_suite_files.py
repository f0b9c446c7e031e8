"""Sweeping any grid: ``--grid`` axes and TOML suite files, with a third-party segmenter next to the built-ins."""

import json

import pytest

from cmedl_bench.errors import CmedlError
from cmedl_bench.suite_files import grid_rows, load_suite_file, parse_grid, resolve_suite
from cmedl_bench.suites import Row
from tests.conftest import cli
from tests.test_plugins import _fake_distribution

TINY_SEGMENTER = """
import torch
from cmedl_bench.plugin import SegmenterInfo, hookimpl


class Tiny(torch.nn.Module):
    def __init__(self, in_channels=1, out_channels=1, width=1.0):
        super().__init__()
        channels = max(4, int(16 * width))
        self.body = torch.nn.Sequential(torch.nn.Conv2d(in_channels, channels, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(channels, out_channels, 3, padding=1))

    def forward(self, x):
        return self.body(x)


@hookimpl
def register_segmenters(register):
    register("tiny-seg", Tiny, description="two convolutions", info=SegmenterInfo(dims=2))
"""

SUITE_FILE = """
description = "a third-party segmenter against the U-Net"

[budget.smoke]
max_epochs = 1

[grid]
translator = ["none"]
segmenter = ["unet", "tiny-seg"]
fusion = ["none"]
"""


def test_a_grid_is_the_product_of_its_axes_with_runs_defaults():
    rows = grid_rows(parse_grid(["translator=cycle,cx", "segmenter=unet", "segmenter=my-seg"]))
    assert rows == [Row("cycle", "unet", "hint"), Row("cycle", "my-seg", "hint"), Row("cx", "unet", "hint"),
                    Row("cx", "my-seg", "hint")]
    with pytest.raises(CmedlError, match="unknown axis 'segmentor'"):
        grid_rows(parse_grid(["segmentor=unet"]))
    with pytest.raises(CmedlError, match="--grid takes AXIS=NAME"):
        parse_grid(["translator"])


@pytest.mark.parametrize("text, message", [
    ("rowz = []", "unknown key 'rowz'"),
    ("[[rows]]\nsegmenter = 'unet'\nloss = 'x'", "row 1: unknown key 'loss'"),
    ("[budget.cpu]\nmax_epoch = 3\n[grid]\nfusion = ['none']", r"\[budget.cpu\]: unknown preset field 'max_epoch'"),
    ("description = 'nothing'", "has no rows"),
    ("[grid\n", "is not valid TOML"),
])
def test_a_broken_suite_file_is_one_line(tmp_path, text, message):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    with pytest.raises(CmedlError, match=message):
        load_suite_file(path)


def test_rows_of_a_file_fix_datasets_and_options(tmp_path):
    path = tmp_path / "suite.toml"
    path.write_text("[[rows]]\ntranslator = 'none'\nfusion = 'none'\ndataset = 'phantom-mri-null'\n"
                    "options = { train_patients = 8 }\n")
    assert resolve_suite(str(path)).rows == [Row("none", "unet", "none", "phantom-mri-null", {"train_patients": 8})]
    with pytest.raises(CmedlError, match="or a suite file ending in .toml"):
        resolve_suite("my-suite")


def test_a_third_party_segmenter_swept_by_grid_and_by_file_gives_the_same_reported_rows(tmp_path, small_phantom):
    _fake_distribution(tmp_path, "tiny_seg_dist", TINY_SEGMENTER, "tiny_seg_dist")
    env = {"PYTHONPATH": str(tmp_path)}
    common = ("--preset", "smoke", "--data", str(small_phantom), "--results", str(tmp_path / "r"), "--json")
    bad = cli("sweep", "--grid", "segmenter=unet,tiny-seg", "--grid", "translator=none", *common, env=env)
    assert bad.returncode == 2 and "hint" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # the default fusion (hint) needs a translator: refused before training
    by_grid = cli("sweep", "--grid", "translator=none", "--grid", "segmenter=unet,tiny-seg", "--grid", "fusion=none",
                  "--epochs", "1", *common, env=env)
    assert by_grid.returncode == 0, by_grid.stderr
    grid_runs = [job["record"]["run_id"] for job in json.loads(by_grid.stdout)]
    assert len(grid_runs) == 2 and any("tiny-seg" in run for run in grid_runs)
    (tmp_path / "suite.toml").write_text(SUITE_FILE)
    by_file = cli("sweep", "--suite", str(tmp_path / "suite.toml"), *common, env=env)
    assert by_file.returncode == 0, by_file.stderr
    assert [job["record"]["run_id"] for job in json.loads(by_file.stdout)] == grid_runs  # the same folders
    report = cli("report", str(tmp_path / "r"), "--format", "md", env=env)
    assert report.returncode == 0 and "tiny-seg" in report.stdout and "CBCT only \\(unet\\)" in report.stdout
