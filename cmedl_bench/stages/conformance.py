"""Conformance checks of installed components, one kind at a time: what ``cmedl-bench plugins check`` runs and what
plugin authors run in their own tests (:mod:`cmedl_bench.testing`). Each check builds the component small, on the
CPU, and returns findings (a rule and whether it held), never raising for a plugin's fault.

- segmenter: the probe of :mod:`cmedl_bench.stages.probing` at two crop sizes; finite gradients of a Dice loss
  through every trainable parameter; the state dict loaded into a new instance gives the same output;
- translator: ``to_mri`` keeps the shape and stays finite in a plausible range; a learning translator's
  ``train_step`` returns finite losses;
- metric: a finite value (or a flag) for an empty prediction, an empty reference, both empty and overlapping
  masks; the same value twice for the same case;
- translation metric: a finite ``MetricValue`` for pseudo-MRI intensities drawn like the reference's and for
  shifted ones, the shifted ones no closer by the metric's own direction (``MetricInfo.higher_is_better``);
- dataset: generated at its smallest size into a temporary folder, it passes every ``data check``;
- fusion: the probe of :mod:`cmedl_bench.stages.probing` (build from a tiny spec, one training step, every head
  predicted) with installed partners it can take: the U-Net where it fits (else the first segmenter of a dimension
  it supports, with hint features where it needs them) and, where it needs one, ``cycle`` (else the first
  translator of that dimension that needs no aligned MRI).

Launchers are checked by running them (``sweep``), not here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from cmedl_bench.config import PRESETS
from cmedl_bench.errors import CmedlError
from cmedl_bench.registry import Component, get_registry

SMALL = PRESETS["smoke"]


@dataclass(frozen=True)
class Finding:
    kind: str
    name: str
    distribution: str
    rule: str
    passed: bool
    detail: str = ""


def _check(component: Component, rule: str, test: Callable[[], str | None]) -> Finding:
    """Run one rule; ``test`` returns None when it holds, else why not; an exception is a failure too."""
    try:
        problem = test()
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is the finding
        problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
    return Finding(component.kind, component.name, component.distribution, rule, problem is None, problem or "")


def _segmenter(component: Component) -> list[Finding]:
    import torch

    from cmedl_bench.engine.losses import dice_loss
    from cmedl_bench.stages.probing import probe_segmenter

    findings = [_check(component, f"contract at crop size {size}",
                       lambda size=size: probe_segmenter(component, replace(SMALL, crop_size=size)))
                for size in (32, 64)]
    dims = component.info.dims
    shape = (2, 1, 32, 32) if dims == 2 else (1, 1, 8, 32, 32)

    def gradients() -> str | None:
        torch.manual_seed(0)
        network = component.factory(in_channels=1, out_channels=1, width=SMALL.width)
        dice_loss(network(torch.randn(shape)), (torch.rand(shape) > 0.5).float()).backward()
        bad = [n for n, p in network.named_parameters() if p.requires_grad and p.grad is not None
               and not torch.isfinite(p.grad).all()]
        return f"non-finite gradients in {', '.join(bad[:3])}" if bad else None

    def round_trip() -> str | None:
        torch.manual_seed(0)
        first = component.factory(in_channels=1, out_channels=1, width=SMALL.width).eval()
        second = component.factory(in_channels=1, out_channels=1, width=SMALL.width).eval()
        second.load_state_dict(first.state_dict())
        x = torch.randn(shape)
        with torch.no_grad():
            return None if torch.equal(first(x), second(x)) else "a loaded state dict gives another output"

    return findings + [_check(component, "finite gradients", gradients),
                       _check(component, "state dict round trip", round_trip)]


def _translator(component: Component) -> list[Finding]:
    import torch

    from cmedl_bench.translator import build_translator

    translator = None

    def build() -> str | None:
        nonlocal translator
        torch.manual_seed(0)
        translator = build_translator(component, replace(SMALL, translator_width=0.125), torch.device("cpu"))
        return None

    def to_mri() -> str | None:
        images, aligned = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1
        with torch.no_grad():
            out = translator.pseudo_mri(images, aligned)
        if tuple(out.shape) != (2, 1, 32, 32):
            return f"pseudo-MRI of shape {tuple(out.shape)} for (2, 1, 32, 32)"
        if not torch.isfinite(out).all() or out.abs().max() > 1.5:
            return "pseudo-MRI is not finite or far outside [-1, 1]"
        return None

    def step() -> str | None:
        losses = translator.train_step(torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1)
        bad = [k for k, v in losses.items() if not torch.isfinite(torch.as_tensor(v)).all()]
        return f"non-finite losses {', '.join(bad)}" if bad else None

    from cmedl_bench.stages.probing import probe_translator

    findings = [_check(component, "builds from a TranslatorSpec", build),
                _check(component, "every parameter that requires a gradient is in modules()",
                       lambda: probe_translator(component, replace(SMALL, translator_width=0.125)))]
    if translator is not None:
        findings.append(_check(component, "pseudo-MRI (to_mri, or the aligned MRI it needs) keeps shape and range",
                               to_mri))
        if translator.trainable:
            findings.append(_check(component, "one training step", step))
    return findings


def _metric(component: Component) -> list[Finding]:
    import numpy as np

    from cmedl_bench.scoring import MetricValue, ScoredCase

    built: list = []

    def factory() -> str | None:
        built.append(component.factory())
        return None if callable(built[0]) else f"factory() returned {type(built[0]).__name__}, not a function"

    made = _check(component, "factory() returns the metric function (of a ScoredCase)", factory)
    if not made.passed:
        return [made]
    fn = built[0]
    blob = np.zeros((6, 16, 16), bool)
    blob[2:5, 4:10, 4:10] = True
    shifted = np.roll(blob, 2, axis=2)
    empty = np.zeros_like(blob)
    cases = {"empty prediction": (empty, blob), "empty reference": (blob, empty), "both empty": (empty, empty),
             "overlapping masks": (shifted, blob)}

    def case_check(prediction, reference) -> str | None:
        first = fn(ScoredCase(prediction, reference, (3.0, 1.0, 1.0)))
        second = fn(ScoredCase(prediction, reference, (3.0, 1.0, 1.0)))
        if not isinstance(first, MetricValue):
            return f"returned {type(first).__name__}, not a MetricValue"
        if not (np.isfinite(first.value) or first.flag):
            return f"value {first.value} without a flag"
        same = first.value == second.value or (np.isnan(first.value) and np.isnan(second.value))
        return None if same else "two calls on the same case differ"

    return [made] + [_check(component, name, lambda p=p, r=r: case_check(p, r)) for name, (p, r) in cases.items()]


def _dataset(component: Component, options: dict[str, str] | None = None) -> list[Finding]:
    from cmedl_bench.data.checks import check_dataset
    from cmedl_bench.selection import dataset_options, options_of

    declared = component.info.options
    chosen = dataset_options(component, options_of(component, {k: v for k, v in (options or {}).items()
                                                              if k in declared}))

    def generate_and_check() -> str | None:
        sizes = component.info.sizes or ("small",)
        size = "small" if "small" in sizes else sizes[-1]
        with tempfile.TemporaryDirectory() as folder:
            root = component.factory(Path(folder) / component.name, seed=0, size=size, **chosen)
            errors = check_dataset(Path(root)).errors
            return f"{len(errors)} data check errors, e.g. {errors[0].problem}" if errors else None

    return [_check(component, "generates a dataset that passes data check", generate_and_check)]


def _translation_metric(component: Component) -> list[Finding]:
    import numpy as np

    from cmedl_bench.scoring import MetricValue

    rng = np.random.default_rng(0)
    reference = np.clip(rng.normal(-0.2, 0.3, 20000), -1, 1)
    alike, shifted = np.clip(rng.normal(-0.2, 0.3, 5000), -1, 1), np.clip(rng.normal(0.4, 0.3, 5000), -1, 1)
    if component.info.takes_case:
        alike, shifted = _translated_cases(reference)

    def values() -> str | None:
        fn = component.factory()
        near, far = (fn(alike), fn(shifted)) if component.info.takes_case else (fn(alike, reference),
                                                                                fn(shifted, reference))
        if not (isinstance(near, MetricValue) and isinstance(far, MetricValue)):
            return f"returned {type(near).__name__}, not a MetricValue"
        if not (np.isfinite(near.value) and np.isfinite(far.value)):
            return f"values {near.value}, {far.value} are not finite"
        closer = far.value > near.value if component.info.higher_is_better else far.value < near.value
        return f"shifted intensities scored closer ({far.value:.4g}) than alike ones ({near.value:.4g})" \
            if closer else None

    what = ("a translation that erases the tumour scores farther than a faithful one" if component.info.takes_case
            else "a shifted histogram scores farther than an alike one")
    return [_check(component, f"finite values; {what}", values)]


def _translated_cases(reference):
    """Two translations of a hand-made MRI (a bright tumour in soft tissue, with its aligned true MRI): a faithful
    one (the true MRI with a little noise) and one without the tumour."""
    import numpy as np

    from cmedl_bench.scoring import TranslatedCase

    rng = np.random.default_rng(1)
    _, y, x = np.mgrid[:8, :48, :48]
    label = (x - 24) ** 2 + (y - 24) ** 2 <= 10**2
    true = np.where(label, 0.6, -0.2) + rng.normal(0, 0.02, label.shape)
    body = np.ones(label.shape, dtype=bool)
    contrast = {"contrast": 0.8, "cnr": 10.0}

    def case(image):
        return TranslatedCase(image, image, body, label, (3.0, 1.0, 1.0), reference, contrast, true)

    return case(true + rng.normal(0, 0.02, label.shape)), case(np.full(label.shape, -0.2) + rng.normal(0, 0.02,
                                                                                                       label.shape))


def _partners(component: Component) -> tuple[Component | None, Component | None, str]:
    """(segmenter, translator, why none fits) for checking a fusion."""
    registry = get_registry()
    info = component.info
    segmenters = sorted((c for c in registry.components["segmenter"].values() if c.info.dims in info.dims
                         and (c.info.hint_features or not info.needs_hint_features)), key=lambda c: c.name != "unet")
    if not segmenters:
        return None, None, f"no installed segmenter of dimension {info.dims} with the features it needs"
    if not info.needs_translator:
        return segmenters[0], None, ""
    dims = segmenters[0].info.dims
    translators = sorted((c for c in registry.components["translator"].values()
                          if c.info.dims == dims and not c.info.needs_aligned_mri), key=lambda c: c.name != "cycle")
    return (segmenters[0], translators[0], "") if translators else (None, None, "no installed translator fits it")


def _fusion(component: Component) -> list[Finding]:
    from cmedl_bench.stages.probing import probe_fusion

    segmenter, translator, missing = _partners(component)
    if segmenter is None:
        return [_check(component, "builds, trains one step and predicts every head", lambda: missing)]
    partners = segmenter.name + (f" and {translator.name}" if translator else "")
    return [_check(component, f"builds, trains one step and predicts every head (with {partners})",
                   lambda: probe_fusion(component, segmenter, translator, SMALL))]


CHECKS: dict[str, Callable[[Component], list[Finding]]] = {
    "segmenter": _segmenter, "translator": _translator, "metric": _metric,
    "translation-metric": _translation_metric, "dataset": _dataset, "fusion": _fusion}


def check_components(distribution: str | None = None, kinds: tuple[str, ...] = tuple(CHECKS),
                     names: tuple[str, ...] = (), options: dict[str, str] | None = None) -> list[Finding]:
    """The findings of every installed component of the given kinds (of one distribution, or named); ``options``
    (``KEY=VALUE`` texts) configure the checked datasets that declare them."""
    registry = get_registry()
    chosen = [c for c in registry.all() if c.kind in kinds and (distribution is None or c.distribution == distribution)
              and (not names or c.name in names)]
    if not chosen:
        broken = [b for b in registry.broken if distribution is None or b.distribution == distribution]
        reason = f"; broken: {broken[0].plugin} ({broken[0].distribution}): {broken[0].error}" if broken else ""
        raise CmedlError(f"no installed {'/'.join(kinds)} component" + (f" from {distribution}" if distribution else "")
                         + (f" named {', '.join(names)}" if names else "") + reason)
    options = options or {}
    declared = {key for c in chosen if c.kind == "dataset" for key in c.info.options}
    if set(options) - declared:
        raise CmedlError(f"--option {sorted(set(options) - declared)[0]}: no checked dataset declares it; "
                         f"options: {', '.join(sorted(declared)) or 'none'}")
    return [finding for component in chosen for finding in
            (_dataset(component, options) if component.kind == "dataset" else CHECKS[component.kind](component))]


def summary(findings: list[Finding]) -> dict[str, Any]:
    return {"passed": sum(f.passed for f in findings), "failed": sum(not f.passed for f in findings)}
