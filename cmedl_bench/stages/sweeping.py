"""``sweep``: every row of a suite for every seed, as jobs handed to a launcher plugin. Every row is checked before
the first one trains; finished runs (same configuration hash) are skipped and unfinished ones resumed, so an
interrupted sweep continues where it stopped; a failed job does not stop the others."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from cmedl_bench.config import require_seed
from cmedl_bench.errors import CmedlError
from cmedl_bench.launch import Job, JobOutcome
from cmedl_bench.registry import get_registry
from cmedl_bench.request import RunRequest
from cmedl_bench.selection import declared_options, select
from cmedl_bench.suite_files import resolve_suite
from cmedl_bench.suites import Row, Suite


def sweep(runner: Callable[[RunRequest], dict[str, Any]], suite_name: str, seeds: tuple[int, ...],
          rows: list[Row] | None, launcher: str, launcher_options: dict[str, str] | None,
          request: RunRequest) -> list[JobOutcome]:
    """``runner`` is the function each job calls with its request (``cmedl_bench.api.run``). ``suite_name``: a
    built-in suite or a suite file (:func:`cmedl_bench.suite_files.resolve_suite`); ``rows`` (e.g. a ``--grid``)
    replace it. Each job's request is ``request`` with the row's components, dataset and options (``request``'s own
    options where the row's components declare them), the seed, and the suite's budget for the preset in the preset
    fields that ``request`` leaves unset."""
    chosen = resolve_suite(suite_name) if rows is None else Suite([Row(*row) for row in rows])
    grid = chosen.rows
    for seed in seeds:
        require_seed(seed)
    registry = get_registry()
    if request.data is not None and any(row.dataset for row in grid):
        named = sorted({row.dataset for row in grid if row.dataset})
        raise CmedlError(f"suite {suite_name!r} runs rows on named datasets ({', '.join(named)}); --data cannot "
                         f"replace them")
    per_row = []  # each row gets the options its own components declare; ``run`` checks and types them
    for row in grid:
        declared = declared_options(select(registry, row.translator, row.segmenter, row.fusion,
                                           row.dataset or request.dataset))
        fixed = {key: str(value) for key, value in (row.options or {}).items()}
        undeclared = sorted(set(fixed) - set(declared))
        if undeclared:
            raise CmedlError(f"suite {suite_name!r}: row {row.translator}+{row.segmenter}+{row.fusion} sets option "
                             f"{undeclared[0]!r}, which none of its components (dataset "
                             f"{row.dataset or request.dataset!r} included) declares")
        per_row.append({key: text for key, text in request.options.items() if key in declared} | fixed)
    unused = sorted(set(request.options) - {key for options in per_row for key in options})
    if unused:
        raise CmedlError(f"--option {unused[0]}: no component of suite {suite_name!r} declares it")
    component = registry.get("launcher", launcher)
    allowed = set(component.info.options)
    unknown = set(launcher_options or {}) - allowed
    if unknown:
        raise CmedlError(f"launcher {launcher!r} has no option(s) {', '.join(sorted(unknown))}; options: "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    results = Path(request.results).resolve()
    budget = chosen.budget.get(_preset_name(request), {}) if chosen.budget else {}
    base = dataclasses.replace(request, results=results, options={},
                               overrides=budget | {k: v for k, v in request.overrides.items() if v is not None})
    jobs = [_job(row, seed, runner, dataclasses.replace(
        base, translator=row.translator, segmenter=row.segmenter, fusion=row.fusion,
        dataset=row.dataset or request.dataset, seed=seed, options=options))
        for seed in seeds for row, options in zip(grid, per_row)]
    return component.factory(dict(launcher_options or {})).launch(jobs)


def _preset_name(request: RunRequest) -> str:
    """The preset ``run`` will use: the named one, else ``paper`` on a GPU and ``cpu`` without."""
    from cmedl_bench.stages.inputs import usable_device

    return request.preset or ("paper" if usable_device(request.device).type == "cuda" else "cpu")


def _job(row: Row, seed: int, runner, request: RunRequest) -> Job:
    fixed = "".join(f"-{key}{value}" for key, value in sorted((row.options or {}).items()))
    name = f"{row.translator}-{row.segmenter}-{row.fusion}" + (f"-{row.dataset}" if row.dataset else "") + fixed
    label = (f"{row.translator}+{row.segmenter}+{row.fusion}" + (f" on {row.dataset}" if row.dataset else "")
             + "".join(f" {key}={value}" for key, value in sorted((row.options or {}).items())))
    return Job(f"{label} seed {seed}", request, request.results / "_logs" / f"{name}-s{seed}.log", runner=runner)
