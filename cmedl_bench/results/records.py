"""Run records (docs/reference.md §5): ``run.json``, per-case rows in Parquet (long format), learning curves.

Every write is atomic (temporary file + rename). Per-case rows are written once, when scoring has finished, so a
crashed or interrupted run never leaves half a table behind; ``run.json``'s ``status`` says how a run ended.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from cmedl_bench.io.atomic import atomic_write_json, atomic_write_parquet
from cmedl_bench.io.checkpoints import CorruptFileError

SCHEMA_VERSION = 1
ROW_COLUMNS = ("run_id", "split", "case", "head", "metric", "value", "flag")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_revision(path: Path | None = None) -> dict[str, Any]:
    """Revision of the git checkout holding the cmedl-bench sources (or None for an installed wheel)."""
    where = str(path or Path(__file__).resolve().parent)
    try:
        rev = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return {"revision": None, "dirty": None}
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return {"revision": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("cmedl-bench", "torch", "numpy", "SimpleITK", "surface-distance", "pluggy", "pandas"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """The run record, or None when the folder has none; an unreadable one is a :class:`CorruptFileError` naming
    the file (``--force`` starts the run afresh)."""
    path = run_dir / "run.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"{path} is corrupt or unreadable ({exc}); run the same command with --force to start "
                               f"this run afresh") from None
    if not isinstance(record, dict):
        raise CorruptFileError(f"{path} is not a run record (a JSON object); run the same command with --force")
    return record


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_json(run_dir / "run.json", record)


def write_rows(run_dir: Path, rows: list[dict[str, Any]]) -> Path:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return atomic_write_parquet(frame, run_dir / "per_case.parquet")


def metric_definitions(registry) -> dict[str, dict[str, Any]]:
    """What each metric of the run computes (its :class:`cmedl_bench.info.MetricInfo`), and from which
    distribution: recorded with every result; ``scope`` is ``segmentation`` or ``translation``."""
    return {c.name: {"definition": c.info.definition, "unit": c.info.unit, "higher_is_better": c.info.higher_is_better,
                     "digits": c.info.digits, "scope": scope, "distribution": c.distribution, "version": c.version}
            for kind, scope in (("metric", "segmentation"), ("translation-metric", "translation"))
            for c in registry.components[kind].values()}


def new_record(kind: str, run_id: str, config: dict[str, Any], config_hash: str, seed: int | None,
               dataset: dict[str, Any], registry, plugins: dict[str, Any] | None = None,
               **fields: Any) -> dict[str, Any]:
    """The run record of every kind (``training``, ``translation``, ``evaluation``) as it is written when the work
    starts (status ``running``): what was run, on what, with which code; ``fields`` adds kind-specific entries."""
    return {"schema_version": SCHEMA_VERSION, "kind": kind, "run_id": run_id, "status": "running", "started": now(),
            "config": config, "config_hash": config_hash, "seed": seed, "plugins": plugins, "dataset": dataset,
            "metrics": metric_definitions(registry), "git": git_revision(), "versions": package_versions(), **fields}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, SD and count per split, head and metric; counts of flagged (rule-set) values."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    summary: dict[str, Any] = {}
    for (split, head, metric), group in frame.groupby(["split", "head", "metric"], sort=True):
        values = group["value"].astype(float)
        summary.setdefault(split, {}).setdefault(head, {})[metric] = {
            "mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": int(len(values)), "flagged": int(group["flag"].notna().sum())}
    return summary
