"""cmedl-bench: a plugin-based benchmark for cross-modality learning in CBCT lung tumour segmentation.

Third-party plugins implement the hooks in :mod:`cmedl_bench.hookspecs` with :data:`hookimpl` and declare an
entry point in the ``cmedl_bench`` group.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("cmedl_bench")

__all__ = ["__version__", "hookimpl"]
