"""Suites beyond the built-in ones: a grid from the command line (``sweep --grid translator=cycle,cx --grid
segmenter=unet,my-seg``) and suite files (TOML, checked into a user's repository), so that a third-party method can
be swept against the paper's rows.

A grid is the product of its axes (``translator``, ``segmenter``, ``fusion``, ``dataset``); an axis not given takes
``run``'s default (``cx``, ``unet``, ``hint``; the sweep's ``--dataset``). A suite file::

    description = "my segmenter against the paper's U-Net"

    [budget.cpu]            # preset fields the suite fixes on a preset (command-line options win)
    max_epochs = 24

    [grid]                  # optional: rows as a product, as --grid
    translator = ["cycle", "cx"]
    segmenter = ["unet", "my-seg"]
    fusion = ["hint"]

    [[rows]]                # optional: rows one by one (after the grid's)
    translator = "none"
    segmenter = "my-seg"
    fusion = "none"
    dataset = "phantom-mri-null"          # optional
    options = { train_patients = 8 }      # optional: component options the row fixes

Every row is then checked by ``sweep`` before the first one trains (unknown names, incompatible combinations,
options no component declares: one line each).
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from cmedl_bench.config import Preset
from cmedl_bench.errors import CmedlError
from cmedl_bench.request import FIELDS, SUITE_ROW_KEYS
from cmedl_bench.suites import SUITES, Row, Suite

#: axis -> default (None: the sweep's --dataset), as the run request's table has them
AXES: dict[str, str | None] = {f.name: None if f.name == "dataset" else f.default for f in FIELDS
                               if f.name in SUITE_ROW_KEYS and f.name != "options"}
_ROW_KEYS = set(SUITE_ROW_KEYS)
_FILE_KEYS = {"description", "budget", "grid", "rows"}


def grid_rows(axes: dict[str, list[str]], where: str = "--grid") -> list[Row]:
    """The rows of a grid: every combination of the axes' values, in the order given."""
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise CmedlError(f"{where}: unknown axis {unknown[0]!r}; axes: {', '.join(AXES)}")
    values = {}
    for axis, default in AXES.items():
        chosen = axes.get(axis) or [default]
        if not all(v is None or (isinstance(v, str) and v.strip()) for v in chosen):
            raise CmedlError(f"{where}: {axis} takes names, not {chosen!r}")
        values[axis] = [v.strip() if isinstance(v, str) else v for v in chosen]
    return [Row(t, s, f, d) for t, s, f, d in itertools.product(*values.values())]


def parse_grid(texts: list[str]) -> dict[str, list[str]]:
    """``["translator=cycle,cx", "fusion=hint"]`` -> axis -> names (an axis given twice adds its names)."""
    axes: dict[str, list[str]] = {}
    for text in texts:
        axis, sep, names = text.partition("=")
        if not sep or not axis.strip() or not names.strip():
            raise CmedlError(f"--grid takes AXIS=NAME[,NAME...], e.g. translator=cycle,cx; not {text!r}")
        axes.setdefault(axis.strip(), []).extend(n.strip() for n in names.split(",") if n.strip())
    return axes


def load_suite_file(path: Path) -> Suite:
    """A suite file (see the module docstring), checked: one line for what is wrong and where."""
    path = Path(path)
    try:
        content = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CmedlError(f"suite file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CmedlError(f"suite file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(content) - _FILE_KEYS)
    if unknown:
        raise CmedlError(f"suite file {path}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(_FILE_KEYS))}")
    grid = content.get("grid")
    if grid is not None and not (isinstance(grid, dict) and all(isinstance(v, list) for v in grid.values())):
        raise CmedlError(f"suite file {path}: [grid] maps axes to lists of names")
    rows = grid_rows(grid, f"suite file {path} [grid]") if grid else []
    listed = content.get("rows", [])
    if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
        raise CmedlError(f"suite file {path}: rows must be [[rows]] tables")
    rows += [_row(entry, f"suite file {path} row {k}") for k, entry in enumerate(listed, start=1)]
    if not rows:
        raise CmedlError(f"suite file {path} has no rows: give [grid] or [[rows]]")
    return Suite(rows, _budget(content.get("budget", {}), path))


def _row(entry: dict[str, Any], where: str) -> Row:
    unknown = sorted(set(entry) - _ROW_KEYS)
    if unknown:
        raise CmedlError(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(_ROW_KEYS))}")
    options = entry.get("options")
    if options is not None and not isinstance(options, dict):
        raise CmedlError(f"{where}: options must be a table of option = value")
    (row,) = grid_rows({axis: [entry[axis]] for axis in AXES if axis in entry}, where)
    return row._replace(options=dict(options) if options else None)


def _budget(budget: Any, path: Path) -> dict[str, dict[str, Any]]:
    valid = {f.name for f in fields(Preset)} - {"name"}
    if not isinstance(budget, dict) or not all(isinstance(v, dict) for v in budget.values()):
        raise CmedlError(f"suite file {path}: [budget.PRESET] tables of preset fields")
    for preset, values in budget.items():
        unknown = sorted(set(values) - valid)
        if unknown:
            raise CmedlError(f"suite file {path} [budget.{preset}]: unknown preset field {unknown[0]!r}")
    return budget


def resolve_suite(name: str) -> Suite:
    """A built-in suite by name, or a suite file (a path ending in ``.toml``)."""
    if name in SUITES:
        return SUITES[name]
    if name.endswith(".toml"):
        return load_suite_file(Path(name))
    raise CmedlError(f"unknown suite {name!r}; known suites: {', '.join(SUITES)}, or a suite file ending in .toml")
