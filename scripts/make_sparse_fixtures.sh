#!/usr/bin/env bash
# Regenerate the sparse CSR (.npz) fixtures in crates/cli/tests/data/
# (sparse_*). Builds/updates the pinned venv (.venv-py) first; extra arguments go to
# the .py (e.g. --out DIR). Reruns reproduce the committed files bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
exec "$PY" scripts/make_sparse_fixtures.py "$@"
