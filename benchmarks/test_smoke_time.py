"""Does ``--preset smoke`` mean what it says? Wall time of ``cmedl-bench run --preset smoke`` (the default
combination, CMEDL: ``cx`` + ``unet`` + ``hint``) in a fresh process, the small phantom already generated (its
first-use generation is measured apart, by ``data synth``), against CBCT only in the same run. The smoke preset exists
to prove the pipeline; the CMEDL run must finish within :data:`MAX_SECONDS` on 2 idle cores."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MAX_SECONDS = 30.0
ROWS = {"cbct-only": ("--translator", "none", "--fusion", "none"), "cmedl": ()}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smoke-cache")
    env = os.environ | {"CMEDL_BENCH_CACHE": str(folder)}
    subprocess.run([sys.executable, "-m", "cmedl_bench", "run", "--preset", "smoke", "--translator", "none",
                    "--fusion", "none", "--results", str(folder / "warm-up"), "--quiet"], env=env, check=True,
                   capture_output=True, timeout=600)  # generates the small phantom once
    return env


@pytest.mark.parametrize("row", list(ROWS))
def test_smoke_run_wall_time(benchmark, record_value, row, cache, tmp_path):
    benchmark.group = "run --preset smoke (phantom cached)"
    runs = iter(range(100))

    def run() -> None:
        subprocess.run([sys.executable, "-m", "cmedl_bench", "run", "--preset", "smoke", *ROWS[row], "--results",
                        str(tmp_path / f"r{next(runs)}"), "--quiet"], env=cache, check=True, capture_output=True,
                       timeout=600)

    benchmark.pedantic(run, rounds=2, iterations=1)
    if benchmark.stats is None:
        return
    mean = benchmark.stats.stats.mean
    record_value("smoke run wall time", "baseline" if row == "cbct-only" else row, mean, "s")
    if row == "cmedl":
        assert mean <= MAX_SECONDS, f"the default smoke run took {mean:.1f} s, above {MAX_SECONDS:.0f} s"
