#!/usr/bin/env bash
# The three small-scale paper-claim studies of docs/studies.md (scikit-learn digits, 1 CPU thread each,
# 300 optimizer steps per run, 3 seeds). Rerunning resumes: finished runs are skipped.
set -euo pipefail
OUT=${1:-runs/studies}
COMMON=(--seeds 3 --set train.max_steps=300 --set train.eval_every=0 --set train.report=false
        --set 'eval.metrics=["knn", "linear_probe"]' --set eval.baselines=false --quiet)
# DCL (Yeh et al., 2022) vs NT-Xent at small and large batch
contrastkit sweep simclr-digits --grid loss.name=NTXent,DCL --grid train.batch_size=32,256 \
    "${COMMON[@]}" --output "$OUT/dcl-vs-ntxent"
# Poly-view (Shidani et al., 2024) at fixed compute: V views x batch = 512 encoder passes per step
contrastkit sweep simclr-digits --grid loss.name=PolyView \
    --grid 'views.num_views+train.batch_size=2+256,4+128,8+64' "${COMMON[@]}" --output "$OUT/polyview"
# SupCon (Khosla et al., 2020) vs SimCLR's NT-Xent, same recipe otherwise
contrastkit sweep simclr-digits --grid loss.name=NTXent,SupCon "${COMMON[@]}" --output "$OUT/supcon-vs-simclr"
