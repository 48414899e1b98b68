#!/usr/bin/env bash
# K-means benchmark: mmclust vs scikit-learn, scikit-learn-intelex, faiss-cpu.
#   scripts/bench_peers.sh --quick                 # smoke run, n = 100,000
#   scripts/bench_peers.sh                         # n = 1e6; d×k = 32×100 and 128×1000
#   scripts/bench_peers.sh --configs 32x100 --reps 5
# Builds the pinned venv (.venv-py) and the release binary, then runs
# scripts/bench_peers.py with the arguments given. If the build fails, the peers still
# run and mmclust is reported as skipped. Writes docs/bench_kmeans.md (see --out).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
if ! cargo build --release -p mmclust-cli >&2; then
    echo "bench_peers.sh: cargo build failed; mmclust will be skipped if no binary is usable" >&2
fi
# The Python package, for the engine mmclust-py (mmclust.KMeans beside sklearn's).
if ! "$PY" -m pip install --quiet ./crates/python >&2; then
    echo "bench_peers.sh: pip install ./crates/python failed; mmclust-py will fail" >&2
fi
exec "$PY" scripts/bench_peers.py "$@"
