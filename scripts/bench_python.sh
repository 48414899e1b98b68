#!/usr/bin/env bash
# Python vs CLI: the same K-means fit through `mmclust kmeans` and `mmclust.KMeans`.
#   scripts/bench_python.sh                      # n = 1e6, d = 32, k = 100, 20 iterations
#   scripts/bench_python.sh --n 100000 --reps 3  # quick
# Builds the release CLI, installs the wheel (release profile) into the benchmark
# venv (.venv-py, scripts/pyenv.sh), then runs scripts/bench_python.py with the
# arguments given. Writes the python section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
cargo build --release -p mmclust-cli >&2
"$PY" -m pip install --quiet ./crates/python >&2
exec "$PY" scripts/bench_python.py "$@"
