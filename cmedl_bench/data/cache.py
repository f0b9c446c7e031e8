"""The cache (:func:`cmedl_bench.settings.cache_dir`): generated datasets and the marks of checked datasets. (The lock
of a run folder lies inside it, :func:`cmedl_bench.stages.run_folder.run_folder_lock`, so that runs with different
caches still exclude each other.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from cmedl_bench.io.digests import json_digest
from cmedl_bench.io.locks import exclusive
from cmedl_bench.settings import cache_dir


def ensure_dataset(name: str, version: object, generate: Callable[..., object], seed: int, size: str,
                   progress=None, on_generated: Callable[[Path], None] | None = None,
                   options: dict[str, Any] | None = None) -> Path:
    """A dataset plugin's data for (seed, size, options), generated on first use by ``generate(root, seed=, size=,
    progress=, **options)`` (then ``on_generated(root)`` is called); reused when already complete. Options (a
    source folder, say) are part of the cache key, so data written from one source is never served for another."""
    root = dataset_root(name, version, seed, size, options)
    if is_cached(root):
        return root
    with exclusive(root.parent / f".{root.name}.lock"):  # parallel sweep jobs: one generates, others wait
        if not (root / "dataset.json").exists():
            generate(root, seed=seed, size=size, progress=progress, **(options or {}))
            if on_generated is not None:
                on_generated(root)
    return root


def dataset_root(name: str, version: object, seed: int, size: str, options: dict[str, Any] | None = None) -> Path:
    """Where :func:`ensure_dataset` keeps a dataset plugin's data for (version, seed, size, options)."""
    stem = name if name.endswith(f"-v{version}") else f"{name}-v{version}"
    suffix = f"-{json_digest(options)[:12]}" if options else ""
    return cache_dir() / "datasets" / f"{stem}-{size}-seed{seed}{suffix}"


def is_cached(root: Path) -> bool:
    """Whether the data at ``root`` (:func:`dataset_root`) were generated already."""
    return (Path(root) / "dataset.json").exists()


def disk_size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file()) / 2**20
