"""Registration of the built-in translators (no torch import here)."""

from cmedl_bench import hookimpl


def _cycle(spec):
    from cmedl_bench_plugins.cyclegan import build_cycle

    return build_cycle(spec)


def _cx(spec):
    from cmedl_bench_plugins.cyclegan import build_cx

    return build_cx(spec)


def _unit(spec):
    from cmedl_bench_plugins.unit import build

    return build(spec)


@hookimpl
def register_translators(register):
    caps = {"dims": 2, "channels": 1}
    register("cycle", _cycle, description="CycleGAN: ResNet-9 generators, 70x70 PatchGAN (paper eq. 1-2)",
             capabilities=caps | {"paper_parameters": {"generator": 11_365_633, "discriminator": 2_763_585}})
    register("unit", _unit, description="UNIT: coupled VAE-GANs with a shared latent space, multi-scale critics",
             capabilities=caps)
    register("cx", _cx, description="CMEDL-CX: CycleGAN + contextual loss on VGG19 features (paper eq. 3-4)",
             capabilities=caps | {"uses_vgg19": True})
