#!/usr/bin/env bash
# Regenerates the committed format fixtures with numpy, then checks that numpy
# loads the .npy files mmclust's writer produces.
#
#   scripts/make_npy_fixtures.sh
#
# Creates .venv-fixtures/ (gitignored) with numpy from PyPI. The fixtures are
# committed, so `cargo test` never needs Python.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv-fixtures"
fixtures="$root/crates/core/tests/fixtures/npy"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "numpy>=1.26"

rm -rf "$fixtures"
"$venv/bin/python" scripts/make_npy_fixtures.py "$fixtures"

# The Rust writer, read back by numpy.
written="$(mktemp -d)"
trap 'rm -rf "$written"' EXIT
MMCLUST_NPY_OUT="$written" cargo test -p mmclust-core --test formats \
    writer_output_is_loadable_by_numpy -- --exact --quiet
"$venv/bin/python" scripts/make_npy_fixtures.py --check-written "$written"
