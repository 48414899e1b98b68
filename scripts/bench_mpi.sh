#!/usr/bin/env bash
# MPI benchmarks for docs/distributed.md (builds with --features mpi):
#  1. Lloyd, n = 1e6, d = 32, k = 100, against 1 process × 2 threads:
#       2 ranks × 1 thread and 2 ranks × 2 threads (what `mpirun -n 2` gives
#       when each rank takes every core it sees), each with mmclust's default
#       (waiting ranks yield: mpi_yield_when_idle = 1 unless set) and with
#       `--mca mpi_yield_when_idle 0` (Open MPI's own default: waiting ranks
#       spin). Interleaved runs; the median seconds per iteration, and the
#       CPU seconds (user + sys, every process of the job) per iteration, which
#       show the polling: a spinning rank burns a core while it waits;
#  2. the cost of combining one iteration's partials across 2, 4 and 8 ranks
#     for k = 100, 1000, 10000 and d = 32, 128
#     (crates/cli/examples/allreduce_cost.rs).
# Usage: scripts/bench_mpi.sh [REPS]   (default 5; run it on a quiet machine)
# BENCH_DIR=DIR keeps the generated data between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
cargo build --profile ci -p mmclust-cli --features mpi --bin mmclust --example allreduce_cost -q
BIN="$PWD/target/ci/mmclust"
COST="$PWD/target/ci/examples/allreduce_cost"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# The comparison is of mmclust's default against an explicit setting: no
# inherited choice.
unset OMPI_MCA_mpi_yield_when_idle
work=${BENCH_DIR:-$(mktemp -d)}
cd "$work"
[ -f lloyd.npy ] || "$BIN" generate blobs -o lloyd.npy --n 1000000 --d 32 --k 100 --seed 1 -q
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc)"
BIN="$BIN" REPS="$reps" python3 - <<'PY'
import json, os, resource, statistics, subprocess, time

bin_, reps = os.environ["BIN"], int(os.environ["REPS"])
args = ["kmeans", "lloyd.npy", "-k", "100", "--init", "random", "--n-init", "1",
        "--max-iter", "15", "--tol", "0", "--seed", "3", "-q", "--json"]
mpirun = ["mpirun", "-n", "2", "--bind-to", "none"]
poll = ["--mca", "mpi_yield_when_idle", "0"]
layouts = [
    ("1 process x 2 threads", [bin_, "--threads", "2"]),
    ("2 ranks x 1 thread (mmclust default: yield)", mpirun + [bin_, "--threads", "1"]),
    ("2 ranks x 1 thread, mpi_yield_when_idle 0", mpirun + poll + [bin_, "--threads", "1"]),
    ("2 ranks x 2 threads (mmclust default: yield)", mpirun + [bin_, "--threads", "2"]),
    ("2 ranks x 2 threads, mpi_yield_when_idle 0", mpirun + poll + [bin_, "--threads", "2"]),
]
res = {name: [] for name, _ in layouts}
for _ in range(reps):
    for name, cmd in layouts:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd + args, check=True, capture_output=True, text=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        s = json.loads(out)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # CPU time of the whole run (reading, init, every iteration) per
        # iteration: an upper bound on the iterations' own, the same for every
        # layout but for the waiting.
        res[name].append((s["iter_seconds"] / s["n_iter"], cpu / s["n_iter"], s["inertia"]))
inertias = {r[2] for rs in res.values() for r in rs}
assert len(inertias) == 1, f"inertia differs between the runs: {inertias}"
base = statistics.median(r[0] for r in res[layouts[0][0]])
print(f"Lloyd n=1e6 d=32 k=100, 15 iterations, medians of {reps} interleaved runs:")
print(f"  {'layout':48} {'s/iter':>8} {'ratio':>6} {'CPU s/iter':>10}   all s/iter")
for name, _ in layouts:
    wall = statistics.median(r[0] for r in res[name])
    cpu = statistics.median(r[1] for r in res[name])
    print(f"  {name:48} {wall:8.4f} {wall / base:6.3f} {cpu:10.4f}   "
          + " ".join(f"{r[0]:.4f}" for r in res[name]))
print(f"  same inertia in every run: {inertias.pop()}")
PY
# 2, 4 and 8 ranks (over shared memory; beyond the cores, oversubscribed, so
# the larger counts are upper bounds).
for r in 2 4 8; do
    echo "combining partials, $r ranks:"
    mpirun -n $r --oversubscribe --bind-to none "$COST"
done
