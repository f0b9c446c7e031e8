"""cmedl-bench: a plugin-based benchmark for cross-modality learning in CBCT lung tumour segmentation.

Third-party plugins implement the hooks in :mod:`cmedl_bench.hookspecs` with :data:`hookimpl` and declare an
entry point in the ``cmedl_bench`` group; :func:`lazy` makes a factory that imports its module only when called.
"""

import pluggy

__version__ = "0.2.0"

hookimpl = pluggy.HookimplMarker("cmedl_bench")

from cmedl_bench.lazy import lazy  # noqa: E402  (after hookimpl: plugin modules import both)

__all__ = ["__version__", "hookimpl", "lazy"]
