"""Objectives declared from fields: default call, declarations, weights, bad references."""

import pytest
import torch
from torch import nn

from contrastkit.data import ImageData
from contrastkit.encoders import MLP, ContrastiveModel
from contrastkit.encoders.towers import Towers
from contrastkit.losses import InfoNCE, NTXent, SupCon
from contrastkit.train import RunDir, Trainer
from contrastkit.train.batching import NoDuplicatesSampler
from contrastkit.train.config import OptimSection, TrainSection
from contrastkit.train.objectives import Objective, total_loss


class Recorder(nn.Module):
    """A loss that records how it was called."""

    def forward(self, query, key, *, labels=None, negatives=None, ids=None):
        self.call = {"query": query, "key": key, "labels": labels, "negatives": negatives, "ids": ids}
        return (query * key).sum()


def _outputs():
    g = torch.Generator().manual_seed(0)
    return {"anchor": [torch.randn(4, 3, generator=g)], "positive": [torch.randn(4, 3, generator=g)],
            "negatives": [torch.randn(5, 3, generator=g)]}


def test_default_call_takes_fields_in_order_with_negatives_and_group_as_ids():
    objective = Objective(Recorder())
    objective.bind(["anchor", "positive", "negatives"], ["group"])
    outputs, group = _outputs(), torch.tensor([0, 0, 1, 2])
    objective(outputs, {"group": group})
    call = objective.loss.call
    assert call["query"] is outputs["anchor"][0] and call["key"] is outputs["positive"][0]
    assert call["negatives"] is outputs["negatives"][0] and call["ids"] is group and call["labels"] is None


def test_declared_inputs_and_weights():
    supcon = Objective(SupCon(0.5))  # declared next to the loss: views stacked + labels
    supcon.bind(["anchor"], ["label"])
    views = [torch.randn(4, 3), torch.randn(4, 3)]
    labels = torch.tensor([0, 1, 0, 1])
    expected = SupCon(0.5)(torch.stack(views, 1), labels)
    assert torch.equal(supcon({"anchor": views}, {"label": labels}), expected)
    swapped = Objective(NTXent(0.5), {"z1": "anchor:1", "z2": "anchor:0"}, weight=0.5)
    swapped.bind(["anchor"], [])
    total = total_loss([supcon, swapped], {"anchor": views}, {"label": labels})
    assert torch.allclose(total, expected + 0.5 * NTXent(0.5)(views[1], views[0]))


@pytest.mark.parametrize(("inputs", "raw", "message"), [
    ({"query": "image", "key": "anchor"}, [], r"objectives\[0\]\.inputs\.query = 'image': unknown field"),
    ({"z": "anchor"}, [], r"objectives\[0\]\.inputs\.z: InfoNCE has no parameter 'z'"),
    (None, [], r"loss\.inputs\.labels = 'label': unknown field 'label'"),
])
def test_bad_references_are_named(inputs, raw, message):
    loss = SupCon() if inputs is None else InfoNCE()
    name = "loss" if inputs is None else "objectives[0]"
    with pytest.raises(ValueError, match=message):
        Objective(loss, inputs, name=name).bind(["anchor"], raw)


class Pairs:
    """64 (anchor, positive) rows of 4-d points, positive = anchor + noise."""

    fields = ("anchor", "positive", "group")

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.a = torch.randn(64, 4, generator=g)
        self.p = self.a + 0.1 * torch.randn(64, 4, generator=g)

    def __len__(self):
        return 64

    def batch(self, index):
        return {"anchor": self.a[index], "positive": self.p[index], "group": index // 2}


def test_two_towers_train_with_their_own_learning_rates(tmp_path):
    torch.manual_seed(0)
    towers = {"a": ContrastiveModel(MLP(4, [8], 3, batch_norm=False)),
              "b": ContrastiveModel(MLP(4, [8], 3, batch_norm=False))}
    towers["b"].lr_scale = 0.0 + 1e-9  # almost frozen
    model = Towers(towers, {"anchor": "a", "positive": "b"})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, None, InfoNCE(0.5), Pairs(), train=TrainSection(batch_size=16, max_steps=3),
                      optim=OptimSection(lr=0.05, warmup_steps=0), run_dir=RunDir(tmp_path),
                      device=torch.device("cpu"))
    trainer.fit()
    after = model.state_dict()
    moved = {k.split(".")[1] for k in after if not torch.allclose(after[k], before[k], atol=1e-6)}
    assert moved == {"a"}
    assert [g["lr_scale"] for g in trainer.optimizer.param_groups] == [1.0, 1e-9]


def test_no_duplicates_sampler_keeps_equal_keys_apart():
    keys = [{i % 10} for i in range(100)]  # ten rows share each key
    sampler = NoDuplicatesSampler(keys, 8, seed=0)
    for m in range(sampler.batches_per_epoch * 2):
        batch = sampler.indices(m).tolist()
        assert len(batch) == 8 and len({i % 10 for i in batch}) == 8


def test_single_input_data_is_a_field_source():
    data = ImageData(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 0]))
    assert data.fields == ("anchor", "label")
    assert set(data.batch(torch.tensor([0, 2]))) == {"anchor", "label"}
