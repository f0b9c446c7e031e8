"""The GPU optimisations leave a CPU run as it was."""

import torch

from cmedl_bench.engine.performance import adam, optimise, to_device
from cmedl_bench.plugins import get_registry


def test_cpu_keeps_the_default_adam_and_memory_format():
    net = get_registry().get("segmenter", "unet").factory(in_channels=1, out_channels=1, width=0.125)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimise({"net": net}, torch.device("cpu"))
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    optimizer = adam(net.parameters(), 1e-3, torch.device("cpu"), betas=(0.5, 0.999))
    assert optimizer.defaults["fused"] is None and optimizer.defaults["betas"] == (0.5, 0.999)
    batch = torch.randn(2, 1, 8, 8)
    assert torch.equal(to_device(batch, torch.device("cpu")), batch)
