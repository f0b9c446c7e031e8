"""A real third-party plugin package, pip-installed, is discovered, trained, predicted and scored."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli

EXAMPLE = REPO / "examples" / "cmedl-bench-example"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(EXAMPLE)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return site


def test_example_plugin_is_discovered(example_site):
    listing = json.loads(cli("plugins", "--json", env={"PYTHONPATH": str(example_site)}).stdout)
    example = [c for c in listing["components"] if c["name"] == "dilated-fcn"]
    assert example and example[0]["kind"] == "segmenter"
    assert (example[0]["distribution"], example[0]["version"]) == ("cmedl-bench-example", "0.3.0")
    assert not listing["broken"]


def _source_folder(dataset, out):
    """The example's own helper (its tests/test_example.py) that rewrites a dataset as the folder it serves."""
    spec = importlib.util.spec_from_file_location("example_tests", EXAMPLE / "tests" / "test_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.source_folder(dataset, out)


def test_example_package_passes_the_kit_trains_with_each_fusion_and_its_metric_is_reported(
        example_site, small_phantom, tmp_path):
    """The "done means" of the plugin API: a distribution with a segmenter, a non-learning translator, a metric and
    a folder-serving dataset passes its own kit tests and ``plugins check``, runs with ``none``, ``pmri`` and
    ``hint`` on the dataset it serves, and its metric is a column of every report format."""
    env = {"PYTHONPATH": str(example_site)}
    own_tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                               capture_output=True, text=True, env={**os.environ, **env}, cwd=EXAMPLE, timeout=600)
    assert own_tests.returncode == 0, own_tests.stdout[-2000:]
    source = _source_folder(small_phantom, tmp_path / "source")
    check = cli("plugins", "check", "cmedl-bench-example", "--option", f"source={source}", "--json", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert {f["kind"] for f in json.loads(check.stdout)} == {"segmenter", "translator", "metric", "dataset", "fusion"}
    results = tmp_path / "results"
    for translator, fusion in (("none", "none"), ("histogram-match", "pmri"), ("histogram-match", "hint"),
                               ("histogram-match", "attention-transfer")):
        result = cli("run", "--translator", translator, "--fusion", fusion, "--segmenter", "dilated-fcn",
                     "--dataset", "folder", "--option", f"source={source}", "--preset", "smoke",
                     "--results", str(results), "--quiet", "--json", env=env)
        assert result.returncode == 0, result.stderr
        record = json.loads(result.stdout)
        assert record["plugins"]["segmenter"] == {"name": "dilated-fcn", "distribution": "cmedl-bench-example",
                                                  "version": "0.3.0", "plugin": "example"}
        assert record["dataset"]["plugin"] == "folder" and record["dataset"]["options"] == {"source": str(source)}
        scored = [metrics for metrics in record["summary"]["test"].values() if "dsc" in metrics]
        assert scored and all("assd" in metrics for metrics in scored)
    for fmt in ("table", "md", "csv", "json", "html"):
        out = tmp_path / f"report.{fmt}"
        report = cli("report", str(results), "--format", fmt, *(() if fmt == "table" else ("--out", str(out))),
                     env=env)
        assert report.returncode == 0, report.stderr
        assert "assd" in (report.stdout if fmt == "table" else out.read_text()).lower(), fmt
