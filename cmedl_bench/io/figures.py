"""Figures: matplotlib with the Agg backend (no display is ever needed), saved atomically."""

from __future__ import annotations

from pathlib import Path

from cmedl_bench.io.atomic import atomic_write


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend, imported when a figure is first drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the file ending) and close it."""
    written = atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png"))
    pyplot().close(fig)
    return written
