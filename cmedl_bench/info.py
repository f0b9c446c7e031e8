"""Info records: what a component declares about itself when it registers, one typed, frozen record per kind
(docs/writing-plugins.md, "Info records"). ``register(name, factory, *, description, info=SegmenterInfo(...))``.

Each record checks its fields when it is made, so a wrong type or a misspelt field breaks the plugin that
registered it (listed by ``cmedl-bench plugins``) instead of being ignored or failing deep inside a run. The
mapping form of plugin API 0.9, ``capabilities={...}``, is read into the same record with the same checks and a
:class:`DeprecationWarning` (a key the record does not have is ignored with another); it goes in 2.0. Nothing here
imports torch.
"""

from __future__ import annotations

import warnings
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, Mapping

from cmedl_bench.errors import PluginError

OptionDefault = bool | int | float | str | None
#: what a fusion does with a dataset's aligned MRI (cohort ``mri-aligned``): ``unused`` (never read); ``diagnostic``
#: (read where it exists: handed to a translator that needs it, and scored against in the diagnostics, never trained
#: on by the method); ``required`` (a reference row built on it, e.g. the MRI oracle)
ALIGNED_MRI_USES = ("unused", "diagnostic", "required")


def _is_dims(value: Any) -> bool:
    return value in (2, 3) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _option_table(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, (bool, int, float, str, type(None))) for k, v in value.items())


def _names(value: Any, allowed: set[str] | None = None) -> bool:
    return (isinstance(value, tuple) and bool(value) and all(isinstance(v, str) for v in value)
            and (allowed is None or set(value) <= allowed))


#: (record class name, field) -> (test, what the field must be)
_RULES: dict[tuple[str, str], tuple[Callable[[Any], bool], str]] = {
    ("SegmenterInfo", "dims"): (_is_dims, "2 or 3"),
    ("SegmenterInfo", "hint_features"): (_is_bool, "True or False"),
    ("SegmenterInfo", "paper_parameters"): (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                                            "a whole number or None"),
    ("SegmenterInfo", "input_multiple"): (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)
                                                                  and v >= 1), "a whole number of at least 1, or None"),
    ("TranslatorInfo", "dims"): (_is_dims, "2 or 3"),
    ("TranslatorInfo", "uses_vgg19"): (_is_bool, "True or False"),
    ("TranslatorInfo", "paper_parameters"): (lambda v: v is None or isinstance(v, Mapping),
                                             "a dict of network name -> parameter count, or None"),
    ("TranslatorInfo", "options"): (_option_table, "a dict of option name -> default value"),
    ("TranslatorInfo", "needs_aligned_mri"): (_is_bool, "True or False"),
    ("FusionInfo", "aligned_mri"): (lambda v: v in ALIGNED_MRI_USES, f"one of {', '.join(ALIGNED_MRI_USES)}"),
    ("FusionInfo", "heads"): (_names, "a tuple of head names"),
    ("FusionInfo", "cohorts"): (lambda v: _names(v, {"cbct", "mri"}), "a tuple of 'cbct' and/or 'mri'"),
    ("FusionInfo", "dims"): (lambda v: isinstance(v, tuple) and bool(v) and all(map(_is_dims, v)),
                             "a tuple of 2 and/or 3"),
    ("FusionInfo", "needs_translator"): (_is_bool, "True or False"),
    ("FusionInfo", "needs_hint_features"): (_is_bool, "True or False"),
    ("FusionInfo", "options"): (_option_table, "a dict of option name -> default value"),
    ("MetricInfo", "unit"): (lambda v: isinstance(v, str), "a string ('' for none)"),
    ("MetricInfo", "higher_is_better"): (_is_bool, "True or False"),
    ("MetricInfo", "digits"): (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 8),
                               "a whole number from 0 to 8, or None"),
    ("MetricInfo", "definition"): (lambda v: isinstance(v, str), "a string"),
    ("MetricInfo", "takes_case"): (_is_bool, "True or False"),
    ("DatasetInfo", "version"): (lambda v: isinstance(v, (int, str)) and not isinstance(v, bool),
                                 "a number or a string"),
    ("DatasetInfo", "sizes"): (lambda v: v is None or _names(v), "a tuple of size names, or None"),
    ("DatasetInfo", "options"): (_option_table, "a dict of option name -> default value"),
    ("DatasetInfo", "isodense_control"): (lambda v: v is None or callable(v), "a callable or None"),
    ("LauncherInfo", "options"): (lambda v: isinstance(v, tuple) and all(isinstance(k, str) for k in v),
                                  "a tuple of option names"),
    ("LoggerInfo", "requires"): (lambda v: isinstance(v, tuple) and all(isinstance(k, str) for k in v),
                                 "a tuple of module names"),
    ("LoggerInfo", "extra"): (lambda v: isinstance(v, str), "a string"),
}


class _Checked:
    """Lists become tuples (so records stay hashable and frozen), then every field is checked (by the rule of the
    record class that declares it, so a plugin's subclass keeps the checks; fields it adds are its own)."""

    def __post_init__(self) -> None:
        record = next(k for k in type(self).__mro__ if k.__name__ in _KIND_OF)
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, value := tuple(value))
            rule = _RULES.get((record.__name__, f.name))
            if rule is not None and not rule[0](value):
                raise PluginError(f"{_KIND_OF[record.__name__]} info field {f.name!r} must be {rule[1]}, "
                                  f"not {value!r}")


@dataclass(frozen=True)
class SegmenterInfo(_Checked):
    dims: int = 2  # 2: slices (B, C, H, W); 3: patches (B, C, D, H, W)
    hint_features: bool = False  # forward(x, return_features=True) returns (logits, [feature maps])
    paper_parameters: int | None = None  # parameter count of the paper's network at width 1
    #: a fully convolutional 2D network: any input whose height and width are multiples of this (2 to the number of
    #: 2x downsamplings), so inference may run on whole slices (:mod:`cmedl_bench.engine.inference`); None: only
    #: inputs of the training crop size (sliding windows)
    input_multiple: int | None = None


@dataclass(frozen=True)
class TranslatorInfo(_Checked):
    dims: int = 2
    uses_vgg19: bool = False  # needs VGG19 weights (--vgg19); runs record which weights it used
    paper_parameters: Mapping[str, int] | None = None  # network name -> parameter count at width 1
    options: Mapping[str, OptionDefault] = field(default_factory=dict)  # name -> default; spec.options
    #: a reference translator that returns the aligned true MRI (:meth:`cmedl_bench.translator.Translator.pseudo_mri`)
    needs_aligned_mri: bool = False


@dataclass(frozen=True)
class FusionInfo(_Checked):
    heads: tuple[str, ...] = ("student",)  # the heads it scores; the first is not implied to be the selection head
    cohorts: tuple[str, ...] = ("cbct",)  # training cohorts of each batch
    dims: tuple[int, ...] = (2,)  # segmenter dimensions it supports
    needs_translator: bool = False
    needs_hint_features: bool = False
    options: Mapping[str, OptionDefault] = field(default_factory=dict)
    aligned_mri: str = "unused"  # one of ALIGNED_MRI_USES


@dataclass(frozen=True)
class MetricInfo(_Checked):
    unit: str = ""  # shown in reports; "mm" gets two decimals
    higher_is_better: bool = True  # the direction report --rank-by uses
    digits: int | None = None  # decimals in reports (None: 3, or 2 for mm)
    definition: str = ""  # one line recorded in every run.json
    #: translation metrics only: called with a cmedl_bench.scoring.TranslatedCase, not (translated, reference)
    takes_case: bool = False


@dataclass(frozen=True)
class DatasetInfo(_Checked):
    version: int | str = 0  # recorded with every run, part of the configuration hash and the cache key
    sizes: tuple[str, ...] | None = None  # sizes the factory writes, e.g. ("full", "small")
    options: Mapping[str, OptionDefault] = field(default_factory=dict)  # factory keyword arguments
    isodense_control: Callable[..., Any] | None = None  # (root, case_id) -> (z, y, x) array, tumour isodense


@dataclass(frozen=True)
class LoggerInfo(_Checked):
    #: modules it imports, checked before a run starts (a missing one is one line naming ``extra``)
    requires: tuple[str, ...] = ()
    extra: str = ""  # the pip extra that installs them, e.g. "tracking"


@dataclass(frozen=True)
class LauncherInfo(_Checked):
    options: tuple[str, ...] = ()  # the --launcher-option keys it accepts


#: component kind -> its info record
INFO_FOR_KIND: dict[str, type] = {
    "translator": TranslatorInfo, "segmenter": SegmenterInfo, "fusion": FusionInfo, "dataset": DatasetInfo,
    "metric": MetricInfo, "translation-metric": MetricInfo, "launcher": LauncherInfo, "logger": LoggerInfo}
_KIND_OF = {"SegmenterInfo": "segmenter", "TranslatorInfo": "translator", "FusionInfo": "fusion",
            "MetricInfo": "metric", "DatasetInfo": "dataset", "LauncherInfo": "launcher", "LoggerInfo": "logger"}


def make_info(kind: str, name: str, info: Any = None, capabilities: Mapping[str, Any] | None = None) -> Any:
    """The component's info record: ``info`` itself, checked to be the record of its kind, or one read from the
    0.9 ``capabilities`` mapping (a misspelt key is an error naming the record's fields), or the defaults."""
    record = INFO_FOR_KIND[kind]
    if info is not None and capabilities is not None:
        raise PluginError(f"{kind} {name!r}: give info= or the older capabilities=, not both")
    if info is not None:
        if not isinstance(info, record):
            raise PluginError(f"{kind} {name!r}: info must be a {record.__name__}, not {type(info).__name__}")
        return info
    if capabilities is None:
        return record()
    warnings.warn(f"{kind} {name!r}: capabilities={{...}} is plugin API 0.9; register with "
                  f"info={record.__name__}(...) (docs/writing-plugins.md)", DeprecationWarning, stacklevel=4)
    if kind == "metric" and "scope" in capabilities:
        if capabilities["scope"] == "translation":
            raise PluginError(f"metric {name!r}: a translation metric registers with the hook "
                              f"register_translation_metrics (the 'scope' capability is gone)")
        capabilities = {k: v for k, v in capabilities.items() if k != "scope"}
    known = [f.name for f in fields(record)]
    unknown = sorted(set(capabilities) - set(known))
    if unknown:  # a key some 0.9 reader accepted: ignored with a warning, never a break (1.x reads 0.9)
        warnings.warn(f"{kind} {name!r}: capabilities key(s) {', '.join(map(repr, unknown))} ignored; "
                      f"{record.__name__} has {', '.join(known)}", DeprecationWarning, stacklevel=4)
    return record(**{key: value for key, value in capabilities.items() if key in known})


def info_fields(record: type) -> dict[str, Any]:
    """Field name -> default of an info record (for the docs and the plugin listing)."""
    return {f.name: (f.default if f.default is not MISSING else f.default_factory())  # type: ignore[misc]
            for f in fields(record)}
