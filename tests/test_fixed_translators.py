"""Translators that do not learn (issue: a histogram-matching translator failed with ``hint`` and crashed
``translate``): ``hint``, ``pmri`` and ``translate`` run with them, and a missing direction is one line."""

from __future__ import annotations

import json

import pytest
import torch

from cmedl_bench import api, hookimpl
from cmedl_bench.errors import PluginError


def _inverting(spec):
    from cmedl_bench.translator import Translator

    class Inverting(Translator):
        """CBCT -> MRI as an intensity inversion: no parameters, nothing to train."""

        def to_mri(self, cbct: torch.Tensor) -> torch.Tensor:
            return -cbct

    return Inverting(spec)


def _one_way_only(spec):
    from cmedl_bench.translator import Translator

    class NoDirection(Translator):
        pass

    return NoDirection(spec)


class FixedTranslators:
    @hookimpl
    def register_translators(self, register):
        register("invert", _inverting, description="intensity inversion, no learning")
        register("no-direction", _one_way_only, description="implements nothing")


@pytest.fixture
def fixed(cmedl_register):
    cmedl_register(FixedTranslators(), name="fixed", distribution="fixed-dist", version="1.0")


@pytest.mark.parametrize("fusion", ["hint", "pmri"])
def test_a_fixed_translator_trains_and_scores_with(fixed, tmp_path, small_phantom, fusion):
    record = api.run(translator="invert", fusion=fusion, data=small_phantom, preset="smoke", results=tmp_path,
                     quiet=True)
    assert record["status"] == "finished"
    heads = set(record["summary"]["test"])
    assert {"student", "teacher"} <= heads if fusion == "hint" else "pmri" in heads
    history = json.loads((tmp_path / record["run_id"] / "history.json").read_text())
    if fusion == "hint":
        assert all(set(row) >= {"train_seg_student", "train_hint"} and "train_cx" not in row for row in history)


def test_translate_with_a_fixed_translator_scores_without_training(fixed, tmp_path, small_phantom):
    record = api.translate(translator="invert", data=small_phantom, preset="smoke", results=tmp_path, quiet=True)
    assert record["status"] == "finished" and record["summary"]["test"]["pmri"]["kl"]["n"] > 0
    assert "translator" not in record["files"] and "examples" not in record["files"]
    again = api.translate(translator="invert", data=small_phantom, preset="smoke", results=tmp_path, quiet=True)
    assert again["run_id"] == record["run_id"]


def test_a_missing_direction_is_one_line_naming_the_translator(fixed, tmp_path, small_phantom):
    with pytest.raises(PluginError, match=r"translator NoDirection \(.*\) does not implement to_mri"):
        api.run(translator="no-direction", fusion="pmri", data=small_phantom, preset="smoke", results=tmp_path,
                quiet=True)
