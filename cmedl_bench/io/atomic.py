"""Atomic writes: readers see the old file or the new one, never half of one.

Every writer goes through :func:`atomic_write`: a uniquely named temporary file in the target's folder (so two
processes writing the same path never share a temporary name), the mode ``open()`` would have given, then
``os.replace``. A failure or an interruption removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask (mkstemp's own files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, write: Callable[[str], Any]) -> Path:
    """Call ``write(temporary_path)``, then move the file into ``path``; suffixes are kept so that writers that
    choose a format by file name (SimpleITK, matplotlib) see the right one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes))
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_torch_save(obj: Any, path: Path) -> Path:
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_parquet(frame, path: Path) -> Path:
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def standard_json(value: Any, indent: int | None = 2) -> str:
    """JSON that every parser reads: NaN and infinities (a metric that failed, a mean of nothing) become null
    instead of Python's non-standard ``NaN``; other objects are written as their text."""
    def clean(item: Any) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return json.dumps(clean(value), indent=indent, default=str, allow_nan=False)


def atomic_write_json(path: Path, value: Any) -> Path:
    """:func:`standard_json` of ``value``, written atomically."""
    return atomic_write_text(path, standard_json(value))
