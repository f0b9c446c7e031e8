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
    fidelity = {
        "tumour_cnr": ("tumour CNR against its surroundings in the pseudo-MRI", "", True,
                       "data contrast's CNR (core >= 2 mm inside, shell 1-7 mm outside, 5 mm from lung; MRI rules) "
                       "of the pseudo-MRI, CBCT label"),
        "tumour_contrast_ratio": ("pseudo-MRI tumour contrast / the MRI cohort's", "", True,
                                  "data contrast's contrast of the pseudo-MRI over the MRI training cohort's median; "
                                  "undefined where that cohort's median |CNR| < 1"),
        "tumour_contrast_vs_true": ("pseudo-MRI tumour contrast / the aligned true MRI's", "", True,
                                    "data contrast's contrast of the pseudo-MRI over that of the scan's aligned MRI; "
                                    "undefined where that MRI's |CNR| < 1"),
        "mae_body": ("MAE against the aligned true MRI inside the body", "", False,
                     "mean |pseudo-MRI - aligned MRI| in [-1, 1], body voxels"),
        "mae_tumour": ("MAE against the aligned true MRI around the tumour", "", False,
                       "mean |pseudo-MRI - aligned MRI| in [-1, 1], tumour and 10 mm around it, inside the body"),
        "ssim_body": ("SSIM against the aligned true MRI inside the body", "", True,
                      "SSIM (Wang 2004; Gaussian sigma 1.5 px per slice, K1 0.01, K2 0.03, range 2), body voxels"),
        "ssim_tumour": ("SSIM against the aligned true MRI around the tumour", "", True,
                        "SSIM as ssim_body, tumour and 10 mm around it, inside the body"),
    }
    for name, (description, unit, higher, definition) in fidelity.items():
        register(name, _factory(name, "translation_fidelity"), description=description,
                 info=MetricInfo(unit=unit, higher_is_better=higher, definition=definition, takes_case=True))
