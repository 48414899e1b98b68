#!/usr/bin/env bash
# --precision f32 against f64 for full and tied covariances: one EM iteration's wall time,
# (wall(21) − wall(1)) / 20, the median of 5 repetitions (f64 and f32 interleaved), at
# n = 200,000, d = 16 and 64, k = 16, from the same initial means (a .npy of k × d), on
# blobs (16 centres, unit-scale correlated noise). Also prints f32_iterations (must be 21:
# every pass in f32) and both final lower bounds (must agree to about 1e-6).
#
#   scripts/bench_gmm_f32.sh [--n 200000] [--ds 16,64] [--k 16] [--reps 5] [--iters 20]
#                            [--covariances full,tied] [--threads T]
#
# Builds the release binary and the pinned venv (.venv-py, for numpy); data go to
# bench-out/gmm-f32/. Run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
n=200000; ds=16,64; k=16; reps=5; iters=20; covs=full,tied; threads=$(nproc)
while [ $# -gt 0 ]; do
    case $1 in
        --n) n=$2; shift 2 ;;
        --ds) ds=$2; shift 2 ;;
        --k) k=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        --covariances) covs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "bench_gmm_f32.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
PY=$(scripts/pyenv.sh | tail -n 1)
cargo build --release -p mmclust-cli >&2
bin=target/release/mmclust
out=bench-out/gmm-f32
mkdir -p "$out"
exec "$PY" - "$bin" "$out" "$n" "$ds" "$k" "$reps" "$iters" "$covs" "$threads" <<'PY'
import json, statistics, subprocess, sys, time
from pathlib import Path
import numpy as np

bin_, out, n, ds, k, reps, iters, covs, threads = sys.argv[1:]
out, n, k, reps, iters = Path(out), int(n), int(k), int(reps), int(iters)
ds = [int(d) for d in ds.split(",")]
covs = covs.split(",")

def data(d):
    x_path, m_path = out / f"blobs_{n}x{d}x{k}.npy", out / f"means_{d}x{k}.npy"
    if not x_path.exists():
        rng = np.random.default_rng(d * 1000 + k)
        centres = rng.uniform(-4.0, 4.0, size=(k, d))
        mix = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
        labels = rng.integers(0, k, size=n)
        x = centres[labels] + rng.normal(size=(n, d)) @ mix
        np.save(x_path, x.astype(np.float32))
        np.save(m_path, centres + 0.3 * rng.normal(size=(k, d)))
    return x_path, m_path

def run(x, m, cov, precision, it):
    cmd = [bin_, "gmm", str(x), "-k", str(k), "--covariance", cov, "--init", str(m),
           "--max-iter", str(it), "--tol", "0", "--precision", precision, "--threads",
           threads, "--json", "--quiet"]
    t = time.perf_counter()
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, json.loads(r.stdout)

print(f"n={n} k={k} threads={threads}: ms per EM iteration, median of {reps} "
      f"(wall({iters + 1}) - wall(1)) / {iters}")
print("| d | covariance | f64 ms | f32 ms | f64 / f32 | f32 iterations | lower bound f64 | f32 |")
print("|---|---|---|---|---|---|---|---|")
for d in ds:
    x, m = data(d)
    for cov in covs:
        per = {"f64": [], "f32": []}
        last = {}
        for rep in range(reps):
            for p in (["f64", "f32"] if rep % 2 == 0 else ["f32", "f64"]):
                one, _ = run(x, m, cov, p, 1)
                many, summary = run(x, m, cov, p, iters + 1)
                per[p].append((many - one) / iters * 1e3)
                last[p] = summary
        a, b = statistics.median(per["f64"]), statistics.median(per["f32"])
        print(f"| {d} | {cov} | {a:.2f} | {b:.2f} | {a / b:.2f}x | "
              f"{last['f32']['f32_iterations']} of {last['f32'].get('n_iter')} | "
              f"{last['f64']['lower_bound']:.10f} | {last['f32']['lower_bound']:.10f} |",
              flush=True)
PY
