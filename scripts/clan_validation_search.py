"""The quick CLAN settings search of docs/studies.md 5b: validation rows of bio_train only.

Built from the library's parts (the recipe's MLP, the CLAN loss, clan_augment) in a short loop (Adam,
batches drawn uniformly with replacement) so that a setting takes seconds, not a trainer run; the
chosen setting is then confirmed through the trainer with ``study_anomaly.py clan --split validation``.
Each argument is one JSON setting; ``baselines`` prints the raw-feature baselines instead.

    python scripts/clan_validation_search.py '{"transform": "quantile", "max_value": 10, "p_feature": 0.5}'
    python scripts/clan_validation_search.py baselines
"""

import json
import sys
import time

import torch

from contrastkit.data.one_class import bio_quantiles
from contrastkit.data.widedeep import load_bio_train
from contrastkit.encoders.mlp import MLP
from contrastkit.losses.clan import CLAN
from contrastkit.recipes.anomaly import knn_auroc
from contrastkit.recipes.tabular_anomaly import centroid_auroc, euclidean_knn_auroc, isolation_forest_auroc

TEST_ROWS, VALIDATION_ROWS = 20000, 20000  # the recipe's layout: test rows first, never read here


def rows(transform: str, count: int):
    data = load_bio_train(None, False, 0)
    features, labels = data.features.double(), data.labels.numpy()
    validation = torch.arange(TEST_ROWS, TEST_ROWS + VALIDATION_ROWS)
    rest = torch.arange(TEST_ROWS + VALIDATION_ROWS, len(data))
    benign = rest[torch.from_numpy(labels[rest.numpy()] == 0)][:count]
    train, held_out = features[benign], features[validation]
    if transform == "signed-log1p":
        train, held_out = train.sign() * train.abs().log1p(), held_out.sign() * held_out.abs().log1p()
    elif transform == "quantile":
        apply = bio_quantiles(train)
        train, held_out = apply(train), apply(held_out)
    elif transform != "none":
        raise ValueError(f"transform: expected none, signed-log1p or quantile, got {transform!r}")
    mean, std = train.mean(0), train.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return ((train - mean) / std).float(), ((held_out - mean) / std).float(), labels[validation.numpy()]


def search(transform="none", rows_=10000, steps=300, batch=256, lr=1e-3, max_value=1.7, p_feature=0.1,
           hidden=(256, 256), out=64, margin=0.5, alpha=0.5, seed=0, cosine_lr=False) -> dict:
    from contrastkit.views.tabular import clan_augment

    torch.manual_seed(seed)
    train, held_out, anomaly = rows(transform, rows_)
    generator = torch.Generator().manual_seed(seed)
    encoder = MLP(train.shape[1], list(hidden), out, batch_norm=False)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if cosine_lr else None
    loss_fn, start = CLAN(margin, alpha), time.time()
    for _ in range(steps):
        x = train[torch.randint(len(train), (batch,), generator=generator)]
        loss = loss_fn(encoder(x), encoder(clan_augment(x, p_feature=p_feature, max_value=max_value,
                                                        generator=generator)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
    seconds = time.time() - start
    with torch.no_grad():
        train_z, held_out_z = encoder(train), encoder(held_out)
    return {"centroid": centroid_auroc(train_z, held_out_z, anomaly),
            "knn": knn_auroc(train_z, held_out_z, anomaly, 5),
            "knn_euclidean": euclidean_knn_auroc(train_z, held_out_z, anomaly, 5),
            "loss": float(loss.detach()), "train_s": round(seconds, 1)}


def baselines(transform: str, count: int) -> dict:
    train, held_out, anomaly = rows(transform, count)
    return {"knn_euclidean": euclidean_knn_auroc(train, held_out, anomaly, 5),
            "isolation_forest": isolation_forest_auroc(train, held_out, anomaly, 0),
            "knn_cosine": knn_auroc(train, held_out, anomaly, 5)}


def main(argv) -> int:
    torch.set_num_threads(1)
    for spec in argv:
        if spec == "baselines":
            for count in (10000, 50000):
                for transform in ("none", "signed-log1p", "quantile"):
                    print(transform, count, baselines(transform, count), flush=True)
            continue
        setting = json.loads(spec)
        if "rows" in setting:
            setting["rows_"] = setting.pop("rows")
        print(spec, search(**setting), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
