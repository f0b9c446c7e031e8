"""Hook specifications. Each hook receives a ``register`` callback (the simonw/llm pattern).

``register(name, factory, *, description, info=None)`` adds one component; ``info`` is the kind's record of
:mod:`cmedl_bench.info` (defaults when omitted). Factories must import heavy libraries (torch) inside their body
so that listing plugins stays cheap.
"""

import pluggy

#: the version of the plugin interface (:mod:`cmedl_bench.plugin`, these hooks, the info records): part of every
#: run's configuration hash. Policy (docs/writing-plugins.md, "Versions"): from 1.0 an incompatible change comes
#: only with a new major version, and the form it replaces first warns (DeprecationWarning) for at least one minor
#: release; additions come in minor releases.
PLUGIN_API_VERSION = "1.1"

hookspec = pluggy.HookspecMarker("cmedl_bench")


@hookspec
def register_translators(register):
    """Register CBCT <-> MRI translators. Factory: ``factory(spec: TranslatorSpec) -> Translator``."""


@hookspec
def register_segmenters(register):
    """Register segmenters. Factory: ``factory(in_channels, out_channels, width) -> torch.nn.Module`` whose
    ``forward(x, return_features=False)`` returns logits, or ``(logits, [penultimate, last])`` decoder features."""


@hookspec
def register_fusions(register):
    """Register fusion strategies (training recipes). Factory: ``factory(spec: FusionSpec) -> Fusion``."""


@hookspec
def register_datasets(register):
    """Register datasets that can be generated. Factory: ``factory(root, seed=0, size="full", progress=None)``
    writes the dataset in the cmedl-bench layout (:mod:`cmedl_bench.data.layout`) and returns its folder;
    ``progress(total)`` is called once per written case. Capabilities: ``version`` (recorded with every run),
    ``sizes``, and optionally ``isodense_control``: a callable ``(root, case_id) -> (z, y, x) array`` that renders a
    generated CBCT case again with the tumour isodense to its surroundings (``cmedl-bench data contrast`` uses it to
    show what the acquisition alone does to the tumour's contrast)."""


@hookspec
def register_metrics(register):
    """Register per-case segmentation metrics. Factory: ``factory() -> callable(case: ScoredCase) -> MetricValue``.
    Info: :class:`cmedl_bench.info.MetricInfo`."""


@hookspec
def register_translation_metrics(register):
    """Register translation metrics, scored per validation and test case on pseudo-MRI. Factory: ``factory() ->
    callable(translated: ndarray, reference: ndarray) -> MetricValue``, both 1D arrays of body-voxel intensities in
    [-1, 1] (the case's pseudo-MRI; the MRI training cohort's). Info: :class:`cmedl_bench.info.MetricInfo`."""


@hookspec
def register_launchers(register):
    """Register sweep launchers. Factory: ``factory(options: dict[str, str]) -> cmedl_bench.launch.Launcher``."""


@hookspec
def register_loggers(register):
    """Register experiment trackers, selected with ``run --log NAME[,NAME]``. Factory: ``factory(run_dir, record) ->
    cmedl_bench.tracking.Logger``, called when a run starts training; the engine then calls its ``epoch`` after every
    epoch and ``finish`` once the run is finished. Info: :class:`cmedl_bench.info.LoggerInfo`."""
