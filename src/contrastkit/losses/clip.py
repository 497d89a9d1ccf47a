"""CLIP's symmetric image-text contrastive loss, as InfoNCE in both directions."""

from __future__ import annotations

from torch import Tensor

from ._common import check_embeddings, check_same_shape
from ._views import check_min_rows
from .infonce import InfoNCE


class CLIPLoss(InfoNCE):
    r"""CLIP loss (Radford et al., 2021, "Learning Transferable Visual Models From Natural Language
    Supervision", arXiv:2103.00020, Figure 3): symmetric InfoNCE between two modalities.

    .. math::
        \mathcal{L} = \frac{1}{2N}\sum_{i=1}^{N}\Big[
            \Big(-s_{ii} + \log\sum_{j=1}^{N} e^{s_{ij}}\Big)
          + \Big(-s_{ii} + \log\sum_{j=1}^{N} e^{s_{ji}}\Big)\Big],\qquad
        s_{ij} = \langle \hat a_i, \hat b_j\rangle / \tau

    Row ``i`` of ``a`` is paired with row ``i`` of ``b``; every other row of the other modality is a
    negative. This is :class:`InfoNCE` with ``symmetric=True``; the temperature is learnable by
    default and stored as :math:`\log\tau` (CLIP's ``logit_scale`` is :math:`1/\tau`).

    Args:
        temperature: initial :math:`\tau > 0` (default 0.07, CLIP's initialisation).
        learnable_temperature: make :math:`\tau` a parameter (default ``True``).
        normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
    Shapes:
        a ``(N, d)``, b ``(N, d)``; ``reduction="none"`` returns ``(N,)``, the mean of the two
        directions for each pair.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.07, learnable_temperature: bool = True, **options):
        super().__init__(temperature, symmetric=True,
                         learnable_temperature=learnable_temperature, **options)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        # Validate under this loss's argument names before InfoNCE sees them as query/key.
        check_embeddings("a", a)
        check_embeddings("b", b)
        check_same_shape("a", a, "b", b)
        if not self.gather_distributed:  # gathered, InfoNCE counts every rank's rows
            check_min_rows("a", a, 2)
        return super().forward(a, b)
