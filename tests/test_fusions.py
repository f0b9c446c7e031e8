"""Every row type of the paper's tables trains and is scored end to end (smoke preset, small phantom)."""

import json

import pandas as pd
import pytest
import torch

from cmedl_bench import api
from cmedl_bench.errors import CmedlError, PluginError
from cmedl_bench.request import RunRequest

ROWS = [
    # translator, segmenter, fusion, heads
    ("none", "densefcn57", "none", {"student"}),
    ("none", "unet3d", "none", {"student"}),
    ("cycle", "unet", "hint", {"student", "teacher"}),
    ("unit", "unet", "pmri", {"pmri"}),
    ("cycle", "unet", "two-channel", {"student"}),
]


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
@pytest.mark.parametrize("translator, segmenter, fusion, heads", ROWS, ids=[f"{r[0]}-{r[1]}-{r[2]}" for r in ROWS])
def test_row_trains_and_is_scored(tmp_path, small_phantom, translator, segmenter, fusion, heads):
    record = api.run(translator=translator, segmenter=segmenter, fusion=fusion, data=small_phantom, preset="smoke",
                     results=tmp_path, quiet=True)
    assert record["status"] == "finished"
    scored = heads | ({"translator"} if translator != "none" else set())  # KL of pseudo-MRI where one ran
    assert set(record["summary"]["test"]) == scored
    run_dir = tmp_path / record["run_id"]
    rows = pd.read_parquet(run_dir / "per_case.parquet")
    assert set(rows["head"]) == scored and (rows["value"].notna() | rows["flag"].notna()).all()
    if translator != "none":
        translation = rows[rows["head"] == "translator"]
        kl = translation[translation["metric"] == "kl"]
        assert {"kl", "tumour_contrast_ratio"} <= set(translation["metric"])  # KL and the fidelity metrics
        assert len(kl) and (kl["value"] >= 0).all() and set(kl["split"]) == {"val", "test"}
    weights = torch.load(run_dir / "best.pt", weights_only=True)["weights"]
    if translator != "none":
        assert record["plugins"]["translator"]["name"] == translator
        assert record["translator"]["gan_mode"] == "log"
        assert any(name.startswith(("g_", "gen_")) for name in weights)  # the translator is in the checkpoint
    if fusion in ("pmri", "two-channel"):
        assert (run_dir / "translator.pt").exists()  # stage one, resumable


def test_cx_hint_records_random_vgg19(tmp_path, small_phantom):
    with pytest.warns(UserWarning, match="random VGG19"):
        record = api.run(translator="cx", segmenter="unet", fusion="hint", data=small_phantom, preset="smoke",
                         results=tmp_path, quiet=True, overrides={"max_epochs": 1})
    assert record["translator"]["cx_features"] == "random-init"
    on_disk = json.loads((tmp_path / record["run_id"] / "run.json").read_text())
    assert on_disk["translator"]["cx_features"] == "random-init"
    import warnings

    from cmedl_bench.results.run_record import RunRecord
    from cmedl_bench.stages.models import rebuild

    with warnings.catch_warnings():  # inference (predict, export, sensitivity) builds no VGG19 and no optimiser
        warnings.simplefilter("error")
        fusion = rebuild(RunRecord.read(tmp_path / record["run_id"]), torch.device("cpu"))
    assert fusion.optimizers() == {} and fusion.translator.vgg is None


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
def test_other_heads_are_validated_every_few_epochs_and_at_the_last(tmp_path, small_phantom):
    record = api.run(translator="cycle", segmenter="unet", fusion="hint", data=small_phantom, preset="smoke",
                     results=tmp_path, quiet=True, overrides={"max_epochs": 3, "patience": 3, "head_curves_every": 2})
    history = json.loads((tmp_path / record["run_id"] / "history.json").read_text())
    assert [("val_dsc_teacher" in row, "val_dsc" in row) for row in history] == [(False, True), (True, True),
                                                                                  (True, True)]
    assert (tmp_path / record["run_id"] / "learning_curves.png").stat().st_size > 0


@pytest.mark.parametrize("translator, segmenter, fusion, message", [
    ("none", "unet3d", "hint", "is 3D but fusion 'hint' supports only 2D"),
    ("cycle", "unet3d", "none", "cannot feed the 3D segmenter"),
    ("none", "unet", "pmri", "fusion 'pmri' needs a translator"),
])
def test_illegal_pairs_fail_before_training(tmp_path, translator, segmenter, fusion, message):
    with pytest.raises(PluginError, match=message):
        api.run(translator=translator, segmenter=segmenter, fusion=fusion, preset="smoke", results=tmp_path)
    assert not any(tmp_path.iterdir())


def test_interrupted_sweep_resumes_without_redoing_or_duplicating(tmp_path, small_phantom, monkeypatch):
    import cmedl_bench.trainers.fusion_trainer as fit_module

    rows = [("none", "unet", "none"), ("none", "densefcn57", "none")]
    real_fit, calls = fit_module.fit, []

    def interrupted_on_second_row(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fit_module, "fit", interrupted_on_second_row)
    kwargs = dict(rows=rows, data=small_phantom, preset="smoke", results=tmp_path, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        api.sweep(**kwargs)
    statuses = {d.name: json.loads((d / "run.json").read_text())["status"] for d in tmp_path.iterdir()}
    assert sorted(statuses.values()) == ["finished", "interrupted"]
    first_started = {d.name: json.loads((d / "run.json").read_text())["started"] for d in tmp_path.iterdir()}

    monkeypatch.setattr(fit_module, "fit", real_fit)
    records = [outcome.record for outcome in api.sweep(**kwargs)]
    assert [r["status"] for r in records] == ["finished", "finished"]
    assert len(list(tmp_path.iterdir())) == 2
    finished_first = next(name for name, status in statuses.items() if status == "finished")
    assert records[0]["run_id"] == finished_first and records[0]["started"] == first_started[finished_first]
    for record in records:
        table = pd.read_parquet(tmp_path / record["run_id"] / "per_case.parquet")
        assert not table.duplicated(["split", "case", "head", "metric"]).any()


def test_unknown_suite_is_a_clear_error():

    with pytest.raises(CmedlError, match="unknown suite .table9.; known suites: paper-table1, paper-table2, paper, evidence"):
        api.sweep("table9")


def test_paper_suite_rows_are_all_legal():
    from cmedl_bench.registry import get_registry
    from cmedl_bench.selection import select
    from cmedl_bench.suites import SUITES

    assert len(SUITES["paper"].rows) == 10
    for suite in SUITES.values():
        for row in suite.rows:
            select(get_registry(), row.translator, row.segmenter, row.fusion, row.dataset or "phantom")


def test_sensitivity_on_a_finished_run(tmp_path, small_phantom):
    from cmedl_bench.engine.dropout import last_layers
    from cmedl_bench_plugins.unet import UNet

    unet = UNet(width=0.125)
    assert last_layers(unet) == [unet.ups[-1].conv[3], unet.outc]
    record = api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path,
                     quiet=True)
    run_dir = tmp_path / record["run_id"]
    result = api.sensitivity(run_dir, passes=3, quiet=True)
    scored = pd.read_parquet(run_dir / "per_case.parquet")
    test_dsc = scored[(scored.split == "test") & (scored.metric == "dsc")].set_index("case")["value"]
    assert set(result["cases"]) == set(test_dsc.index)
    for case, values in result["cases"].items():
        assert len(values["dsc"]) == 3
        assert values["unperturbed"] == pytest.approx(test_dsc[case])  # weights restored between cases
    assert result["mean_sd"] >= 0 and (run_dir / "sensitivity.png").stat().st_size > 1000

    with pytest.raises(CmedlError, match="no head 'teacher'"):
        api.sensitivity(run_dir, head="teacher", quiet=True)


def _cmedl(**options):
    from cmedl_bench.config import PRESETS
    from cmedl_bench.stages.building import build_fusion

    torch.manual_seed(0)
    return build_fusion("hint", "unet", "cycle", PRESETS["smoke"], torch.device("cpu"), {"gan_mode": "log", **options})


def _segmenter_terms(fusion):
    generator = torch.Generator().manual_seed(1)
    shape = (2, 1, 32, 32)
    cbct, mri, pmri = (torch.randn(shape, generator=generator) for _ in range(3))
    label = (torch.rand(shape, generator=generator) > 0.7).float()
    return fusion.segmenter_losses(cbct, label, mri.clamp(-1, 1), label, pmri.clamp(-1, 1))


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
def test_fidelity_switches_change_the_segmenter_update_as_documented():
    default = _cmedl()
    teacher_seg, student_seg, hint = _segmenter_terms(default)
    assert default.segmenter_objective(teacher_seg, student_seg, hint).item() == pytest.approx(
        (teacher_seg + student_seg + hint).item())  # 1:1, the gradient sentence of eq. 7
    literal = _cmedl(segmenter_seg_weight=5.0, lambda_hint=0.5)
    assert literal.segmenter_objective(teacher_seg, student_seg, hint).item() == pytest.approx(
        (5 * (teacher_seg + student_seg) + 0.5 * hint).item())
    for hint_teacher, pulled in ((False, False), (True, True)):
        fusion = _cmedl(hint_teacher=hint_teacher)
        _, _, hint = _segmenter_terms(fusion)
        hint.backward()
        teacher_grads = [p.grad for p in fusion.teacher.parameters() if p.grad is not None]
        assert bool(teacher_grads and any(g.abs().sum() > 0 for g in teacher_grads)) == pulled
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in fusion.student.parameters())


def test_fidelity_options_are_aliases_of_the_fusion_options_and_enter_the_hash(tmp_path, small_phantom):
    """``--lambda-hint`` and friends are the ``hint`` fusion's declared options under another name: one channel, so
    the configuration holds the same typed value whichever way it was given."""
    from cmedl_bench.config import RunConfig
    from cmedl_bench.request import RunRequest

    named = RunRequest.build(lambda_hint=0.5, segmenter_seg_weight=5.0, hint_teacher=True)
    given = RunRequest.build(options=["lambda_hint=0.5", "segmenter_seg_weight=5.0", "hint_teacher=true"])
    assert named.options == given.options
    assert RunRequest.build().options == {}  # unset switches set nothing
    assert RunConfig(options={"lambda_hint": 0.5}).hash() != RunConfig().hash()
    with pytest.raises(CmedlError, match="--lambda-hint must not be negative"):
        RunRequest.build(lambda_hint=-1.0)
    with pytest.raises(PluginError, match="--option lambda_hint: no selected component declares it"):
        api.run(translator="none", fusion="none", lambda_hint=0.5, data=small_phantom, preset="smoke",
                results=tmp_path, quiet=True)


def test_evidence_suite_smoke_runs_every_row_and_tests_the_negative_control(tmp_path):
    """The evidence suite at the smoke preset: four rows, the control on phantom-mri-null, scored against the same
    CBCT reference masks as CBCT only (so the report tests it), and no cpu budget applied to another preset."""
    from cmedl_bench.results.collect import collect
    from cmedl_bench.results.leaderboard import build_leaderboard

    outcomes = api.sweep("evidence", seeds=(0,), preset="smoke", results=tmp_path, quiet=True)
    assert [o.status for o in outcomes] == ["finished"] * 4
    datasets = [o.record["config"]["dataset"] for o in outcomes]
    assert datasets == ["phantom", "phantom", "phantom", "phantom-mri-null"]
    assert {o.record["config"]["preset"]["max_epochs"] for o in outcomes} == {2}
    board = build_leaderboard(collect([tmp_path]))
    control = next(row for row in board.rows if row.head == "student" and "phantom-mri-null" in row.label)
    assert control.reference is not None and control.verdict not in ("other reference masks: not tested", "")


def test_suite_budget_applies_to_its_preset_and_yields_to_the_command_line(tmp_path):
    from cmedl_bench.stages import sweeping

    launched = []

    def capture(request):
        launched.append(request.overrides)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweeping.sweep(capture, "evidence", (0,), None, "local", None,
                       RunRequest.build(preset="cpu", results=tmp_path, patience=3))
    from cmedl_bench.suites import SUITES

    budget = SUITES["evidence"].budget["cpu"]
    assert launched[0] == {"max_epochs": budget["max_epochs"], "patience": 3, "foreground_fraction": 1.0}


def test_sweep_gives_each_row_the_options_its_components_declare(tmp_path):
    from cmedl_bench.stages import sweeping

    launched = []

    def capture(request):
        launched.append((request.fusion, request.options))
        return {"run_id": request.fusion}

    rows = [("none", "unet", "none"), ("cycle", "unet", "hint")]
    request = RunRequest.build(preset="smoke", results=tmp_path, options={"lambda_seg": "2"})
    sweeping.sweep(capture, "grid", (0,), rows, "local", None, request)
    assert launched == [("none", {}), ("hint", {"lambda_seg": "2"})]
    with pytest.raises(CmedlError, match="--option lamda_seg: no component of suite"):
        sweeping.sweep(capture, "grid", (0,), rows, "local", None, request.replace(options={"lamda_seg": "2"}))


def _alternating_step(fusion, batch):
    """The reference's form of one CMEDL step, written out: generators (segmenters frozen, the student's features
    a constant), discriminators, then segmenters on the detached pseudo-MRI, each with its own forward passes."""
    from cmedl_bench.plugin import dice_loss, to_unit_range
    from cmedl_bench_plugins.cmedl_hint import hint_loss

    cbct, label, mri, mri_label = batch["cbct"], batch["cbct_label"], batch["mri"], batch["mri_label"]
    cbct_unit, mri_unit = to_unit_range(cbct), to_unit_range(mri)
    segmenters = [*fusion.student.parameters(), *fusion.teacher.parameters()]
    opt_g = fusion.translator.optimizers()["generators"]
    opt_g.zero_grad(set_to_none=True)
    for p in segmenters:
        p.requires_grad_(False)
    total, _, images = fusion.translator.generator_objective(cbct_unit, mri_unit)
    t_logits, t_features = fusion.teacher(images["pmri"], return_features=True)
    with torch.no_grad():
        _, s_features = fusion.student(cbct, return_features=True)
    (total + fusion.lambda_hint * hint_loss(s_features, t_features)
     + fusion.lambda_seg * dice_loss(t_logits, label)).backward()
    opt_g.step()
    for p in segmenters:
        p.requires_grad_(True)
    fusion.translator.discriminator_step(cbct_unit, mri_unit, images)
    fusion.optimizer.zero_grad(set_to_none=True)
    terms = fusion.segmenter_losses(cbct, label, mri_unit, mri_label, images["pmri"].detach())
    fusion.segmenter_objective(*terms).backward()
    fusion.optimizer.step()


@pytest.mark.filterwarnings("ignore:no VGG19 weights")
def test_one_forward_per_step_updates_every_network_as_the_alternating_form():
    """Eq. 7's three updates from one forward of each network give the weights the alternating form gives (the
    batch-norm running statistics are the only difference: updated once per step instead of twice)."""
    generator = torch.Generator().manual_seed(3)
    shape = (2, 1, 32, 32)
    label = torch.zeros(shape)
    label[..., 10:20, 12:22] = 1
    batch = {"cbct": torch.randn(shape, generator=generator), "cbct_label": label,
             "mri": torch.randn(shape, generator=generator), "mri_label": label}
    ours, reference = _cmedl(), _cmedl()
    ours.train(True)
    reference.train(True)
    ours.train_step(batch)
    _alternating_step(reference, batch)
    for name, module in ours.modules().items():
        theirs = dict(reference.modules()[name].named_parameters())
        for key, value in module.named_parameters():
            torch.testing.assert_close(value, theirs[key], rtol=1e-4, atol=1e-6, msg=f"{name}.{key}")
