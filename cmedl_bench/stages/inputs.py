"""Everything a training verb resolves before it writes anything: device, preset, dataset (generated on first use
or the user's, checked), the configuration and its hash, and the cases of each split read and preprocessed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmedl_bench.config import Preset, RunConfig, require_seed, resolve_preset
from cmedl_bench.errors import CmedlError, DatasetError
from cmedl_bench.registry import Registry
from cmedl_bench.request import RunRequest
from cmedl_bench.selection import Selection, dataset_options
from cmedl_bench.stages.progress import Reporter


@dataclass
class RunInputs:
    """Resolved inputs of one training run, built before anything is written."""

    registry: Registry
    selection: Selection
    config: RunConfig
    device: Any  # torch.device
    index: Any  # cmedl_bench.data.layout.DatasetIndex
    results: Path
    loggers: tuple = ()  # logger components (--log), checked; built when training starts

    @property
    def run_dir(self) -> Path:
        return Path(self.results) / self.config.run_id


def usable_device(requested: str | None):
    """The torch device, after one allocation on it (so a missing CUDA is one line here, not a traceback later)."""
    import torch

    from cmedl_bench.engine.devices import select_device

    try:
        dev = select_device(requested)
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise CmedlError(f"device {requested!r} is not usable: {str(exc).splitlines()[0]}") from None
    return dev


def require_results_folder(results: Path) -> None:
    if Path(results).exists() and not Path(results).is_dir():
        raise CmedlError(f"--results {results} is a file; it must be a folder (created if absent)")


def require_outside_run_folders(path: Path, option: str) -> None:
    """A verb's output never goes into a run folder (a folder with a ``run.json``, or anywhere below one): it would
    replace the run's own files (its predictions, its record) or be taken for them."""
    resolved = Path(path).resolve()
    for folder in (resolved, *resolved.parents):
        if (folder / "run.json").is_file():
            raise CmedlError(f"{option} {path} lies inside the run folder {folder}; write outputs elsewhere")


def open_run(selection: Selection, registry: Registry, reporter: Reporter, request: RunRequest,
             components: tuple[str, str, str] | None = None) -> RunInputs:
    """Everything the run needs before it writes anything, checked in that order: the request's seed, results
    folder, threads, device, preset, every selected component's contract (probes), the configuration and its
    hash, the dataset (generated on first use) and its checks. ``components``: the configuration's translator,
    segmenter and fusion names where they are not the request's (``translate``: ``(translator, "none",
    "translate")``)."""
    from cmedl_bench.data.cache import dataset_root, disk_size_mb, ensure_dataset, is_cached
    from cmedl_bench.data.checks import require_clean
    from cmedl_bench.data.layout import load_index
    from cmedl_bench.engine.devices import apply_threads
    from cmedl_bench.engine.distributed import device_for_rank, init_from_environment, world_size
    from cmedl_bench.hookspecs import PLUGIN_API_VERSION
    from cmedl_bench import settings
    from cmedl_bench.selection import component_options
    from cmedl_bench.tracking import parse_log, selected_loggers

    translator, segmenter, fusion = components or (request.translator, request.segmenter, request.fusion)
    seed, results, data, dataset = request.seed, request.results, request.data, request.dataset
    require_seed(seed)
    require_results_folder(results)
    apply_threads(request.threads)  # --threads: checked first, and in force for everything the run computes
    metrics = tuple(sorted(set(request.metrics) | ({"dsc"} if request.metrics else set())))
    registry = registry.with_metrics(metrics)
    init_from_environment()  # under torchrun
    dev = usable_device(device_for_rank(request.device))
    resolved = resolve_preset(request.preset, dev.type == "cuda", request.overrides)
    given = component_options(selection, request.options)  # typed like their declared defaults
    _probe(selection, registry, resolved, given)
    loggers = tuple(selected_loggers(registry, parse_log(request.log or settings.loggers())))
    user_data = data is not None
    ignored = sorted(set(request.options) & set(selection.dataset.info.options))
    if user_data and ignored:
        raise CmedlError(f"--option {ignored[0]} configures dataset {dataset!r}, which --data replaces; "
                         f"drop one of them")
    config = RunConfig(translator=translator, segmenter=segmenter, fusion=fusion, dataset=dataset,
                       dataset_version=None if user_data else selection.dataset.info.version,
                       data_path=str(Path(data).resolve()) if user_data else None, seed=seed, preset=resolved,
                       options=given, device_type=dev.type,
                       processes=world_size(), metrics=metrics, plugin_versions={"plugin_api": PLUGIN_API_VERSION} | {
                           role: f"{p['distribution']} {p['version']}"
                           for role, p in selection.provenance().items() if p is not None})
    if not user_data:
        options = dataset_options(selection.dataset, config.options)
        key = (selection.dataset.name, selection.dataset.info.version, config.data_seed, resolved.dataset_size)
        data = dataset_root(*key, options)
        if not is_cached(data):  # no "first use" line when nothing is generated
            with reporter.task(f"generating {dataset} (first use)") as task:
                data = ensure_dataset(*key[:2], selection.dataset.factory, *key[2:], progress=task.tick,
                                      on_generated=lambda root: reporter.message(
                                          f"generated {dataset} in {root}: {disk_size_mb(root):.0f} MB"),
                                      options=options)
    with reporter.task("checking the dataset") as task:
        warned = require_clean(Path(data), progress=task.tick)
    if warned:
        reporter.warning(f"data check: {warned[0]}" + (f" (and {len(warned) - 1} more warning(s))" if len(warned) > 1
                                                       else "") + f"; see cmedl-bench data check {data}")
    return RunInputs(registry, selection, config, dev, load_index(Path(data)), results, loggers)


def _probe(selection: Selection, registry: Registry, preset: Preset, options: dict[str, Any]) -> None:
    """Every selected component's contract (docs/writing-plugins.md): a broken one is one line, before any work."""
    from cmedl_bench.stages.probing import probe_fusion, probe_metrics, probe_segmenter, probe_translator

    if selection.segmenter is not None:
        probe_segmenter(selection.segmenter, preset)
    if selection.translator is not None:
        probe_translator(selection.translator, preset, options)
    if selection.fusion is not None and selection.segmenter is not None:
        probe_fusion(selection.fusion, selection.segmenter, selection.translator, preset, options)
    probe_metrics(registry)


def split_cases(index, cohort: str, split: str, limit: int | None = None):
    cases = index.split_cases(cohort, split)
    if not cases:
        raise DatasetError(f"{index.root}: the {cohort.upper()} cohort has no {split} cases in splits.json")
    return cases[:limit] if limit else cases


def prepare_groups(groups: dict[str, list], preset, reporter: Reporter, min_depth: int = 1,
                   aligned: dict[str, Any] | None = None) -> dict[str, list]:
    """Read and preprocess every case of every group (this is where broken files are found); a CBCT case whose id
    is in ``aligned`` (case id -> aligned MRI case) is prepared with its aligned MRI. Each case keeps its prepared
    arrays, label and geometry; its original-grid image is dropped as soon as it is prepared."""
    from cmedl_bench.data.layout import read_volume, without_image
    from cmedl_bench.data.preprocessing import prepare

    aligned = aligned or {}
    prepared: dict[str, list] = {}
    with reporter.task("reading and preprocessing", total=sum(map(len, groups.values()))) as task:
        for name, cases in groups.items():
            prepared[name] = []
            for case in cases:
                partner = aligned.get(case.case_id) if case.cohort == "cbct" else None
                volume = prepare(read_volume(case), preset.spacing_xy_mm, preset.crop_size, min_depth,
                                 aligned=read_volume(partner) if partner else None)
                volume.volume = without_image(volume.volume)  # freed now, scan by scan (not at the end: the heap)
                prepared[name].append(volume)
                task.advance()
            if name.endswith("train") and not any(len(p.tumour_slices) for p in prepared[name]):
                raise DatasetError(f"no {name.replace('_', ' ')} case contains tumour voxels")
    return prepared


def aligned_cases(index, selection: Selection, cases: list, fidelity: bool = False) -> dict[str, Any]:
    """Case id -> aligned MRI case for the CBCT ``cases`` when the run reads aligned MRI
    (:func:`cmedl_bench.selection.reads_aligned_mri`, or ``fidelity``: ``translate`` scores its pseudo-MRI against
    it), where every case has one; a component that requires it and a dataset without it is one line."""
    from cmedl_bench.data.layout import ALIGNED_COHORT
    from cmedl_bench.selection import reads_aligned_mri, requires_aligned_mri

    if not (fidelity or reads_aligned_mri(selection)):
        return {}
    available = index.cases.get(ALIGNED_COHORT, {})
    missing = [case.case_id for case in cases if case.case_id not in available]
    needed_by = requires_aligned_mri(selection)
    if needed_by and missing:
        raise DatasetError(f"{index.root}: {needed_by} needs MRI aligned to every CBCT scan (cohort "
                           f"{ALIGNED_COHORT}); {len(missing)} scan(s) have none, e.g. {missing[0]} (phantom v4 has "
                           f"it; docs/own-data.md says how to add your own)")
    return {} if missing else {case.case_id: available[case.case_id] for case in cases}


def case_map(index, cohort: str = "cbct") -> dict[str, dict[str, Any]]:
    """Case id -> patient (and tumour location where ``dataset.json`` records one) of a dataset's cohort: what a
    report needs to pair results per patient, stored with every run so that it never depends on the dataset folder
    staying where it was."""
    entries = (index.meta.get("cohorts", {}).get(cohort, {}) or {}).get("cases", {})
    return {case_id: {"patient": case.patient} | {k: v for k, v in (entries.get(case_id) or {}).items()
                                                   if k == "location" and v is not None}
            for case_id, case in sorted(index.cases.get(cohort, {}).items())}


def run_record(inputs: RunInputs, kind: str) -> dict[str, Any]:
    """The record of a ``training`` or ``translation`` run as it starts (:func:`cmedl_bench.results.records.new_record`)."""
    import torch

    from cmedl_bench.engine.devices import describe
    from cmedl_bench.results.records import new_record

    config, index, dataset = inputs.config, inputs.index, inputs.selection.dataset
    served = config.data_path is None  # written by the dataset plugin, not a --data folder
    record = new_record(kind, config.run_id, config.to_dict(), config.hash(), config.seed,
                        {"name": index.name, "version": index.version, "path": str(Path(index.root).resolve()),
                         "cases": case_map(index),
                         "generator": index.meta.get("generator"), "plugin": dataset.name if served else None,
                         "options": dataset_options(dataset, config.options) if served else {}},
                        inputs.registry, inputs.selection.provenance(), device=describe(inputs.device))
    record["versions"]["cuda"] = torch.version.cuda
    return record
