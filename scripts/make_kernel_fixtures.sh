#!/usr/bin/env bash
# Regenerate the scikit-learn Nystroem fixtures of mmclust-kernel in
# crates/kernel/tests/fixtures/. Builds/updates the pinned venv (.venv-py) first
# (PY=... uses another interpreter with the pinned packages). Reruns reproduce the
# committed files bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(scripts/pyenv.sh | tail -n 1)}
exec "$PY" scripts/make_kernel_fixtures.py "$@"
