"""The scorer: per-case rows in the long format (``split, case, head, metric, value, flag``) from a predicted and a
reference mask, whoever made the prediction (a trained run or ``evaluate``); and the translation-quality rows (KL of
pseudo-MRI to the MRI cohort, paper III.D) with the volumes they are computed from."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from cmedl_bench.scoring import MetricFn, score_case
from cmedl_bench.stages.progress import Reporter


def case_rows(metrics: Mapping[str, MetricFn], split: str, case_id: str, head: str, prediction: np.ndarray,
              reference: np.ndarray, spacing_zyx, flag: str | None = None) -> list[dict[str, Any]]:
    """One row per metric; ``flag`` (e.g. ``missing_prediction``) overrides the metric's own flag."""
    return [{"split": split, "case": case_id, "head": head, "metric": name, "value": value.value,
             "flag": flag or value.flag}
            for name, value in score_case(metrics, prediction, reference, spacing_zyx).items()]


def translate_volume(convert: Callable, prepared, window: int, device) -> np.ndarray:
    """Translate every slice of a prepared volume (overlapping windows averaged); values in [-1, 1]."""
    import torch

    from cmedl_bench.engine.inference import sliding_window
    from cmedl_bench.translator import to_unit_range

    image = to_unit_range(torch.from_numpy(prepared.image))
    return sliding_window(convert, image, window, device, batch_size=16).numpy()


def body_values(unit_image: np.ndarray, prepared) -> np.ndarray:
    """Intensities inside the body (the prepared image is at its floor outside), cropped to the resampled box."""
    h, w = prepared.resampled_hw
    inside = prepared.image[:, :h, :w] > prepared.image.min()
    return unit_image[:, :h, :w][inside]


def unit_values(prepared) -> np.ndarray:
    """The volume's own intensities in [-1, 1] inside the body (the untranslated baseline)."""
    import torch

    from cmedl_bench.translator import to_unit_range

    return body_values(to_unit_range(torch.from_numpy(prepared.image)).numpy(), prepared)


def kl_rows(convert, prepared: dict[str, list], preset, device, registry, head: str, reporter: Reporter,
            on_volume=None, baseline: str | None = None) -> list[dict[str, Any]]:
    """KL of pseudo-MRI to the MRI training cohort's intensities (paper III.D), per validation and test case;
    with ``baseline`` (a head name), also of the raw CBCT; ``on_volume(split, volume, pmri)`` sees every
    translated volume."""
    kl = registry.metric_functions("translation-metric")
    reference = np.concatenate([unit_values(v) for v in prepared["mri_train"]])
    rows = []
    work = [(split, v) for split in ("val", "test") for v in prepared[split]]
    with reporter.task("translating and scoring", total=len(work)) as task:
        for split, volume in work:
            pmri = translate_volume(convert, volume, preset.crop_size, device)
            scored = [(head, body_values(pmri, volume))] + ([(baseline, unit_values(volume))] if baseline else [])
            for scored_head, values in scored:
                for name, fn in kl.items():
                    value = fn(values, reference)
                    rows.append({"split": split, "case": volume.volume.case.case_id, "head": scored_head,
                                 "metric": name, "value": value.value, "flag": value.flag})
            if on_volume:
                on_volume(split, volume, pmri)
            task.advance()
    return rows
