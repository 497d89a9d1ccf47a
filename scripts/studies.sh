#!/usr/bin/env bash
# The three small-scale paper-claim studies of docs/studies.md on scikit-learn's digits (1,347 training
# images), one CPU thread per run, 300 optimizer steps per run, 3 seeds, linear probe + kNN (k = 20) on
# the 450 held-out images. Rerunning resumes: finished runs are skipped. Pass a study name to run one.
set -euo pipefail
OUT=${OUT:-runs/studies}
COMMON=(--seeds 3 --set train.max_steps=300 --set train.eval_every=0 --set train.report=false
        --set 'eval.metrics=["knn", "linear_probe"]' --set eval.baselines=false --quiet)
study=${1:-all}
if [[ $study == all || $study == dcl ]]; then
  # DCL (Yeh et al., ECCV 2022) vs NT-Xent at a small and a large batch, same recipe otherwise
  contrastkit sweep simclr-digits --grid loss.name=NTXent,DCL --grid train.batch_size=32,256 \
      "${COMMON[@]}" --output "$OUT/dcl-vs-ntxent"
fi
if [[ $study == all || $study == polyview ]]; then
  # Poly-view (Shidani et al., ICLR 2024) at fixed compute: V views x batch = 256 encoder inputs per step
  contrastkit sweep simclr-digits --grid loss.name=PolyView \
      --grid 'views.num_views+train.batch_size=2+128,4+64,8+32' "${COMMON[@]}" --output "$OUT/polyview"
fi
if [[ $study == all || $study == supcon ]]; then
  # SupCon (Khosla et al., NeurIPS 2020) vs SimCLR's NT-Xent with the digits' labels, batch 128
  contrastkit sweep simclr-digits --grid loss.name=NTXent,SupCon --set train.batch_size=128 \
      "${COMMON[@]}" --output "$OUT/supcon-vs-simclr"
fi
