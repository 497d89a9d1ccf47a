r"""Momentum (EMA) key encoder of MoCo.

He, Fan, Wu, Xie & Girshick, 2020, "Momentum Contrast for Unsupervised Visual Representation
Learning", arXiv:1911.05722, Eq. 2; the cosine schedule of the momentum as in BYOL (Grill et al., 2020,
arXiv:2006.07733, Sec. 3.2) and MoCo v3 (Chen, Xie & He, 2021, arXiv:2104.02057, Sec. 4).

.. math::
    \theta_k \leftarrow m_t\,\theta_k + (1 - m_t)\,\theta_q,\qquad
    m_t = \begin{cases} m_0 & \text{constant}\\
          1 - (1 - m_0)\,\frac{\cos(\pi t / T) + 1}{2} & \text{cosine, } t \le T \end{cases}
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

SCHEDULES = ("constant", "cosine")


class MomentumEncoder(nn.Module):
    r"""An exponential moving average of an encoder's parameters, used without gradient.

    Args:
        encoder: the online encoder; a deep copy of it becomes the momentum encoder.
        momentum: :math:`m_0 \in [0, 1]` (MoCo: 0.999; MoCo v3: 0.99 with the cosine schedule).
        schedule: ``"constant"`` or ``"cosine"`` (:math:`m_t` rises from :math:`m_0` to 1 over
            ``total_steps`` updates, then stays at 1).
        total_steps: :math:`T`, required for ``"cosine"``.

    The copy's parameters never require grad. :meth:`update` takes the online encoder (a DDP
    wrapper is unwrapped) and moves every parameter towards it; buffers (e.g. BatchNorm running
    statistics) are the copy's own, updated by its forward passes as in MoCo. The state dict holds
    the copy and the step counter, so the schedule resumes where a checkpoint left it.

    Raises:
        ValueError: for a momentum outside [0, 1], an unknown schedule, a missing ``total_steps``,
        or an online encoder whose parameters do not match the copy's.
    """

    def __init__(self, encoder: nn.Module, momentum: float = 0.999, *, schedule: str = "constant",
                 total_steps: int | None = None):
        super().__init__()
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1], got {momentum}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
        if schedule == "cosine" and (not isinstance(total_steps, int) or total_steps < 1):
            raise ValueError(f"total_steps: the cosine schedule needs a positive int, got {total_steps!r}")
        self.base_momentum = momentum
        self.schedule = schedule
        self.total_steps = total_steps
        self.encoder = copy.deepcopy(_unwrap(encoder))
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def momentum(self) -> float:
        """:math:`m_t` for the next update."""
        if self.schedule == "constant":
            return self.base_momentum
        progress = min(int(self.step), self.total_steps) / self.total_steps
        return 1.0 - (1.0 - self.base_momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0

    @torch.no_grad()
    def update(self, online: nn.Module) -> float:
        """Move the copy towards ``online``; returns the momentum used and advances the step."""
        m = self.momentum()
        mine = list(self.encoder.named_parameters())
        theirs = list(_unwrap(online).named_parameters())
        if [name for name, _ in mine] != [name for name, _ in theirs] or any(
                a.shape != b.shape for (_, a), (_, b) in zip(mine, theirs)):
            raise ValueError("online: its parameters do not match the momentum encoder's")
        for (_, key_param), (_, query_param) in zip(mine, theirs):
            key_param.mul_(m).add_(query_param.detach().to(key_param.dtype), alpha=1.0 - m)
        self.step += 1
        return m

    def forward(self, *args, **kwargs):
        """The momentum encoder's output, computed without gradient."""
        with torch.no_grad():
            return self.encoder(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"momentum={self.base_momentum}, schedule={self.schedule!r}, total_steps={self.total_steps}"


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


__all__ = ["MomentumEncoder"]
