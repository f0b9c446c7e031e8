"""``report``: collect finished run folders and build the leaderboard (:mod:`cmedl_bench.results.leaderboard`);
the regression guard of ``--fail-below``."""

from __future__ import annotations

from pathlib import Path

from cmedl_bench.errors import CmedlError
from cmedl_bench.results.collect import collect
from cmedl_bench.results.leaderboard import Leaderboard, build_leaderboard


def report(paths: Path | str | list[Path | str], reference: str | None = None, alpha: float = 0.05,
           pairing: str = "patient", metrics: tuple[str, ...] = ("dsc", "sdsc"), rank_by: str = "dsc") -> Leaderboard:
    """The leaderboard of the finished runs under ``paths`` (one folder or a list of them); ``pairing``
    (``patient`` or ``scan``) and ``metrics`` (the tested family) as :func:`cmedl_bench.results.leaderboard.
    build_leaderboard` takes them."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    for path in paths:
        if not Path(path).exists():
            raise CmedlError(f"results folder {path} does not exist")
    collection = collect([Path(p) for p in paths])
    if not collection.runs:
        reasons = "; ".join(f"{p}: {r}" for p, r in collection.excluded[:3])
        raise CmedlError(f"no finished run under {', '.join(map(str, paths))}" + (f" ({reasons})" if reasons else ""))
    return build_leaderboard(collection, reference, alpha, pairing, tuple(metrics), rank_by)


def check_thresholds(board: Leaderboard, thresholds: dict[str, float]) -> list[str]:
    """Rows whose mean test DSC is below the given floor (a CI regression guard); unknown labels are an error."""
    failures = []
    for label, floor in thresholds.items():
        row = board.row(label)
        if row.test_dsc is None or row.test_dsc < floor:
            shown = "none" if row.test_dsc is None else f"{row.test_dsc:.3f}"
            failures.append(f"{row.label}: mean test DSC {shown} is below {floor:g}")
    return failures
