"""Run under ``TRITON_INTERPRET=1 CONTRASTKIT_TRITON_INTERPRET=1``: computes every case of
tests/engine/test_triton.py with the fused Triton path (CPU, Triton interpreter) and with the
reference backend, and saves values and gradients to the file named by ``argv[1]``."""

import sys

import torch

from contrastkit.engine import PairStructure, pair_statistics, streaming
from contrastkit.losses import InfoNCE, NTXent

CASES = {
    # name: (n, m, d, self_index, same, want, dtype, scale_grad)
    "5x7_d16": (5, 7, 16, False, False, {"lse_all", "pos_sum"}, torch.float32, False),
    "33x17_d32_self": (33, 17, 32, True, False, {"lse_all", "col_lse_all", "pos_sum"}, torch.float32, True),
    "17x33_d3_cols": (17, 33, 3, True, False, {"col_lse_all", "col_pos_sum"}, torch.float32, False),
    "20_same_self": (20, 20, 16, True, True, {"lse_all", "col_lse_all", "pos_sum"}, torch.float32, True),
    "18_same": (18, 18, 32, False, True, {"lse_all", "col_lse_all"}, torch.float32, False),
    "4x1_all_excluded": (4, 1, 16, True, False, {"lse_all", "col_lse_all"}, torch.float32, True),
    "bf16_9x21": (9, 21, 32, True, False, {"lse_all", "col_lse_all", "pos_sum"}, torch.bfloat16, True),
    "fp16_9x21": (9, 21, 32, True, False, {"lse_all", "col_lse_all", "pos_sum"}, torch.float16, True),
}
SCALE = 1 / 0.07


def run_case(n, m, d, use_self, same, want, dtype, scale_grad, backend):
    g = torch.Generator().manual_seed(n * 100 + m)
    a = torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1).to(dtype).requires_grad_(True)
    c = a if same else torch.nn.functional.normalize(torch.randn(m, d, generator=g), dim=1).to(dtype)
    c = c if same else c.requires_grad_(True)
    pos = torch.randint(0, m, (n,), generator=g)
    self_index = (torch.arange(n) if same else torch.randint(0, m, (n,), generator=g)) if use_self else None
    if use_self and m == 1:
        self_index = torch.zeros(n, dtype=torch.long)
    scale = torch.tensor(SCALE, requires_grad=True) if scale_grad else SCALE
    stats = pair_statistics(a, c, PairStructure(n, m, pos_index=pos, self_index=self_index), want,
                            scale=scale, backend=backend).as_dict()
    weights = {k: torch.randn(v.shape, generator=g) for k, v in stats.items()}
    loss = sum((v.masked_fill(torch.isinf(v), 0.0) * weights[k]).sum() for k, v in stats.items())
    leaves = [a] if same else [a, c]
    leaves += [scale] if scale_grad else []
    out = {k: v.detach() for k, v in stats.items()}
    out.update({f"grad{i}": x for i, x in enumerate(torch.autograd.grad(loss, leaves))})
    return out


def run_losses(backend):
    g = torch.Generator().manual_seed(7)
    q, k = torch.randn(13, 16, generator=g), torch.randn(13, 16, generator=g)
    out = {}
    for name, loss in (("infonce_sym", InfoNCE(symmetric=True, backend=backend)),
                       ("ntxent", NTXent(backend=backend))):
        qq, kk = q.clone().requires_grad_(True), k.clone().requires_grad_(True)
        value = loss(qq, kk)
        out[name] = (value.detach(), *torch.autograd.grad(value, [qq, kk]))
    return out


def main(path):
    calls = []
    fused = streaming.triton_lse_statistics

    def counted(*args, **kwargs):
        calls.append(1)
        return fused(*args, **kwargs)

    streaming.triton_lse_statistics = counted
    results = {}
    for name, case in CASES.items():
        before = len(calls)
        results[name] = {"triton": run_case(*case, backend="streaming"),
                         "reference": run_case(*case, backend="reference"),
                         "fused_calls": len(calls) - before}
    before = len(calls)
    results["losses"] = {"triton": run_losses("streaming"), "reference": run_losses("reference"),
                         "fused_calls": len(calls) - before}
    torch.save(results, path)


if __name__ == "__main__":
    main(sys.argv[1])
