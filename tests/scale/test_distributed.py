"""Gathered negatives across real gloo processes against the single-process full batch (STYLE habit 10).

Each rank gets *different* data and a different row count. Workers only compute and save their
results; every comparison happens here, against one process that sees the whole batch. DDP averages
gradients over the W ranks, so the averaged gradient must equal the full-batch gradient; for the
embeddings themselves, rank r's gradient is W times the full-batch gradient of its rows.
"""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from contrastkit.losses import (
    DCL,
    DCLW,
    DHEL,
    MACL,
    MVDHEL,
    NNCLR,
    BarlowTwins,
    CLIPLoss,
    DebiasedContrastive,
    HardNegativeContrastive,
    InfoNCE,
    MeanShifted,
    MultiViewInfoNCE,
    NTXent,
    PolyView,
    SigLIP,
    SupCon,
    SupervisedSimCSE,
    SwAV,
    VICReg,
    WeightedInfoNCE,
)
from contrastkit.scale import GradCache, Queue, all_gather_with_grad, gather_rows
from tests.helpers import randint, randn

SIZES = {2: [3, 5], 3: [2, 4, 3]}
DIM = 4


def close(actual, expected, msg=None):
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-10, msg=msg)


def full_batch(sizes):
    """The whole batch, identical in every process; rank r takes rows [start_r, stop_r)."""
    n = sum(sizes)
    return dict(
        q=randn(n, DIM, seed=1), k=randn(n, DIM, seed=2), labels=randint(3, n, seed=3),
        ids=randint(n // 2, n, seed=4), negatives=randn(3, DIM, seed=5),
        negative_ids=randint(n // 2, 3, seed=6), rare_labels=randint(n, n, seed=9),
        center=randn(DIM, seed=10) * 0.3, relevance=randn(n, seed=11).abs(),
        x_q=randn(n, 5, seed=7), x_k=randn(n, 5, seed=8),
        weights=[randn(n, DIM, seed=100 + r) for r in range(len(sizes))],
    )


def make_infonce(gather):
    loss = InfoNCE(temperature=0.3, symmetric=True, learnable_temperature=True, gather_distributed=gather)
    return loss.double()


def infonce_call(loss, data, part):
    return loss(data["q"][part], data["k"][part], labels=data["labels"][part], ids=data["ids"][part],
                negatives=data["negatives"], negative_ids=data["negative_ids"])


def pair(q, k):
    return torch.stack([q, k], dim=1)


def three(q, k):
    return torch.stack([q, k, q - k], dim=1)


# Losses with the option, one row each: name -> (make(gather) -> loss, call(loss, q, k, data, rows)).
# Workers call them on their rows with gather_distributed=True; the test on the whole batch without.
GATHERED = {
    "supcon_labels": (lambda g: SupCon(0.2, learnable_temperature=True, gather_distributed=g),
                      lambda f, q, k, d, p: f(pair(q, k), d["labels"][p])),
    "supcon_streaming": (lambda g: SupCon(0.2, backend="streaming", tile_size=3, gather_distributed=g),
                         lambda f, q, k, d, p: f(pair(q, k), d["labels"][p])),
    "supcon_views": (lambda g: SupCon(0.3, base_temperature=0.07, gather_distributed=g),
                     lambda f, q, k, d, p: f(pair(q, k))),
    "supcon_ignore": (lambda g: SupCon(0.2, no_positive="ignore", gather_distributed=g),
                      lambda f, q, k, d, p: f((q + k)[:, None], d["rare_labels"][p])),
    "supcon_zero": (lambda g: SupCon(0.2, no_positive="zero", gather_distributed=g),
                    lambda f, q, k, d, p: f((q - k)[:, None], d["rare_labels"][p])),
    "dcl": (lambda g: DCL(0.2, learnable_temperature=True, gather_distributed=g),
            lambda f, q, k, d, p: f(q, k)),
    "dclw": (lambda g: DCLW(0.2, sigma=0.4, gather_distributed=g), lambda f, q, k, d, p: f(q, k)),
    "dclw_weight_grad": (lambda g: DCLW(0.2, sigma=0.4, detach_weight=False, gather_distributed=g),
                         lambda f, q, k, d, p: f(q, k)),
    "debiased": (lambda g: DebiasedContrastive(0.5, tau_plus=0.1, gather_distributed=g),
                 lambda f, q, k, d, p: f(q, k)),
    "hcl": (lambda g: HardNegativeContrastive(0.5, tau_plus=0.1, beta=1.0, learnable_temperature=True,
                                              gather_distributed=g),
            lambda f, q, k, d, p: f(q, k)),
    "siglip": (lambda g: SigLIP(0.1, bias=-2.0, gather_distributed=g), lambda f, q, k, d, p: f(q, k)),
    "siglip_streaming": (lambda g: SigLIP(0.1, bias=-2.0, backend="streaming", tile_size=2,
                                          gather_distributed=g),
                         lambda f, q, k, d, p: f(q, k)),
    "mv_infonce": (lambda g: MultiViewInfoNCE(0.5, learnable_temperature=True, gather_distributed=g),
                   lambda f, q, k, d, p: f(three(q, k))),
    "mvdhel": (lambda g: MVDHEL(0.3, gather_distributed=g), lambda f, q, k, d, p: f(three(q, k))),
    "polyview": (lambda g: PolyView(0.3, gather_distributed=g), lambda f, q, k, d, p: f(three(q, k))),
    "polyview_arithmetic": (lambda g: PolyView(0.3, aggregation="arithmetic", gather_distributed=g),
                            lambda f, q, k, d, p: f(three(q, k))),
    "macl": (lambda g: MACL(0.2, alpha=0.5, a0=0.1, learnable_temperature=True, gather_distributed=g),
             lambda f, q, k, d, p: f(q, k)),
    "mean_shifted": (lambda g: MeanShifted(0.25, angular=True, gather_distributed=g),
                     lambda f, q, k, d, p: f(q, k, d["center"])),
    "dhel": (lambda g: DHEL(0.3, learnable_temperature=True, gather_distributed=g),
             lambda f, q, k, d, p: f(q, k)),
    "dhel_one_view": (lambda g: DHEL(0.3, include_augs=False, gather_distributed=g),
                      lambda f, q, k, d, p: f(q, k)),
    "simcse": (lambda g: SupervisedSimCSE(0.1, gather_distributed=g), lambda f, q, k, d, p: f(q, k)),
    "simcse_hard": (lambda g: SupervisedSimCSE(0.1, hard_negative_weight=0.5, gather_distributed=g),
                    lambda f, q, k, d, p: f(q, k, q - 2 * k)),
    "weighted": (lambda g: WeightedInfoNCE(0.2, gather_distributed=g),
                 lambda f, q, k, d, p: f(q, k, d["relevance"][p])),
    "weighted_batch": (lambda g: WeightedInfoNCE(0.2, normalizer="batch", gather_distributed=g),
                       lambda f, q, k, d, p: f(q, k, d["relevance"][p])),
    # batch statistics (cross-correlation, variance, covariance) over the global batch
    "barlow_twins": (lambda g: BarlowTwins(0.05, gather_distributed=g), lambda f, q, k, d, p: f(q, k)),
    "vicreg": (lambda g: VICReg(gather_distributed=g), lambda f, q, k, d, p: f(0.3 * q, 0.3 * q + 0.1 * k)),
    "swav": (lambda g: (torch.manual_seed(0), SwAV(DIM, num_prototypes=5, gather_distributed=g))[1],
             lambda f, q, k, d, p: f([q, k, q - k])),
    "swav_one_global": (lambda g: (torch.manual_seed(1), SwAV(DIM, num_prototypes=4, num_global_crops=1,
                                                              gather_distributed=g))[1],
                        lambda f, q, k, d, p: f([q, k, 2 * q + k])),
    "nnclr": (lambda g: NNCLR(DIM, support_size=8, gather_distributed=g), lambda f, q, k, d, p: f(q, k)),
    # false-negative filtering: the rule is per local anchor, against every rank's candidates
    "infonce_false_negatives": (lambda g: InfoNCE(0.3, symmetric=True, false_negative_margin=0.1,
                                                  false_negative_threshold=0.6, gather_distributed=g),
                                lambda f, q, k, d, p: f(q, k, negatives=d["negatives"])),
    "supcon_false_negatives": (lambda g: SupCon(0.2, false_negative_margin=0.2, backend="streaming",
                                                tile_size=3, gather_distributed=g),
                               lambda f, q, k, d, p: f(pair(q, k), d["labels"][p])),
    "mv_infonce_false_negatives": (lambda g: MultiViewInfoNCE(0.5, false_negative_margin=0.3,
                                                              gather_distributed=g),
                                   lambda f, q, k, d, p: f(three(q, k))),
    "simcse_false_negatives": (lambda g: SupervisedSimCSE(0.1, hard_negative_weight=0.5,
                                                          false_negative_threshold=0.3, gather_distributed=g),
                               lambda f, q, k, d, p: f(q, k, q - 2 * k)),
}


def run_gathered(name, data, part, gather):
    """Loss value, input gradients and loss-parameter gradients of one GATHERED row."""
    make, call = GATHERED[name]
    loss_fn = make(gather).double()
    q, k = leaf(data["q"][part]), leaf(data["k"][part])
    loss = call(loss_fn, q, k, data, part)
    loss.backward()
    return {"loss": loss.detach(), "q": q.grad, "k": k.grad,
            **{f"param_{n}": p.grad for n, p in loss_fn.named_parameters()}}


def make_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, DIM)).double()


def leaf(x):
    return x.detach().clone().requires_grad_(True)


def worker(rank, world, port, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    sizes = SIZES[world]
    start = sum(sizes[:rank])
    part = slice(start, start + sizes[rank])
    data = full_batch(sizes)
    out = {}

    # 1. the primitive: rank-specific weights, so a wrong reduction cannot pass by symmetry
    x = leaf(randn(sizes[rank], DIM, seed=50 + rank))
    gathered = all_gather_with_grad(x)
    (gathered * data["weights"][rank]).sum().backward()
    out["gathered"], out["gather_grad"] = gathered.detach(), x.grad
    (labels,), rows = gather_rows(data["labels"][part])
    out["gathered_labels"] = labels
    out["offset"], out["total"] = torch.tensor(rows.offset), torch.tensor(rows.total)

    # 2. InfoNCE, symmetric, labels, ids, shared negatives with ids, learnable temperature
    loss_fn = make_infonce(True)
    q, k = leaf(data["q"][part]), leaf(data["k"][part])
    loss = loss_fn(q, k, labels=data["labels"][part], ids=data["ids"][part],
                   negatives=data["negatives"], negative_ids=data["negative_ids"])
    loss.backward()
    out["infonce"], out["infonce_q"], out["infonce_k"] = loss.detach(), q.grad, k.grad
    out["infonce_tau"] = loss_fn.temperature.log_temperature.grad.clone()
    from contrastkit.train.scaling import average_loss_gradients  # what the trainer does after backward

    average_loss_gradients(loss_fn)
    out["infonce_tau_averaged"] = loss_fn.temperature.log_temperature.grad

    # 2b. one direction only, labels only (the keys are gathered, the queries are not)
    q, k = leaf(data["q"][part]), leaf(data["k"][part])
    loss = InfoNCE(temperature=0.3, gather_distributed=True)(q, k, labels=data["labels"][part])
    loss.backward()
    out["one_way"], out["one_way_q"], out["one_way_k"] = loss.detach(), q.grad, k.grad

    # 2c. CLIP (symmetric InfoNCE with a learnable temperature), the open_clip set-up
    a, b = leaf(data["q"][part]), leaf(data["k"][part])
    clip = CLIPLoss(temperature=0.1, gather_distributed=True).double()
    loss = clip(a, b)
    loss.backward()
    average_loss_gradients(clip)
    out["clip"], out["clip_a"], out["clip_b"] = loss.detach(), a.grad, b.grad
    out["clip_tau"] = clip.temperature.log_temperature.grad

    # 3. NT-Xent over the gathered 2N rows
    z1, z2 = leaf(data["q"][part]), leaf(data["k"][part])
    loss = NTXent(temperature=0.5, gather_distributed=True)(z1, z2)
    loss.backward()
    out["ntxent"], out["ntxent_z1"], out["ntxent_z2"] = loss.detach(), z1.grad, z2.grad

    # 3b. every other loss with the option, one table row each
    for name in GATHERED:
        out.update({f"{name}/{key}": value for key, value in run_gathered(name, data, part, True).items()})

    # 3c. a label without a positive on one rank only: every rank raises (no rank is left waiting)
    lonely = torch.zeros(sum(sizes), dtype=torch.long)
    lonely[-1] = 1
    try:
        SupCon(0.2, gather_distributed=True)(data["q"][part], lonely[part])
        out["supcon_raised"] = torch.tensor(False)
    except ValueError:
        out["supcon_raised"] = torch.tensor(True)

    # 4. GradCache through a DDP encoder (uneven chunk counts per rank) with gathered InfoNCE
    model = nn.parallel.DistributedDataParallel(make_mlp(), broadcast_buffers=False)
    gc = GradCache(model, InfoNCE(temperature=0.2, symmetric=True, gather_distributed=True), chunk_size=2)
    out["gradcache"] = gc(data["x_q"][part], data["x_k"][part])
    for i, p in enumerate(model.parameters()):
        out[f"gradcache_param{i}"] = p.grad

    # 5. a gathered queue holds every rank's keys, in rank order, on every rank
    queue = Queue(32, DIM, dtype=torch.float64, gather_distributed=True)
    queue.push(data["k"][part], data["ids"][part])
    out["queue_keys"], out["queue_ids"] = queue.negatives()
    torch.save(out, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(world, out_dir):
    context = mp.start_processes(worker, args=(world, free_port(), str(out_dir)), nprocs=world,
                                 join=False, start_method="spawn")
    waited = 0.0
    while not context.join(timeout=5):
        waited += 5
        if waited > 90:
            for process in context.processes:
                process.kill()
            pytest.fail("distributed workers did not finish within 90 s")
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(world)]


@pytest.mark.distributed
@pytest.mark.parametrize("world", [2, 3])
def test_gathered_losses_equal_the_single_process_full_batch(world, tmp_path):
    results = run_workers(world, tmp_path)
    sizes = SIZES[world]
    data = full_batch(sizes)
    bounds = [slice(sum(sizes[:r]), sum(sizes[:r + 1])) for r in range(world)]

    # 1. all_gather_with_grad: rank order, uneven rows; each slice gets the SUM of every rank's gradient
    xs = torch.cat([randn(n, DIM, seed=50 + r) for r, n in enumerate(sizes)])
    summed = sum(data["weights"])
    for r, out in enumerate(results):
        close(out["gathered"], xs)
        close(out["gather_grad"], summed[bounds[r]])
        assert torch.equal(out["gathered_labels"], data["labels"])
        assert (int(out["offset"]), int(out["total"])) == (bounds[r].start, sum(sizes))

    # 2. InfoNCE: mean over ranks = full-batch loss; gradients as DDP would see them
    full = make_infonce(False)
    q, k = leaf(data["q"]), leaf(data["k"])
    loss = full(q, k, labels=data["labels"], ids=data["ids"], negatives=data["negatives"],
                negative_ids=data["negative_ids"])
    loss.backward()
    close(torch.stack([out["infonce"] for out in results]).mean(), loss.detach())
    close(torch.stack([out["infonce_tau"] for out in results]).mean(), full.temperature.log_temperature.grad)
    for r, out in enumerate(results):
        close(out["infonce_tau_averaged"], full.temperature.log_temperature.grad)
        close(out["infonce_q"], world * q.grad[bounds[r]])
        close(out["infonce_k"], world * k.grad[bounds[r]])

    # 2b. one direction
    q, k = leaf(data["q"]), leaf(data["k"])
    loss = InfoNCE(temperature=0.3)(q, k, labels=data["labels"])
    loss.backward()
    close(torch.stack([out["one_way"] for out in results]).mean(), loss.detach())
    for r, out in enumerate(results):
        close(out["one_way_q"], world * q.grad[bounds[r]])
        close(out["one_way_k"], world * k.grad[bounds[r]])

    # 2c. CLIP
    a, b = leaf(data["q"]), leaf(data["k"])
    clip = CLIPLoss(temperature=0.1).double()
    loss = clip(a, b)
    loss.backward()
    close(torch.stack([out["clip"] for out in results]).mean(), loss.detach())
    for r, out in enumerate(results):
        close(out["clip_tau"], clip.temperature.log_temperature.grad)
        close(out["clip_a"], world * a.grad[bounds[r]])
        close(out["clip_b"], world * b.grad[bounds[r]])

    # 3. NT-Xent
    z1, z2 = leaf(data["q"]), leaf(data["k"])
    loss = NTXent(temperature=0.5)(z1, z2)
    loss.backward()
    close(torch.stack([out["ntxent"] for out in results]).mean(), loss.detach())
    for r, out in enumerate(results):
        close(out["ntxent_z1"], world * z1.grad[bounds[r]])
        close(out["ntxent_z2"], world * z2.grad[bounds[r]])

    # 3b. the table: the mean over ranks is the full-batch loss; rank r's input gradient is W times
    # the full batch's for its rows; loss parameters' gradients average (as DDP) to the full batch's
    assert 0 < len(data["rare_labels"].unique()) < len(data["rare_labels"])  # singletons and repeats
    for name in GATHERED:
        full = run_gathered(name, data, slice(None), False)
        for key, expected in full.items():
            got = [out[f"{name}/{key}"] for out in results]
            if key in ("q", "k"):
                for r in range(world):
                    close(got[r], world * expected[bounds[r]], msg=f"{name}: rank {r} d/d{key}")
            else:
                close(torch.stack(got).mean(0), expected, msg=f"{name}: {key}")
    assert all(bool(out["supcon_raised"]) for out in results)

    # 4. GradCache + DDP: the averaged parameter gradients are the full-batch ones, on every rank
    model = make_mlp()
    loss = InfoNCE(temperature=0.2, symmetric=True)(model(data["x_q"]), model(data["x_k"]))
    loss.backward()
    close(torch.stack([out["gradcache"] for out in results]).mean(), loss.detach())
    for out in results:
        for i, p in enumerate(model.parameters()):
            close(out[f"gradcache_param{i}"], p.grad)

    # 5. gathered queue
    for out in results:
        assert torch.equal(out["queue_keys"], data["k"]) and torch.equal(out["queue_ids"], data["ids"])


def test_one_process_gathering_is_the_plain_loss():
    """Not initialised: gathering is the identity and the option changes nothing."""
    data = full_batch([7])
    part = slice(0, 7)
    def infonce(gather):
        return lambda q, k: infonce_call(make_infonce(gather), dict(data, q=q, k=k), part)

    def ntxent(gather):
        return NTXent(gather_distributed=gather)

    for make in (infonce, ntxent):
        with_gather, without = grads_of(make(True), data), grads_of(make(False), data)
        for a, b in zip(with_gather, without):
            close(a, b)
    for name in GATHERED:
        with_gather, without = (run_gathered(name, data, part, g) for g in (True, False))
        for key, value in without.items():
            close(with_gather[key], value, msg=f"{name}: {key}")
    x = randn(3, 2)
    assert all_gather_with_grad(x) is x


def grads_of(fn, data):
    q, k = leaf(data["q"]), leaf(data["k"])
    value = fn(q, k)
    value.backward()
    return value.detach(), q.grad, k.grad


def test_losses_without_support_refuse_the_option():
    from contrastkit.losses import LightGCLContrastive
    from contrastkit.losses._common import ContrastiveLoss

    for loss in (ContrastiveLoss, LightGCLContrastive):
        with pytest.raises(ValueError, match="gather_distributed"):
            loss(0.1, gather_distributed=True)
