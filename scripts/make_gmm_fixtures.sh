#!/usr/bin/env bash
# Regenerate the scikit-learn GaussianMixture fixtures in crates/gmm/tests/fixtures/.
# Builds/updates the pinned venv (.venv-py) first; extra arguments go to the .py
# (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
exec "$PY" scripts/make_gmm_fixtures.py "$@"
