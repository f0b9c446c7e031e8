"""The leaderboard in a terminal, readable at any width: every method's name whole, values never cut.

- ``table`` where it fits at its natural width: the compact columns (rank, method, seeds, every metric on test (a
  metric plugin's too), ΔDSC with its interval, Holm p, headroom where the reference rows exist, verdict); ``wide``
  adds every column of the Markdown table (validation, subgroups, KL) and is printed at its width whatever the
  terminal's.
- ``blocks`` where the compact table does not fit (a table squeezed by the terminal folds names and cuts values):
  one block of a few lines per method.

Piped output has no terminal width: it follows ``COLUMNS`` when set, else the table gets the width it needs.
"""

from __future__ import annotations

import textwrap

from rich.markup import escape

from cmedl_bench.results.leaderboard import Leaderboard, Row
from cmedl_bench.results.render import cells, columns

_SHORT = {"better": "better*", "worse": "worse*", "reference": "ref"}


def compact_columns(board: Leaderboard) -> list[str]:
    """The columns of the default terminal table, in the Markdown table's names."""
    tests = [f"Test {m.label}" for m in board.metrics]
    keep = {"Rank", "Method", "Seeds", *tests, "ΔDSC [95% CI]", "p DSC (Holm)", "vs reference"}
    return [c for c in columns(board) if c in keep or c.startswith("Headroom")]


def _verdict(row: Row) -> str:
    return _SHORT.get(row.verdict, "n.s." if row.verdict.startswith("not different") else row.verdict)


def rich_table(board: Leaderboard, wide: bool = False):
    """The table: compact columns, or every column with ``wide``; numbers never wrap, the method's name folds."""
    from rich.table import Table

    every = columns(board)
    shown = every if wide else compact_columns(board)
    table = Table(title="cmedl-bench leaderboard", caption="* adjusted p < alpha; n.s.: not different")
    for name in shown:
        table.add_column(name, overflow="fold", no_wrap=name != "Method", min_width=12 if name == "Method" else None)
    for row in board.rows:
        values = dict(zip(every, cells(row, board)))
        values["vs reference"] = _verdict(row)
        table.add_row(*(escape(values[name]) for name in shown),
                      style={"better": "green", "worse": "red"}.get(row.verdict))
    return table


def blocks(board: Leaderboard, width: int = 80) -> str:
    """One block per method: rank and name; seeds and test cases; the test metrics; the comparison. Lines are
    packed to ``width`` at the items' boundaries (a value is never split), continuation lines indented."""
    every = columns(board)
    lines = []
    for row in board.rows:
        values = dict(zip(every, cells(row, board)))
        lines.append(f"{values['Rank']}. {row.label}")
        lines += _packed("   ", [f"seeds: {values['Seeds']}", f"test cases: {values['Test cases']}"], width)
        lines += _packed("   test ", [f"{m.label} {values[f'Test {m.label}']}" for m in board.metrics], width)
        if row.comparisons.get("dsc"):
            lines += _packed("   ", [f"ΔDSC {values['ΔDSC [95% CI]']}", f"p (Holm) {values['p DSC (Holm)']}"], width)
        for name in (c for c in every if c.startswith("Headroom")):
            if values[name] != "—":
                lines.append(f"   {name.replace(' [95% CI]', '')} {values[name]}")
        lines += textwrap.wrap(values["vs reference"], width, initial_indent="   ", subsequent_indent="      ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def _packed(prefix: str, items: list[str], width: int) -> list[str]:
    """``items`` joined by "; " into lines of at most ``width`` (an item longer than that keeps its own line)."""
    lines, current = [], prefix
    for item in items:
        joined = item if current == prefix else f"{current}; {item}"
        if current != prefix and len(joined) > width:
            lines.append(current + ";")
            current = " " * len(prefix) + item
        else:
            current = prefix + item if current == prefix else joined
    return lines + [current]
