#!/usr/bin/env bash
# The test suite: what the README tells a new developer to run, and what CI runs.
# Needs only cargo: fixtures are committed (regenerate them with the
# scripts/make_*_fixtures.sh scripts, which build their own Python venv).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --profile ci "$@"
# The CLI that build made (the integration tests run it): the Python tests
# compare against it rather than build the CLI again with other features.
export MMCLUST_CLI="${CARGO_TARGET_DIR:-$PWD/target}/ci/mmclust"
# Every criterion benchmark compiles and runs, in quick mode (tiny problems, few
# samples: this checks that they work, it measures nothing worth keeping).
# `--workspace --bench '*'` resolves features as the test build above did (the
# dev-dependencies' `test-hooks` on), so the benches reuse its libraries; `-p
# mmclust` would rebuild every workspace crate without them (2.6 of CI's minutes).
MMCLUST_BENCH_QUICK=1 cargo bench --profile ci --workspace --bench '*'
# The Python package: wheel built into a venv, pytest (scripts/test_python.sh).
scripts/test_python.sh
