"""The one typed reader of ``run.json`` (docs/reference.md §5): what the report, ``predict``, ``export`` and
``sensitivity`` read from a run folder, as attributes checked once, in the spirit of nnU-Net's one reader of its
plans. Records of every schema version so far read (version 1; records written before the field existed count as
version 1); a field of the wrong type is one line naming it (:class:`RecordError`), never a ``KeyError`` later.

The heads the core itself names are :class:`Head` members (plugins add their own heads as plain names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterable

from cmedl_bench.errors import CmedlError
from cmedl_bench.results.records import SCHEMA_VERSION, read_record


class RecordError(CmedlError):
    """A ``run.json`` that is JSON but not a run record of a known schema."""


class Head(StrEnum):
    """Heads the core names: the CBCT network (``student``), the MRI network of a distillation (``teacher``), the
    heads of a translation run: pseudo-MRI (``pmri``) and raw CBCT (``cbct``) scored against true MRI (``mri``, the
    aligned MRI in figures), and the pseudo-MRI of a translator trained inside a fusion (``translator``)."""

    STUDENT = "student"
    TEACHER = "teacher"
    PSEUDO_MRI = "pmri"
    CBCT = "cbct"
    MRI = "mri"
    TRANSLATOR = "translator"


@dataclass(frozen=True)
class DatasetRecord:
    """The data a run read: its name and version, folder, the plugin that wrote it (None for ``--data``) with the
    options it was given, and case id -> patient (and location) of its CBCT cohort."""

    name: str | None = None
    version: Any = None
    path: str | None = None
    plugin: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] | None = None
    generator: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The dataset plugin that wrote the data, with its version and options; for a ``--data`` folder the name
        and version of its ``dataset.json``, else its path."""
        return self.describe(self.options)

    def describe(self, shown: Iterable[str]) -> str:
        """:attr:`label` with only the options named in ``shown`` (e.g. those that differ between two setups). An
        option the generator recorded under its own name is shown as the generator resolved it (the phantom's
        ``train_patients=0``, "the size's own cohort", reads ``train_patients=16``)."""
        if self.plugin:
            resolved = self.generator or {}
            options = " ".join(f"{k}={resolved.get(k, v)}" for k, v in sorted(self.options.items())
                               if k in set(shown))
            return f"{self.plugin} v{self.version}" + (f" ({options})" if options else "")
        return f"{self.name} v{self.version}" if self.version is not None else str(self.path or self.name)


#: run.json field -> the types it may have
_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,), "status": (str,), "kind": (str,), "seed": (int, type(None)), "config_hash": (str, type(None)),
    "config": (dict,), "plugins": (dict, type(None)), "dataset": (dict, type(None)), "metrics": (dict, type(None)),
    "summary": (dict, type(None)), "reference": (dict, type(None)), "files": (dict, type(None)),
    "method": (dict, type(None)), "schema_version": (int,)}


@dataclass(frozen=True)
class RunRecord:
    """A run folder's ``run.json``, read and checked (:meth:`read`)."""

    path: Path  # the run folder
    run_id: str
    kind: str  # training, translation or evaluation
    status: str  # running, finished, failed, interrupted
    seed: int | None
    config: dict[str, Any]  # the resolved configuration (:class:`cmedl_bench.config.RunConfig`, as JSON)
    config_hash: str | None
    plugins: dict[str, Any]  # role -> provenance of the plugin that filled it
    dataset: DatasetRecord
    metrics: dict[str, dict[str, Any]]  # metric -> definition, unit, higher_is_better, digits, scope
    summary: dict[str, dict[str, dict[str, dict[str, Any]]]]  # split -> head -> metric -> mean, sd, n, flagged
    reference: dict[str, Any]  # split -> fingerprint of its reference masks
    files: dict[str, str]  # key -> path inside the run folder
    method: dict[str, Any] | None  # evaluation runs: the external method
    schema_version: int = SCHEMA_VERSION
    data: dict[str, Any] = field(default_factory=dict, repr=False)  # the JSON as read, for the fields not above

    @classmethod
    def read(cls, run_dir: Path) -> RunRecord | None:
        """The record of ``run_dir``, or None where it has no ``run.json``; unreadable JSON is a
        :class:`cmedl_bench.io.checkpoints.CorruptFileError`, a record of the wrong shape a :class:`RecordError`."""
        data = read_record(Path(run_dir))
        return None if data is None else cls.from_json(data, Path(run_dir))

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> RunRecord:
        for name, types in _TYPES.items():
            if name in data or name in ("run_id", "status"):
                if not isinstance(data.get(name), types):
                    raise RecordError(f"run.json field {name!r} is {type(data.get(name)).__name__}, not "
                                      f"{types[0].__name__}")
        version = data.get("schema_version", 1)
        if version > SCHEMA_VERSION:
            raise RecordError(f"run.json has schema version {version}; this cmedl-bench reads up to "
                              f"{SCHEMA_VERSION} (upgrade it)")
        kind = data.get("kind", "training")
        config = data.get("config") or {}
        if kind == "evaluation":
            if not isinstance((data.get("method") or {}).get("name"), str):
                raise RecordError("run.json has no method name")
        elif not all(isinstance(config.get(k), str) for k in ("translator", "segmenter", "fusion")):
            raise RecordError("run.json has no config with translator, segmenter and fusion names")
        dataset = {k: v for k, v in (data.get("dataset") or {}).items() if k in DatasetRecord.__dataclass_fields__}
        dataset["options"] = dataset.get("options") or {}
        return cls(Path(path), data["run_id"], kind, data["status"], data.get("seed"), config,
                   data.get("config_hash"), data.get("plugins") or {}, DatasetRecord(**dataset),
                   data.get("metrics") or {}, data.get("summary") or {}, data.get("reference") or {},
                   data.get("files") or {}, data.get("method"), version, data)

    @property
    def components(self) -> dict[str, str]:
        """translator, segmenter and fusion (an evaluation run: its method as the segmenter, fusion ``external``)."""
        if self.kind == "evaluation":
            return {"translator": "none", "segmenter": self.method["name"], "fusion": "external"}
        return {k: self.config[k] for k in ("translator", "segmenter", "fusion")}

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def preset_name(self) -> str | None:
        return (self.config.get("preset") or {}).get("name")

    def file(self, key: str, default: str) -> Path:
        """The run's file ``key`` (its ``files`` entry, else ``default``), checked to lie inside the run folder."""
        from cmedl_bench.data.identifiers import recorded_file

        return recorded_file(self.path, self.files.get(key) or default)
