"""The example package's own tests, written with the kit cmedl-bench ships (``cmedl_bench.testing``: the fixtures
``cmedl_small_phantom``, ``cmedl_conformance`` and ``cmedl_cli``). Run them with ``pytest`` once the package is
installed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cmedl_bench.plugin import ScoredCase, TranslatorSpec, image_path, label_path


def source_folder(dataset: Path, out: Path) -> Path:
    """A cmedl-bench dataset rewritten as the folder the ``folder`` dataset serves: ``COHORT/images`` and
    ``COHORT/labels``, each file named ``PATIENT_CASE.nii.gz``."""
    meta = json.loads((dataset / "dataset.json").read_text())
    for cohort, entry in meta["cohorts"].items():
        for case_id, case in entry["cases"].items():
            for kind, path in (("images", image_path(dataset, cohort, case_id)),
                               ("labels", label_path(dataset, cohort, case_id))):
                target = out / cohort / kind / f"{case['patient']}_{case_id}.nii.gz"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return out


def test_every_component_conforms(cmedl_conformance, cmedl_small_phantom, tmp_path):
    source = source_folder(cmedl_small_phantom, tmp_path / "source")
    findings = cmedl_conformance("cmedl-bench-example", options={"source": str(source)})
    assert {f.kind for f in findings} == {"segmenter", "translator", "metric", "dataset", "fusion"}


def test_histogram_matching_puts_each_slice_on_the_target_deciles():
    from cmedl_bench_example.histogram import HistogramMatch

    target = "-1,-0.9,-0.7,-0.5,-0.2,0,0.1,0.3,0.6,0.8,1"
    translator = HistogramMatch(TranslatorSpec(width=1.0, lr=0.0, device=torch.device("cpu"),
                                               options={"mri_deciles": target}))
    cbct = torch.randn(2, 1, 64, 64) * 0.3
    pmri = translator.to_mri(cbct)
    deciles = torch.quantile(pmri.flatten(1), torch.linspace(0, 1, 11), dim=1).T
    assert torch.allclose(deciles, torch.tensor([float(v) for v in target.split(",")]).expand(2, -1), atol=0.02)
    assert not translator.trainable


def test_assd_of_a_shifted_cube_is_the_shift_on_the_moved_faces():
    from cmedl_bench_example.assd import assd

    reference = np.zeros((20, 20, 20), bool)
    reference[5:15, 5:15, 5:15] = True
    prediction = np.roll(reference, 2, axis=2)  # 2 voxels of 1 mm along x
    value = assd(ScoredCase(prediction, reference, (1.0, 1.0, 1.0))).value
    assert 0.3 < value < 2.0  # only the two x faces (1/3 of the surface) are 2 mm away; the rest touches
    assert assd(ScoredCase(reference, reference, (1.0, 1.0, 1.0))).value == 0.0
    empty = assd(ScoredCase(np.zeros_like(reference), reference, (1.0, 1.0, 1.0)))
    assert empty.flag == "empty_prediction" and empty.value == pytest.approx(np.sqrt(3) * 20)


def test_folder_dataset_needs_its_source(tmp_path):
    from cmedl_bench.plugin import DatasetError
    from cmedl_bench_example.folder import serve

    with pytest.raises(DatasetError, match="needs --option source"):
        serve(tmp_path / "data")


def test_the_command_line_lists_the_five_components(cmedl_cli):
    listing = json.loads(cmedl_cli("plugins", "--json").stdout)
    ours = {(c["kind"], c["name"]) for c in listing["components"] if c["distribution"] == "cmedl-bench-example"}
    assert ours == {("segmenter", "dilated-fcn"), ("translator", "histogram-match"), ("metric", "assd"),
                    ("dataset", "folder"), ("fusion", "attention-transfer")}
    assert not listing["broken"]


def test_attention_maps_are_normalised_and_the_transfer_vanishes_for_equal_maps():
    from cmedl_bench_example.attention import attention_loss, attention_map

    features = torch.rand(2, 4, 8, 8)
    maps = attention_map(features)
    assert maps.shape == (2, 64) and torch.allclose(maps.norm(dim=1), torch.ones(2))
    assert attention_map(3 * features).allclose(maps)  # a scale of the activations is no difference in attention
    assert attention_loss([features], [features]).item() == 0.0
    assert attention_loss([features], [torch.rand(2, 4, 8, 8)]).item() > 0.0


def test_attention_transfer_trains_and_its_option_reaches_the_run(cmedl_small_phantom, tmp_path):
    from cmedl_bench import api

    record = api.run(translator="histogram-match", segmenter="dilated-fcn", fusion="attention-transfer",
                     data=cmedl_small_phantom, preset="smoke", results=tmp_path, quiet=True,
                     options={"beta": "10"})
    assert record["status"] == "finished" and record["config"]["options"]["beta"] == 10.0
    assert {"student", "teacher"} <= set(record["summary"]["test"])
