"""The modality-pairwise CLIP objective: one symmetric CLIP loss per pair of three or more modalities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from ._common import check_embeddings, check_same_shape
from .clip import CLIPLoss


class PairwiseCLIP(nn.Module):
    r"""Modality-pairwise contrastive loss (Franceschini, Fini, Beyan, Conti, Arrigoni & Ricci, 2022,
    "Multimodal Emotion Recognition with Modality-Pairwise Unsupervised Contrastive Loss",
    arXiv:2207.11482): the CLIP loss summed over every unordered pair of the ``M >= 2`` modalities.

    .. math::
        \mathcal{L} = \sum_{a<b} \mathcal{L}_{\mathrm{CLIP}}(Z_a, Z_b),\qquad
        \mathcal{L}_{\mathrm{CLIP}}(A, B) = \frac{1}{2N}\sum_{i=1}^{N}\Big[
            -s_{ii} + \log\sum_{j} e^{s_{ij}} - s_{ii} + \log\sum_{j} e^{s_{ji}}\Big],\quad
        s_{ij} = \langle \hat a_i, \hat b_j\rangle/\tau

    Row ``i`` of every modality describes the same sample. Each pair is one :class:`CLIPLoss`
    (exact, streamed by the engine, no ``N x N`` matrix); the ``M(M-1)/2`` pair losses are summed,
    not averaged, as in the paper. One temperature is shared by every pair (``shared_temperature``,
    the default) or each pair gets its own.

    Args:
        temperature: initial :math:`\tau > 0` (default 0.07).
        learnable_temperature: make :math:`\tau` a parameter (default ``True``).
        num_modalities: ``M >= 2``, needed only with ``shared_temperature=False`` (one loss per pair).
        shared_temperature: one :math:`\tau` for every pair (default ``True``).
        **options: ``normalize``, ``backend``, ``tile_size``, ... of :class:`CLIPLoss`.
    Shapes:
        ``modalities``: a sequence or a ``{name: tensor}`` mapping of ``M`` tensors ``(N, d)``, all the
        same shape. A mapping keeps its insertion order.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs): the sum of the pair losses.
    Raises:
        ValueError: fewer than two modalities, a modality count other than ``num_modalities``,
        shapes that differ, non-finite input, ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.07, learnable_temperature: bool = True, *,
                 num_modalities: int | None = None, shared_temperature: bool = True, **options):
        super().__init__()
        if options.get("reduction", "mean") != "mean":
            raise ValueError("reduction: PairwiseCLIP supports only 'mean' (per-pair means, summed)")
        if num_modalities is not None and (isinstance(num_modalities, bool) or
                                           not isinstance(num_modalities, int) or num_modalities < 2):
            raise ValueError(f"num_modalities: expected an int >= 2, got {num_modalities!r}")
        if not shared_temperature and num_modalities is None:
            raise ValueError("num_modalities: needed when shared_temperature=False (one loss per pair)")
        self.num_modalities = num_modalities
        count = 1 if shared_temperature else num_modalities * (num_modalities - 1) // 2
        self.pair_losses = nn.ModuleList(
            CLIPLoss(temperature, learnable_temperature, **options) for _ in range(count))

    def pairs(self, m: int) -> list[tuple[int, int]]:
        """The unordered pairs ``(a, b)``, ``a < b``, in the order their losses are summed."""
        return [(a, b) for a in range(m) for b in range(a + 1, m)]

    def forward(self, modalities: Sequence[Tensor] | Mapping[str, Tensor]) -> Tensor:
        if isinstance(modalities, Mapping):
            names, tensors = [str(k) for k in modalities], list(modalities.values())
        elif isinstance(modalities, Sequence) and not isinstance(modalities, Tensor):
            names, tensors = [f"modalities[{i}]" for i in range(len(modalities))], list(modalities)
        else:
            raise ValueError(f"modalities: expected a sequence or mapping of (N, d) tensors, "
                             f"got {type(modalities).__name__}")
        if len(tensors) < 2:
            raise ValueError(f"modalities: expected at least 2 tensors, got {len(tensors)}")
        if self.num_modalities is not None and len(tensors) != self.num_modalities:
            raise ValueError(f"modalities: expected {self.num_modalities} tensors (num_modalities), "
                             f"got {len(tensors)}")
        for name, x in zip(names, tensors):
            check_embeddings(name, x)
            check_same_shape(names[0], tensors[0], name, x)
        if tensors[0].shape[0] < 2:
            raise ValueError(f"{names[0]}: expected at least 2 instances (the loss needs negatives), "
                             f"got {tensors[0].shape[0]}")
        total = None
        for index, (a, b) in enumerate(self.pairs(len(tensors))):
            loss = self.pair_losses[index % len(self.pair_losses)]
            value = loss(tensors[a], tensors[b])
            total = value if total is None else total + value
        return total
