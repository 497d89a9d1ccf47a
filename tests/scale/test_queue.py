"""Queue (MoCo) and MemoryBank (Wu et al. / PIRL) against plain Python bookkeeping."""

from collections import deque

import pytest
import torch
from safetensors.torch import load_file, save_file

from contrastkit.losses import InfoNCE
from contrastkit.scale import MemoryBank, Queue
from tests.helpers import assert_close, randn, unit


def test_fifo_order_against_a_deque():
    queue, reference = Queue(5, 2, dtype=torch.float64), deque(maxlen=5)
    for step, batch in enumerate([3, 4, 1, 7, 2]):
        keys = randn(batch, 2, seed=step)
        ids = torch.arange(batch) + 10 * step
        queue.push(keys, ids)
        reference.extend(zip(keys, ids.tolist()))
        stored, stored_ids = queue.negatives()
        assert len(queue) == len(reference)
        assert torch.equal(stored, torch.stack([k for k, _ in reference]))
        assert stored_ids.tolist() == [i for _, i in reference]


def test_keys_are_detached_and_ids_default_to_none():
    queue = Queue(4, 3)
    keys = randn(2, 3, dtype=torch.float32, requires_grad=True)
    queue.push(keys * 2)
    stored, ids = queue.negatives()
    assert not stored.requires_grad and ids.tolist() == [-1, -1]
    assert len(Queue(4, 3)) == 0 and Queue(4, 3).negatives()[0].shape == (0, 3)


def test_own_old_keys_are_excluded_from_the_loss():
    """InfoNCE with the queue and ids equals, anchor by anchor, InfoNCE with that anchor's own old
    keys removed from the negatives."""
    queue = Queue(8, 4, dtype=torch.float64)
    queue.push(randn(6, 4, seed=1), torch.tensor([0, 1, 2, 3, 4, 5]))
    queue.push(randn(3, 4, seed=2), torch.tensor([1, 7, 1]))
    q, k, ids = randn(4, 4, seed=3), randn(4, 4, seed=4), torch.tensor([1, 2, 8, 9])
    negatives, negative_ids = queue.negatives()
    loss = InfoNCE(temperature=0.2, reduction="none")
    ours = loss(q, k, ids=ids, negatives=negatives, negative_ids=negative_ids)
    for i in range(4):
        kept = negatives[negative_ids != ids[i]]
        assert bool((negative_ids == ids[i]).any()) == (i < 2)  # ids 1 and 2 have old keys queued
        assert_close(ours[i], loss(q, k, negatives=kept)[i])


def test_queue_state_survives_a_safetensors_round_trip(tmp_path):
    uninterrupted, resumed = Queue(5, 2, dtype=torch.float64), Queue(5, 2, dtype=torch.float64)
    for step in range(3):
        for queue in (uninterrupted, resumed):
            queue.push(randn(2, 2, seed=step), torch.arange(2) + step)
    save_file(resumed.state_dict(), tmp_path / "queue.safetensors")
    fresh = Queue(5, 2, dtype=torch.float64)
    fresh.load_state_dict(load_file(tmp_path / "queue.safetensors"))
    for queue in (fresh, uninterrupted):
        queue.push(randn(3, 2, seed=9), torch.tensor([7, 8, 9]))
    for a, b in zip(fresh.negatives(), uninterrupted.negatives()):
        assert torch.equal(a, b)


def test_memory_bank_momentum_update_against_a_loop():
    bank = MemoryBank(6, 3, momentum=0.5, dtype=torch.float64)
    expected = {}
    batches = [(randn(3, 3, seed=1), torch.tensor([0, 2, 4])), (randn(3, 3, seed=2), torch.tensor([2, 5, 2]))]
    for features, ids in batches:
        last = {int(i): f for f, i in zip(features, ids)}  # a repeated id: the last row wins
        for i, f in last.items():
            f = unit(f)
            expected[i] = unit(0.5 * expected[i] + 0.5 * f) if i in expected else f
        bank.update(features, ids)
    entries, ids = bank.negatives()
    assert ids.tolist() == sorted(expected) and len(bank) == 4
    for entry, i in zip(entries, ids.tolist()):
        assert_close(entry, expected[i])
    sample, sample_ids = bank.negatives(num_samples=2, generator=torch.Generator().manual_seed(0))
    assert sample.shape == (2, 3) and set(sample_ids.tolist()) <= set(expected)


@pytest.mark.parametrize("call, match", [
    (lambda: Queue(0, 3), "size"),
    (lambda: Queue(3, 2).push(randn(2, 3)), "keys"),
    (lambda: Queue(3, 2).push(torch.full((2, 2), float("nan"))), "keys"),
    (lambda: Queue(3, 2).push(randn(2, 2), torch.tensor([1])), "ids"),
    (lambda: MemoryBank(3, 2, momentum=1.0), "momentum"),
    (lambda: MemoryBank(3, 2).update(randn(1, 2), torch.tensor([3])), "ids"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
