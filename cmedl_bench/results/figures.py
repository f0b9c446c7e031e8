"""Figures saved in run folders (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cmedl_bench.io.figures import pyplot, save_figure


def plot_learning_curves(history: list[dict[str, float]], path: Path) -> None:
    """Per-epoch losses (the paper's Fig. 3 plots 1 - DSC): segmentation losses and validation 1 - DSC on the left;
    translation losses (adversarial, cycle, contextual, ...) on a second panel when the run has any. A fusion with
    several heads draws one validation curve per head (``val_dsc_<head>``)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    epochs = [row["epoch"] + 1 for row in history]
    keys = sorted(k for k in history[0] if k.startswith("train_"))
    segmentation = [k for k in keys if k.startswith(("train_seg", "train_hint"))]
    translation = [k for k in keys if k not in segmentation]
    panels = [("segmentation", segmentation)] if segmentation or "val_dsc" in history[0] else []
    if translation:
        panels.append(("translation", translation))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, panel_keys) in zip(axes[0], panels):
        for key in panel_keys:
            ax.plot(epochs, [row[key] for row in history], marker="o", label=f"train {key[6:]}")
        if title == "segmentation" and "val_dsc" in history[0]:
            per_head = sorted({k for row in history for k in row if k.startswith("val_dsc_")}) or ["val_dsc"]
            for key in per_head:  # a head validated only every few epochs (head_curves_every) is drawn where it was
                label = f"validation 1 - DSC {key[8:]}".rstrip()
                ax.plot([row["epoch"] + 1 for row in history if key in row],
                        [1 - row[key] for row in history if key in row], marker="s", label=label)
            ax.set_ylim(0, max([1.05] + [row[k] * 1.05 for row in history for k in panel_keys]))
        ax.set_title(f"{title} losses", fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no 1.2, 1.4 ticks
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_translation_grid(rows: list[dict[str, np.ndarray]], path: Path) -> None:
    """CBCT | pseudo-MRI | reconstructed CBCT with the tumour contour, one example per row (the paper's Fig. 5).
    Each row holds 2D arrays ``cbct``, ``pmri``, ``reconstructed`` in [-1, 1], ``mask`` and a ``title``."""
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (key, label) in enumerate((("cbct", "CBCT"), ("pmri", "pseudo-MRI"),
                                          ("reconstructed", "reconstructed CBCT"))):
            ax = axes[r][c]
            ax.imshow(row[key], cmap="gray", vmin=-1, vmax=1)
            if row["mask"].any():
                ax.contour(row["mask"], levels=[0.5], colors="yellow", linewidths=0.8)
            ax.set_title(f"{label} {row['title']}" if c == 0 else label, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def plot_chain(rows: list[dict[str, Any]], path: Path) -> None:
    """The chain of a fusion run on central test cases, one row each: CBCT | pseudo-MRI | true MRI (where the
    dataset has it), all with the reference contour (yellow) and each head's prediction (``masks``: head -> 2D mask;
    student red, teacher cyan). Each row holds 2D arrays ``cbct``, ``pmri`` (and ``mri`` or None) in [-1, 1],
    ``reference``, ``masks`` and a ``title``."""
    plt = pyplot()
    colours = ["red", "cyan", "magenta", "lime"]
    panels = [("cbct", "CBCT"), ("pmri", "pseudo-MRI")] + (
        [("mri", "true MRI")] if any(row.get("mri") is not None for row in rows) else [])
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(3 * len(panels), 3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (key, label) in enumerate(panels):
            ax = axes[r][c]
            ax.axis("off")
            if row.get(key) is None:
                continue
            ax.imshow(row[key], cmap="gray", vmin=-1, vmax=1)
            ax.contour(row["reference"], levels=[0.5], colors="yellow", linewidths=0.8)
            for colour, (head, mask) in zip(colours, sorted(row["masks"].items(), key=lambda kv: kv[0] != "student")):
                if mask.any():
                    ax.contour(mask, levels=[0.5], colors=colour, linewidths=0.8)
            heads = ", ".join(f"{h} {k}" for h, k in zip(sorted(row["masks"], key=lambda h: h != "student"),
                                                         colours))
            ax.set_title(f"{label} {row['title']}\nreference yellow; {heads}" if c == 0 else label, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def plot_sensitivity(result: dict[str, Any], path: Path) -> None:
    """Per-case DSC under test-time dropout: box per case, unperturbed DSC as a dot (like the paper's Fig. 8)."""
    plt = pyplot()
    names = list(result["cases"])
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 4))
    ax.boxplot([result["cases"][n]["dsc"] for n in names], showfliers=True)
    ax.plot(range(1, len(names) + 1), [result["cases"][n]["unperturbed"] for n in names], "r.", label="no dropout")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=60, fontsize=8)
    ax.set_ylabel("DSC")
    ax.set_ylim(0, 1)
    ax.set_title(f"{result['run_id']} [{result['head']}]: dropout {result['rate']} on the last two layers, "
                 f"{result['passes']} passes; mSD {result['mean_sd']:.3f}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_volume_over_time(table, path: Path) -> bool:
    """Tumour volume (cc) over the scans of each patient with two or more timepoints (dates, else weeks): the weekly
    response the paper's setting follows. Returns False (and draws nothing) when no patient has two timepoints."""
    timed = table[table["timepoint"].notna()]
    patients = [p for p, group in timed.groupby("patient") if group["timepoint"].nunique() > 1]
    if not patients:
        return False
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    dated = timed["date"].notna().all()
    for patient in patients:
        group = timed[timed["patient"] == patient].sort_values("timepoint")
        x = [np.datetime64(d) for d in group["date"]] if dated else group["timepoint"].astype(float)
        ax.plot(x, group["tumour_volume_cc"], marker="o", label=patient)
        flagged = group[group["flagged"]]
        if len(flagged):
            fx = [np.datetime64(d) for d in flagged["date"]] if dated else flagged["timepoint"].astype(float)
            ax.plot(fx, flagged["tumour_volume_cc"], "x", color="red", markersize=10)
    ax.set_xlabel("scan date" if dated else "week")
    if not dated:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("predicted tumour volume (cc)")
    ax.set_title("tumour volume over time (x: flagged as uncertain)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=max(1, len(patients) // 12))
    fig.autofmt_xdate()
    fig.tight_layout()
    save_figure(fig, path)
    return True


def plot_prediction(image: np.ndarray, probability: np.ndarray, sd: np.ndarray | None, title: str,
                    path: Path) -> None:
    """The axial slice with the largest predicted area: CBCT with the mask contour, and the per-voxel standard
    deviation of the dropout passes when there is one. Arrays are (z, y, x) in the canonical orientation."""
    plt = pyplot()
    mask = probability > 0.5
    k = int(mask.reshape(mask.shape[0], -1).sum(1).argmax()) if mask.any() else mask.shape[0] // 2
    panels = 2 if sd is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 4.5), squeeze=False)
    low, high = np.percentile(image[k], [1, 99])
    for ax in axes[0]:
        ax.imshow(image[k], cmap="gray", vmin=low, vmax=high)
        if mask[k].any():
            ax.contour(mask[k], levels=[0.5], colors="red", linewidths=1)
        ax.set_axis_off()
    axes[0][0].set_title(f"{title}: slice {k + 1}/{mask.shape[0]}, predicted tumour", fontsize=8)
    if sd is not None:
        shown = axes[0][1].imshow(np.ma.masked_less_equal(sd[k], 1e-3), cmap="magma", alpha=0.8,
                                  vmin=0, vmax=max(float(sd.max()), 1e-3))
        fig.colorbar(shown, ax=axes[0][1], fraction=0.046, label="SD of tumour probability")
        axes[0][1].set_title("test-time dropout: SD per voxel", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
