"""Registration of the built-in translators (no torch import here)."""

from cmedl_bench.plugin import TranslatorInfo, hookimpl, lazy


@hookimpl
def register_translators(register):
    register("cycle", lazy("cmedl_bench_plugins.cyclegan:build_cycle"),
             description="CycleGAN: ResNet-9 generators, 70x70 PatchGAN (paper eq. 1-2)",
             info=TranslatorInfo(options={"gan_mode": "log"},
                                 paper_parameters={"generator": 11_365_633, "discriminator": 2_763_585}))
    register("unit", lazy("cmedl_bench_plugins.unit:build"),
             description="UNIT: coupled VAE-GANs with a shared latent space, multi-scale critics",
             info=TranslatorInfo(options={"gan_mode": "log"}))
    register("cx", lazy("cmedl_bench_plugins.cyclegan:build_cx"),
             description="CMEDL-CX: CycleGAN + contextual loss on VGG19 features (paper eq. 3-4)",
             info=TranslatorInfo(uses_vgg19=True, options={"gan_mode": "log", "vgg19": None}))
    register("oracle", lazy("cmedl_bench_plugins.reference_translators:build_oracle"),
             description="reference: perfect translation, the aligned true MRI of each CBCT crop (needs aligned MRI)",
             info=TranslatorInfo(needs_aligned_mri=True))
    register("identity", lazy("cmedl_bench_plugins.reference_translators:build_identity"),
             description="reference: no translation, the CBCT itself (with hint: self-distillation, no MRI)",
             info=TranslatorInfo())
