"""The GPU optimisations leave a CPU run as it was, and their transformations, run on the CPU, keep the results."""

import pytest
import torch

from cmedl_bench.engine.performance import (adam, channels_last_format, load_optimiser_state, tune_for_device,
                                            to_channels_last, to_device)
from cmedl_bench.registry import get_registry


def test_cpu_keeps_the_default_adam_and_memory_format():
    net = get_registry().get("segmenter", "unet").factory(in_channels=1, out_channels=1, width=0.125)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    tune_for_device({"net": net}, torch.device("cpu"))
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    optimizer = adam(net.parameters(), 1e-3, torch.device("cpu"), betas=(0.5, 0.999))
    assert optimizer.defaults["fused"] is None and optimizer.defaults["betas"] == (0.5, 0.999)
    batch = torch.randn(2, 1, 8, 8)
    assert torch.equal(to_device(batch, torch.device("cpu")), batch)


def _segmenter(name: str) -> torch.nn.Module:
    return get_registry().get("segmenter", name).factory(in_channels=1, out_channels=1, width=0.125).eval()


@pytest.mark.parametrize("name, shape", [("unet", (2, 1, 32, 32)), ("densefcn57", (2, 1, 32, 32)),
                                         ("unet3d", (1, 1, 8, 32, 32))])
def test_channels_last_keeps_every_network_s_output(name, shape):
    """What ``tune_for_device`` does on CUDA, run on the CPU: 2D weights NHWC, 3D weights NDHWC (``Module.to`` would refuse
    the 3DUnet), same outputs."""
    net = _segmenter(name)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = net(x)
        to_channels_last(net)
        after = net(x.contiguous(memory_format=channels_last_format(x)))
    convs = [m.weight for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    assert convs and all(w.is_contiguous(memory_format=channels_last_format(w)) for w in convs)
    assert any(w.dim() == 5 for w in convs) == (name == "unet3d")
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_resumed_moments_take_the_layout_of_their_parameters():
    """A checkpoint written with contiguous weights (e.g. on the CPU) resumed into channels-last ones: fused Adam on
    CUDA refuses moments whose strides differ from the parameter's."""
    source = torch.nn.Conv2d(4, 8, 3)
    optimizer = torch.optim.Adam(source.parameters(), lr=1e-3)
    source(torch.randn(2, 4, 8, 8)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    target = to_channels_last(torch.nn.Conv2d(4, 8, 3))
    resumed = torch.optim.Adam(target.parameters(), lr=1e-3)
    load_optimiser_state(resumed, saved)
    moments = resumed.state[target.weight]
    assert target.weight.stride() != source.weight.stride()
    for key in ("exp_avg", "exp_avg_sq"):
        assert moments[key].stride() == target.weight.stride()
        torch.testing.assert_close(moments[key], optimizer.state[source.weight][key], rtol=0, atol=0)


def test_contextual_loss_is_computed_in_full_precision_under_autocast():
    """bf16 affinities lose the small distances that decide the winning positions; the loss opts out of
    autocast, so its value and gradients equal the fp32 ones inside a bf16 region."""
    from cmedl_bench_plugins.contextual import contextual_loss

    generator = torch.Generator().manual_seed(0)
    target = torch.relu(torch.randn(2, 64, 12, 12, generator=generator))
    generated = torch.relu(target + 0.05 * torch.randn(2, 64, 12, 12, generator=generator))
    results = []
    for autocast in (False, True):
        leaf = generated.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = contextual_loss([leaf], [target])
            loss.backward()
        results.append((loss.detach(), leaf.grad))
    assert results[1][0].dtype == torch.float32
    torch.testing.assert_close(results[1], results[0], rtol=0, atol=0)


@pytest.mark.skipif(not __import__("pathlib").Path("/proc/self/status").exists(), reason="Linux /proc")
def test_a_runs_peak_memory_is_its_own_not_its_parents():
    """``getrusage``'s maximum resident set survives fork and exec; the recorded peak must not."""
    import subprocess
    import sys

    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # resident in the parent
    child = ("import json, torch; from cmedl_bench.engine.devices import peak_memory; "
             "print(json.dumps(peak_memory(torch.device('cpu'))))")
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    recorded = __import__("json").loads(done.stdout)["peak_memory_mib"]
    assert recorded < 400, f"the child reported {recorded:.0f} MiB: its parent's resident set"
    del ballast
