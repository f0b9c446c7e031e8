"""Every ``CMEDL_BENCH_*`` environment variable, read here and nowhere else (see docs/architecture.md).

| variable | meaning | default |
| --- | --- | --- |
| ``CMEDL_BENCH_CACHE`` | generated datasets, dataset-check marks, run-folder locks | ``~/.cache/cmedl-bench`` |
| ``CMEDL_BENCH_RESULTS`` | the results folder of ``run``, ``sweep``, ``report`` ... | ``cmedl-results`` |
| ``CMEDL_BENCH_DEBUG`` | set: known errors show their traceback instead of one line | unset |
| ``CMEDL_BENCH_VGG19`` | torchvision-format VGG19 weights for the contextual loss | unset (torch hub cache) |
| ``CMEDL_BENCH_PLUGINS`` | allow-list of plugin entry-point names (comma-separated) | unset: all |
| ``CMEDL_BENCH_DISABLE`` | block-list of plugin entry-point names (comma-separated) | unset |
| ``CMEDL_BENCH_THREADS`` | torch threads of run and predict (``--threads`` sets it), in ``run.json`` | torch's |
| ``CMEDL_BENCH_LOG`` | experiment trackers of a run, e.g. ``tensorboard,mlflow`` (``--log`` sets it) | unset: none |

Values are read when asked for, not at import, so tests and notebooks can change them.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the variable ``threads`` reads (``--threads`` sets it for the command it is given to)
THREADS_VARIABLE = "CMEDL_BENCH_THREADS"
#: the variable ``loggers`` reads (``--log`` sets it for the command it is given to)
LOG_VARIABLE = "CMEDL_BENCH_LOG"
#: the variable ``cache_dir`` reads (the testing kit sets it to keep generated data out of the user's cache)
CACHE_VARIABLE = "CMEDL_BENCH_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "cmedl-bench")


def results_dir() -> Path:
    return Path(os.environ.get("CMEDL_BENCH_RESULTS") or "cmedl-results")


def debug() -> bool:
    return bool(os.environ.get("CMEDL_BENCH_DEBUG"))


def vgg19_weights() -> Path | None:
    value = os.environ.get("CMEDL_BENCH_VGG19")
    return Path(value) if value else None


def plugin_allow_list() -> set[str] | None:
    return _names("CMEDL_BENCH_PLUGINS")


def plugin_block_list() -> set[str]:
    return _names("CMEDL_BENCH_DISABLE") or set()


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def threads() -> str | None:
    """The number of torch threads asked for, as given (:func:`cmedl_bench.engine.devices.apply_threads` checks
    it); None: torch's default (one per core)."""
    return os.environ.get(THREADS_VARIABLE) or None


def loggers() -> str | None:
    """The experiment trackers asked for, as given (:func:`cmedl_bench.tracking.parse_log` reads it)."""
    return os.environ.get(LOG_VARIABLE) or None
