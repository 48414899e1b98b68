#!/usr/bin/env bash
# MPI benchmarks for docs/distributed.md (needs a build with --features mpi):
#  1. Lloyd, n = 1e6, d = 32, k = 100: 2 ranks × 1 thread against 1 process ×
#     2 threads, interleaved, median seconds per iteration and their ratio;
#  2. the cost of combining one iteration's partials across ranks for
#     k = 100, 1000, 10000 and d = 32, 128 (crates/cli/examples/allreduce_cost.rs).
# Usage: scripts/bench_mpi.sh [REPS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
cargo build --profile ci -p mmclust-cli --features mpi --bin mmclust --example allreduce_cost -q
BIN="$PWD/target/ci/mmclust"
COST="$PWD/target/ci/examples/allreduce_cost"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=${BENCH_DIR:-$(mktemp -d)}
cd "$work"
[ -f lloyd.npy ] || "$BIN" generate blobs -o lloyd.npy --n 1000000 --d 32 --k 100 --seed 1 -q
args=(kmeans lloyd.npy -k 100 --init random --n-init 1 --max-iter 15 --tol 0 --seed 3 -q --json)
export OMPI_MCA_btl_vader_single_copy_mechanism=none
per_iter() { python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["iter_seconds"]/s["n_iter"], s["inertia"])'; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc)"
: > threads.txt; : > ranks.txt; : > yield.txt
for i in $(seq "$reps"); do
    "$BIN" --threads 2 "${args[@]}" 2>/dev/null | per_iter >> threads.txt
    mpirun -n 2 --bind-to none "$BIN" --threads 1 "${args[@]}" 2>/dev/null | per_iter >> ranks.txt
    # Waiting ranks yield the core instead of polling (what Open MPI does by
    # itself when it knows it is oversubscribed).
    mpirun -n 2 --bind-to none --mca mpi_yield_when_idle 1 "$BIN" --threads 1 "${args[@]}" 2>/dev/null | per_iter >> yield.txt
done
python3 - <<'PY'
import statistics
t = [l.split() for l in open("threads.txt")]
r = [l.split() for l in open("ranks.txt")]
y = [l.split() for l in open("yield.txt")]
assert {x[1] for x in t} == {x[1] for x in r} == {x[1] for x in y}, "inertia differs between the runs"
mt = statistics.median(float(x[0]) for x in t)
mr = statistics.median(float(x[0]) for x in r)
my = statistics.median(float(x[0]) for x in y)
print(f"Lloyd n=1e6 d=32 k=100, seconds per iteration (median of {len(t)}):")
print(f"  1 process x 2 threads: {mt:.4f}   all: {' '.join(x[0][:6] for x in t)}")
print(f"  2 ranks x 1 thread:    {mr:.4f}   all: {' '.join(x[0][:6] for x in r)}")
print(f"  2 ranks x 1 thread, mpi_yield_when_idle: {my:.4f}   all: {' '.join(x[0][:6] for x in y)}")
print(f"  ratio ranks/threads: {mr/mt:.3f}, with yield: {my/mt:.3f}; same inertia: {t[0][1]}")
PY
mpirun -n 2 --bind-to none --mca mpi_yield_when_idle 1 "$COST"
