"""Staging folders: work is written beside its destination and moved into place only when complete.

Each staging folder records the process that owns it (:data:`OWNER`). A later start of the same work removes the
staging folders whose owner has died (killed before it could clean up, even by SIGKILL) and leaves a running one's
alone; a folder too young to hold its owner record yet (:data:`GRACE_S`) is left alone too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

OWNER = ".owner-pid"
#: seconds a staging folder without an owner record is taken to be still starting
GRACE_S = 60.0


def _owner_alive(folder: Path) -> bool:
    try:
        owner = int((folder / OWNER).read_text())
    except (OSError, ValueError):
        try:
            return time.time() - folder.stat().st_mtime < GRACE_S
        except OSError:
            return False
    try:
        os.kill(owner, 0)  # signal 0 only asks whether the process exists
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True


def remove_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove the staging folders ``parent/prefix*`` whose owner no longer runs; returns them."""
    removed = []
    for folder in Path(parent).glob(f"{prefix}*"):
        if folder.is_dir() and not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def new_staging(parent: Path, prefix: str) -> Path:
    """A new, empty staging folder ``parent/prefix<random>`` owned by this process (stale ones removed first)."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    remove_stale(parent, prefix)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (folder / OWNER).write_text(str(os.getpid()))
    return folder
