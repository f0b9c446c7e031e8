import os
from pathlib import Path

import pytest

from cmedl_bench.testing import run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Generated datasets go to a per-session cache, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("CMEDL_BENCH_CACHE")
    os.environ["CMEDL_BENCH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("CMEDL_BENCH_CACHE", None)
    else:
        os.environ["CMEDL_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def small_phantom(tmp_path_factory):
    """The small phantom (4 CBCT patients x 2 weeks, 2 MRI patients), generated once per session."""
    from cmedl_bench.api import synth

    return synth(tmp_path_factory.mktemp("data") / "phantom", size="small", quiet=True)


#: the kit's subprocess runner (``cmedl_bench.testing``), which the project's own tests use as plugin authors do
cli = run_cli
