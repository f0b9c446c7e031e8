"""The conformance kit (``cmedl_bench.testing``, ``cmedl-bench plugins check``) passes every built-in component and
names the rule a faulty plugin breaks."""

from __future__ import annotations

import json

import pytest

from cmedl_bench import hookimpl
from cmedl_bench.plugin import MetricInfo, SegmenterInfo
from tests.conftest import cli


def test_built_in_segmenters_translators_and_metrics_conform(cmedl_conformance):
    findings = cmedl_conformance("cmedl-bench", kinds=("segmenter", "translator", "metric"))
    assert {f.name for f in findings} >= {"unet", "densefcn57", "unet3d", "cycle", "unit", "cx", "dsc", "sdsc",
                                          "hd95"}


def test_the_default_dataset_conforms(cmedl_conformance):
    assert cmedl_conformance("cmedl-bench", kinds=("dataset",), names=("phantom",))


def _bare_float():
    return lambda case: float(case.prediction.sum())


def _the_metric_itself(case):
    """Registered as the factory (a common slip): calling the factory without a case fails."""
    return case.prediction.sum()


def _exploding_output(in_channels, out_channels, width):
    import torch

    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1)

        def forward(self, x, return_features=False):
            return self.conv(x) * torch.tensor(float("inf"))

    return Exploding()


class Faulty:
    @hookimpl
    def register_metrics(self, register):
        register("bare-float", _bare_float, description="returns a float, not a MetricValue")
        register("not-a-factory", _the_metric_itself, description="the metric given as its own factory")

    @hookimpl
    def register_translation_metrics(self, register):
        register("inverted-kl", _inverted_kl, description="a divergence declared higher-is-better",
                 info=MetricInfo(higher_is_better=True))

    @hookimpl
    def register_segmenters(self, register):
        register("exploding", _exploding_output, description="infinite logits", info=SegmenterInfo(dims=2))


def _inverted_kl():
    from cmedl_bench.plugin import MetricValue

    def inverted(translated, reference):
        return MetricValue(abs(float(translated.mean() - reference.mean())))

    return inverted


def test_a_faulty_plugin_fails_the_rules_it_breaks(cmedl_register):
    from cmedl_bench.stages.conformance import check_components

    cmedl_register(Faulty(), name="faulty", distribution="faulty-dist", version="0.1")
    failed = {(f.name, f.rule) for f in check_components("faulty-dist") if not f.passed}
    assert ("bare-float", "overlapping masks") in failed
    assert ("exploding", "finite gradients") in failed
    assert ("inverted-kl", "finite values; a shifted histogram scores farther than an alike one") in failed
    assert ("not-a-factory", "factory() returns the metric function (of a ScoredCase)") in failed


def test_plugins_check_from_the_command_line():
    result = cli("plugins", "check", "cmedl-bench", "--kind", "metric", "--json")
    assert result.returncode == 0, result.stderr
    assert all(f["passed"] for f in json.loads(result.stdout))
    unknown = cli("plugins", "check", "--kind", "launcher")
    assert unknown.returncode == 2 and "not checked here" in unknown.stderr
    fusions = cli("plugins", "check", "cmedl-bench", "--kind", "fusion", "--json")
    assert fusions.returncode == 0, fusions.stdout + fusions.stderr
    assert {f["name"] for f in json.loads(fusions.stdout)} == {"none", "hint", "pmri", "two-channel", "mri-oracle"}
    nothing = cli("plugins", "check", "no-such-dist")
    assert nothing.returncode == 2 and "no installed" in nothing.stderr


@pytest.mark.parametrize("listing", [("plugins",), ("plugins", "--json")])
def test_plugins_still_lists(listing):
    assert cli(*listing).returncode == 0
