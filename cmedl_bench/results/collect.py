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

from cmedl_bench.data.identifiers import recorded_file
from cmedl_bench.errors import CmedlError
from cmedl_bench.io.digests import json_digest
from cmedl_bench.results.records import read_record
from cmedl_bench.suites import paper_row_name


@dataclass
class CollectedRun:
    path: Path
    record: dict[str, Any]
    rows: Any  # pandas DataFrame in the per-case long format

    @property
    def kind(self) -> str:
        return self.record.get("kind", "training")

    @property
    def seed(self) -> int | None:
        return self.record.get("seed")

    @property
    def components(self) -> dict[str, str]:
        if self.kind == "evaluation":
            return {"translator": "none", "segmenter": self.record["method"]["name"], "fusion": "external"}
        config = self.record["config"]
        return {k: config[k] for k in ("translator", "segmenter", "fusion")}

    @property
    def setup(self) -> dict[str, Any]:
        """What must be equal for runs to be pooled: the config without its seed, and plugin versions."""
        config = {k: v for k, v in self.record.get("config", {}).items() if k != "seed"}
        plugins = {role: f"{p['distribution']} {p['version']}" for role, p in
                   (self.record.get("plugins") or {}).items() if p}
        return {"dataset": self.dataset_name, "reference": self.reference_set,
                "preset": (config.get("preset") or {}).get("name"), "config": config, "plugins": plugins}

    @property
    def dataset_name(self) -> str:
        """The dataset plugin that wrote the data, with its version and the options it was given; for a ``--data``
        folder (or a record older than this field) the name and version in its ``dataset.json``, else its path."""
        dataset = self.record.get("dataset") or {}
        if dataset.get("plugin"):
            options = " ".join(f"{k}={v}" for k, v in sorted((dataset.get("options") or {}).items()))
            return f"{dataset['plugin']} v{dataset.get('version')}" + (f" ({options})" if options else "")
        return (f"{dataset.get('name')} v{dataset.get('version')}" if dataset.get("version") is not None
                else str(dataset.get("path") or dataset.get("name")))

    @property
    def reference_set(self) -> str:
        """The reference masks of the test split this run was scored against: their fingerprint
        (:class:`cmedl_bench.scoring.ReferenceFingerprint`), or, for records written before fingerprints, the
        dataset's name, version and path."""
        fingerprint = (self.record.get("reference") or {}).get("test")
        if fingerprint:
            return f"#{fingerprint[:8]}"
        dataset = self.record.get("dataset") or {}
        return f"{dataset.get('name')} v{dataset.get('version')} {dataset.get('path')}"

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


#: fields of run.json that the report reads, with the types they must have
_RECORD_FIELDS: dict[str, tuple[type, ...]] = {"run_id": (str,), "status": (str,), "seed": (int, type(None)),
                                               "config_hash": (str, type(None)), "plugins": (dict, type(None)),
                                               "dataset": (dict, type(None)), "reference": (dict, type(None)),
                                               "files": (dict, type(None))}


def _record_problem(record: dict[str, Any]) -> str | None:
    for name, types in _RECORD_FIELDS.items():
        if not isinstance(record.get(name), types):
            return f"run.json field {name!r} is {type(record.get(name)).__name__}, not {types[0].__name__}"
    if record.get("kind", "training") == "evaluation":
        method = record.get("method")
        return None if isinstance(method, dict) and isinstance(method.get("name"), str) else "no method name"
    config = record.get("config")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), str)
                                               for k in ("translator", "segmenter", "fusion")):
        return "run.json has no config with translator, segmenter and fusion names"
    return None


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
            record = read_record(run_dir)
        except CmedlError as exc:
            collection.excluded.append((run_dir, str(exc).split(";")[0]))
            continue
        problem = _record_problem(record)
        if problem:
            collection.excluded.append((run_dir, problem))
            continue
        status = record.get("status")
        if status != "finished":
            collection.excluded.append((run_dir, f"status {status!r}: only finished runs are counted"))
            continue
        try:
            table = recorded_file(run_dir, (record.get("files") or {}).get("per_case", "per_case.parquet"))
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
    """For runs of one method with different setups: a short description of each setup, naming what differs."""
    setups = {run.setup_hash: run.setup for run in runs}
    if len(setups) < 2:
        return {h: "" for h in setups}
    suffixes = {}
    for key, setup in setups.items():
        parts = []
        for field_name in ("dataset", "preset"):
            if len({s[field_name] for s in setups.values()}) > 1:
                parts.append(f"{field_name} {setup[field_name]}")
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
        key = run.record.get("config_hash") or str(run.path)
        if key in seen:
            notes.append(f"{run.path} repeats {seen[key].path} (same configuration hash); counted once")
            continue
        seen[key] = run
    return list(seen.values())
