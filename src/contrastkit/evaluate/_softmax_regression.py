r"""Multinomial logistic regression fitted with full-batch L-BFGS in torch, for the linear probe.

The objective is scikit-learn's ``LogisticRegression(C=...)`` one, divided by the row count ``n``
(the scaling changes no minimiser, only the size of the gradient the stopping test reads):

.. math::
    J(W, b) = \frac1n\sum_{i=1}^{n} -\log \operatorname{softmax}(W^\top x_i + b)_{y_i}
              + \frac{1}{2Cn}\lVert W\rVert_F^2 ,

with the bias unpenalised. Why a torch solver: the same L-BFGS as scikit-learn's, but the loss
and gradient run as float32 BLAS products on all the threads torch is given (scikit-learn pays
float64 plus SciPy's per-iteration Python overhead), and :func:`fit_path` warm-starts each ``C``
of a grid from the previous solution, strongest penalty first, so the weakly regularised
(ill-conditioned) fits start close to their optimum. Features should be standardised first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

GRAD_TOLERANCE = 1e-4  # max |gradient| of J at which a fit stops (scikit-learn's default tol)


def fit(x: Tensor, codes: Tensor, num_classes: int, c: float, *, init: Tensor | None = None,
        max_iter: int = 1000) -> Tensor:
    """Minimise :math:`J` for one ``C``; returns the ``(d + 1, K)`` parameters (last row: bias).

    Shapes:
        ``x (n, d)`` float, ``codes (n,)`` int64 in ``[0, K)``.
    """
    n, d = x.shape
    params = torch.zeros(d + 1, num_classes, dtype=x.dtype, device=x.device) if init is None else init.clone()
    params.requires_grad_(True)
    penalty = 1.0 / (2.0 * c * n)
    solver = torch.optim.LBFGS([params], lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                               tolerance_grad=GRAD_TOLERANCE, tolerance_change=1e-10,
                               history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        solver.zero_grad()
        weights, bias = params[:d], params[d]
        loss = F.cross_entropy(torch.addmm(bias, x, weights), codes) + penalty * weights.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        solver.step(closure)
    return params.detach()


def fit_path(x: Tensor, codes: Tensor, num_classes: int, grid: Sequence[float], *,
             max_iter: int = 1000) -> dict[float, Tensor]:
    """One fit per ``C`` of ``grid``, in increasing ``C``, each warm-started from the previous."""
    solutions: dict[float, Tensor] = {}
    previous = None
    for c in sorted(set(grid)):
        previous = solutions[c] = fit(x, codes, num_classes, c, init=previous, max_iter=max_iter)
    return solutions


def predict(params: Tensor, x: Tensor) -> Tensor:
    """Class codes ``(n,)`` of the rows of ``x`` (ties to the smaller code)."""
    return torch.addmm(params[-1], x, params[:-1]).argmax(dim=1)
