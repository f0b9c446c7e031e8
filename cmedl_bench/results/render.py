"""Leaderboard renderings as text: a rich table (terminal), Markdown (CI job summaries, pull-request comments), CSV
and JSON. The HTML page is :mod:`cmedl_bench.results.html_report`.

Method names, paths and notes come from users and plugins, so every text format is safe to publish: Markdown
escapes HTML, control characters and Markdown syntax (no link, image or raw HTML can come through a name), in the
header row as in every cell (a metric's name or unit comes from a run folder too); CSV replaces control characters
by spaces (a carriage return inside a name would start a new row in some readers) and prefixes text cells and
headers that a spreadsheet would run as a formula (starting with ``= + - @``) with ``'``, as OWASP's CSV-injection
guidance recommends."""

from __future__ import annotations

import io
import re
from typing import Any

from cmedl_bench.io.atomic import standard_json
from cmedl_bench.results.data_size import curve_table, learning_curves
from cmedl_bench.results.flat import flat_records
from cmedl_bench.results.leaderboard import Leaderboard, Row


def _locations(board: Leaderboard) -> list[str]:
    """The tumour locations some row has a subgroup mean for (``central``, ``peripheral``)."""
    return sorted({location for row in board.rows for location in row.subgroups})


def columns(board: Leaderboard) -> list[str]:
    return (["Rank", "Method", "Seeds", "Test cases"]
            + [f"{split.capitalize()} {m.label}" for split in ("val", "test") for m in board.metrics]
            + [f"Test DSC {location}" for location in _locations(board)]
            + ["KL", "ΔDSC [95% CI]", "p DSC (Holm)", "p SDSC (Holm)"]
            + [_HEADROOM[k] for k in _headroom_kinds(board)] + ["vs reference"])


_HEADROOM = {"mri": "Headroom MRI [95% CI]", "ceiling": "Headroom ceiling [95% CI]"}


def _headroom_kinds(board: Leaderboard) -> list[str]:
    """The headroom columns some row has (none without the reference rows: :mod:`cmedl_bench.results.headroom`)."""
    return [k for k in _HEADROOM if any(k in row.headroom for row in board.rows)]


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def seeds_text(seeds: list) -> str:
    """How many seeds, then which: ``3 (0, 1, 2)``; a lone ``0`` would read as no seed."""
    return f"{len(seeds)} ({', '.join(map(str, seeds))})" if seeds else "—"


def cells(row: Row, board: Leaderboard) -> list[str]:
    values = [str(row.rank) if row.rank is not None else "—", row.label, seeds_text(row.seeds), str(row.n_cases)]
    for split in ("val", "test"):
        for metric in board.metrics:
            summary = row.metrics.get((split, metric.name))
            values.append(summary.text(metric.digits) if summary else "—")
    values += [f"{row.subgroups[loc]:.3f}" if loc in row.subgroups else "—" for loc in _locations(board)]
    dsc = row.comparisons.get("dsc")
    difference = f"{dsc.mean_difference:+.3f} [{dsc.ci[0]:+.3f}, {dsc.ci[1]:+.3f}]" if dsc else "—"
    values += [f"{row.kl.mean:.3f}" if row.kl else "—", difference, _p(row.p_holm),
               _p(row.p_holm_by_metric.get("sdsc"))]
    for kind in _headroom_kinds(board):
        found = row.headroom.get(kind)
        values.append(f"{found.value:.2f} [{found.ci[0]:.2f}, {found.ci[1]:.2f}]" if found else "—")
    return values + [_verdict(row)]


def _verdict(row: Row) -> str:
    dsc = row.comparisons.get("dsc")
    n = f"n={dsc.units} {dsc.pairing}s, {dsc.scans} scans" if dsc else ""
    if row.verdict in ("better", "worse"):
        return f"{row.verdict} than {row.reference} ({n})"
    if row.verdict.startswith("not different"):
        return f"{row.verdict} vs {row.reference} ({n})"
    return row.verdict


def footnotes(board: Leaderboard) -> list[str]:
    ranked_by = next((m.label for m in board.metrics if m.name == board.rank_by), board.rank_by)
    lines = [f"Mean ± SD over all cases of all seeds. Rank by mean test {ranked_by}. {board.reference_rule}; "
             f"a difference is called only when the adjusted p < {board.alpha:g}."]
    flagged = [r for r in board.rows if r.flagged]
    if flagged:
        lines.append("Values set by a rule (an empty mask: a missed or spurious tumour) or failed (metric_error): "
                     + "; ".join(f"{r.label}: {r.flagged}" for r in flagged))
    lines += board.notes
    lines += [f"excluded {path}: {reason}" for path, reason in board.excluded]
    return lines


_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]()!|#:~{}<>])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@")


def _md_escape(text: str) -> str:
    """Plain text inside a Markdown table cell or list item: control characters become spaces, ``&`` an entity,
    and Markdown/HTML punctuation is backslash-escaped, so ``<script>``, ``[x](javascript:...)`` and ``![](...)``
    render as the characters they are."""
    text = _CONTROL.sub(" ", str(text)).replace("&", "&amp;")
    return _MARKDOWN_SYNTAX.sub(r"\\\1", text)


def _csv_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub(" ", value)
    return f"'{value}" if value.lstrip().startswith(_FORMULA_START) else value


def to_markdown(board: Leaderboard) -> str:
    """The leaderboard, then the translators' table and the learning curves where the board has them, then the
    footnotes."""
    tables = [(columns(board), [cells(row, board) for row in board.rows])]
    if board.translation:
        tables.append(translation_table(board))
    curves = learning_curves(board.rows)
    if curves:
        tables.append(curve_table(curves))
    out = io.StringIO()
    for header, rows in tables:
        out.write("| " + " | ".join(_md_escape(c) for c in header) + " |\n")
        out.write("| " + " | ".join("---" for _ in header) + " |\n")
        for values in rows:
            out.write("| " + " | ".join(_md_escape(c) for c in values) + " |\n")
        out.write("\n")
    for line in footnotes(board):
        out.write(f"- {_md_escape(line)}\n")
    return out.getvalue()


def translation_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """The translators' table: test KL of pseudo-MRI and of raw CBCT against MRI, then every other translation
    metric scored (fidelity at the tumour, mean ± SD over the measurable cases), and the seeds."""
    fidelity = sorted({m for t in board.translation for m in t.fidelity})
    header = ["Translator", "Test KL pseudo-MRI vs MRI", "Test KL CBCT vs MRI", *fidelity, "Seeds"]
    rows = []
    for t in board.translation:
        shown = [t.fidelity[m].text(3) if m in t.fidelity and t.fidelity[m].mean == t.fidelity[m].mean else "—"
                 for m in fidelity]  # NaN (nothing measurable) is not equal to itself
        rows.append([t.label, t.kl_pmri.text(3), t.kl_cbct.text(3) if t.kl_cbct else "—", *shown,
                     seeds_text([r.seed for r in t.runs])])
    return header, rows


def to_csv(board: Leaderboard) -> str:
    import pandas as pd

    records = [{_csv_cell(key): _csv_cell(value) for key, value in record.items()} for record in flat_records(board)]
    return pd.DataFrame(records).to_csv(index=False)


def to_json(board: Leaderboard) -> str:
    payload: dict[str, Any] = {
        "rows": flat_records(board),
        "translation": [{"translator": t.label, "kl_pmri_mean": t.kl_pmri.mean, "kl_pmri_sd": t.kl_pmri.sd,
                         "kl_cbct_mean": t.kl_cbct.mean if t.kl_cbct else None,
                         **{f"{m}_mean": v.mean for m, v in t.fidelity.items()},
                         "run_ids": [r.record.run_id for r in t.runs]} for t in board.translation],
        "statistics": {"rule": board.reference_rule, "alpha": board.alpha},
        "notes": board.notes,
        "excluded": [{"path": str(path), "reason": reason} for path, reason in board.excluded],
    }
    return standard_json(payload)
