"""GradCache against plain backprop: same loss, same parameter gradients (STYLE habit 9)."""

import copy

import pytest
import torch
from torch import nn

from contrastkit.losses import InfoNCE, NTXent
from contrastkit.scale import GradCache
from tests.helpers import assert_close, randint, randn


def dropout_mlp(seed, dim_in=6, dim_out=4):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim_in, 12), nn.Dropout(0.3), nn.Tanh(), nn.Linear(12, dim_out)).double()


def plain_step(encoders, loss_fn, inputs, chunk_size, autocast=None, **loss_kwargs):
    """Plain full-batch backprop. Each group is encoded chunk by chunk *with* its graph, so dropout
    draws its masks in the same order as GradCache's first pass; nothing is cached or replayed."""
    embeddings = []
    for g, group in enumerate(inputs):
        encoder = encoders[0] if len(encoders) == 1 else encoders[g]
        n = next(iter(group.values())).shape[0] if isinstance(group, dict) else group.shape[0]
        parts = []
        for start in range(0, n, chunk_size):
            chunk = ({k: v[start:start + chunk_size] for k, v in group.items()} if isinstance(group, dict)
                     else group[start:start + chunk_size])
            with autocast() if autocast else torch.autocast("cpu", enabled=False):
                parts.append(encoder(**chunk) if isinstance(chunk, dict) else encoder(chunk))
        embeddings.append(torch.cat(parts))
    loss = loss_fn(*embeddings, **loss_kwargs)
    loss.backward()
    return loss.detach()


def parameter_grads(*modules):
    return [p.grad.clone() for m in modules if isinstance(m, nn.Module)
            for p in m.parameters() if p.grad is not None]


def run_both(make_encoders, make_loss, inputs, chunk_size, seed=7, autocast=None, **loss_kwargs):
    """The same step twice from the same weights and random state: GradCache, then plain backprop."""
    results = []
    for use_cache in (True, False):
        encoders, loss_fn = make_encoders(), make_loss()
        torch.manual_seed(seed)
        if use_cache:
            loss = GradCache(encoders, loss_fn, chunk_size, autocast=autocast)(*inputs, **loss_kwargs)
        else:
            loss = plain_step(encoders, loss_fn, inputs, chunk_size, autocast, **loss_kwargs)
        results.append((loss, parameter_grads(*encoders, loss_fn), torch.rand(3)))
    return results


LOSSES = {
    "infonce": lambda: InfoNCE(temperature=0.2, symmetric=True, learnable_temperature=True).double(),
    "ntxent": lambda: NTXent(temperature=0.5),
}


@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize("towers", [1, 2])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
def test_dropout_mlp_gradients_equal_plain_backprop(loss_name, towers, chunk_size):
    x = randn(7, 6, seed=1)
    # one tower: SimCSE-style, the same input twice gives two dropout views; two towers: two inputs.
    inputs = (x, x) if towers == 1 else (x, randn(7, 6, seed=2))
    (loss, g, after), (ref_loss, ref_g, ref_after) = run_both(
        lambda: [dropout_mlp(s) for s in range(towers)], LOSSES[loss_name], inputs, chunk_size)
    assert_close(loss, ref_loss)
    assert len(g) == len(ref_g) == 4 * towers + (loss_name == "infonce")
    for a, b in zip(g, ref_g):
        assert_close(a, b)
    # the random stream continues exactly as after plain backprop
    assert torch.equal(after, ref_after)


def test_dropout_is_live_so_the_replay_matters():
    x = randn(7, 6, seed=1)
    runs = [run_both(lambda: [dropout_mlp(0)], LOSSES["ntxent"], (x, x), 3, seed=s)[0] for s in (1, 2)]
    assert not torch.allclose(runs[0][1][0], runs[1][1][0])


def test_without_dropout_equals_one_full_batch_forward():
    encoder = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)).double()
    reference = copy.deepcopy(encoder)
    q, k = randn(9, 6, seed=3), randn(9, 6, seed=4)
    loss_fn = InfoNCE(temperature=0.1)
    loss = GradCache([encoder], loss_fn, chunk_size=4)(q, k)
    ref_loss = loss_fn(reference(q), reference(k))
    ref_loss.backward()
    assert_close(loss, ref_loss.detach())
    for a, b in zip(parameter_grads(encoder), parameter_grads(reference)):
        assert_close(a, b)


def test_groups_of_different_sizes_and_loss_keywords():
    """Two towers with 5 queries and 10 documents (5 positives, 5 hard negatives), labels by keyword."""
    q, d = randn(5, 6, seed=5), randn(10, 6, seed=6)
    labels = randint(2, 5, seed=7)

    def make_loss():
        base = InfoNCE(temperature=0.3)
        return lambda query, docs, labels: base(query, docs[:5], negatives=docs[5:], labels=labels)

    (loss, g, _), (ref_loss, ref_g, _) = run_both(
        lambda: [dropout_mlp(0), dropout_mlp(1)], make_loss, (q, d), 3, labels=labels)
    assert_close(loss, ref_loss)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


class MeanPooledBert(nn.Module):
    """A tiny randomly initialised BERT (dropout on) with mean pooling over the attention mask."""

    def __init__(self, seed):
        super().__init__()
        transformers = pytest.importorskip("transformers")
        config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=32,
                                         max_position_embeddings=16, hidden_dropout_prob=0.1,
                                         attention_probs_dropout_prob=0.1)
        torch.manual_seed(seed)
        self.bert = transformers.BertModel(config).double()

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1)


def token_batch(n, length, seed):
    ids = randint(40, n, length, seed=seed)
    lengths = randint(length - 1, n, seed=seed + 1) + 2
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


@pytest.mark.parametrize("towers, loss_name", [(1, "ntxent"), (2, "infonce"), (1, "infonce")])
def test_tiny_bert_gradients_equal_plain_backprop(towers, loss_name):
    a = token_batch(5, 6, seed=10)
    inputs = (a, a) if towers == 1 and loss_name == "ntxent" else (a, token_batch(5, 6, seed=20))
    (loss, g, _), (ref_loss, ref_g, _) = run_both(
        lambda: [MeanPooledBert(s) for s in range(towers)], LOSSES[loss_name], inputs, 2)
    assert_close(loss, ref_loss)
    assert len(g) == len(ref_g) > 20
    for a_, b in zip(g, ref_g):
        assert_close(a_, b)


def test_autocast_bfloat16_matches_plain_backprop_under_autocast():
    x, y = randn(8, 6, seed=1, dtype=torch.float32), randn(8, 6, seed=2, dtype=torch.float32)

    def encoders():
        return [dropout_mlp(0).float(), dropout_mlp(1).float()]

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16)

    (loss, g, _), (ref_loss, ref_g, _) = run_both(encoders, lambda: InfoNCE(temperature=0.1), (x, y), 3,
                                                  autocast=autocast)
    assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    for a, b in zip(g, ref_g):
        assert a.dtype == torch.float32
        assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_grad_scaler_scales_parameter_gradients_and_not_the_loss():
    x, y = randn(6, 6, seed=1, dtype=torch.float32), randn(6, 6, seed=2, dtype=torch.float32)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    encoder, reference = dropout_mlp(0).float().eval(), dropout_mlp(0).float().eval()
    loss = GradCache(encoder, NTXent(), 4, scaler=scaler)(x, y)
    ref_loss = NTXent()(reference(x), reference(y))
    ref_loss.backward()
    assert_close(loss, ref_loss.detach())
    for a, b in zip(parameter_grads(encoder), parameter_grads(reference)):
        assert_close(a, 8.0 * b)


@pytest.mark.parametrize("make, call, match", [
    (lambda: GradCache(nn.Linear(2, 2), NTXent(), 0), None, "chunk_size"),
    (lambda: GradCache(nn.Linear(2, 2), NTXent(), 2.5), None, "chunk_size"),
    (lambda: GradCache([], NTXent(), 2), None, "encoders"),
    (lambda: GradCache([nn.Linear(2, 2)] * 3, NTXent(), 2), lambda gc: gc(randn(4, 2), randn(4, 2)),
     "encoders"),
    (lambda: GradCache(lambda x: (x, x), NTXent(), 2), lambda gc: gc(randn(4, 2), randn(4, 2)), "encoders"),
    (lambda: GradCache(nn.Linear(2, 2), NTXent(), 2), lambda gc: gc(randn(4, 2), "text"), r"inputs\[1\]"),
    (lambda: GradCache(nn.Linear(2, 2), NTXent(), 2), lambda gc: gc(), "inputs"),
])
def test_bad_arguments(make, call, match):
    with pytest.raises(ValueError, match=match):
        gc = make()
        call(gc)
