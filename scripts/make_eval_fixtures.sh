#!/usr/bin/env bash
# Regenerate the scikit-learn fixtures of mmclust-eval in crates/eval/tests/fixtures/.
# Builds/updates the pinned venv (.venv-py) first (PY=... uses another interpreter
# with the pinned packages); extra arguments go to the .py. Reruns reproduce the
# committed files bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(scripts/pyenv.sh | tail -n 1)}
exec "$PY" scripts/make_eval_fixtures.py "$@"
