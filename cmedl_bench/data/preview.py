"""A look at a dataset: for a few CBCT cases and MRI cases, the slice with the most tumour, with its contour."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmedl_bench.data.layout import load_index
from cmedl_bench.io.figures import pyplot, save_figure


def _window(cohort: str, image: np.ndarray) -> tuple[float, float]:
    if cohort == "cbct":
        return -400.0, 300.0  # a mediastinal/lung compromise in HU
    return 0.0, float(np.percentile(image, 99.5))


def plot_preview(root: Path, path: Path, per_cohort: int = 3) -> Path:
    """Rows: CBCT cases (then MRI cases) from different patients; columns: the image and the same with the tumour
    contour, at the slice with the largest tumour area."""
    import SimpleITK as sitk

    plt = pyplot()

    index = load_index(root)
    chosen = []
    for cohort in ("cbct", "mri"):
        seen: set[str] = set()
        for case in sorted(index.cases.get(cohort, {}).values(), key=lambda c: c.case_id):
            if case.patient not in seen and len(seen) < per_cohort:
                seen.add(case.patient)
                chosen.append(case)
    fig, axes = plt.subplots(len(chosen), 2, figsize=(6.4, 3.2 * len(chosen)), squeeze=False)
    for row, case in zip(axes, chosen):
        image = sitk.ReadImage(str(case.image_path))
        array = sitk.GetArrayFromImage(image).astype(np.float32)
        label = sitk.GetArrayFromImage(sitk.ReadImage(str(case.label_path))) > 0
        z = int(np.argmax(label.reshape(label.shape[0], -1).sum(1)))
        low, high = _window(case.cohort, array)
        spacing = image.GetSpacing()
        for ax in row:
            ax.imshow(array[z], cmap="gray", vmin=low, vmax=high, aspect=spacing[1] / spacing[0])
            ax.axis("off")
        if label[z].any():
            row[1].contour(label[z], levels=[0.5], colors="yellow", linewidths=0.8)
        row[0].set_title(f"{case.cohort.upper()} {case.case_id} z={z} ({spacing[0]:.2f} mm)", fontsize=8)
        row[1].set_title("tumour contour", fontsize=8)
    fig.suptitle(f"{index.name} v{index.version}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=90)
    return path
