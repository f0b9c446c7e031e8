"""A self-contained HTML leaderboard page: every plot embedded as a PNG data URI, no script, no external resource,
so the file opens offline and can be attached to a CI job.

Sections: the table and its footnotes; box plots of the test metrics per method; example slices with reference and
predicted contours (the paper's Fig. 4); each method's learning curves (Fig. 3); and, where the runs saved them, the
pseudo-MRI grids (Fig. 5) and sensitivity plots (Fig. 8). Every name that comes from a plugin, a config or a path is
HTML-escaped.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import numpy as np

from cmedl_bench.errors import CmedlError
from cmedl_bench.io.figures import pyplot
from cmedl_bench.results.data_size import learning_curves, plot_learning_curves
from cmedl_bench.results.leaderboard import Leaderboard
from cmedl_bench.results.render import cells, columns, footnotes, translation_table

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1b1f24;max-width:1500px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #d0d7de}
div.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
td{white-space:nowrap}td:nth-child(2),td:last-child{white-space:normal;min-width:12em}
th{background:#f6f8fa}td:nth-child(2),th:nth-child(2){text-align:left}td:nth-child(2){font-weight:600}
td:last-child,th:last-child{text-align:left}
tr.better td{background:#e6ffec}tr.worse td{background:#ffebe9}
ul.notes{font-size:13px;color:#57606a}figure{display:inline-block;margin:8px;vertical-align:top}
figcaption{font-size:12px;color:#57606a;max-width:640px}img{max-width:100%}
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(png_b64: str, caption: str) -> str:
    return (f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{png_b64}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


#: the first bytes of every PNG file (PNG specification, section 5.2)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _file_figure(path: Path, caption: str) -> str | None:
    """The figure a run saved, embedded only when the file is a PNG (a record can name any file)."""
    data = path.read_bytes()
    return _figure(base64.b64encode(data).decode(), caption) if data.startswith(PNG_SIGNATURE) else None


def box_plots(board: Leaderboard) -> str | None:
    """One panel per metric, one box per method (test cases of all seeds)."""
    rows = [r for r in board.rows if ("test", "dsc") in r.metrics]
    if not rows:
        return None
    plt = pyplot()
    panels = [(m.name, f"test {m.label}") for m in board.metrics]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 0.9 + 0.35 * len(rows)), squeeze=False)
    for ax, (metric, title) in zip(axes[0], panels):
        data = []
        for row in rows:
            values = [float(v) for run in row.runs for v in run.rows.loc[
                (run.rows["split"] == "test") & (run.rows["head"] == row.head) & (run.rows["metric"] == metric),
                "value"]]
            data.append(values or [np.nan])
        ax.boxplot(data, orientation="horizontal", showmeans=True, widths=0.6)
        ax.set_yticks(range(1, len(rows) + 1), [r.label for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _read_mask(path: Path) -> np.ndarray | None:
    return _read_array(path) > 0 if path.is_file() else None


def _dataset_cases(run) -> dict:
    """The CBCT cases of the dataset a run was scored on (empty when that folder is gone or is not a dataset)."""
    from cmedl_bench.data.layout import load_index

    root = Path(run.record.dataset.path or "")
    try:
        return load_index(root).cases.get("cbct", {})
    except (CmedlError, OSError):
        return {}


def _read_array(path: Path) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def prediction_path(run, head: str, case_id: str) -> Path:
    """Where a run folder keeps a case's mask; outside methods' masks are kept there too (``evaluate``), never read
    from where ``run.json`` says they came from."""
    return run.path / "predictions" / head / f"{case_id}.nii.gz"


def example_slices(board: Leaderboard, max_cases: int = 3, per_line: int = 6) -> list[tuple[str, str]]:
    """For test cases scored by every method: the slice with the largest reference tumour area, cropped around
    it, CBCT in grey with the reference (yellow) and each method's prediction (red) contours (paper Fig. 4)."""
    rows = [r for r in board.rows if r.case_dsc is not None]
    if not rows:
        return []
    common = sorted(set.intersection(*(set(r.case_dsc.index) for r in rows)))
    cases = _dataset_cases(rows[0].runs[0])
    chosen, patients = [], set()
    for case_id in common:  # one case per patient, as far as the dataset says who is who
        if case_id in cases and cases[case_id].patient not in patients:
            chosen.append(cases[case_id])
            patients.add(cases[case_id].patient)
    figures = []
    plt = pyplot()
    for case in chosen[:max_cases]:
        case_id = case.case_id
        image, reference = _read_array(case.image_path).astype(np.float32), _read_array(case.label_path) > 0
        if not reference.any():
            continue
        z = int(np.argmax(reference.reshape(reference.shape[0], -1).sum(1)))
        ys, xs = np.nonzero(reference[z])
        margin = max(20, int(max(np.ptp(ys), np.ptp(xs))))
        box = (slice(max(0, ys.min() - margin), ys.max() + margin + 1),
               slice(max(0, xs.min() - margin), xs.max() + margin + 1))
        n_lines = -(-len(rows) // per_line)
        ncols = min(per_line, len(rows))
        fig, axes = plt.subplots(n_lines, ncols, figsize=(2.4 * ncols, 2.6 * n_lines), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, row in zip(axes.flat, rows):
            run = row.runs[0]
            prediction = _read_mask(prediction_path(run, row.head, case_id))
            ax.imshow(image[z][box], cmap="gray")
            ax.contour(reference[z][box], levels=[0.5], colors="yellow", linewidths=1.0)
            if prediction is not None and prediction.shape == reference.shape and prediction[z][box].any():
                ax.contour(prediction[z][box], levels=[0.5], colors="red", linewidths=1.0)
            dsc = row.case_dsc.get(case_id)
            ax.set_title(f"{row.label}\nDSC {dsc:.2f}" if dsc is not None else row.label, fontsize=7)
        fig.suptitle(f"{case_id}, slice {z}: reference yellow, prediction red", fontsize=9)
        fig.tight_layout()
        figures.append((_png(fig), f"{case_id} slice {z} (seed {rows[0].runs[0].seed} of each method)"))
    return figures


#: figure files a run folder may hold, by the key ``run.json`` lists them under
_RUN_FIGURES = {"learning_curves": "learning_curves.png", "examples": "translation_examples.png",
                "sensitivity": "sensitivity.png", "chain": "chain.png"}


def _run_figures(board: Leaderboard, key: str, caption: str) -> list[str]:
    """One figure per run folder (the first seed of each row, and translator runs), where the run saved it."""
    out, seen = [], set()
    for run in [row.runs[0] for row in board.rows] + [t.runs[0] for t in board.translation]:
        try:
            path = run.record.file(key, _RUN_FIGURES[key])
        except CmedlError:
            continue
        if run.path in seen or not path.is_file():
            continue
        seen.add(run.path)
        figure = _file_figure(path, f"{caption}: {run.record.run_id}")
        if figure is not None:
            out.append(figure)
    return out


def _table(board: Leaderboard) -> str:
    """The leaderboard (and the translators' table): values never wrap inside a cell (``mean ± SD`` on one line),
    a table wider than the page scrolls sideways instead of running off it."""
    rows = [(row.verdict if row.verdict in ("better", "worse") else "", cells(row, board)) for row in board.rows]
    html = _html_table(columns(board), rows)
    if board.translation:
        header, values = translation_table(board)
        html += "<h2>Translators</h2>" + _html_table(header, [("", v) for v in values])
    return html


def _html_table(header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in header)
    body = "".join(f'<tr class="{css}">' + "".join(f"<td>{escape(c)}</td>" for c in values) + "</tr>"
                   for css, values in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _curve_figure(board: Leaderboard) -> list[str]:
    """The learning curves over training-cohort sizes (:mod:`cmedl_bench.results.data_size`), where two or more
    cohorts of one method were run."""
    curves = learning_curves(board.rows)
    if not curves:
        return []
    return [_figure(_png(plot_learning_curves(curves)), "mean test DSC over patients; band: patient-bootstrap "
                                                        "95 % interval")]


def _section(title: str, parts: list[str]) -> str:
    return f"<h2>{escape(title)}</h2>" + "".join(parts) if parts else ""


def to_html(board: Leaderboard, title: str = "cmedl-bench leaderboard") -> str:
    from cmedl_bench import __version__

    boxes = box_plots(board)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p>Generated {escape(generated)} by cmedl-bench {escape(__version__)} from "
        f"{sum(len(r.runs) for r in board.rows)} run(s).</p>",
        _table(board),
        "<ul class=\"notes\">" + "".join(f"<li>{escape(line)}</li>" for line in footnotes(board)) + "</ul>",
        _section("Test metrics per method", [_figure(boxes, "box: quartiles; line: median; triangle: mean")]
                 if boxes else []),
        _section("Test DSC against training patients", _curve_figure(board)),
        _section("Example slices (paper Fig. 4)", [_figure(png, cap) for png, cap in example_slices(board)]),
        _section("Learning curves (paper Fig. 3)", _run_figures(board, "learning_curves", "learning curves")),
        _section("Pseudo-MRI (paper Fig. 5)", _run_figures(board, "examples", "CBCT, pseudo-MRI, reconstruction")),
        _section("The chain: CBCT, pseudo-MRI, true MRI (central test cases)",
                 _run_figures(board, "chain", "reference yellow, student red, teacher cyan")),
        _section("Sensitivity to test-time dropout (paper Fig. 8)", _run_figures(board, "sensitivity", "sensitivity")),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
