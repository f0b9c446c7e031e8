"""Experiment tracking: loggers (plugins of kind ``logger``, hook ``register_loggers``) that follow a run while it
trains, selected with ``run --log NAME[,NAME]`` (or ``CMEDL_BENCH_LOG``). Nothing is logged without the flag, and a
logger never changes a result: it is not part of the configuration hash; ``run.json`` lists the loggers used.

The engine builds each selected logger when training starts (``factory(run_dir, record)``, the record holding the
resolved configuration), calls :meth:`Logger.epoch` after every epoch with the epoch's row of ``history.json``
(``train_<loss>`` and ``val_dsc...`` values) and :meth:`Logger.finish` once the run folder is finished. Names and
required modules are checked before any data are read: an unknown logger or a missing package is one line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from cmedl_bench.errors import CmedlError


class Logger:
    """Base class of a logger plugin; both methods may be left as they are."""

    def __init__(self, run_dir: Path, record: dict[str, Any]):
        self.run_dir = Path(run_dir)
        self.record = record

    def epoch(self, epoch: int, values: dict[str, float]) -> None:
        """After epoch ``epoch`` (counted from 1): the epoch's losses and validation DSC."""

    def finish(self, record: dict[str, Any]) -> None:
        """Once the run is finished: its final record (summary, timings); files lie in ``self.run_dir``."""


def selected_loggers(registry, names: tuple[str, ...]) -> list:
    """The logger components named, checked: known names, and their required modules importable."""
    components = []
    for name in names:
        component = registry.get("logger", name)
        missing = [module for module in component.info.requires if importlib.util.find_spec(module) is None]
        if missing:
            extra = f" (pip install 'cmedl-bench[{component.info.extra}]')" if component.info.extra else ""
            raise CmedlError(f"--log {name} needs {', '.join(missing)}, which is not installed{extra}")
        components.append(component)
    return components


def parse_log(text: str | None) -> tuple[str, ...]:
    """``"tensorboard,mlflow"`` -> ``("tensorboard", "mlflow")`` (no repeats, order kept)."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    return tuple(dict.fromkeys(names))
