"""Example cmedl-bench plugin package, one component of each kind a research group typically adds:

- segmenter ``dilated-fcn``: a small dilated fully convolutional network (:mod:`.model`);
- translator ``histogram-match``: CBCT -> MRI by histogram matching, nothing to train (:mod:`.histogram`);
- metric ``assd``: average symmetric surface distance in mm (:mod:`.assd`);
- dataset ``folder``: serves a folder of scans given with ``--option source=FOLDER`` (:mod:`.folder`);
- fusion ``attention-transfer``: distillation by attention maps instead of CMEDL's feature distance
  (:mod:`.attention`).

Registration imports nothing heavy: factories are ``lazy`` references, resolved when a component is built.
"""

from cmedl_bench.plugin import DatasetInfo, FusionInfo, MetricInfo, SegmenterInfo, TranslatorInfo, hookimpl, lazy

#: the histogram-matching translator's default target: evenly spaced deciles in [-1, 1] (histogram equalisation)
DEFAULT_DECILES = ",".join(f"{-1 + i / 5:g}" for i in range(11))


@hookimpl
def register_segmenters(register):
    register("dilated-fcn", lazy("cmedl_bench_example.model:DilatedFCN"),
             description="small dilated fully convolutional network (example plugin)",
             info=SegmenterInfo(dims=2, hint_features=True))


@hookimpl
def register_translators(register):
    register("histogram-match", lazy("cmedl_bench_example.histogram:HistogramMatch"),
             description="CBCT -> MRI by per-slice histogram matching to target deciles; nothing to train",
             info=TranslatorInfo(options={"mri_deciles": DEFAULT_DECILES}))


@hookimpl
def register_metrics(register):
    register("assd", lazy("cmedl_bench_example.assd:build"),
             description="average symmetric surface distance (mm)",
             info=MetricInfo(unit="mm", higher_is_better=False, digits=2,
                             definition="mean of the two directed mean surface distances, surfel-area weighted"))


@hookimpl
def register_datasets(register):
    register("folder", lazy("cmedl_bench_example.folder:serve"),
             description="scans served from a folder (--option source=FOLDER)",
             info=DatasetInfo(version=1, options={"source": ""}))


@hookimpl
def register_fusions(register):
    register("attention-transfer", lazy("cmedl_bench_example.attention:AttentionTransfer"),
             description="teacher on pseudo-MRI, student on CBCT, attention maps transferred (Zagoruyko 2017)",
             info=FusionInfo(heads=("student", "teacher"), cohorts=("cbct", "mri"), needs_translator=True,
                             needs_hint_features=True, options={"beta": 1000.0}))
