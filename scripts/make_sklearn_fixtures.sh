#!/usr/bin/env bash
# Regenerate the scikit-learn K-means fixtures in crates/kmeans/tests/fixtures/.
# Builds/updates the pinned venv (.venv-py) first; extra arguments go to the .py
# (e.g. --out DIR). Reruns reproduce the committed files bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
exec "$PY" scripts/make_sklearn_fixtures.py "$@"
