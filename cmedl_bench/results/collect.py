"""Gathering run folders for a report: which runs count, which method each one is, which may be pooled.

A run counts when its ``run.json`` says ``finished`` and its per-case table is there; anything else is excluded
with a reason that the report prints (docs/reference.md §5: a crashed or interrupted run never reaches a leaderboard).
Runs of one method are pooled over seeds only when everything else that determines a result is equal: the
configuration without the seed (dataset and its version, preset, options) and the versions of the plugins used.
Otherwise they become separate rows whose labels say what differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmedl_bench.errors import CmedlError
from cmedl_bench.io.digests import json_digest
from cmedl_bench.results.run_record import RunRecord
from cmedl_bench.suites import paper_row_name


@dataclass
class CollectedRun:
    path: Path
    record: RunRecord
    rows: Any  # pandas DataFrame in the per-case long format

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def seed(self) -> int | None:
        return self.record.seed

    @property
    def components(self) -> dict[str, str]:
        return self.record.components

    @property
    def setup(self) -> dict[str, Any]:
        """What must be equal for runs to be pooled: the config without its seed, and plugin versions."""
        config = {k: v for k, v in self.record.config.items() if k != "seed"}
        plugins = {role: f"{p['distribution']} {p['version']}" for role, p in self.record.plugins.items() if p}
        return {"dataset": self.dataset_name, "reference": self.reference_set, "preset": self.record.preset_name,
                "config": config, "plugins": plugins}

    @property
    def dataset_name(self) -> str:
        return self.record.dataset.label

    @property
    def reference_set(self) -> str:
        """The reference masks of the test split this run was scored against: their fingerprint
        (:class:`cmedl_bench.scoring.ReferenceFingerprint`), or, for records written before fingerprints, the
        dataset's name, version and path."""
        fingerprint = self.record.reference.get("test")
        if fingerprint:
            return f"#{fingerprint[:8]}"
        dataset = self.record.dataset
        return f"{dataset.name} v{dataset.version} {dataset.path}"

    @property
    def setup_hash(self) -> str:
        return json_digest(self.setup)[:8]


@dataclass
class Collection:
    runs: list[CollectedRun] = field(default_factory=list)
    excluded: list[tuple[Path, str]] = field(default_factory=list)


def _run_dirs(paths: list[Path]) -> list[Path]:
    """Each path is a run folder or a folder of run folders (searched recursively)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / "run.json").exists():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob("run.json")))
    return sorted(set(found))


def _read_rows(table: Path):
    """The per-case table, or the reason it cannot be used (unreadable, columns missing, values not numbers)."""
    import pandas as pd

    from cmedl_bench.results.records import ROW_COLUMNS

    try:
        rows = pd.read_parquet(table)
    except Exception as exc:  # pyarrow raises its own types for truncated or foreign files
        return f"unreadable {table.name} ({type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''})"
    missing = [c for c in ROW_COLUMNS if c not in rows.columns]
    if missing:
        return f"{table.name} lacks column(s) {', '.join(missing)}"
    if not pd.api.types.is_numeric_dtype(rows["value"]):
        return f"{table.name}: values are not numbers"
    return rows


def collect(paths: list[Path]) -> Collection:
    """Every run folder below ``paths``; one that cannot be read is excluded with its reason, never fatal."""
    collection = Collection()
    for run_dir in _run_dirs(paths):
        try:
            record = RunRecord.read(run_dir)
        except CmedlError as exc:
            collection.excluded.append((run_dir, str(exc).split(";")[0]))
            continue
        if not record.finished:
            collection.excluded.append((run_dir, f"status {record.status!r}: only finished runs are counted"))
            continue
        try:
            table = record.file("per_case", "per_case.parquet")
        except CmedlError as exc:
            collection.excluded.append((run_dir, str(exc)))
            continue
        if not table.exists():
            collection.excluded.append((run_dir, "finished but per_case.parquet is missing"))
            continue
        rows = _read_rows(table)
        if isinstance(rows, str):
            collection.excluded.append((run_dir, rows))
            continue
        collection.runs.append(CollectedRun(run_dir, record, rows))
    return collection


def method_label(components: dict[str, str], head: str) -> str:
    """The paper's row name where the combination is one of its rows, else ``translator+segmenter+fusion/head``."""
    translator, segmenter, fusion = components["translator"], components["segmenter"], components["fusion"]
    if fusion == "external":
        return segmenter
    name = paper_row_name(translator, segmenter, fusion, head)
    if name is not None:
        return f"{name} ({segmenter})" if segmenter != "unet3d" else name
    return f"{translator}+{segmenter}+{fusion}/{head}"


def variant_suffixes(runs: list[CollectedRun]) -> dict[str, str]:
    """For runs of one method with different setups: a short description of each setup, naming what differs (of a
    dataset, its name and version and only the options whose values differ)."""
    setups = {run.setup_hash: run.setup for run in runs}
    if len(setups) < 2:
        return {h: "" for h in setups}
    datasets = {run.setup_hash: run.record.dataset for run in runs}
    option_names = {name for dataset in datasets.values() for name in dataset.options}
    varying = {name for name in option_names
               if len({json.dumps(d.options.get(name), sort_keys=True) for d in datasets.values()}) > 1}
    suffixes = {}
    for key, setup in setups.items():
        parts = []
        if len({s["dataset"] for s in setups.values()}) > 1:
            parts.append(f"dataset {datasets[key].describe(varying)}")
        if len({s["preset"] for s in setups.values()}) > 1:
            parts.append(f"preset {setup['preset']}")
        if len({json.dumps(s["plugins"], sort_keys=True) for s in setups.values()}) > 1:
            parts.append(", ".join(sorted({v for v in setup["plugins"].values()})))
        if not parts:
            parts.append(f"setup {key}")
        suffixes[key] = " [" + "; ".join(parts) + "]"
    return suffixes


def dedupe(runs: list[CollectedRun], notes: list[str]) -> list[CollectedRun]:
    """The same configuration (hash) found twice, e.g. in two results folders: count it once."""
    seen: dict[str, CollectedRun] = {}
    for run in runs:
        key = run.record.config_hash or str(run.path)
        if key in seen:
            notes.append(f"{run.path} repeats {seen[key].path} (same configuration hash); counted once")
            continue
        seen[key] = run
    return list(seen.values())
