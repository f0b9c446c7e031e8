"""Checking the selected plugins before anything is trained (or any data are read): a broken contract is one line
naming the plugin and the rule, not a traceback from deep inside training, a run that finishes with DSC 0, or a
translator that silently never learns.

Segmenters: the factory is called as the fusions call it and one tiny forward pass is run on the CPU (evaluation
mode, no gradient). The rules (docs/reference.md, the segmenter contract):

1. ``factory(in_channels=1, out_channels=1, width=w)`` builds a ``torch.nn.Module``;
2. ``module(x)`` returns one tensor of tumour logits with the input's batch size and spatial size and one channel:
   (B, 1, H, W) for 2D crops, (B, 1, D, H, W) for 3D patches;
3. with ``SegmenterInfo.hint_features``, ``module(x, return_features=True)`` returns ``(logits, features)`` with
   ``features`` a non-empty list of tensors (the hint layers of CMEDL, eq. 6).

Translators (:func:`probe_translator`): the factory takes a ``TranslatorSpec`` and returns a ``Translator``; every
parameter that requires a gradient belongs to a module ``modules()`` returns (only those are trained and saved); one
pseudo-MRI of a tiny batch keeps its shape. Metrics (:func:`probe_metrics`): every factory, lazy or not, returns a
function.

Fusions (:func:`probe_fusion`): the factory builds a :class:`cmedl_bench.fusion.Fusion` from a tiny spec (the run's
components and options, 32-pixel crops, batch 2, an eighth of the width, on the CPU) whose ``heads`` and
``cohorts`` are the registered ones; the selected translator is kept as ``self.translator`` with every run option it
declares; one ``train_step`` on a tiny batch of every cohort it trains on returns a
mapping of loss names to finite values; ``predict_logits`` of every declared head returns logits shaped
(2, 1, 32, 32) (3D: (1, 1, 8, 32, 32)). The first stage of a two-stage fusion (``before_fit``) is not run.
"""

from __future__ import annotations

from dataclasses import replace

from cmedl_bench.config import Preset
from cmedl_bench.errors import PluginError
from cmedl_bench.registry import Component


def _fail(component: Component, rule: str) -> PluginError:
    return PluginError(f"{component.kind} {component.name!r} ({component.distribution} {component.version}, plugin "
                       f"{component.plugin}): {rule}")


def probe_segmenter(component: Component, preset: Preset) -> None:
    """Apply the rules above at the preset's width and crop size (batch 2; 3D: one patch of ``patch_depth``)."""
    import torch

    try:
        network = component.factory(in_channels=1, out_channels=1, width=preset.width)
    except TypeError as exc:
        raise _fail(component, f"the factory must take in_channels, out_channels and width keywords ({exc})") from None
    if not isinstance(network, torch.nn.Module):
        raise _fail(component, f"the factory returned {type(network).__name__}, not a torch.nn.Module")
    dims = component.info.dims
    size = (2, 1, preset.crop_size, preset.crop_size) if dims == 2 else (
        1, 1, preset.patch_depth, preset.crop_size, preset.crop_size)
    network.eval()
    with torch.no_grad():
        logits = _forward(component, network, torch.zeros(size))
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (size[0], 1, *size[2:]):
            shown = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise _fail(component, f"forward(x) must return one tensor of logits shaped {(size[0], 1, *size[2:])} "
                                   f"for x shaped {size}; it returned {shown}")
        if component.info.hint_features:
            _check_features(component, _forward(component, network, torch.zeros(size), return_features=True))


def _forward(component: Component, network, x, **kwargs):
    try:
        return network(x, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the plugin's forward is reported as its own
        raise _fail(component, f"forward({'x, return_features=True' if kwargs else 'x'}) failed on a "
                               f"{tuple(x.shape)} input: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                    ) from None


def _check_features(component: Component, output) -> None:
    import torch

    ok = (isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], (list, tuple)) and output[1]
          and all(isinstance(f, torch.Tensor) for f in output[1]))
    if not ok:
        raise _fail(component, "it declares hint_features, so forward(x, return_features=True) must return "
                               "(logits, [feature tensors]) with at least one feature map")


def probe_translator(component: Component, preset: Preset, options: dict | None = None) -> None:
    """The translator rules above, at the preset's translator width, on the CPU, built as for inference (no
    optimiser, no loss network)."""
    import torch

    from cmedl_bench.translator import Translator, TranslatorSpec

    spec = TranslatorSpec(width=preset.translator_width, lr=preset.lr_translator, device=torch.device("cpu"),
                          options=dict(options or {}), training=False)
    try:
        translator = component.factory(spec)
    except TypeError as exc:
        raise _fail(component, f"the factory must take one TranslatorSpec ({exc})") from None
    if not isinstance(translator, Translator):
        raise _fail(component, f"the factory returned {type(translator).__name__}, not a cmedl_bench.plugin.Translator")
    listed = {id(p) for module in translator.modules().values() for p in module.parameters()}
    hidden = sorted(name for name, value in vars(translator).items() if isinstance(value, torch.nn.Module)
                    and any(p.requires_grad and id(p) not in listed for p in value.parameters()))
    if hidden:
        raise _fail(component, f"{', '.join(hidden)} hold(s) parameters that require a gradient but are not in "
                               f"modules(): they would never be trained or saved; list them in modules()")
    images = torch.zeros(2, 1, 32, 32)
    with torch.no_grad():
        try:
            out = translator.pseudo_mri(images, images)
        except Exception as exc:  # noqa: BLE001 - the plugin's failure, reported as its own
            raise _fail(component, f"pseudo-MRI of a (2, 1, 32, 32) batch failed: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0][:160] if str(exc) else ''}") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 1, 32, 32):
        shown = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _fail(component, f"to_mri must return a tensor shaped like its input (2, 1, 32, 32), not {shown}")


def probe_metrics(registry) -> None:
    """Every selected metric's factory (segmentation and translation) returns a function."""
    for kind in ("metric", "translation-metric"):
        for component in registry.components[kind].values():
            try:
                fn = component.factory()
            except Exception as exc:  # noqa: BLE001
                raise _fail(component, f"its factory failed: {type(exc).__name__}: {exc}") from None
            if not callable(fn):
                raise _fail(component, f"its factory returned {type(fn).__name__}, not a function")


def probe_fusion(component: Component, segmenter: Component, translator: Component | None, preset: Preset,
                 options: dict | None = None) -> None:
    """The fusion rules above; a failure is one line naming the fusion plugin and the rule. In a data-parallel run
    every rank probes on its own (:func:`cmedl_bench.engine.distributed.local`): no collective is entered."""
    from cmedl_bench.engine.distributed import local

    with local():
        _probe_fusion(component, segmenter, translator, preset, options)


def _probe_fusion(component: Component, segmenter: Component, translator: Component | None, preset: Preset,
                  options: dict | None) -> None:
    import torch

    from cmedl_bench.fusion import Fusion, FusionSpec

    tiny = replace(preset, crop_size=32, batch_size=2, width=min(preset.width, 0.125), translator_crop_size=32,
                   translator_width=min(preset.translator_width, 0.125), translator_batch_size=2, patch_depth=8,
                   compile=False)
    spec = FusionSpec(segmenter, translator, tiny, torch.device("cpu"), dict(options or {}))
    fusion = _call(component, "its factory failed on a tiny spec", lambda: component.factory(spec))
    if not isinstance(fusion, Fusion):
        raise _fail(component, f"its factory returned {type(fusion).__name__}, not a cmedl_bench.plugin.Fusion")
    for key in ("heads", "cohorts"):
        if tuple(getattr(fusion, key)) != tuple(getattr(component.info, key)):
            raise _fail(component, f"its {key} {tuple(getattr(fusion, key))} differ from its registered FusionInfo "
                                   f"{tuple(getattr(component.info, key))}")
    if translator is not None:
        _check_translator_kept(component, fusion, translator, spec.options)
    shape = (2, 1, 32, 32) if segmenter.info.dims == 2 else (1, 1, 8, 32, 32)
    images, labels = torch.rand(shape) * 2 - 1, torch.zeros(shape)
    labels[..., 12:20, 12:20] = 1
    batch = {key: value for cohort in fusion.cohorts for key, value in ((cohort, images), (f"{cohort}_label", labels))}
    if component.info.aligned_mri != "unused":
        batch["cbct_aligned"] = images
    fusion.train(True)
    losses = _call(component, f"train_step failed on a tiny batch ({', '.join(batch)}: {shape})",
                   lambda: fusion.train_step(batch))
    if not isinstance(losses, dict) or not all(isinstance(k, str) for k in losses):
        raise _fail(component, f"train_step must return a dict of loss name -> value, not {type(losses).__name__}")
    bad = [k for k, v in losses.items() if not torch.isfinite(torch.as_tensor(v, dtype=torch.float32)).all()]
    if bad:
        raise _fail(component, f"train_step returned non-finite losses on a tiny batch: {', '.join(bad)}")
    fusion.train(False)
    extra = {"aligned": images} if component.info.aligned_mri != "unused" else {}  # as the engine calls it
    with torch.no_grad():
        for head in component.info.heads:
            logits = _call(component, f"predict_logits({head!r}, ...) failed on a {shape} batch",
                           lambda: fusion.predict_logits(head, images, **extra))
            if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != shape:
                shown = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise _fail(component, f"predict_logits({head!r}, x) must return logits shaped {shape}, not {shown}")


def _check_translator_kept(component: Component, fusion, translator: Component, options: dict) -> None:
    """The selected translator is ``fusion.translator`` (its info goes into the record) and was given every run
    option it declares (else ``--option`` would be hashed and recorded, and have no effect)."""
    from cmedl_bench.translator import Translator

    kept = getattr(fusion, "translator", None)
    if not isinstance(kept, Translator):
        raise _fail(component, f"it was given translator {translator.name!r} but keeps no Translator as "
                               f"self.translator; build it with self.build_translator()")
    lost = sorted(key for key in translator.info.options if key in options
                  and kept.spec.options.get(key) != options[key])
    if lost:
        raise _fail(component, f"its translator was built without the run's option(s) {', '.join(lost)}, which "
                               f"would be recorded and have no effect; build it with self.build_translator()")


def _call(component: Component, what: str, call):
    try:
        return call()
    except PluginError:
        raise
    except Exception as exc:  # noqa: BLE001 - the plugin's failure, reported as its own
        raise _fail(component, f"{what}: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else ''}") from None
