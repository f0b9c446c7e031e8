"""The public interface for plugin authors: everything a translator, segmenter, fusion, metric, dataset or launcher
plugin needs, in one module with an explicit ``__all__``; the rest of ``cmedl_bench`` is private and may change.
The built-in plugins (``plugins/``) import only this module, as a third-party package would (a test enforces it).

Importing it does not import torch: ``hookimpl`` and ``lazy`` (what a registration module needs) are plain, and
every other name is loaded on first access (PEP 562), so ``cmedl-bench plugins`` stays light.

Hooks (:mod:`cmedl_bench.hookspecs`): ``register_translators``, ``register_segmenters``, ``register_fusions``,
``register_datasets``, ``register_metrics``, ``register_translation_metrics``, ``register_launchers``,
``register_loggers``; each
receives ``register(name, factory, *, description, info)``, ``info`` the kind's frozen record (``SegmenterInfo``,
``TranslatorInfo``, ``FusionInfo``, ``MetricInfo`` for both metric hooks, ``DatasetInfo``, ``LauncherInfo``,
``LoggerInfo``;
torch-free). docs/writing-plugins.md describes each kind: signatures, info fields, conventions.

The toolkit carries invariants plugins rely on:

- :func:`adam`: ``torch.optim.Adam`` with the fused CUDA kernel on a GPU (one launch per step for all parameters);
- :func:`dice_loss`: the soft Dice loss of eq. 5 from logits over the whole batch; under data parallelism the sums
  run over the global batch, so every rank optimises the same loss;
- :func:`to_unit_range`: z-scored CBCT or MRI mapped to the translators' [-1, 1] (the student segments z-scored
  CBCT; teachers and ``pmri`` segmenters see [-1, 1] images);
- :func:`fit_translator`: the translator trainer ``translate`` and the two-stage fusions use (resumable);
  :func:`fit_translator_first` trains a fusion's translator with it, then freezes it (a two-stage ``before_fit``);
- :func:`dice`, :class:`ScoredCase`, :class:`MetricValue`: the metric contract, with the empty-mask rules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from cmedl_bench import hookimpl, lazy

#: public name -> the private module that defines it
_EXPORTS = {
    "CmedlError": "cmedl_bench.errors", "PluginError": "cmedl_bench.errors",
    "DatasetError": "cmedl_bench.errors",
    "Preset": "cmedl_bench.config", "SURFACE_DICE_TOLERANCE_MM": "cmedl_bench.config",
    "Fusion": "cmedl_bench.fusion", "FusionSpec": "cmedl_bench.fusion",
    "Translator": "cmedl_bench.translator", "TranslatorSpec": "cmedl_bench.translator",
    "ImagePool": "cmedl_bench.translator", "gan_loss": "cmedl_bench.translator",
    "build_translator": "cmedl_bench.translator", "to_unit_range": "cmedl_bench.translator",
    "MetricValue": "cmedl_bench.scoring", "ScoredCase": "cmedl_bench.scoring", "dice": "cmedl_bench.scoring",
    "METRIC_ERROR": "cmedl_bench.scoring", "TranslatedCase": "cmedl_bench.scoring",
    "adam": "cmedl_bench.engine.performance", "dice_loss": "cmedl_bench.engine.losses",
    "fit_translator": "cmedl_bench.trainers.translator_trainer",
    "fit_translator_first": "cmedl_bench.trainers.translator_trainer",
    "Reporter": "cmedl_bench.stages.progress", "SilentReporter": "cmedl_bench.stages.progress",
    "Job": "cmedl_bench.launch", "JobOutcome": "cmedl_bench.launch", "Launcher": "cmedl_bench.launch",
    "execute": "cmedl_bench.launch", "failure_text": "cmedl_bench.launch", "RunBusy": "cmedl_bench.launch",
    "unless_busy": "cmedl_bench.launch",
    "image_path": "cmedl_bench.data.layout", "label_path": "cmedl_bench.data.layout",
    "write_meta": "cmedl_bench.data.layout", "write_volume": "cmedl_bench.io.images",
    "tissue_path": "cmedl_bench.data.layout", "TISSUE_CLASSES": "cmedl_bench.data.layout",
    "ALIGNED_COHORT": "cmedl_bench.data.layout", "case_contrast": "cmedl_bench.data.contrast",
    "vgg19_weights": "cmedl_bench.settings",
    "PLUGIN_API_VERSION": "cmedl_bench.hookspecs",
    "SegmenterInfo": "cmedl_bench.info", "TranslatorInfo": "cmedl_bench.info", "FusionInfo": "cmedl_bench.info",
    "MetricInfo": "cmedl_bench.info", "DatasetInfo": "cmedl_bench.info", "LauncherInfo": "cmedl_bench.info",
    "LoggerInfo": "cmedl_bench.info", "Logger": "cmedl_bench.tracking",
}

__all__ = ["hookimpl", "lazy", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cmedl_bench.plugin' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
