"""Process-group helpers: the trainer runs as one process or under ``torchrun`` unchanged.

Rank and world size are read from ``torch.distributed`` when a group is initialised and default
to a single process; :func:`init_from_environment` starts the group when ``torchrun`` set
``WORLD_SIZE > 1``.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..scale.distributed import rank, world_size  # noqa: F401 (re-exported: defined once, in scale)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def broadcast_object(value):
    """Rank 0's ``value`` on every rank."""
    if not is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def init_from_environment(device: torch.device) -> bool:
    """Initialise the default group from torchrun's environment variables; returns whether this
    is a multi-process run. Uses NCCL on CUDA and gloo on CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_initialized():
        return is_initialized()
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return True


def local_device(requested: str) -> torch.device:
    """``auto`` -> CUDA when present (``cuda:LOCAL_RANK`` under torchrun), else CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("run.device = 'cuda': no CUDA device is available")
        requested = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available() or device.index >= torch.cuda.device_count():
            raise ValueError(f"run.device = {requested!r}: no such CUDA device")
        torch.cuda.set_device(device)
    return device


def shutdown() -> None:
    if is_initialized():
        dist.destroy_process_group()
