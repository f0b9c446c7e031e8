"""Device selection and mixed precision."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch


def select_device(requested: str | None = None) -> torch.device:
    """``requested`` if given ('cpu', 'cuda', 'cuda:1'), else CUDA when present, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (when ``enabled``); full precision elsewhere (CPU results must not change)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_epoch(*key: int) -> tuple[np.random.Generator, torch.Generator]:
    """The random sources of one training epoch, a function of ``key`` (the run's seed, the epoch and, for a
    stream of its own, a constant) alone: a NumPy generator for the crops and a CPU torch generator for the
    augmentation, seeded from its first draw. The global generators (what ``nn.Dropout``, a sampled latent, or a
    plugin's ``torch.randn`` draw from) are reseeded from an independent child of ``key``, so that a run resumed
    at this epoch trains exactly as one that was never interrupted."""
    sequence = np.random.SeedSequence(list(key))
    rng = np.random.default_rng(sequence)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    (child,) = sequence.spawn(1)
    seed_everything(int(np.random.default_rng(child).integers(2**62)))
    return rng, generator


def apply_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to ``requested`` (a run request's ``threads``), else to
    :func:`cmedl_bench.settings.threads` where it is given; returns the number in use (recorded with the run)."""
    from cmedl_bench.errors import CmedlError
    from cmedl_bench.settings import THREADS_VARIABLE, threads

    wanted = str(requested) if requested is not None else threads()
    if wanted is None:
        return torch.get_num_threads()
    if not wanted.isdigit() or int(wanted) < 1:
        raise CmedlError(f"{THREADS_VARIABLE} / --threads must be a whole number of at least 1, not {wanted!r}")
    if int(wanted) != torch.get_num_threads():
        torch.set_num_threads(int(wanted))
    return torch.get_num_threads()


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, float | str]:
    """Peak memory of this run: CUDA's allocator peak on a GPU; the process's maximum resident set elsewhere (CPU
    tensors are not tracked by torch's allocator, and the resident set includes the data). On Linux the maximum is
    the process's own high-water mark (``VmHWM`` in ``/proc/self/status``): ``getrusage``'s ``ru_maxrss`` carries
    the parent's resident set across fork and exec (a run started from a large process reported the parent's)."""
    if device.type == "cuda":
        return {"peak_memory_mib": torch.cuda.max_memory_allocated(device) / 2**20, "kind": "cuda max allocated"}
    try:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError, IndexError):
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux; elsewhere the best there is
    return {"peak_memory_mib": kib / 1024, "kind": "process max RSS"}


def describe(device: torch.device) -> dict[str, str | int]:
    """What a run record says about the device it ran on: its type and name, torch's threads, and the processor with
    the vector instructions torch's CPU kernels chose (``cpu_capability``: AVX2, AVX512, ...). Runs of one seed on
    processors with different capabilities take different kernels, whose sums round differently, so their metrics
    can differ; these fields say where such a difference can come from."""
    return {"type": device.type, "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "threads": torch.get_num_threads(), "processor": processor_name(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def processor_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows of it."""
    import platform

    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
