"""Peak memory of a whole run, by the run's own record: one short epoch (3 steps) of CBCT only and of CMEDL (the
default combination) on the small phantom with the ``cpu`` preset (its networks, crops, batch and contextual loss),
each in a fresh process, read from ``run.json`` (``performance.peak_memory_mib``: the process's peak resident set, the
same figure every run records; the number of steps does not move it). Both must stay
under :data:`MAX_PEAK_MIB`, the project's target for the no-argument run; the ratio CMEDL / CBCT only is reported.
The full phantom's figure (the no-argument run itself) takes minutes to measure and is measured by hand (README,
docs/scale.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MAX_PEAK_MIB = 2048
ROWS = {"cbct-only": ("none", "none"), "cmedl": ("cx", "hint")}
RUN = """
import json
from cmedl_bench import api
record = api.run(translator="{translator}", fusion="{fusion}", data="{data}", preset="cpu", results="{results}",
                 quiet=True, force=True, overrides={{"max_epochs": 1, "steps_per_epoch": 3, "translator_epochs": 1}})
print(json.dumps(record, default=str))
"""


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("memory") / "phantom"
    subprocess.run([sys.executable, "-m", "cmedl_bench", "data", "synth", str(out), "--size", "small", "--quiet"],
                   check=True, capture_output=True, timeout=600)
    return out


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("row", list(ROWS))
def test_run_peak_memory(benchmark, record_value, row, small_data, tmp_path):
    translator, fusion = ROWS[row]
    benchmark.group = "run --epochs 1, small phantom, cpu preset"

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", RUN.format(translator=translator, fusion=fusion, data=small_data,
                                                                 results=tmp_path / "r")],
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    record = benchmark.pedantic(run, rounds=1, iterations=1)
    peak = record["performance"]["peak_memory_mib"]
    record_value("run peak memory (small phantom)", "baseline" if row == "cbct-only" else row, peak, "MiB")
    assert peak <= MAX_PEAK_MIB, f"{row}: {peak:.0f} MiB peak, above {MAX_PEAK_MIB} MiB"
