#!/usr/bin/env bash
# Mutation testing (mutmut 3) of one package against the tests that exercise it.
#   usage: scripts/mutation.sh PACKAGE [TEST_PATH ...] [-- MUTANT_GLOB ...]
#   e.g.   scripts/mutation.sh losses tests/losses
# Works on a copy of the working tree in ${MUTATION_DIR:-/tmp/contrastkit-mutation}/PACKAGE, so the repo
# stays clean and several packages can be run one after the other; prints mutmut's results at the end.
# One worker (MUTATION_WORKERS, default 1): the tests already use torch's threads. Not part of CI (slow).
# MUTATION_MARKERS: the pytest -m selection (default: not slow, not distributed, not gpu); train/'s wiring
# tests are slow runs, so include them for train: MUTATION_MARKERS="not distributed and not gpu".
set -euo pipefail
pkg=${1:?package under src/contrastkit, e.g. engine}
shift
tests=()
globs=()
while (($#)); do
  if [[ $1 == -- ]]; then shift; globs=("$@"); break; fi
  tests+=("$1"); shift
done
((${#tests[@]})) || tests=("tests/$pkg")
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
[[ -x $py ]] || py=$(command -v python)
dir=${MUTATION_DIR:-/tmp/contrastkit-mutation}/$pkg
rm -rf "$dir" && mkdir -p "$dir"
cp -r "$repo/src" "$repo/tests" "$repo/pyproject.toml" "$dir/"
find "$dir" -name __pycache__ -prune -exec rm -rf {} +
quoted=$(printf '"%s", ' "${tests[@]}")
cat >>"$dir/pyproject.toml" <<TOML

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/contrastkit/$pkg/*"]
pytest_add_cli_args_test_selection = [${quoted%, }]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "${MUTATION_MARKERS:-not slow and not distributed and not gpu}"]
use_git_change_detection = false
TOML
cd "$dir"
# The copy's own src/ must win over an editable install or a PYTHONPATH pointing at the repo.
unset PYTHONPATH
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TORCHINDUCTOR_COMPILE_THREADS=1
mutmut=$(dirname "$py")/mutmut
workers=${MUTATION_WORKERS:-1}
if [[ -n ${MUTATION_SAMPLE:-} && ${#globs[@]} -eq 0 ]]; then
  # A random sample of MUTATION_SAMPLE mutants (seed MUTATION_SEED, default 0), when all would take too long.
  "$mutmut" run --max-children "$workers" "contrastkit.no-such-mutant" >/dev/null || true
  # MUTATION_SKIP: an extended regex of mutant names left out of the sample (e.g. CUDA-only code)
  mapfile -t globs < <("$mutmut" results --all true | sed -n 's/^ *\([^:]*\): .*/\1/p' |
    grep -v -E "${MUTATION_SKIP:-^$}" |
    "$py" -c "import random,sys; n=sys.stdin.read().split(); random.Random(${MUTATION_SEED:-0}).shuffle(n); print(*n[:$MUTATION_SAMPLE], sep='\n')")
fi
"$mutmut" run --max-children "$workers" "${globs[@]}" || true
"$mutmut" results --all true >"$dir/results.txt" || true
"$py" - "$dir/results.txt" <<'PY'
import collections, sys
counts = collections.Counter(line.rsplit(": ", 1)[-1].strip() for line in open(sys.argv[1]) if ": " in line)
unchecked = counts.pop("not checked", 0)
total = sum(counts.values())
print(f"mutants run: {total} (not run: {unchecked})", dict(counts))
if total:
    killed = counts["killed"] + counts["timeout"] + counts["segfault"]
    print(f"killed: {killed} / {total} = {killed / total:.1%}")
PY
