"""One summary printer for every kind of run record (``training``, ``translation``, ``evaluation``) and for a sweep's
records: per run, split and head, mean ± SD of every metric the record defines (its ``metrics`` section, so a
metric plugin shows up here too), with n and the number of values set by an empty-mask rule."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

#: digits per unit; metrics without a unit (DSC, SDSC) get three
_DIGITS = {"mm": 2}


def summary_table(records: list[dict[str, Any]], title: str, splits: tuple[str, ...] = ("test",)):
    """The segmentation metrics as columns (one row per run, split and head); translation metrics (KL, fidelity)
    follow in a second table, one row per metric, so that neither grows wider than a terminal."""
    from rich.console import Group

    metrics = _metrics(records, splits)
    translation = [(name, unit) for name, unit in metrics if _scope(records, name) == "translation"]
    segmentation = [m for m in metrics if m not in translation]
    tables = [_columns_table(records, title, splits, segmentation)] if segmentation else []
    if translation:
        tables.append(_rows_table(records, title if not segmentation else "translation metrics", splits, translation))
    return Group(*tables)


def _scope(records: list[dict[str, Any]], name: str) -> str:
    return next(((record.get("metrics") or {}).get(name, {}).get("scope") for record in records
                 if name in (record.get("metrics") or {})), None) or "segmentation"


def _mean_sd(value: dict[str, Any] | None, unit: str) -> str:
    digits = _DIGITS.get(unit, 3)
    return f"{value['mean']:.{digits}f} ± {value['sd']:.{digits}f}" if value else "-"


def _rows_table(records: list[dict[str, Any]], title: str, splits: tuple[str, ...], metrics) -> Table:
    table = Table(title=escape(title))
    columns = (["run"] if len(records) > 1 else []) + ["split", "head", "metric", "mean ± SD", "n", "flagged"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "split", "head", "metric") else "right")
    for record in records:
        for split in splits:
            for head, values in (record.get("summary") or {}).get(split, {}).items():
                for name, unit in metrics:
                    if values.get(name):
                        run = [escape(record["run_id"])] if len(records) > 1 else []
                        table.add_row(*run, split, escape(head), escape(name), _mean_sd(values[name], unit),
                                      str(values[name]["n"]), str(values[name]["flagged"]))
    return table


def _columns_table(records: list[dict[str, Any]], title: str, splits: tuple[str, ...], metrics) -> Table:
    table = Table(title=escape(title))
    columns = (["run"] if len(records) > 1 else []) + ["split", "head", "n"] + [
        f"{name.upper()} ({unit})" if unit else name.upper() for name, unit in metrics] + ["flagged"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "split", "head") else "right")
    for record in records:
        for split in splits:
            for head, values in (record.get("summary") or {}).get(split, {}).items():
                present = [values.get(name) for name, _ in metrics]
                if not any(present):
                    continue
                cells = [_mean_sd(v, unit) for v, (_, unit) in zip(present, metrics)]
                n = max(v["n"] for v in values.values())
                flagged = max(v["flagged"] for v in values.values())
                run = [escape(record["run_id"])] if len(records) > 1 else []
                table.add_row(*run, split, escape(head), str(n), *cells, str(flagged))
    return table


def _metrics(records: list[dict[str, Any]], splits: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, unit) of every metric the records define and have values of, in the order they were registered."""
    scored = {metric for record in records for split in splits
              for values in (record.get("summary") or {}).get(split, {}).values() for metric in values}
    seen: dict[str, str] = {}
    for record in records:
        for name, definition in (record.get("metrics") or {}).items():
            if name in scored:
                seen.setdefault(name, (definition or {}).get("unit") or "")
    return list(seen.items())


def contrast_table(result: dict[str, Any]) -> Table:
    """``data contrast``: one row per cohort and split; the isodense control's CNR where one was rendered."""
    spacing = f"{result['spacing_mm']:g} mm in-plane" if result["spacing_mm"] else "native spacing"
    table = Table(title=escape(f"{result['name']} v{result['version']}: tumour vs surrounding soft tissue "
                               f"(>= 5 mm from lung), medians, {spacing}"))
    for column in ("cohort", "split", "cases", "measured", "contrast", "noise SD", "CNR", "CNR (control)",
                   "volume (ml)", "central"):
        table.add_column(column, justify="left" if column in ("cohort", "split") else "right")
    show = (lambda v, d=2: "-" if v is None else f"{v:.{d}f}")
    for g in result["groups"]:
        control = g.get("control")
        table.add_row(g["cohort"], g["split"], str(g["cases"]), str(g["measured"]), show(g["contrast"], 1),
                      show(g["noise_sd"], 1), show(g["cnr"]), show(control["cnr_mean"]) if control else "-",
                      show(g["tumour_volume_ml"], 1), show(g["central_fraction"]))
    return table


def neighbour_table(result: dict[str, Any]) -> Table | None:
    """``data contrast`` where the dataset has tissue maps: the median CNR of the tumour against each neighbour
    class, per cohort and split (cases measured in brackets); None without tissue maps."""
    groups = [g for g in result["groups"] if g.get("neighbours")]
    if not groups:
        return None
    classes = sorted({name for g in groups for name in g["neighbours"]})
    table = Table(title=escape(f"{result['name']} v{result['version']}: tumour CNR against each neighbour class "
                               f"(like with like, from the tissue maps), medians"))
    for column in ("cohort", "split", *classes):
        table.add_column(column, justify="left" if column in ("cohort", "split") else "right")
    for g in groups:
        cells = []
        for name in classes:
            found = g["neighbours"].get(name) or {}
            cells.append("-" if found.get("cnr") is None else f"{found['cnr']:.2f} ({found['measured']})")
        table.add_row(g["cohort"], g["split"], *cells)
    return table
