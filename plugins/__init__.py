"""Built-in cmedl-bench plugins, installed as ``cmedl_bench_plugins`` and discovered through the ``cmedl_bench``
entry-point group exactly as a third-party package would be. Registration modules (``datasets``, ``segmenters``,
``fusions``, ``metrics``) import no torch; the implementation modules they point to do.
"""
