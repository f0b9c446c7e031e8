"""A real third-party plugin package, pip-installed, is discovered, trained, predicted and scored."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(REPO / "examples" / "cmedl-bench-example")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return site


def test_example_plugin_is_discovered(example_site):
    listing = json.loads(cli("plugins", "--json", env={"PYTHONPATH": str(example_site)}).stdout)
    example = [c for c in listing["components"] if c["name"] == "dilated-fcn"]
    assert example and example[0]["kind"] == "segmenter"
    assert (example[0]["distribution"], example[0]["version"]) == ("cmedl-bench-example", "0.2.0")
    assert not listing["broken"]


def test_example_plugin_trains_and_is_scored(example_site, small_phantom, tmp_path):
    result = cli("run", "--translator", "none", "--fusion", "none", "--segmenter", "dilated-fcn", "--preset", "smoke",
                 "--data", str(small_phantom), "--results", str(tmp_path), "--quiet", "--json",
                 env={"PYTHONPATH": str(example_site)})
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "finished"
    assert record["plugins"]["segmenter"] == {"name": "dilated-fcn", "distribution": "cmedl-bench-example",
                                              "version": "0.2.0", "plugin": "example"}
    assert set(record["summary"]["test"]["student"]) == {"dsc", "sdsc", "hd95"}
