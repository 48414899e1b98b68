#!/usr/bin/env bash
# Regenerate the spherical (cosine) K-means fixtures in crates/kmeans/tests/fixtures/
# (spherical_*). Builds/updates the pinned venv (.venv-py) first; extra arguments go to
# the .py (e.g. --out DIR). Reruns reproduce the committed files bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
exec "$PY" scripts/make_spherical_fixtures.py "$@"
