#!/usr/bin/env bash
# Regenerate the scikit-learn BayesianGaussianMixture fixtures in
# crates/gmm/tests/fixtures/ (bgm_*). Builds/updates the pinned venv (.venv-py)
# first; extra arguments go to the .py (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
exec "$PY" scripts/make_bgm_fixtures.py "$@"
