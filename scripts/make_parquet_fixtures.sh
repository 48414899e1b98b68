#!/usr/bin/env bash
# Regenerates the committed Parquet / Arrow IPC fixtures with pyarrow.
#
#   scripts/make_parquet_fixtures.sh
#
# Creates .venv-parquet/ (gitignored) with numpy and pyarrow pinned as in
# scripts/requirements-peers.txt. The fixtures are committed (a few KB), so
# `cargo test` never needs Python.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/pyreqs.sh
venv="$root/.venv-parquet"
fixtures="$root/crates/core/tests/fixtures/columnar"

venv_ensure "$venv" "${PYTHON:-python3}" "$(pin numpy)" "$(pin pyarrow)"

rm -rf "$fixtures"
"$venv/bin/python" scripts/make_parquet_fixtures.py "$fixtures"
du -sh "$fixtures"
