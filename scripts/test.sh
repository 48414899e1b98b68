#!/usr/bin/env bash
# The test suite: what the README tells a new developer to run, and what CI runs.
# Needs only cargo: fixtures are committed (regenerate them with the
# scripts/make_*_fixtures.sh scripts, which build their own Python venv).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --profile ci "$@"
scripts/test_python.sh
