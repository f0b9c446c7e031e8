"""``sweep``: every row of a suite for every seed, as jobs handed to a launcher plugin. Every row is checked before
the first one trains; finished runs (same configuration hash) are skipped and unfinished ones resumed, so an
interrupted sweep continues where it stopped; a failed job does not stop the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from cmedl_bench.config import require_seed
from cmedl_bench.errors import CmedlError
from cmedl_bench.launch import Job, JobOutcome
from cmedl_bench.registry import get_registry
from cmedl_bench.selection import select
from cmedl_bench.suites import suite


def sweep(runner: Callable[..., dict[str, Any]], suite_name: str = "paper", seeds: tuple[int, ...] = (0,),
          rows: list[tuple[str, str, str]] | None = None, launcher: str = "local",
          launcher_options: dict[str, str] | None = None, **run_kwargs: Any) -> list[JobOutcome]:
    """``runner`` is the function each job calls with its ``run`` keyword arguments (``cmedl_bench.api.run``)."""
    grid = rows if rows is not None else suite(suite_name)
    for seed in seeds:
        require_seed(seed)
    registry = get_registry()
    dataset = run_kwargs.get("dataset", "phantom")
    for translator, segmenter, fusion in grid:
        select(registry, translator, segmenter, fusion, dataset)
    component = registry.get("launcher", launcher)
    allowed = set(component.capabilities.get("options", ()))
    unknown = set(launcher_options or {}) - allowed
    if unknown:
        raise CmedlError(f"launcher {launcher!r} has no option(s) {', '.join(sorted(unknown))}; options: "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    results = Path(run_kwargs.pop("results", "cmedl-results")).resolve()
    jobs = [Job(f"{t}+{s}+{f} seed {seed}", {"translator": t, "segmenter": s, "fusion": f, "seed": seed,
                                             "results": results, **run_kwargs},
                results / "_logs" / f"{t}-{s}-{f}-s{seed}.log", runner=runner)
            for seed in seeds for t, s, f in grid]
    return component.factory(dict(launcher_options or {})).launch(jobs)
