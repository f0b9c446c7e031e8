"""Where generated datasets live: ``$CMEDL_BENCH_CACHE`` or ``~/.cache/cmedl-bench``."""

from __future__ import annotations

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
    if not (root / "dataset.json").exists():
        component.factory(root, seed=seed, size=size, progress=progress)
    return root
