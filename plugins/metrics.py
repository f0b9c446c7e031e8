"""Registration of the built-in metrics (no heavy import here). Definitions: :mod:`cmedl_bench_plugins.surface_metrics`
and :mod:`cmedl_bench_plugins.detection_metrics`."""

from cmedl_bench.plugin import SURFACE_DICE_TOLERANCE_MM, MetricInfo, hookimpl


def _factory(name: str, module: str = "surface_metrics"):
    def factory():
        from importlib import import_module

        return getattr(import_module(f"cmedl_bench_plugins.{module}"), name)

    return factory


@hookimpl
def register_metrics(register):
    register("dsc", _factory("dsc"), description="Dice similarity coefficient on voxels",
             info=MetricInfo(unit="", higher_is_better=True,
                             definition="2|P&R|/(|P|+|R|); both empty 1, one empty 0"))
    register("sdsc", _factory("sdsc"), description=f"surface Dice at tau = {SURFACE_DICE_TOLERANCE_MM} mm",
             info=MetricInfo(unit="", higher_is_better=True,
                             definition=f"surface-distance compute_surface_dice_at_tolerance, tau "
                                        f"{SURFACE_DICE_TOLERANCE_MM} mm, corner-lattice surfels, area-weighted; "
                                        f"both empty 1, one empty 0"))
    register("hd95", _factory("hd95"), description="95th-percentile Hausdorff distance (mm)",
             info=MetricInfo(unit="mm", higher_is_better=False,
                             definition="surface-distance compute_robust_hausdorff(95): max of the two directed "
                                        "95th percentiles, area-weighted; both empty 0, one empty = volume "
                                        "diagonal in mm (penalty, flagged)"))
    register("fp", _factory("fp", "detection_metrics"),
             description=f"false-positive tumour components farther than {SURFACE_DICE_TOLERANCE_MM} mm",
             info=MetricInfo(unit="components", higher_is_better=False, digits=2,
                             definition=f"26-connected components of the prediction with no voxel within "
                                        f"{SURFACE_DICE_TOLERANCE_MM} mm of the reference (Euclidean, mm); empty "
                                        f"reference: every component"))


@hookimpl
def register_translation_metrics(register):
    register("kl", _factory("kl", "translation_metrics"),
             description="KL divergence of pseudo-MRI vs real MRI intensity histograms",
             info=MetricInfo(unit="nats", higher_is_better=False,
                             definition="D_KL(P_MRI || P_pseudo), body voxels, [-1, 1] range, 100 bins, add-one "
                                        "smoothing, natural log"))
