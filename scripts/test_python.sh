#!/usr/bin/env bash
# The Python package's tests: builds the wheel of crates/python into a venv
# (.venv-test/, gitignored) and runs crates/python/tests with pytest, beside
# scikit-learn (agreement, clone, Pipeline, GridSearchCV) and the CLI (same
# answer bit for bit). Called by scripts/test.sh; runs alone too:
#
#   scripts/test_python.sh [PYTEST ARGS...]
#
# Needs python3 (>= 3.9) with venv and pip, and network access the first time
# (numpy, scikit-learn, pytest, maturin from PyPI; pins in scripts/pyreqs.sh,
# following scripts/requirements-peers.txt). The wheel is built with the `ci` profile
# into the workspace's target/, so it reuses the test build's artefacts.
# PYTHON picks the base interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-test
BASE_PY=${PYTHON:-python3}
# shellcheck source=scripts/pyreqs.sh
source scripts/pyreqs.sh
venv_ensure "$VENV" "$BASE_PY" "${PY_TEST_REQS[@]}" "$MATURIN_REQ"

export CARGO_TARGET_DIR="$PWD/target"
export PATH="$PWD/$VENV/bin:$PATH"  # maturin
# The CLI the tests compare against, built with the same profile, unless the
# caller gives one (MMCLUST_CLI: scripts/test.sh passes its test build's).
if [[ -z "${MMCLUST_CLI:-}" ]]; then
    cargo build --quiet --profile ci -p mmclust-cli
    export MMCLUST_CLI="$CARGO_TARGET_DIR/ci/mmclust"
fi
# The wheel: maturin is already in the venv, so no isolated build environment.
MATURIN_PEP517_ARGS="--profile ci" "$VENV/bin/python" -m pip install --quiet \
    --no-build-isolation --force-reinstall --no-deps ./crates/python
cd crates/python/tests
exec ../../../"$VENV"/bin/python -m pytest -q "$@"
