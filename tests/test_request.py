"""The run request and the run record: one table of fields makes the command-line options of every training verb,
the command line that re-runs a launcher's job and the suite-file row keys; named CMEDL flags are aliases of
component options; ``run.json`` is read through one typed reader that keeps old records readable."""

import json

import click
import pytest
import typer

from cmedl_bench.errors import CmedlError
from cmedl_bench.request import FIELDS, SUITE_ROW_KEYS, RunRequest, fields_of
from cmedl_bench.results.run_record import Head, RecordError, RunRecord


def _command_params(verb: str) -> dict[str, click.Parameter]:
    from cmedl_bench.cli import app

    command = typer.main.get_command(app).commands[verb]
    return {param.name: param for param in command.params}


@pytest.mark.parametrize("verb", ["run", "translate", "sweep"])
def test_every_field_a_verb_offers_is_one_of_its_options_with_the_tables_flag(verb):
    params = _command_params(verb)
    for field in fields_of(verb):
        assert field.name in params, f"{verb} lacks --{field.name}"
        assert params[field.name].opts[0] == field.flags[0]
    assert {"translator", "segmenter", "fusion", "dataset", "options"} == set(SUITE_ROW_KEYS)


def test_build_routes_aliases_to_preset_fields_and_component_options_and_checks_every_value():
    request = RunRequest.build(translator="none", fusion="none", epochs=3, foreground=0.5, lambda_hint=2,
                               hint_teacher=False, overrides=["steps_per_epoch=10", "augment=false"],
                               options=["lambda_seg=5"], metrics="dsc, hd95")
    assert request.overrides == {"steps_per_epoch": 10, "augment": False, "max_epochs": 3, "foreground_fraction": 0.5}
    assert request.options == {"lambda_seg": "5", "lambda_hint": "2", "hint_teacher": "false"}
    assert request.metrics == ("dsc", "hd95")
    with pytest.raises(AttributeError):
        request.seed = 3  # frozen
    for wrong, message in [({"colour": "blue"}, "unknown run request field 'colour'"),
                           ({"gan_mode": "wgan"}, "unknown --gan-mode 'wgan'"),
                           ({"lambda_hint": -1.0}, "--lambda-hint must not be negative"),
                           ({"overrides": ["epochs"]}, "--set takes KEY=VALUE"),
                           ({"threads": 0}, "--threads must be a whole number")]:
        with pytest.raises(CmedlError, match=message):
            RunRequest.build(**wrong)


def test_replace_adds_to_the_overrides_and_options_a_request_has():
    request = RunRequest.build(epochs=2, options={"lambda_seg": "5"}).replace(patience=4, lambda_hint=3, seed=1)
    assert request.overrides == {"max_epochs": 2, "patience": 4}
    assert request.options == {"lambda_seg": "5", "lambda_hint": "3"}
    assert request.seed == 1


def test_a_jobs_command_line_asks_the_cli_for_the_same_request(monkeypatch, tmp_path):
    """What a launcher prints to re-run a job alone, given back to ``cmedl-bench run``, builds an equal request."""
    from typer.testing import CliRunner

    from cmedl_bench import api
    from cmedl_bench.cli import app

    request = RunRequest.build(translator="cycle", fusion="hint", preset="smoke", seed=2, results=tmp_path,
                               device="cpu", epochs=3, compile=True, lambda_hint=2.5, hint_teacher=True,
                               overrides={"steps_per_epoch": 4}, options={"lambda_seg": "5"}, metrics="dsc,fp",
                               threads=1, force=True)
    received = []
    monkeypatch.setattr(api, "run", lambda request: received.append(request) or {"run_id": "x"})
    args = request.cli_args("run")
    assert args[:6] == ["--translator", "cycle", "--segmenter", "unet", "--fusion", "hint"]
    done = CliRunner().invoke(app, ["run", *args, "--json"])
    assert done.exit_code == 0, done.output
    assert received == [request]


def test_an_alias_no_selected_component_declares_is_refused_like_an_unknown_option(tmp_path, small_phantom):
    from cmedl_bench import api

    with pytest.raises(CmedlError, match="lambda_hint"):
        api.run(translator="none", fusion="none", data=small_phantom, preset="smoke", results=tmp_path,
                quiet=True, lambda_hint=2)
    assert not any(tmp_path.iterdir())  # refused before anything is written


def _record(tmp_path, **changes):
    record = {"run_id": "r", "status": "finished", "kind": "training", "seed": 0, "config_hash": "abc",
              "config": {"translator": "none", "segmenter": "unet", "fusion": "none", "preset": {"name": "cpu"}},
              "dataset": {"name": "phantom", "version": 4, "plugin": "phantom", "options": {"train_patients": 16}},
              "summary": {"test": {"student": {"dsc": {"mean": 0.6, "sd": 0.1, "n": 3}}}}} | changes
    (tmp_path / "run.json").write_text(json.dumps({k: v for k, v in record.items() if v is not None}))
    return tmp_path


def test_the_run_record_reads_old_records_and_names_a_field_of_the_wrong_type(tmp_path):
    record = RunRecord.read(_record(tmp_path))  # no schema_version: a record of the first schema
    assert record.schema_version == 1 and record.finished and record.preset_name == "cpu"
    assert record.components == {"translator": "none", "segmenter": "unet", "fusion": "none"}
    assert record.dataset.label == "phantom v4 (train_patients=16)"
    own_cohort = {"name": "phantom", "version": 4, "plugin": "phantom", "options": {"train_patients": 0},
                  "generator": {"train_patients": 16, "seed": 0}}
    assert RunRecord.read(_record(tmp_path, dataset=own_cohort)).dataset.label == "phantom v4 (train_patients=16)"
    assert Head.STUDENT in record.summary["test"] and Head.PSEUDO_MRI == "pmri"
    with pytest.raises(RecordError, match="run.json field 'seed' is str, not int"):
        RunRecord.read(_record(tmp_path, seed="0"))
    with pytest.raises(RecordError, match="schema version 99"):
        RunRecord.read(_record(tmp_path, schema_version=99))
    with pytest.raises(RecordError, match="translator, segmenter and fusion"):
        RunRecord.read(_record(tmp_path, config={"preset": {}}))
    assert RunRecord.read(tmp_path / "elsewhere") is None


def test_every_field_has_help_and_a_known_target():
    for field in FIELDS:
        assert field.help.strip(), field.name
        assert field.target == "" or field.preset_field or field.option_key, field.name
