"""Digests of JSON-like data: the SHA-256 of its canonical JSON (keys sorted, no spaces), so equal content gives
the same digest whatever the key order. Run folders, pooled report setups and cached dataset variants are named
by it."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def json_digest(value: Any) -> str:
    """Hex SHA-256 of ``value`` as canonical JSON; what JSON cannot hold (a path, a date) enters as its text."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
