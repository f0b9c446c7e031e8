"""The cache, ``$CMEDL_BENCH_CACHE`` or ``~/.cache/cmedl-bench``: generated datasets, the marks of checked datasets,
and the lock files of run folders (kept here so that a results folder holds nothing but run folders)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cmedl_bench.io.locks import exclusive
from cmedl_bench.plugins import Component


def cache_dir() -> Path:
    return Path(os.environ.get("CMEDL_BENCH_CACHE") or Path.home() / ".cache" / "cmedl-bench")


def ensure_dataset(component: Component, seed: int, size: str, progress=None) -> Path:
    """The dataset plugin's data for (seed, size), generated on first use; reused when already complete."""
    version = component.capabilities.get("version", "0")
    stem = component.name if component.name.endswith(f"-v{version}") else f"{component.name}-v{version}"
    root = cache_dir() / "datasets" / f"{stem}-{size}-seed{seed}"
    if (root / "dataset.json").exists():
        return root
    with exclusive(root.parent / f".{root.name}.lock"):  # parallel sweep jobs: one generates, others wait
        if not (root / "dataset.json").exists():
            component.factory(root, seed=seed, size=size, progress=progress)
    return root


def run_folder_lock(run_dir: Path) -> Path:
    """The lock file of a run folder, named by the folder's absolute path."""
    key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:32]
    return cache_dir() / "locks" / f"{key}.lock"
