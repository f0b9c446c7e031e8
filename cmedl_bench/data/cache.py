"""Where generated datasets live: ``$CMEDL_BENCH_CACHE`` or ``~/.cache/cmedl-bench``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

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
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:  # parallel sweep jobs: one generates, others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "dataset.json").exists():
            component.factory(root, seed=seed, size=size, progress=progress)
    return root
