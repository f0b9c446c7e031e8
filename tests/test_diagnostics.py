"""The diagnostics that say why a method wins or loses: headroom captured against the MRI oracle and the CBCT ceiling,
translation fidelity at the tumour on hand-made volumes with known answers, the aligned-MRI checks, and the
reference rows end to end at the smoke preset."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from cmedl_bench import api
from cmedl_bench.data.checks import check_dataset
from cmedl_bench.errors import CmedlError
from cmedl_bench.results.headroom import headroom
from cmedl_bench.results.records import write_record, write_rows
from cmedl_bench.scoring import TranslatedCase
from cmedl_bench_plugins import translation_fidelity as fidelity

PATIENTS = [f"C{i:03d}" for i in range(10)]


def _run(root: Path, name: str, translator: str, fusion: str, head: str, dsc: dict, train_patients: int = 0,
         trained: int = 16, seed: int = 0, dataset: str = "phantom") -> None:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    config = {"translator": translator, "segmenter": "unet", "fusion": fusion, "dataset": "phantom",
              "dataset_version": 4, "data_path": None, "data_seed": 0, "seed": seed, "preset": {"name": "cpu"},
              "options": {"train_patients": train_patients}}
    cases = {case: {"patient": case[:4]} for case in dsc}
    write_record(run_dir, {"run_id": name, "status": "finished", "seed": seed, "config": config,
                           "config_hash": f"{name}-hash", "reference": {"test": "f" * 16},
                           "dataset": {"name": dataset, "version": 4, "plugin": dataset, "cases": cases,
                                       "options": {"train_patients": train_patients},
                                       "generator": {"train_patients": trained}}})
    write_rows(run_dir, [{"run_id": name, "split": "test", "case": case, "head": head, "metric": "dsc",
                          "value": value, "flag": None} for case, value in dsc.items()])


def _scans(base: float, spread: float = 0.0) -> dict:
    rng = np.random.default_rng(int(base * 1000))
    return {f"{p}W{w}": base + spread * rng.standard_normal() for p in PATIENTS for w in (1, 2)}


def test_headroom_is_the_captured_share_with_a_reproducible_interval(tmp_path):
    base = {case: 0.6 + 0.01 * i for i, case in enumerate(_scans(0))}
    _run(tmp_path, "cbct", "none", "none", "student", base)
    _run(tmp_path, "oracle", "none", "mri-oracle", "mri", {c: v + 0.3 for c, v in base.items()})
    _run(tmp_path, "ceiling", "none", "none", "student", {c: v + 0.1 for c, v in base.items()}, train_patients=80,
         trained=80)
    noise = np.random.default_rng(1).normal(0, 0.02, len(base))
    _run(tmp_path, "cmedl", "cx", "hint", "student", {c: v + 0.06 + e for (c, v), e in zip(base.items(), noise)})
    board = api.report([tmp_path])
    cmedl = next(r for r in board.rows if r.components["fusion"] == "hint")
    assert cmedl.headroom["mri"].value == pytest.approx((0.06 + noise.mean()) / 0.3, abs=1e-9)
    assert cmedl.headroom["ceiling"].value == pytest.approx((0.06 + noise.mean()) / 0.1, abs=1e-9)
    low, high = cmedl.headroom["mri"].ci
    assert low < cmedl.headroom["mri"].value < high and cmedl.headroom["mri"].units == len(PATIENTS)
    assert api.report([tmp_path]).row(cmedl.label).headroom["mri"].ci == (low, high)  # seeded
    ceiling = board.row("CBCT only (unet), 80 training patients")
    assert ceiling.reference == "CBCT only (unet)"  # CBCT only on more patients against the dataset's own cohort
    assert ceiling.comparisons["dsc"].mean_difference == pytest.approx(0.1)
    from cmedl_bench.results.render import columns, to_markdown

    assert "Headroom MRI [95% CI]" in columns(board) and "Headroom ceiling [95% CI]" in columns(board)
    assert "share of what MRI of the same patients offers" in to_markdown(board)


def test_headroom_is_absent_without_the_reference_rows(tmp_path):
    base = _scans(0.6, 0.05)
    _run(tmp_path, "cbct", "none", "none", "student", base)
    _run(tmp_path, "cmedl", "cx", "hint", "student", {c: v + 0.02 for c, v in base.items()})
    board = api.report([tmp_path])
    from cmedl_bench.results.render import columns

    assert all(not row.headroom for row in board.rows)
    assert not any(c.startswith("Headroom") for c in columns(board))


def test_headroom_needs_a_reference_that_beats_cbct_only():
    index = [f"C{i}" for i in range(6)]
    info = {case: {"patient": case} for case in index}
    base = pd.Series(0.6, index=index)
    assert headroom(base + 0.1, base, base - 0.1, info) is None
    value, ci, units, pairing, undefined = headroom(base + 0.1, base, base + 0.2, info)
    assert value == pytest.approx(0.5) and ci == pytest.approx((0.5, 0.5)) and units == 6 and pairing == "patient"


def _case(pseudo: np.ndarray, aligned: np.ndarray | None, label: np.ndarray, cohort_contrast: float = 1.0,
          cohort_cnr: float = 10.0):
    return TranslatedCase(pseudo, pseudo, np.ones(pseudo.shape, dtype=bool), label, (3.0, 1.0, 1.0),
                          pseudo.ravel(), {"contrast": cohort_contrast, "cnr": cohort_cnr}, aligned)


@pytest.fixture(scope="module")
def hand_made():
    """A true MRI in [-1, 1]: soft tissue at -0.2, a tumour at 0.6 (contrast 0.8), noise SD 0.02."""
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[:12, :64, :64]
    label = ((x - 32) ** 2 + (y - 32) ** 2 <= 12**2) & (z >= 2) & (z < 10)
    clean = np.where(label, 0.6, -0.2)
    return clean, label, rng.normal(0, 0.02, label.shape)


def test_fidelity_of_a_perfect_translation(hand_made):
    clean, label, noise = hand_made
    case = _case(clean + noise, clean + noise, label, cohort_contrast=0.8)
    assert fidelity.mae_body(case).value == 0 and fidelity.mae_tumour(case).value == 0
    assert fidelity.ssim_body(case).value == pytest.approx(1.0)
    assert fidelity.ssim_tumour(case).value == pytest.approx(1.0)
    assert fidelity.tumour_contrast_vs_true(case).value == pytest.approx(1.0)
    assert fidelity.tumour_contrast_ratio(case).value == pytest.approx(1.0, abs=0.02)
    assert fidelity.tumour_cnr(case).value == pytest.approx(40.0, rel=0.1)


def test_fidelity_of_a_translation_with_half_the_contrast(hand_made):
    clean, label, noise = hand_made
    halved = np.where(label, 0.2, -0.2) + noise
    case = _case(halved, clean + noise, label, cohort_contrast=0.8)
    assert fidelity.tumour_contrast_vs_true(case).value == pytest.approx(0.5, abs=0.01)
    assert fidelity.tumour_contrast_ratio(case).value == pytest.approx(0.5, abs=0.01)
    assert fidelity.mae_tumour(case).value > fidelity.mae_body(case).value > 0  # the error is at the tumour
    assert fidelity.ssim_tumour(case).value < fidelity.ssim_body(case).value < 1


def test_fidelity_of_a_translation_that_erases_the_tumour(hand_made):
    clean, label, noise = hand_made
    erased = np.full(clean.shape, -0.2) + noise
    case = _case(erased, clean + noise, label)
    assert abs(fidelity.tumour_contrast_vs_true(case).value) < 0.01
    assert abs(fidelity.tumour_cnr(case).value) < 0.2
    without = _case(erased, None, label)
    assert np.isnan(fidelity.mae_body(without).value) and fidelity.mae_body(without).flag == "no_aligned_mri"


def test_a_contrast_ratio_needs_a_reference_that_shows_the_tumour(hand_made):
    """Against an MRI without the tumour (the null control's), the ratios are undefined, not a large number: the
    reference contrast is the noise's; the pseudo-MRI's own CNR is still measured."""
    clean, label, noise = hand_made
    null_mri = np.full(clean.shape, -0.2) + noise
    case = _case(clean + noise, null_mri, label, cohort_contrast=0.004, cohort_cnr=0.2)
    for metric in (fidelity.tumour_contrast_vs_true, fidelity.tumour_contrast_ratio):
        value = metric(case)
        assert np.isnan(value.value) and value.flag == "no_reference_tumour"
    assert fidelity.tumour_cnr(case).value == pytest.approx(40.0, rel=0.1)
    weak = _case(clean + noise, clean + noise, label, cohort_contrast=0.8, cohort_cnr=-1.5)
    assert fidelity.tumour_contrast_ratio(weak).value == pytest.approx(1.0, abs=0.02)


def test_aligned_mri_off_its_cbct_grid_or_without_a_cbct_case_is_an_error(small_phantom, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_phantom, data)
    image_path = data / "mri-aligned" / "imagesTr" / "C000W1_0000.nii.gz"
    image = sitk.ReadImage(str(image_path))
    image.SetOrigin(tuple(o + 5.0 for o in image.GetOrigin()))
    sitk.WriteImage(image, str(image_path))
    label = sitk.ReadImage(str(data / "mri-aligned" / "labelsTr" / "C000W1.nii.gz"))
    label.SetOrigin(image.GetOrigin())
    sitk.WriteImage(label, str(data / "mri-aligned" / "labelsTr" / "C000W1.nii.gz"))
    meta = json.loads((data / "dataset.json").read_text())
    meta["cohorts"]["mri-aligned"]["cases"]["C000W1"]["patient"] = "C001"
    (data / "dataset.json").write_text(json.dumps(meta))
    problems = [f.problem for f in check_dataset(data).errors]
    assert any("has no CBCT case of that id and patient" in p for p in problems), problems
    meta["cohorts"]["mri-aligned"]["cases"]["C000W1"]["patient"] = "C000"
    (data / "dataset.json").write_text(json.dumps(meta))
    problems = [f.problem for f in check_dataset(data).errors]
    assert any("aligned MRI origin" in p and "register and resample" in p for p in problems), problems


def test_reference_rows_need_aligned_mri_and_a_fusion_that_passes_it(tmp_path, monkeypatch):
    from cmedl_bench.errors import PluginError
    from cmedl_bench.registry import get_registry
    from cmedl_bench.selection import select

    with pytest.raises(PluginError, match="does not pass on"):
        select(get_registry(), "oracle", "unet", "pmri", "phantom")
    monkeypatch.setenv("CMEDL_BENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CmedlError, match="needs MRI aligned to every CBCT scan"):
        api.run(translator="none", fusion="mri-oracle", dataset="phantom-v3", preset="smoke", quiet=True,
                results=tmp_path / "results")


def test_diagnostics_rows_train_and_report_at_the_smoke_preset(small_phantom, tmp_path):
    """MRI oracle, a CBCT ceiling (4 training patients on the small phantom's 2), the oracle translator and
    self-distillation each train and are scored; the report shows headroom where the reference rows exist, and the
    CMEDL teacher is validated on the true MRI (the chain in the learning curves)."""
    rows = [("none", "unet", "none"), ("none", "unet", "mri-oracle"),
            ("none", "unet", "none", None, {"train_patients": 4}), ("oracle", "unet", "hint"),
            ("identity", "unet", "hint")]
    outcomes = api.sweep("diagnostics", seeds=(0,), rows=rows, preset="smoke", results=tmp_path, quiet=True)
    assert all(o.status == "finished" for o in outcomes), [o.error for o in outcomes if o.status != "finished"]
    board = api.report([tmp_path])
    labels = {row.label for row in board.rows}
    assert {"MRI oracle (unet)", "CMEDL, oracle translator (unet)", "self-distillation (unet)"} <= labels, labels
    oracle_run = next(run for run in board.row("CMEDL, oracle translator (unet)").runs)
    history = json.loads((oracle_run.path / "history.json").read_text())
    assert "val_dsc_teacher_on_mri" in history[-1] and "train_hint" in history[-1]
    kl = pd.read_parquet(oracle_run.path / "per_case.parquet")
    fidelity_rows = kl[(kl["head"] == "translator") & (kl["metric"] == "mae_body")]
    assert len(fidelity_rows) and (fidelity_rows["value"] == 0).all()  # the oracle's pseudo-MRI is the true MRI


def _best_threshold_dice(image: np.ndarray, label: np.ndarray, spacing_zyx) -> float:
    """The best DSC one intensity threshold (tumour brighter) reaches in the tumour's 10 mm neighbourhood."""
    from scipy import ndimage

    near = ndimage.distance_transform_edt(~label, sampling=spacing_zyx) <= 10.0
    values, truth = image[near], label[near]
    best = 0.0
    for threshold in np.quantile(values, np.linspace(0.02, 0.98, 49)):
        predicted = values > threshold
        best = max(best, 2 * (predicted & truth).sum() / (predicted.sum() + truth.sum()))
    return best


def test_the_instrument_can_see_a_gain_the_aligned_mri_separates_the_tumour_where_cbct_does_not(small_phantom):
    """The MRI oracle row rests on a property of the data: on the aligned MRI the tumour separates from its
    surroundings far better than on CBCT. Checked without training (cheap, deterministic): the best single-threshold
    DSC in each tumour's neighbourhood, averaged over the small phantom's scans. The trained ordering (MRI oracle
    above CBCT only, by far more than the protocol's detectable 0.045) is measured on the full phantom, on
    validation, by the calibration runs (docs/results.md, "Why a method wins or loses")."""
    scores = {"cbct": [], "mri-aligned": []}
    for label_path in sorted((small_phantom / "cbct" / "labelsTr").glob("*.nii.gz")):
        case = label_path.name[: -len(".nii.gz")]
        label = _array(label_path) > 0
        spacing = sitk.ReadImage(str(label_path)).GetSpacing()[::-1]
        for cohort in scores:
            image = _array(small_phantom / cohort / "imagesTr" / f"{case}_0000.nii.gz").astype(np.float32)
            scores[cohort].append(_best_threshold_dice(image, label, spacing))
    assert np.mean(scores["mri-aligned"]) > np.mean(scores["cbct"]) + 0.2, scores


def _array(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_suite_rows_validate_before_anything_trains(tmp_path):
    from cmedl_bench.suites import SUITES

    assert {row.fusion for row in SUITES["diagnostics"].rows} >= {"none", "mri-oracle", "hint"}
    with pytest.raises(CmedlError, match="sets option 'train_patient'"):
        api.sweep("diagnostics", rows=[("none", "unet", "none"), ("none", "unet", "none", None,
                                                                    {"train_patient": 80})],
                  preset="smoke", results=tmp_path, quiet=True)
    with pytest.raises(CmedlError, match="does not pass on"):
        api.sweep("diagnostics", rows=[("none", "unet", "none"), ("oracle", "unet", "two-channel")],
                  preset="smoke", results=tmp_path, quiet=True)
    assert not any(tmp_path.iterdir())  # nothing was written


def test_translator_table_shows_fidelity_next_to_kl(tmp_path):
    from cmedl_bench.results.render import to_markdown, translation_table

    run_dir = tmp_path / "cycle-translate"
    run_dir.mkdir()
    config = {"translator": "cycle", "segmenter": "none", "fusion": "translate", "dataset": "phantom",
              "dataset_version": 4, "seed": 0, "preset": {"name": "cpu"}, "options": {}}
    write_record(run_dir, {"run_id": "cycle-translate", "kind": "translation", "status": "finished", "seed": 0,
                           "config": config, "config_hash": "t-hash", "dataset": {"name": "phantom", "version": 4}})
    rows = [{"run_id": "cycle-translate", "split": "test", "case": f"C{i}", "head": head, "metric": metric,
             "value": value, "flag": None}
            for i in range(4) for head, metric, value in (("pmri", "kl", 0.2), ("cbct", "kl", 0.9),
                                                          ("pmri", "tumour_contrast_ratio", 0.25 * i),
                                                          ("pmri", "mae_body", float("nan")))]
    write_rows(run_dir, rows)
    board = api.report([tmp_path])
    header, table = translation_table(board)
    assert header[:3] == ["Translator", "Test KL pseudo-MRI vs MRI", "Test KL CBCT vs MRI"]
    ratio = table[0][header.index("tumour_contrast_ratio")]
    assert ratio.startswith("0.375 ±") and table[0][header.index("mae_body")] == "—"
    assert "tumour\\_contrast\\_ratio" in to_markdown(board)


def test_a_translator_trained_inside_a_fusion_has_its_row_in_the_translators_table(tmp_path):
    """CMEDL's pseudo-MRI (head ``translator`` of a joint run) is in the translators table with its fidelity,
    named by the method it was trained in and its training cohort; its KL stays in the method's own row too."""
    from cmedl_bench.results.render import translation_table

    base = {case: 0.6 for case in _scans(0)}
    _run(tmp_path, "cbct", "none", "none", "student", base)
    for name, translator, patients in (("cmedl", "cx", 0), ("cmedl-8", "cx", 8), ("cycle", "cycle", 0)):
        _run(tmp_path, name, translator, "hint", "student", base, train_patients=patients, trained=patients or 16)
        write_rows(tmp_path / name, [{"run_id": name, "split": "test", "case": case, "head": head, "metric": metric,
                                      "value": value, "flag": None}
                                     for i, case in enumerate(base)
                                     for head, metric, value in (("student", "dsc", 0.6), ("translator", "kl", 0.3),
                                                                 ("translator", "tumour_contrast_ratio", 0.1 * i))])
    board = api.report([tmp_path])
    header, table = translation_table(board)
    by_label = {values[0]: values for values in table}
    assert set(by_label) == {"cx in CMEDL (unet)", "cx in CMEDL (unet), 8 training patients",
                             "cycle in cycle+unet+hint"}
    row = by_label["cx in CMEDL (unet)"]
    assert row[header.index("Test KL pseudo-MRI vs MRI")].startswith("0.300 ±")
    assert row[header.index("Test KL CBCT vs MRI")] == "—"
    expected = np.mean([0.1 * i for i in range(len(base))])
    assert row[header.index("tumour_contrast_ratio")].startswith(f"{expected:.3f} ±")
    assert board.row("CMEDL (unet)").kl.mean == pytest.approx(0.3)


def test_a_fusion_that_scores_only_its_translator_is_named_by_its_method(tmp_path):
    """A third-party fusion whose run scores no segmentation head still has a translators-table row."""
    from cmedl_bench.results.render import translation_table

    base = {case: 0.6 for case in _scans(0)}
    _run(tmp_path, "third", "cx", "their-fusion", "translator", base)
    write_rows(tmp_path / "third", [{"run_id": "third", "split": "test", "case": case, "head": "translator",
                                     "metric": "kl", "value": 0.25, "flag": None} for case in base])
    header, table = translation_table(api.report([tmp_path]))
    assert [(row[0], row[1][:5]) for row in table] == [("cx in cx+unet+their-fusion", "0.250")]


def test_one_method_on_two_datasets_is_named_by_what_differs(tmp_path):
    """Setups of one method are told apart by the dataset's name and the options whose values differ, not by
    options they share."""
    base = {case: 0.6 for case in _scans(0)}
    _run(tmp_path, "cbct", "none", "none", "student", base)
    for name, dataset, patients in (("cmedl", "phantom", 0), ("null", "phantom-mri-null", 0),
                                    ("cmedl-8", "phantom", 8)):
        _run(tmp_path, name, "cx", "hint", "student", base, train_patients=patients, dataset=dataset)
    labels = {row.label for row in api.report([tmp_path]).rows}
    assert {"CMEDL (unet) [dataset phantom v4]", "CMEDL (unet) [dataset phantom-mri-null v4]",
            "CMEDL (unet), 8 training patients"} <= labels


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_terminal_leaderboard_keeps_every_method_name_whole(tmp_path, width):
    """The default ``report`` in a terminal of 80, 120 and 200 columns: every method's name appears whole on one
    line, and no value is cut (every mean ± SD shown complete)."""
    from typer.testing import CliRunner

    from cmedl_bench.cli import app

    base = {case: 0.6 + 0.01 * i for i, case in enumerate(_scans(0))}
    _run(tmp_path, "cbct", "none", "none", "student", base)
    _run(tmp_path, "oracle", "none", "mri-oracle", "mri", {c: v + 0.3 for c, v in base.items()})
    _run(tmp_path, "cmedl", "cx", "hint", "student", {c: v + 0.05 for c, v in base.items()})
    _run(tmp_path, "ceiling", "none", "none", "student", {c: v + 0.1 for c, v in base.items()}, train_patients=80,
         trained=80)
    result = CliRunner().invoke(app, ["report", str(tmp_path)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width  # nothing for the terminal to break mid-value
    for label in ("CBCT only (unet)", "MRI oracle (unet)", "CMEDL (unet)", "CBCT only (unet), 80 training patients"):
        assert any(label in line for line in lines), (label, result.stdout)
    board = api.report([tmp_path])
    for row in board.rows:
        summary = row.metrics[("test", "dsc")]
        assert summary.text(3) in result.stdout  # the full "0.645 ± 0.058", never cut


@pytest.mark.parametrize("width", [80, 120])
def test_the_training_bar_keeps_counts_and_times_visible_at_80_columns(width):
    import io

    from rich.console import Console
    from rich.progress import Progress

    from cmedl_bench.console import progress_columns

    console = Console(width=width, file=io.StringIO(), record=True)
    progress = Progress(*progress_columns(width), console=console)
    task = progress.add_task("training", total=12, info="loss seg_student=0.412 seg_teacher=0.733 hint=0.051 "
                                                        "adv=0.693 cyc=0.318 cx=4.112 d_m=0.681 d_c=0.702 val DSC 0.61")
    progress.update(task, completed=3)
    console.print(progress.make_tasks_table(progress.tasks))
    line = console.export_text().splitlines()[0]
    assert line.startswith("training") and "3/12" in line and line.count("0:00:") >= 1 and len(line) <= width
    assert "…" in line if width == 80 else True  # the losses are cut, not the counts


def test_reference_translators_return_the_cbct_or_the_aligned_true_mri():
    import torch

    from cmedl_bench.errors import PluginError
    from cmedl_bench.registry import get_registry
    from cmedl_bench.translator import TranslatorSpec

    spec = TranslatorSpec(0.125, 1e-3, torch.device("cpu"))
    identity, oracle = (get_registry().get("translator", name).factory(spec) for name in ("identity", "oracle"))
    cbct, aligned = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    assert torch.equal(identity.pseudo_mri(cbct, aligned), cbct) and not identity.trainable
    assert torch.equal(oracle.pseudo_mri(cbct, aligned), aligned) and not oracle.trainable
    with pytest.raises(PluginError, match="aligned true MRI"):
        oracle.to_mri(cbct)


def test_a_leaderboard_is_a_data_frame_for_notebooks(tmp_path):
    base = {case: 0.6 + 0.01 * i for i, case in enumerate(_scans(0))}
    _run(tmp_path, "cbct", "none", "none", "student", base)
    _run(tmp_path, "oracle", "none", "mri-oracle", "mri", {c: v + 0.3 for c, v in base.items()})
    frame = api.report(tmp_path).to_frame()  # a path, not only a list
    assert list(frame["method"]) == ["MRI oracle (unet)", "CBCT only (unet)"]
    assert frame.loc[0, "test_dsc_mean"] == pytest.approx(frame.loc[1, "test_dsc_mean"] + 0.3)


@pytest.mark.parametrize("translator, fusion, splits_with_mri", [
    ("cx", "hint", {"val"}),  # diagnostic heads only: validation
    ("oracle", "hint", {"train", "val", "test"}),  # a translator that needs it: every split
    ("none", "mri-oracle", {"train", "val", "test"}),  # a reference row built on it
    ("none", "none", set())])
def test_a_run_reads_aligned_mri_only_for_the_splits_that_use_it(small_phantom, translator, fusion,
                                                                 splits_with_mri):
    from types import SimpleNamespace

    from cmedl_bench.config import PRESETS, RunConfig
    from cmedl_bench.data.layout import load_index
    from cmedl_bench.registry import get_registry
    from cmedl_bench.selection import select
    from cmedl_bench.stages.progress import SilentReporter
    from cmedl_bench.stages.training import _read_splits

    preset = PRESETS["smoke"]
    selection = select(get_registry(), translator, "unet", fusion, "phantom")
    inputs = SimpleNamespace(config=RunConfig(preset=preset), index=load_index(small_phantom), selection=selection)
    prepared = _read_splits(inputs, SilentReporter())
    carrying = {split for split in ("train", "val", "test") if any(p.aligned is not None for p in prepared[split])}
    assert carrying == splits_with_mri
    assert all((p.aligned is not None) == (split in splits_with_mri)
               for split in ("train", "val", "test") for p in prepared[split])
