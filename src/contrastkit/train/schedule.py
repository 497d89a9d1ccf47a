r"""Learning-rate schedule: linear warm-up, then cosine decay (or constant).

The rate is a pure function of the step, so resuming a run needs only the step number.
Cosine decay follows SGDR (Loshchilov & Hutter, 2017, arXiv:1608.03983, Eq. 5) without restarts:

.. math::
    \eta_t = \eta_{min} + \tfrac12(\eta_{max} - \eta_{min})(1 + \cos(\pi\, t' / T')),

with :math:`t'` and :math:`T'` counted after the warm-up steps.
"""

from __future__ import annotations

import math


def learning_rate(
    step: int,
    *,
    peak: float,
    total_steps: int,
    warmup_steps: int = 0,
    schedule: str = "cosine",
    min_ratio: float = 0.0,
) -> float:
    """LR for optimizer step ``step`` (0-based): ``peak * (step + 1) / warmup_steps`` during the
    warm-up, then ``peak`` (constant) or the cosine decay from ``peak`` to ``min_ratio * peak`` at
    the last step."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if schedule == "constant":
        return peak
    if schedule != "cosine":
        raise ValueError(f"schedule: expected 'cosine' or 'constant', got {schedule!r}")
    span = max(total_steps - warmup_steps - 1, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    low = peak * min_ratio
    return low + 0.5 * (peak - low) * (1 + math.cos(math.pi * progress))
