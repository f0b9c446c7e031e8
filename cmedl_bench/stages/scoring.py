"""The scorer: per-case rows in the long format (``split, case, head, metric, value, flag``) from a predicted and a
reference mask, whoever made the prediction (a trained run or ``evaluate``); and the translation-quality rows (KL of
pseudo-MRI to the MRI cohort, paper III.D, and the fidelity metrics at the tumour) with the volumes they are
computed from."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from cmedl_bench.scoring import MetricFn, measured, score_case
from cmedl_bench.stages.progress import Reporter


def case_rows(metrics: Mapping[str, MetricFn], split: str, case_id: str, head: str, prediction: np.ndarray,
              reference: np.ndarray, spacing_zyx, flag: str | None = None) -> list[dict[str, Any]]:
    """One row per metric; ``flag`` (e.g. ``missing_prediction``) overrides the metric's own flag."""
    return [{"split": split, "case": case_id, "head": head, "metric": name, "value": value.value,
             "flag": flag or value.flag}
            for name, value in score_case(metrics, prediction, reference, spacing_zyx).items()]


def translate_volume(convert: Callable, prepared, window: int, device) -> np.ndarray:
    """Translate every slice of a prepared volume (overlapping windows averaged); values in [-1, 1]. ``convert``
    is called with the CBCT crops, and with the same crops' aligned MRI (``aligned``) where the volume carries it
    (:meth:`cmedl_bench.translator.Translator.pseudo_mri`)."""
    import torch

    from cmedl_bench.engine.inference import sliding_window
    from cmedl_bench.translator import to_unit_range

    image = to_unit_range(torch.from_numpy(prepared.image))
    if prepared.aligned is None:
        return sliding_window(convert, image, window, device, batch_size=16).numpy()
    stacked = torch.stack([image, to_unit_range(torch.from_numpy(prepared.aligned))])
    return sliding_window(lambda x: convert(x[:, :1], aligned=x[:, 1:]), stacked, window, device,
                          batch_size=16).numpy()


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


def translation_rows(convert, prepared: dict[str, list], preset, device, registry, head: str, reporter: Reporter,
                     on_volume=None, baseline: str | None = None) -> list[dict[str, Any]]:
    """Every translation metric of the pseudo-MRI per validation and test case: KL to the MRI training cohort's
    intensities (paper III.D) and the metrics that take the whole case (:class:`cmedl_bench.scoring.TranslatedCase`:
    tumour contrast, and error against the aligned true MRI where the volume carries it); with ``baseline`` (a head
    name), the intensity metrics of the raw CBCT too; ``on_volume(split, volume, pmri)`` sees every translated
    volume. A metric that fails gives NaN flagged ``metric_error``, as segmentation metrics do."""
    functions = registry.metric_functions("translation-metric")
    takes_case = {name for name, c in registry.components["translation-metric"].items() if c.info.takes_case}
    reference = np.concatenate([unit_values(v) for v in prepared["mri_train"]])
    reference_contrast = _cohort_contrast(prepared["mri_train"], preset) if takes_case else {}
    rows = []
    work = [(split, v) for split in ("val", "test") for v in prepared[split]]
    with reporter.task("translating and scoring", total=len(work)) as task:
        for split, volume in work:
            pmri = translate_volume(convert, volume, preset.crop_size, device)
            case = _translated_case(volume, pmri, preset, reference, reference_contrast) if takes_case else None
            scored = [(head, body_values(pmri, volume))] + ([(baseline, unit_values(volume))] if baseline else [])
            for scored_head, values in scored:
                for name, fn in functions.items():
                    if name in takes_case and scored_head != head:
                        continue
                    value = measured(name, lambda: fn(case) if name in takes_case else fn(values, reference))
                    rows.append({"split": split, "case": volume.volume.case.case_id, "head": scored_head,
                                 "metric": name, "value": value.value, "flag": value.flag})
            if on_volume:
                on_volume(split, volume, pmri)
            task.advance()
    return rows


def _working_spacing(prepared, preset) -> tuple[float, float, float]:
    dz, dy, dx = prepared.volume.spacing_zyx
    return (dz, preset.spacing_xy_mm, preset.spacing_xy_mm) if preset.spacing_xy_mm else (dz, dy, dx)


def _unit(array):
    import torch

    from cmedl_bench.translator import to_unit_range

    return to_unit_range(torch.from_numpy(array)).numpy()


def _translated_case(prepared, pmri: np.ndarray, preset, reference: np.ndarray, reference_contrast: dict):
    from cmedl_bench.scoring import TranslatedCase

    h, w = prepared.resampled_hw
    depth = prepared.volume.shape[0]
    box = (slice(0, depth), slice(0, h), slice(0, w))
    aligned = None if prepared.aligned is None else _unit(prepared.aligned)[box]
    return TranslatedCase(pmri[box], _unit(prepared.image)[box], prepared.image[box] > prepared.image.min(),
                          prepared.label[box].astype(bool), _working_spacing(prepared, preset), reference,
                          reference_contrast, aligned)


def _cohort_contrast(volumes: list, preset) -> dict[str, float | None]:
    """Median tumour contrast and CNR of the MRI training cohort in [-1, 1] (``data contrast``'s definition)."""
    from cmedl_bench.data.contrast import case_contrast, summarise

    found = []
    for prepared in volumes:
        h, w = prepared.resampled_hw
        image, label = _unit(prepared.image)[:, :h, :w], prepared.label[:, :h, :w].astype(bool)
        found.append(case_contrast(prepared.volume.case.case_id, image, label, _working_spacing(prepared, preset),
                                   "mri"))
    summary = summarise(found)
    return {"contrast": summary["contrast"], "cnr": summary["cnr"]}
