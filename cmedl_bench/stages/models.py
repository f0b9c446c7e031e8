"""Trained models outside their run: rebuilt from a finished run folder or from an exported model file
(``cmedl-bench export``), with the provenance that ties a prediction to the benchmark result it came from.

The model file (``.cmedl``) is a ``torch.save`` of plain data, read with ``torch.load(weights_only=True)``::

    {"format": "cmedl-bench-model", "format_version": 1, "head": str, "run_id": str, "config_hash": str,
     "config": the run's resolved configuration (components, preset with crop size and spacing, options),
     "plugins": {kind: {name, distribution, version, plugin}}, "weights": {module: state_dict},
     "preprocessing": {...}, "summary": the run's metric summary, "dataset": {name, version}, "created": str}

A model file is checked against this schema before anything is built (:func:`require_model_schema`: every field
there with its type, the components and plugins named), and a run folder's record likewise. A model is rebuilt with
the installed plugins named in it, whether it comes from a model file or a run folder; a plugin that is missing, or
installed at another major version than the one that trained the model, is a one-line error (the weights may not
fit its networks), and so are weights that do not fit the rebuilt networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cmedl_bench.config import Preset
from cmedl_bench.errors import CmedlError
from cmedl_bench.fusion import Fusion
from cmedl_bench.modules import WeightsMismatch
from cmedl_bench.io.checkpoints import CorruptFileError, load_checkpoint, save_checkpoint
from cmedl_bench.registry import get_registry
from cmedl_bench.results.records import now
from cmedl_bench.results.run_record import RunRecord
from cmedl_bench.stages.building import build_fusion

MODEL_FORMAT = "cmedl-bench-model"
MODEL_FORMAT_VERSION = 1
#: preprocessing a model applies to every scan (data/preprocessing.py), recorded in the model file
PREPROCESSING = "body mask (Otsu, holes filled, largest component); z-score inside the body; in-plane crop to the body"


@dataclass
class TrainedModel:
    fusion: Fusion
    head: str
    provenance: dict[str, Any]  # run id, config hash, plugins, source, summary

    @property
    def preset(self) -> Preset:
        return self.fusion.spec.preset


def finished_record(run_dir: Path) -> RunRecord:
    """The record of a finished training run (one line otherwise)."""
    record = RunRecord.read(run_dir)
    if record is None:
        raise CmedlError(f"{run_dir} is not a run folder or model file (no run.json)")
    if not record.finished:
        raise CmedlError(f"{run_dir}: the run is {record.status}, not finished; finish it with the same run command "
                         f"first")
    if record.kind != "training" or not (run_dir / "best.pt").is_file():
        raise CmedlError(f"{run_dir} holds no trained segmenter ({record.kind} run without best.pt)")
    return record


#: the model file's fields and their types (the module docstring's schema)
MODEL_FIELDS = {"format": str, "format_version": int, "head": str, "run_id": str, "config_hash": str, "config": dict,
                "plugins": dict, "weights": dict, "preprocessing": dict, "created": str}


def require_model_schema(content: dict[str, Any], fields: dict[str, type], source: Path) -> None:
    """Every field of ``fields`` present with its type, the configuration naming its components and preset, and
    each plugin entry its name, distribution and version: else one line naming what is wrong."""
    for key, kind in fields.items():
        if not isinstance(content.get(key), kind):
            raise CmedlError(f"{source}: field {key!r} is missing or not a {kind.__name__}")
    config = content["config"]
    if not all(isinstance(config.get(k), str) for k in ("translator", "segmenter", "fusion")) or not isinstance(
            config.get("preset"), dict):
        raise CmedlError(f"{source}: the configuration does not name its translator, segmenter, fusion and preset")
    for kind, entry in content["plugins"].items():
        if entry is not None and not (isinstance(entry, dict) and all(
                isinstance(entry.get(k), str) for k in ("name", "distribution", "version"))):
            raise CmedlError(f"{source}: plugin entry {kind!r} lacks a name, distribution or version")


def rebuild(record: RunRecord, device: torch.device) -> Fusion:
    """The fusion of a finished run with its best checkpoint loaded, in inference mode."""
    require_model_schema(record.data, {"run_id": str, "config": dict, "plugins": dict}, record.path / "run.json")
    _check_plugins(record.plugins, record.path)
    best = record.path / "best.pt"
    return _build(record.config, load_checkpoint(best, device, required={"weights": dict})["weights"], device, best)


def _build(config: dict[str, Any], weights: dict[str, Any], device: torch.device, source: Path) -> Fusion:
    try:
        preset = Preset(**config["preset"])
    except TypeError as exc:
        raise CmedlError(f"{source}: the preset of the configuration is not one this cmedl-bench reads "
                         f"({exc})") from None
    fusion = build_fusion(config["fusion"], config["segmenter"], config["translator"], preset, device,
                          config.get("options"), training=False)
    try:
        fusion.load_weights(weights)
    except WeightsMismatch as exc:
        raise CmedlError(f"{source}: {exc}") from None
    fusion.train(False)
    return fusion


def _check_plugins(plugins: dict[str, Any], source: Path) -> None:
    registry = get_registry()
    for kind in ("fusion", "segmenter", "translator"):
        wanted = plugins.get(kind)
        if not wanted:
            continue
        if wanted["name"] not in registry.names(kind):
            raise CmedlError(f"{source}: the model needs the {kind} plugin {wanted['name']!r} from "
                             f"{wanted['distribution']} {wanted['version']}, which is not installed")
        installed = registry.get(kind, wanted["name"])
        if str(installed.version).split(".")[0] != str(wanted["version"]).split(".")[0]:
            raise CmedlError(f"{source}: the model was made with {kind} {wanted['name']!r} of {wanted['distribution']} "
                             f"{wanted['version']}; {installed.distribution} {installed.version} is installed (another "
                             f"major version: its networks may not fit the weights)")


def _choose_head(fusion: Fusion, head: str | None, where: str) -> str:
    head = head or fusion.selection_head
    if head not in fusion.heads:
        raise CmedlError(f"{where} has no head {head!r}; heads: {', '.join(fusion.heads)}")
    return head


def load_model(path: Path, head: str | None, device: torch.device) -> TrainedModel:
    """A finished run folder or an exported model file, rebuilt for inference."""
    path = Path(path)
    if path.is_dir():
        record = finished_record(path)
        fusion = rebuild(record, device)
        provenance = {"source": str(path.resolve()), "run_id": record.run_id, "config_hash": record.config_hash,
                      "plugins": record.plugins, "summary": record.summary, "dataset": record.data.get("dataset")}
        return TrainedModel(fusion, _choose_head(fusion, head, f"run {record.run_id}"), provenance)
    if not path.is_file():
        raise CmedlError(f"{path}: no such run folder or model file")
    try:
        bundle = load_checkpoint(path, device)
    except CorruptFileError:
        raise CmedlError(f"{path} is not a cmedl-bench model file (unreadable)") from None
    if bundle.get("format") != MODEL_FORMAT:
        raise CmedlError(f"{path} is not a cmedl-bench model file")
    if bundle.get("format_version") != MODEL_FORMAT_VERSION:
        raise CmedlError(f"{path}: model file format {bundle.get('format_version')}; this cmedl-bench reads "
                         f"format {MODEL_FORMAT_VERSION}")
    require_model_schema(bundle, MODEL_FIELDS, path)
    _check_plugins(bundle["plugins"], path)
    fusion = _build(bundle["config"], bundle["weights"], device, path)
    provenance = {"source": str(path.resolve()), **{k: bundle.get(k) for k in ("run_id", "config_hash", "plugins",
                                                                                "summary", "dataset")}}
    return TrainedModel(fusion, _choose_head(fusion, head or bundle["head"], str(path)), provenance)


def model_bundle(fusion: Fusion, head: str, record: RunRecord) -> dict[str, Any]:
    """The model file's content (see the module docstring) for a fusion and the record of the run that trained it."""
    preset = fusion.spec.preset
    return {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "head": head,
            "run_id": record.run_id, "config_hash": record.config_hash, "config": record.config,
            "plugins": record.plugins, "summary": record.summary,
            "dataset": {"name": record.dataset.name, "version": record.dataset.version},
            "preprocessing": {"description": PREPROCESSING, "spacing_xy_mm": preset.spacing_xy_mm,
                              "crop_size": preset.crop_size, "width": preset.width, "in_channels": 1,
                              "dims": fusion.dims},
            "created": now(), "weights": fusion.weights()}


def export_model(run_dir: Path, out: Path, head: str | None, overwrite: bool = False) -> dict[str, Any]:
    """Write the model file of a finished run and, where the head exports, a ``torch.export`` program of its logits
    (``out`` with suffix ``.pt2``) checked against the eager model; returns what the model file holds besides the
    weights, and the outcome of the export. Neither file goes into a run folder, overwrites the other, or replaces
    an existing file without ``overwrite``."""
    from cmedl_bench.stages.inputs import require_outside_run_folders

    record = finished_record(run_dir)
    if out.exists() and out.is_dir():
        raise CmedlError(f"--out {out} is a folder; give a file name such as model.cmedl")
    program_path = out.with_suffix(".pt2")
    if program_path == out:
        raise CmedlError(f"--out {out}: .pt2 is the ending of the torch.export program written beside the model "
                         f"file; give the model file another ending, such as model.cmedl")
    require_outside_run_folders(out, "--out")
    taken = [str(p) for p in (out, program_path) if p.exists()]
    if taken and not overwrite:
        raise CmedlError(f"--out: {' and '.join(taken)} already exist(s); pass --overwrite to replace")
    fusion = rebuild(record, torch.device("cpu"))
    bundle = model_bundle(fusion, _choose_head(fusion, head, f"run {record.run_id}"), record)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(bundle, out, verify=True)
    program = _exported_program(fusion, bundle["head"], program_path)
    return {k: v for k, v in bundle.items() if k != "weights"} | {"exported_program": program}


class _HeadLogits(torch.nn.Module):
    """A head's logits as one module: every network of the fusion registered, ``forward`` = ``predict_logits``."""

    def __init__(self, fusion: Fusion, head: str):
        super().__init__()
        self.networks = torch.nn.ModuleDict(fusion.modules())
        self.fusion, self.head = fusion, head

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.fusion.predict_logits(self.head, crops)


def _exported_program(fusion: Fusion, head: str, path: Path) -> dict[str, Any]:
    """The head's logits as a ``torch.export`` program (``torch.export.load(path).module()``: z-scored CBCT crops
    (B, 1, crop, crop), any batch size, to logits), kept only when it reproduces the eager output (max absolute
    logit difference <= 1e-4 on crops it was not exported with); 2D heads only. torch.export rather than TorchScript,
    which torch 2.13 deprecates."""
    from cmedl_bench.io.atomic import atomic_write

    crop = fusion.spec.preset.crop_size
    if fusion.dims != 2:
        return {"written": False, "reason": "3D heads are not exported"}
    generator = torch.Generator().manual_seed(0)
    example, check = (torch.randn(n, 1, crop, crop, generator=generator) for n in (2, 3))
    module = _HeadLogits(fusion, head).eval()
    try:
        program = torch.export.export(module, (example,),
                                      dynamic_shapes={"crops": {0: torch.export.Dim("batch", min=1, max=4096)}})
        with torch.no_grad():
            difference = float((program.module()(check) - fusion.predict_logits(head, check)).abs().max())
    except Exception as exc:  # noqa: BLE001 - a plugin network that does not export is reported, not fatal
        return {"written": False, "reason": f"torch.export failed: {str(exc).strip().splitlines()[0][:120]}"}
    if difference > 1e-4:
        return {"written": False, "reason": f"exported output differs from the eager model by {difference:.2g}"}
    atomic_write(path, lambda tmp: torch.export.save(program, tmp))
    return {"written": True, "path": str(path), "input": [None, 1, crop, crop], "max_abs_difference": difference}
