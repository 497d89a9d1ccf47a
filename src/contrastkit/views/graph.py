r"""Views of an interaction graph: edge dropout.

LightGCL (Cai, Huang, Xia, Ren, 2023, arXiv:2302.08191; official ``utils.py`` ``sparse_dropout``)
perturbs the normalised adjacency by dropping each stored entry independently with probability
``p`` and rescaling the kept ones, exactly as ``torch.nn.functional.dropout`` on its values:

.. math::
    \tilde A'_{ui} = \frac{m_{ui}}{1 - p}\,\tilde A_{ui}, \qquad m_{ui} \sim \text{Bernoulli}(1 - p)

The official code keeps the dropped entries as explicit zeros; here they are removed from the sparse
tensor (same matrix, less work).
"""

from __future__ import annotations

import torch
from torch import Tensor


def dropout_edges(adjacency: Tensor, p: float, *, rescale: bool = True,
                  generator: torch.Generator | None = None) -> Tensor:
    """Drop each stored entry of a sparse COO matrix with probability ``p``.

    Args:
        adjacency: sparse COO tensor (2-D), e.g. the normalised user x item matrix.
        p: drop probability in ``[0, 1)``; ``p = 0`` returns ``adjacency`` itself.
        rescale: divide kept values by ``1 - p`` (LightGCL; keeps the expectation).
        generator: source of randomness (a ``torch.Generator`` on the tensor's device).
    Returns:
        A coalesced sparse COO tensor of the same shape with the kept entries.
    Raises:
        ValueError: for a dense or non-2-D ``adjacency`` or ``p`` outside ``[0, 1)``.
    """
    if not isinstance(adjacency, Tensor) or adjacency.layout != torch.sparse_coo or adjacency.dim() != 2:
        raise ValueError("adjacency: expected a 2-D sparse COO tensor")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p: expected a probability in [0, 1), got {p!r}")
    if p == 0.0:
        return adjacency
    adjacency = adjacency.coalesce()
    values = adjacency.values()
    device = values.device if generator is None else generator.device
    keep = (torch.rand(values.shape, generator=generator, device=device) >= p).to(values.device)
    kept = values[keep] / (1.0 - p) if rescale else values[keep]
    return torch.sparse_coo_tensor(adjacency.indices()[:, keep], kept, adjacency.shape,
                                   is_coalesced=True, check_invariants=False)
