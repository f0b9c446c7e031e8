"""The public Python API behind the CLI verbs: notebooks and CI call these functions too.

A thin facade in the spirit of nnU-Net's ``*_api.py``: each function shows progress on stderr (rich; ``quiet``
hides the bars) and hands the work to its stage in :mod:`cmedl_bench.stages`. Return values are plain data (run
records as dicts, the leaderboard as an object). See docs/architecture.md for the layers and the flow of a run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from cmedl_bench.console import RichReporter
from cmedl_bench.request import RunRequest
from cmedl_bench.settings import results_dir
from cmedl_bench.stages.datasets import list_plugins
from cmedl_bench.stages.reporting import check_thresholds, report

__all__ = ["check_data", "check_thresholds", "contrast", "evaluate", "export", "import_data", "list_plugins",
           "predict", "report", "run", "run_parallel", "RunRequest", "sensitivity", "sweep", "synth", "translate"]


def _reporter(quiet: bool) -> RichReporter:
    return RichReporter(quiet or int(os.environ.get("RANK", "0")) > 0)  # in data-parallel runs rank 0 shows progress


def synth(out: Path, dataset: str = "phantom", seed: int = 0, size: str = "full", quiet: bool = False,
          options: dict[str, str] | None = None, preview: bool = False, overwrite: bool = False) -> Path:
    """Write a dataset plugin's data into ``out`` (``options``: ``KEY=VALUE`` texts for the options it declares;
    ``preview``: also ``preview.png``); a folder that ``data synth`` did not write is replaced only with
    ``overwrite``."""
    from cmedl_bench.stages.datasets import synth as synth_stage

    return synth_stage(_reporter(quiet), out, dataset, seed, size, options, preview, overwrite)


def check_data(dataset: Path, quiet: bool = False):
    """Every dataset check (see :mod:`cmedl_bench.data.checks`); returns the report."""
    from cmedl_bench.stages.datasets import check_data as check_stage

    return check_stage(_reporter(quiet), dataset)


def import_data(dataset: Path, quiet: bool = False, **options: Any):
    """Import DICOM + RTSTRUCT or image files + label maps into ``dataset`` (see
    :func:`cmedl_bench.stages.datasets.import_data` for the options)."""
    from cmedl_bench.stages.datasets import import_data as import_stage

    return import_stage(_reporter(quiet), dataset, **options)


def contrast(dataset: Path, spacing_mm: float | None = None, control_cases: int = 8,
             quiet: bool = False) -> dict[str, Any]:
    """Tumour contrast and CNR per cohort and split (:mod:`cmedl_bench.stages.contrast`)."""
    from cmedl_bench.stages.contrast import dataset_contrast

    return dataset_contrast(_reporter(quiet), dataset, spacing_mm, control_cases)


def _request(request: RunRequest | None, fields: dict[str, Any]) -> RunRequest:
    """``request`` with ``fields`` changed, or the request ``fields`` build (:meth:`RunRequest.build`).
    ``component_options``, the keyword of 1.x before the run request, still works with a DeprecationWarning."""
    if "component_options" in fields:
        warnings.warn("component_options= is deprecated; pass options= (the same KEY -> text pairs)",
                      DeprecationWarning, stacklevel=3)
        fields["options"] = {**(fields.get("options") or {}), **(fields.pop("component_options") or {})}
    return RunRequest.build(**fields) if request is None else request.replace(**fields) if fields else request


def run(request: RunRequest | None = None, /, **fields: Any) -> dict[str, Any]:
    """Train one combination and score it on the validation and test splits; returns the run record. The run is
    ``request``, or the :class:`cmedl_bench.request.RunRequest` built from ``fields`` (named as its table names them:
    ``translator="none", fusion="none", epochs=3, lambda_hint=2, options={"lambda_seg": 5}``; with ``request``
    they change it). A finished run with the same configuration hash is returned as it is (``force`` retrains); an
    unfinished one resumes."""
    from cmedl_bench.stages import training

    request = _request(request, fields)
    return training.run(_reporter(request.quiet), request)


def run_parallel(processes: int, request: RunRequest) -> dict[str, Any]:
    """:func:`run` as ``processes`` data-parallel processes, one per GPU (on CPU, gloo processes: for testing);
    returns rank 0's run record. See :mod:`cmedl_bench.engine.distributed`."""
    from cmedl_bench.engine.devices import select_device
    from cmedl_bench.engine.distributed import launch
    from cmedl_bench.stages import training

    cuda = select_device(request.device).type == "cuda"
    training.check_parallel(processes, request, cuda)
    return launch(processes, cuda, run, request)


def translate(request: RunRequest | None = None, /, **fields: Any) -> dict[str, Any]:
    """Train a translator alone and score translation quality (KL of pseudo-MRI and raw CBCT to real MRI); the
    request as :func:`run` takes it (``translator_epochs`` for the translator's epochs)."""
    from cmedl_bench.stages import translation

    request = _request(request, fields)
    return translation.translate(_reporter(request.quiet), request)


def sweep(suite_name: str = "paper", seeds: tuple[int, ...] = (0,), rows: list[tuple] | None = None,
          launcher: str = "local", launcher_options: dict[str, str] | None = None,
          request: RunRequest | None = None, **fields: Any):
    """Every row of a suite (or the given rows: translator, segmenter, fusion[, dataset[, options]]) for every seed
    with a launcher plugin; one :class:`cmedl_bench.launch.JobOutcome` per job. Each job's request is ``request``
    (or the one ``fields`` build, as :func:`run` takes them) with the row's components, dataset, options, the
    suite's budget and the seed."""
    from cmedl_bench.stages import sweeping

    return sweeping.sweep(run, suite_name, seeds, rows, launcher, launcher_options, _request(request, fields))


def sensitivity(run_dir: Path, head: str | None = None, passes: int = 10, rate: float = 0.5, seed: int = 0,
                quiet: bool = False) -> dict[str, Any]:
    """Test-time dropout (paper III.E) on a finished run; writes ``sensitivity.json`` and ``sensitivity.png``."""
    from cmedl_bench.stages.sensitivity import sensitivity as sensitivity_stage

    return sensitivity_stage(_reporter(quiet), run_dir, head, passes, rate, seed)


def evaluate(pred: Path, ref: Path, name: str, results: Path | None = None, splits: tuple[str, ...] = ("test",),
             label: int | None = None, quiet: bool = False, threshold: float | None = None) -> dict[str, Any]:
    """Score masks made by any tool against reference masks; stored as a run folder that ``report`` ranks.
    ``label`` picks one value of multi-label predictions, ``threshold`` reads probability maps."""
    from cmedl_bench.stages import external

    return external.evaluate(_reporter(quiet), pred, ref, name, results or results_dir(), splits,
                             external.MaskRule(label, threshold))


def predict(model: Path, inputs: list[Path], out: Path, quiet: bool = False, **options: Any) -> dict[str, Any]:
    """Apply a finished run or an exported model file to new scans (DICOM folders, image files, a dataset's split);
    masks, probability maps, RT Structure Sets and a table in ``out``. Options: see
    :func:`cmedl_bench.stages.predicting.predict`."""
    from cmedl_bench.stages.predicting import predict as predict_stage

    return predict_stage(_reporter(quiet), model, inputs, out, **options)


def export(run_dir: Path, out: Path, head: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """A finished run's model as one self-contained file that ``predict`` accepts without the run folder (an
    existing file is replaced only with ``overwrite``)."""
    from cmedl_bench.stages.models import export_model

    return export_model(Path(run_dir), Path(out), head, overwrite)
