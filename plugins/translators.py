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
