"""Gathering run folders for a report: which runs count, which method each one is, which may be pooled.

A run counts when its ``run.json`` says ``finished`` and its per-case table is there; anything else is excluded
with a reason that the report prints (DESIGN section 6: a crashed or interrupted run never reaches a leaderboard).
Runs of one method are pooled over seeds only when everything else that determines a result is equal: the
configuration without the seed (dataset and its version, preset, options) and the versions of the plugins used.
Otherwise they become separate rows whose labels say what differs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        dataset = self.record.get("dataset") or {}
        return {"dataset": f"{dataset.get('name')} v{dataset.get('version')}" if dataset.get("version") is not None
                else str(dataset.get("path") or dataset.get("name")),
                "preset": (config.get("preset") or {}).get("name"), "config": config, "plugins": plugins}

    @property
    def setup_hash(self) -> str:
        canonical = json.dumps(self.setup, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:8]


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


def collect(paths: list[Path]) -> Collection:
    import pandas as pd

    collection = Collection()
    for run_dir in _run_dirs(paths):
        try:
            record = read_record(run_dir)
        except (OSError, ValueError) as exc:
            collection.excluded.append((run_dir, f"unreadable run.json ({exc})"))
            continue
        status = record.get("status")
        if status != "finished":
            collection.excluded.append((run_dir, f"status {status!r}: only finished runs are counted"))
            continue
        table = run_dir / (record.get("files") or {}).get("per_case", "per_case.parquet")
        if not table.exists():
            collection.excluded.append((run_dir, "finished but per_case.parquet is missing"))
            continue
        collection.runs.append(CollectedRun(run_dir, record, pd.read_parquet(table)))
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
