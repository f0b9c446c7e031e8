"""Lazy factories for plugin registrations, so that discovering plugins never imports torch."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy(target: str) -> Callable[..., Any]:
    """A factory that imports ``"package.module:callable"`` when first called and forwards its arguments."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"lazy() takes 'package.module:callable', not {target!r}")

    def factory(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    factory.__qualname__ = factory.__name__ = f"lazy({target})"
    return factory
