#!/usr/bin/env bash
# Variational Bayesian GMM per iteration: mmclust gmm --bayesian against mmclust's own EM
# (target: within 1.3x) and scikit-learn's BayesianGaussianMixture (target: at least 10x,
# diag and full), all from the same initial responsibilities, side by side, medians.
#
#   scripts/bench_bayesian.sh [--n 200000] [--d 16] [--k 16] [--reps 3] [--covariances diag,full]
#
# Builds the release binary and the pinned venv (.venv-py); writes
# bench-out/section-bayesian.md. Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
cargo build --release -p mmclust-cli >&2
exec "$PY" scripts/bench_bayesian.py --bin target/release/mmclust "$@"
