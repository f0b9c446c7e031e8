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
from cmedl_bench.selection import declared_options, select
from cmedl_bench.suite_files import resolve_suite
from cmedl_bench.suites import Row, Suite


def sweep(runner: Callable[..., dict[str, Any]], suite_name: str = "paper", seeds: tuple[int, ...] = (0,),
          rows: list[Row] | None = None, launcher: str = "local",
          launcher_options: dict[str, str] | None = None, **run_kwargs: Any) -> list[JobOutcome]:
    """``runner`` is the function each job calls with its ``run`` keyword arguments (``cmedl_bench.api.run``).
    ``suite_name``: a built-in suite or a suite file (:func:`cmedl_bench.suite_files.resolve_suite`); ``rows``
    (e.g. a ``--grid``) replace it. The suite's budget for the preset fills the preset fields that ``overrides``
    leaves unset."""
    chosen = resolve_suite(suite_name) if rows is None else Suite([Row(*row) for row in rows])
    grid = chosen.rows
    for seed in seeds:
        require_seed(seed)
    registry = get_registry()
    default_dataset = run_kwargs.pop("dataset", "phantom")
    if run_kwargs.get("data") is not None and any(row.dataset for row in grid):
        named = sorted({row.dataset for row in grid if row.dataset})
        raise CmedlError(f"suite {suite_name!r} runs rows on named datasets ({', '.join(named)}); --data cannot "
                         f"replace them")
    given = run_kwargs.pop("component_options", None) or {}
    per_row = []  # each row gets the --option pairs its own components declare; ``run`` checks and types them
    for row in grid:
        declared = declared_options(select(registry, row.translator, row.segmenter, row.fusion,
                                           row.dataset or default_dataset))
        fixed = {key: str(value) for key, value in (row.options or {}).items()}
        undeclared = sorted(set(fixed) - set(declared))
        if undeclared:
            raise CmedlError(f"suite {suite_name!r}: row {row.translator}+{row.segmenter}+{row.fusion} sets option "
                             f"{undeclared[0]!r}, which none of its components (dataset "
                             f"{row.dataset or default_dataset!r} included) declares")
        per_row.append({key: text for key, text in given.items() if key in declared} | fixed)
    unused = sorted(set(given) - {key for options in per_row for key in options})
    if unused:
        raise CmedlError(f"--option {unused[0]}: no component of suite {suite_name!r} declares it")
    component = registry.get("launcher", launcher)
    allowed = set(component.info.options)
    unknown = set(launcher_options or {}) - allowed
    if unknown:
        raise CmedlError(f"launcher {launcher!r} has no option(s) {', '.join(sorted(unknown))}; options: "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    results = Path(run_kwargs.pop("results", "cmedl-results")).resolve()
    set_fields = {k: v for k, v in (run_kwargs.pop("overrides", None) or {}).items() if v is not None}
    budget = chosen.budget.get(_preset_name(run_kwargs), {}) if chosen.budget else {}
    run_kwargs["overrides"] = budget | set_fields
    jobs = [_job(row, row.dataset or default_dataset, seed, results, runner,
                 run_kwargs | {"component_options": options})
            for seed in seeds for row, options in zip(grid, per_row)]
    return component.factory(dict(launcher_options or {})).launch(jobs)


def _preset_name(run_kwargs: dict[str, Any]) -> str:
    """The preset ``run`` will use: the named one, else ``paper`` on a GPU and ``cpu`` without."""
    from cmedl_bench.stages.inputs import usable_device

    return run_kwargs.get("preset") or ("paper" if usable_device(run_kwargs.get("device")).type == "cuda" else "cpu")


def _job(row: Row, dataset: str, seed: int, results: Path, runner, run_kwargs: dict[str, Any]) -> Job:
    fixed = "".join(f"-{key}{value}" for key, value in sorted((row.options or {}).items()))
    name = f"{row.translator}-{row.segmenter}-{row.fusion}" + (f"-{row.dataset}" if row.dataset else "") + fixed
    label = (f"{row.translator}+{row.segmenter}+{row.fusion}" + (f" on {row.dataset}" if row.dataset else "")
             + "".join(f" {key}={value}" for key, value in sorted((row.options or {}).items())))
    return Job(f"{label} seed {seed}", {"translator": row.translator, "segmenter": row.segmenter,
                                        "fusion": row.fusion, "dataset": dataset, "seed": seed, "results": results,
                                        **run_kwargs}, results / "_logs" / f"{name}-s{seed}.log", runner=runner)
