#!/usr/bin/env bash
# Kernel K-means and spectral clustering (mmclust) against scikit-learn's Nystroem +
# KMeans and plain K-means, on moons and rings (issue 22): ARI against the truth, wall
# time, peak RSS (/usr/bin/time -v: mapped files' pages included) and peak anonymous
# memory (RssAnon + RssShmem, sampled), medians of --reps runs.
#
#   scripts/bench_kernel_peers.sh                      # n = 3e5 and 1e6, 3 repetitions
#   scripts/bench_kernel_peers.sh --n 20000 --reps 1   # a smoke run
#   scripts/bench_kernel_peers.sh --out bench-out/kernel-peers.md
#   scripts/bench_kernel_peers.sh --n 1000000 --shapes moons --no-spectral
#
# Builds the pinned venv (.venv-py, scripts/pyenv.sh) and the release binary; the data
# goes to bench-out/kernel/. Timings need a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
cargo build --release -p mmclust-cli >&2
exec "$PY" scripts/bench_kernel_peers.py "$@"
