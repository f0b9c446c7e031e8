"""Case, patient and split identifiers are data, never paths.

An identifier names a file (``CASE_0000.nii.gz``, ``predictions/HEAD/CASE.nii.gz``), so one that held a separator or
was ``.``/``..`` could make a verb read or write outside its folder. Every identifier that reaches a path passes
:func:`require_id` first (``data import``, ``data check``, ``run``, ``evaluate``), and every path built from one is
checked by :func:`inside` to stay under its root, so a mistake here cannot become a write elsewhere.

The character set is nnU-Net's practice for case identifiers (letters, digits, ``_``, ``-``, ``.``), starting with
a letter or digit so that no identifier is hidden, relative or empty.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from cmedl_bench.errors import CmedlError

MAX_ID_LENGTH = 128
_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_ID_LENGTH - 1}}}")


def id_problem(value: object) -> str | None:
    """Why ``value`` is not a usable identifier, or None when it is."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not _ID.fullmatch(value):
        return (f"{value!r} is not a valid identifier (letters, digits, '_', '-' and '.', starting with a letter or "
                f"digit, at most {MAX_ID_LENGTH} characters)")
    return None


def require_id(kind: str, value: object, where: object = None) -> str:
    """``value`` when it is a valid identifier; else a one-line error naming the kind and where it came from."""
    problem = id_problem(value)
    if problem:
        raise CmedlError(f"{where}: {kind} id {problem}" if where else f"{kind} id {problem}")
    return value  # type: ignore[return-value]


#: hexadecimal digits of the digest that keeps identifiers made from different texts apart
_DIGEST_LENGTH = 6


def sanitise_id(text: str, kind: str, hint: str) -> str:
    """An identifier made from free text (a DICOM PatientID, a file name). Text that is already an identifier is
    kept; otherwise letters are transliterated to ASCII (``Zoë`` -> ``Zoe``, Unicode decomposition without its
    combining marks), other characters outside the set become ``-``, and a digest of the original text is appended
    (``Zoe-Unal-3fa9c1``), so that two texts never give one identifier (``Zoë`` and ``Zoé`` would both read
    ``Zoe``). Text that leaves nothing usable (``..``, ``/``) is an error with ``hint`` saying what to pass."""
    if not id_problem(text):
        return text
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_text).lstrip("-._").rstrip("-")
    if id_problem(cleaned[:MAX_ID_LENGTH]):
        raise CmedlError(f"{kind} {text!r} gives no usable identifier; {hint}")
    digest = hashlib.sha1(text.encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{cleaned[:MAX_ID_LENGTH - _DIGEST_LENGTH - 1]}-{digest}"


#: a trailing visit of a case id: a week, visit, fraction, time point, day, scan or session number, or a date
#: (``C000W1``, ``P01_week3``, ``pat2-V02``, ``LUNG-7_fx12``, ``A17_20240301``, ``A17-2024-03-01``)
_VISIT = re.compile(r"^(?P<stem>.*?[A-Za-z0-9])(?:[_.-]?(?:w|wk|week|v|visit|fx|fraction|tp|timepoint|day|scan|session"
                    r"|ses)[_-]?\d{1,3}|[_.-](?:\d{8}|\d{4}-\d{2}-\d{2}))$", re.IGNORECASE)


def visit_stem(case_id: str) -> str | None:
    """The patient part of a case id that ends in a visit (:data:`_VISIT`), or None when it names no visit: the
    weekly scans ``C000W1`` and ``C000W2`` share the stem ``C000``."""
    match = _VISIT.match(case_id)
    return match.group("stem") if match else None


def inside(root: Path, path: Path, action: str = "write") -> Path:
    """``path`` when it resolves to a place under ``root`` (links followed); else an error naming both."""
    resolved_root = Path(root).resolve()
    resolved = Path(path).resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise CmedlError(f"refusing to {action} {path}: it lies outside {root}")
    return Path(path)


def recorded_file(folder: Path, name: object) -> Path:
    """The file a record (``run.json``'s ``files``, say) names, resolved inside the record's ``folder``: a name
    that is not a relative path, climbs out with ``..`` or reaches out through a link is an error, so a record
    edited by someone else can never make a verb read (and publish) a file outside its folder."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        raise CmedlError(f"refusing to read {name!r} named in {folder}: not a path relative to that folder")
    return inside(folder, Path(folder) / name, "read")
