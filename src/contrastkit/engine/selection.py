"""How ``backend="auto"`` chooses between the materialised and the streaming engine.

The reference path holds the ``N x M`` logits plus masks and autograd temporaries, about
:data:`BYTES_PER_PAIR` bytes per pair; on small problems it is as fast as or faster than streaming
(one large matmul, no per-tile overhead). Once that estimate exceeds the device's threshold the
streaming path is chosen: from there the materialised path is memory-bound, and soon does not fit.
"""

from __future__ import annotations

import torch

#: estimated bytes per (anchor, candidate) pair of the materialised path, forward + backward.
BYTES_PER_PAIR = 24
#: estimated materialised memory above which ``auto`` streams, per device type.
STREAMING_THRESHOLD_BYTES = {"cpu": 64 * 2**20, "cuda": 256 * 2**20}


def materialised_bytes(num_anchors: int, num_candidates: int) -> int:
    """Estimated peak bytes the reference backend needs beyond its inputs."""
    return BYTES_PER_PAIR * num_anchors * num_candidates


def prefers_streaming(num_anchors: int, num_candidates: int, dim: int, device: torch.device) -> bool:
    """``True`` when the materialised path's estimated memory exceeds the device's threshold."""
    threshold = STREAMING_THRESHOLD_BYTES.get(device.type, STREAMING_THRESHOLD_BYTES["cuda"])
    return materialised_bytes(num_anchors, num_candidates) > threshold
