"""The run request: what a user asks ``run``, ``translate`` and ``sweep`` for, as one frozen value.

One table, :data:`FIELDS`, says every field once (name, type, default, command-line flag, help, where its value
goes). From it come the :class:`RunRequest` class itself, the verbs' command-line options
(:mod:`cmedl_bench.cli.request_options`), the command line that re-runs a launcher's job alone
(:meth:`RunRequest.command`) and the row keys a suite file accepts (:data:`SUITE_ROW_KEYS`). A field goes to one of
three places:

- the request itself (``translator``, ``seed``, ``results``, ...);
- a preset field (``--epochs`` is ``max_epochs``): :attr:`RunRequest.overrides`, which ``--set FIELD=VALUE``
  fills for any preset field;
- a component option (``--lambda-hint`` is the ``hint`` fusion's ``lambda_hint``): :attr:`RunRequest.options`, the
  same channel as ``--option KEY=VALUE``, held as text and typed against the option's declared default when the run
  checks its components (:func:`cmedl_bench.selection.component_options`).

Adding a run option is one row here plus the code that reads it.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from cmedl_bench.errors import CmedlError
from cmedl_bench.settings import results_dir

__all__ = ["FIELDS", "RequestField", "RunRequest", "SUITE_ROW_KEYS", "fields_of", "key_values"]


@dataclass(frozen=True)
class RequestField:
    """One row of the request table."""

    name: str
    type: Any  # the command-line value's type (Optional[...] where None means "not given")
    default: Any
    help: str
    #: where the value goes: "" the request's attribute of this name; "preset:FIELD" a preset field;
    #: "option:KEY" a component option
    target: str = ""
    verbs: tuple[str, ...] = ("run", "sweep")  # the verbs that offer it ("suite": a suite-file row key too)
    flag: str = ""  # "" -> --name-with-dashes; a tri-state boolean takes "--x/--no-x"
    choices: tuple[str, ...] = ()

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple((self.flag or f"--{self.name.replace('_', '-')}").split("/"))

    @property
    def preset_field(self) -> str | None:
        return self.target.partition(":")[2] if self.target.startswith("preset:") else None

    @property
    def option_key(self) -> str | None:
        return self.target.partition(":")[2] if self.target.startswith("option:") else None


_TRAIN = ("run", "sweep", "translate")
FIELDS: tuple[RequestField, ...] = (
    RequestField("translator", str, "cx", "Translator plugin, or 'none'.", verbs=("run", "translate", "suite")),
    RequestField("segmenter", str, "unet", "Segmenter plugin.", verbs=("run", "suite")),
    RequestField("fusion", str, "hint", "Fusion strategy plugin.", verbs=("run", "suite")),
    RequestField("dataset", str, "phantom", "Dataset plugin generated when --data is not given.",
                 verbs=(*_TRAIN, "suite")),
    RequestField("data", Optional[Path], None, "An existing dataset folder (cmedl-bench layout).", verbs=_TRAIN),
    RequestField("preset", Optional[str], None, "smoke, cpu or paper (default: paper on a GPU, else cpu).",
                 verbs=_TRAIN),
    RequestField("seed", int, 0, "Training seed.", verbs=("run", "translate")),
    RequestField("results", Path, None, "Folder that receives one sub-folder per run (default: "
                 "$CMEDL_BENCH_RESULTS, else ./cmedl-results).", verbs=_TRAIN),
    RequestField("device", Optional[str], None, "cpu, cuda or cuda:N (default: CUDA when present).", verbs=_TRAIN),
    RequestField("epochs", Optional[int], None, "Override the preset's maximum number of epochs.",
                 "preset:max_epochs"),
    RequestField("translator_epochs", Optional[int], None, "Override the preset's number of translator epochs.",
                 "preset:translator_epochs", verbs=("translate",), flag="--epochs"),
    RequestField("patience", Optional[int], None, "Override the preset's early-stopping patience: epochs without a "
                 "better validation DSC before training stops.", "preset:patience"),
    RequestField("foreground", Optional[float], None, "Share of each batch's crops centred on tumour; the rest are "
                 "drawn anywhere in the body, tumour-free slices included (default: the preset's, 1 = tumour crops "
                 "only, as the paper).", "preset:foreground_fraction"),
    RequestField("compile", bool, False, "torch.compile every network (opt-in; worth it on a GPU).",
                 "preset:compile", flag="--compile"),
    RequestField("overrides", list[str], [], "FIELD=VALUE for any preset field (docs/reference.md, presets), e.g. "
                 "steps_per_epoch=10; repeatable.", verbs=_TRAIN, flag="--set"),
    RequestField("vgg19", Optional[Path], None, "torchvision-format VGG19 state dict for the contextual loss (else "
                 "$CMEDL_BENCH_VGG19 or the torch hub cache; else random init).", "option:vgg19", verbs=_TRAIN),
    RequestField("gan_mode", Optional[str], None, "Adversarial loss: log (paper eq. 1; the translators' default) or "
                 "lsgan.", "option:gan_mode", verbs=_TRAIN, choices=("log", "lsgan")),
    RequestField("lambda_hint", Optional[float], None, "Weight of the hint loss (fusion hint; default 1, eq. 7).",
                 "option:lambda_hint"),
    RequestField("segmenter_seg_weight", Optional[float], None, "Weight of the Dice losses in the segmenters' "
                 "update (fusion hint; default 1, the gradient sentence; 5: eq. 7 literally).",
                 "option:segmenter_seg_weight"),
    RequestField("hint_teacher", Optional[bool], None, "Let the hint also pull the teacher (fusion hint; default: "
                 "teacher detached).", "option:hint_teacher", flag="--hint-teacher/--no-hint-teacher"),
    RequestField("options", list[str], [], "KEY=VALUE for an option a selected component declares (see "
                 "'cmedl-bench plugins --json', info options), e.g. lambda_seg=5; repeatable; typed like its "
                 "default.", verbs=(*_TRAIN, "suite"), flag="--option"),
    RequestField("metrics", str, "", "Comma-separated metrics to score, e.g. dsc,hd95,assd (dsc always); default: "
                 "every installed metric ('cmedl-bench plugins')."),
    RequestField("threads", Optional[int], None, "Torch threads (default: one per core); recorded in run.json."),
    RequestField("log", Optional[str], None, "Experiment trackers to follow the run, e.g. tensorboard,mlflow (pip "
                 "install 'cmedl-bench[tracking]'); nothing is logged without it."),
    RequestField("force", bool, False, "Retrain even if a finished run with this configuration exists.",
                 verbs=("run", "translate")),
    RequestField("quiet", bool, False, "No progress bars.", verbs=_TRAIN),
)

#: the keys of a suite file's rows (:mod:`cmedl_bench.suite_files`)
SUITE_ROW_KEYS: tuple[str, ...] = tuple(f.name for f in FIELDS if "suite" in f.verbs)
_BY_NAME = {f.name: f for f in FIELDS}


def fields_of(verb: str) -> tuple[RequestField, ...]:
    """The table's fields that ``verb`` offers, in table order."""
    return tuple(f for f in FIELDS if verb in f.verbs)


def _attribute_default(f: RequestField) -> Any:
    if f.name == "results":
        return dataclasses.field(default_factory=results_dir)
    if f.name in ("overrides", "options"):
        return dataclasses.field(default_factory=dict)
    if f.name == "metrics":
        return ()
    return f.default


def _build(cls, **values: Any):
    """The request from field values as the table names them: request attributes, preset aliases (``epochs``),
    component-option aliases (``lambda_hint``), ``overrides`` (preset field -> value, or ``FIELD=VALUE`` texts) and
    ``options`` (key -> value, or ``KEY=VALUE`` texts). An unset alias (None, or False for a flag) sets nothing;
    every value is checked here, one line for what is wrong."""
    unknown = sorted(set(values) - set(_BY_NAME))
    if unknown:
        raise CmedlError(f"unknown run request field {unknown[0]!r}; fields: {', '.join(_BY_NAME)}")
    overrides = key_values(values.pop("overrides", None), "--set", typed=True)
    options = {key: _option_text(value) for key, value in
               key_values(values.pop("options", None), "--option", typed=False).items()}
    attributes: dict[str, Any] = {}
    for name, value in values.items():
        f = _BY_NAME[name]
        if f.choices and value is not None and value not in f.choices:
            raise CmedlError(f"unknown {f.flags[0]} {value!r}; use {' or '.join(f.choices)}")
        if f.preset_field:
            if value is not None and value is not False:
                overrides[f.preset_field] = value
        elif f.option_key:
            if value is not None:
                _require_non_negative(f, value)
                options[f.option_key] = _option_text(value)
        else:
            attributes[name] = value
    if "metrics" in attributes:
        metrics = attributes["metrics"]
        names = metrics.split(",") if isinstance(metrics, str) else list(metrics or ())
        attributes["metrics"] = tuple(n.strip() for n in names if n.strip())
    if attributes.get("results") is None:
        attributes.pop("results", None)
    if attributes.get("threads") is not None and (isinstance(attributes["threads"], bool) or
                                                   not isinstance(attributes["threads"], int) or
                                                   attributes["threads"] < 1):
        raise CmedlError(f"--threads must be a whole number of at least 1, not {attributes['threads']}")
    for name in ("data", "results"):
        if attributes.get(name) is not None:
            attributes[name] = Path(attributes[name])
    return cls(overrides=overrides, options=options, **attributes)


def _require_non_negative(f: RequestField, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise CmedlError(f"{f.flags[0]} must not be negative, not {value}")


def _option_text(value: Any) -> str:
    """A component option's value as ``--option`` holds it: text (a path made absolute; booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value.resolve())
    return str(value)


def key_values(given: Any, flag: str, typed: bool = False) -> dict[str, Any]:
    """A mapping, or ``KEY=VALUE`` texts (``flag`` names the option in the one-line error); ``typed`` reads values
    as numbers, booleans or none where they are (``--set``; the preset then checks each against its field)."""
    if given is None:
        return {}
    if isinstance(given, dict):
        return dict(given)
    out: dict[str, Any] = {}
    for text in given:
        key, sep, value = str(text).partition("=")
        if not sep or not key.strip():
            raise CmedlError(f"{flag} takes KEY=VALUE, not {text!r}")
        out[key.strip()] = _literal(value.strip()) if typed else value.strip()
    return out


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _replace(self, **values: Any):
    """This request with fields changed; ``values`` are named as in :meth:`build` (aliases add to the overrides
    and options this request has)."""
    current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    merged_overrides = {**current.pop("overrides"), **key_values(values.pop("overrides", None), "--set", typed=True)}
    merged_options = {**current.pop("options"), **key_values(values.pop("options", None), "--option", typed=False)}
    return type(self).build(**{**current, **values, "overrides": merged_overrides, "options": merged_options})


def _cli_args(self, verb: str = "run") -> list[str]:
    """The command-line arguments (after the verb) that ask for this request again; the components always (they
    name the row), other fields only where they differ from the default."""
    args: list[str] = []
    offered = fields_of(verb)
    preset_aliases = {f.preset_field: f for f in offered if f.preset_field}
    option_aliases = {f.option_key: f for f in offered if f.option_key}
    for f in offered:
        if f.target or f.name in ("overrides", "options", "quiet"):
            continue
        value = getattr(self, f.name)
        if f.name == "metrics":
            value = ",".join(value)
        if value in (None, False, "", f.default) and f.name not in ("results", "translator", "segmenter", "fusion"):
            continue
        args += [f.flags[0]] if value is True else [f.flags[0], str(value)]
    for key, value in self.overrides.items():
        alias = preset_aliases.get(key)
        if alias is not None and alias.type is bool:
            args += [alias.flags[0]] if value else []
        elif alias is not None:
            args += [alias.flags[0], str(value)]
        else:
            args += ["--set", f"{key}={value}"]
    for key, text in self.options.items():
        alias = option_aliases.get(key)
        if alias is not None and alias.type == Optional[bool] and text in ("true", "false"):
            args.append(alias.flags[0 if text == "true" else 1])
        elif alias is not None:
            args += [alias.flags[0], text]
        else:
            args += ["--option", f"{key}={text}"]
    return args


def _command(self, verb: str = "run") -> str:
    """The ``cmedl-bench VERB`` command line of this request (what a launcher's job prints to re-run it alone)."""
    return shlex.join(["cmedl-bench", verb, *self.cli_args(verb)])


_ATTRIBUTES = [f for f in FIELDS if not f.target]
RunRequest = dataclasses.make_dataclass(
    "RunRequest", [(f.name, f.type if f.name not in ("overrides", "options", "metrics") else
                    {"overrides": dict[str, Any], "options": dict[str, str], "metrics": tuple[str, ...]}[f.name],
                    _attribute_default(f)) for f in _ATTRIBUTES],
    frozen=True, namespace={"build": classmethod(_build), "replace": _replace, "cli_args": _cli_args,
                            "command": _command})
RunRequest.__module__ = __name__
RunRequest.__doc__ = (
    "What a user asks ``run``, ``translate`` or ``sweep`` for; built once (:meth:`build`) from the table "
    ":data:`FIELDS`, frozen, and handed unchanged through the API, the stages and the launchers. ``overrides``: "
    "preset field -> value; ``options``: component option -> text.")
