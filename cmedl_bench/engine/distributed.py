"""Data-parallel training over several processes, one per GPU (``cmedl-bench run --gpus N``, or
``torchrun --nproc-per-node N -m cmedl_bench run ...``).

The fusions train several networks with several optimisers and call generators more than once per step (cycle
consistency), which ``DistributedDataParallel``'s one-forward-one-backward contract does not fit. So the
synchronisation is done at the optimiser, which every fusion already has:

- every rank draws the same global batch (same seeds) and keeps its own contiguous share (``shard``);
- before any optimiser steps, the gradients of its parameters are averaged over the ranks (an optimiser step pre-hook
  with one flattened all-reduce), so translator, discriminators and segmenters stay identical on every rank;
- losses that pool the whole batch before dividing (the soft Dice of eq. 5) pool across ranks too (``global_sum``,
  autograd-aware), so the loss and its gradient are those of the global batch; losses that are means over samples
  need nothing more;
- on CUDA, batch normalisation becomes ``SyncBatchNorm`` (statistics of the global batch). torch has no CPU
  implementation, so on CPU (gloo, for tests) batch-norm statistics stay per process;
- validation is split over the ranks and its mean all-reduced; only rank 0 writes checkpoints, records and
  predictions.

Known difference: the CycleGAN image pools keep per-rank histories, so translator training with pools is equivalent
to, not identical with, a single process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist

from cmedl_bench.errors import CmedlError


_local_depth = 0  # > 0 inside local(): this process computes on its own, even in a process group


def active() -> bool:
    return _local_depth == 0 and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextlib.contextmanager
def local():
    """Work that concerns this process alone (a plugin's contract probe) enters no collective inside this block,
    whether or not the process belongs to a group: the ranks need not run it in step."""
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def device_for_rank(requested: str | None) -> str | None:
    """On CUDA each rank takes the GPU of its local rank."""
    if not active() or not torch.cuda.is_available() or (requested and not requested.startswith("cuda")):
        return requested
    return f"cuda:{int(os.environ.get('LOCAL_RANK', rank()))}"


def shard(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This rank's contiguous share of a global batch."""
    if not active():
        return batch
    out = {}
    for name, tensor in batch.items():
        size = tensor.shape[0]
        if size % world_size():
            raise CmedlError(f"batch of {size} cannot be split over {world_size()} processes; use a batch size "
                             f"divisible by --gpus")
        share = size // world_size()
        out[name] = tensor[rank() * share:(rank() + 1) * share]
    return out


def global_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over the ranks, differentiable (its gradient is all-reduced as well)."""
    if not active():
        return tensor
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(tensor)


def global_mean(values: list[float]) -> float:
    """Mean of values spread over the ranks (e.g. per-volume validation DSC)."""
    total = torch.tensor([sum(values), len(values)], dtype=torch.float64)
    if active():
        dist.all_reduce(total)
    return float(total[0] / total[1]) if total[1] else float("nan")


def _average_gradients(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= world_size()
    for grad, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        grad.copy_(synced)


def synchronise(modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                device: torch.device) -> None:
    """Make the modules identical on every rank and keep them so (see the module docstring). Idempotent."""
    if not active():
        return
    for name, module in modules.items():
        if device.type == "cuda":
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)  # children in place; parameters are kept
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, 0)
    for optimizer in optimizers.values():
        if not getattr(optimizer, "_cmedl_synchronised", False):
            optimizer.register_step_pre_hook(_average_gradients)
            optimizer._cmedl_synchronised = True


def barrier() -> None:
    if active():
        dist.barrier()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _backend(cuda: bool) -> str:
    """NCCL for CUDA tensors (gradients, Dice sums, weights) and gloo for the few host-side values (the validation
    mean), one group: NCCL alone refuses CPU tensors."""
    return "cpu:gloo,cuda:nccl" if cuda else "gloo"


def _worker(local_rank: int, processes: int, port: int, cuda: bool, fn: Callable, args: tuple,
            result_path: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(local_rank),
                       "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(processes)})
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(_backend(cuda), rank=local_rank, world_size=processes)
    try:
        result = fn(*args)
        if local_rank == 0:
            Path(result_path).write_text(json.dumps(result, default=str))
    except CmedlError as exc:  # a known error stays one line in the parent, not a worker traceback
        Path(f"{result_path}.error{local_rank}").write_text(str(exc))
        raise SystemExit(2) from None
    finally:
        dist.destroy_process_group()


def launch(processes: int, cuda: bool, fn: Callable, *args: Any) -> Any:
    """Run ``fn(*args)`` in ``processes`` new processes forming one process group (NCCL on GPUs, else gloo);
    returns rank 0's return value (as JSON data). ``fn`` must be importable (spawned processes start from scratch)."""
    import torch.multiprocessing as mp

    if processes < 2:
        raise CmedlError("--gpus takes 2 or more processes")
    if cuda and torch.cuda.device_count() < processes:
        raise CmedlError(f"--gpus {processes}: only {torch.cuda.device_count()} CUDA device(s) visible")
    with tempfile.TemporaryDirectory() as folder:
        result_path = os.path.join(folder, "rank0.json")
        try:
            mp.start_processes(_worker, args=(processes, _free_port(), cuda, fn, args, result_path),
                               nprocs=processes, start_method="spawn")
        except mp.ProcessExitedException:
            errors = sorted(Path(folder).glob("rank0.json.error*"))
            if errors:
                raise CmedlError(errors[0].read_text()) from None
            raise
        return json.loads(Path(result_path).read_text())


def init_from_environment() -> None:
    """Join the process group that ``torchrun`` describes in the environment (RANK, WORLD_SIZE, MASTER_*)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(_backend(cuda))
