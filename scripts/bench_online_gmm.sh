#!/usr/bin/env bash
# Online (stepwise) EM against full EM (issue 23's target: at least 99 % of
# full EM's log-likelihood improvement in at most 1/5 of its time).
#
# Usage: scripts/bench_online_gmm.sh [--n N] [--d D] [--k K] [--spread S]
#            [--runs R] [--dir DIR] [-- EXTRA ONLINE FLAGS...]
#   defaults: n = 1,000,000, d = 32, k = 32, spread 8 (overlapping blobs from
#   `mmclust generate blobs`), diag covariances, 3 runs, DIR target/bench-online.
#   THREADS (default: nproc) sets --threads. A smaller --n is a smoke test.
#
# 1. From the same initial parameters (k-means++ seeds on the data and one
#    EM iteration from their hard assignment, written once as a model file
#    and given to both with --init MODEL.json): full EM to convergence
#    (--tol 1e-3, scikit-learn's default) and online EM with its defaults.
#    Both are timed from the end of the initialisation (`iter_seconds`: EM's
#    iterations; online EM's steps, with a --refine's iterations if given);
#    the final log-likelihood pass of each is left out of both.
#    The improvement of each is its final log-likelihood (per row, on all the
#    data) minus that of the initial parameters (`mmclust score`).
# 2. Whole runs with each one's defaults (full EM: --init kmeans; online:
#    --init kmeans on its sample): fit_seconds and the log-likelihood.
# Each number is the median of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
n=1000000; d=32; k=32; spread=8; runs=3; dir=target/bench-online
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --d) d=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --spread) spread=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--n N] [--d D] [--k K] [--spread S] [--runs R] [--dir DIR] [-- FLAGS]" >&2
       exit 2 ;;
  esac
done
threads=${THREADS:-$(nproc)}
mkdir -p "$dir"
cargo build --profile ci -q --bin mmclust
m=target/ci/mmclust
data="$dir/blobs_n${n}_d${d}_k${k}_s${spread}.npy"
[ -f "$data" ] || "$m" generate blobs -o "$data" --n "$n" --d "$d" --k "$k" \
  --spread "$spread" --seed 7 --quiet
init="$dir/init_n${n}_d${d}_k${k}_s${spread}.json"
[ -f "$init" ] || "$m" gmm "$data" -k "$k" --covariance diag --init k-means++ --max-iter 1 \
  --tol 0 --seed 1 --model-out "$init" --quiet --threads "$threads" >/dev/null
ll0=$("$m" score "$init" "$data" --json --quiet --threads "$threads" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["log_likelihood"])')
out="$dir/runs_n${n}.jsonl"
: >"$out"
common=(-k "$k" --covariance diag --json --quiet --threads "$threads")
for r in $(seq 1 "$runs"); do
  # Alternate which goes first, so neither always finds the cache warm.
  if [ $((r % 2)) -eq 1 ]; then order="full online"; else order="online full"; fi
  for what in $order; do
    case $what in
      full) "$m" gmm "$data" "${common[@]}" --init "$init" --max-iter 1000 ;;
      online) "$m" gmm "$data" "${common[@]}" --init "$init" --online "${extra[@]}" ;;
    esac | python3 -c "import json,sys; v=json.load(sys.stdin); v['what']='$what'; print(json.dumps(v))" >>"$out"
  done
  for what in full-defaults online-defaults; do
    case $what in
      full-defaults) "$m" gmm "$data" "${common[@]}" --seed "$r" ;;
      online-defaults) "$m" gmm "$data" "${common[@]}" --seed "$r" --online "${extra[@]}" ;;
    esac | python3 -c "import json,sys; v=json.load(sys.stdin); v['what']='$what'; print(json.dumps(v))" >>"$out"
  done
done
python3 - "$out" "$ll0" "$n" "$d" "$k" "$spread" "$threads" <<'PY'
import json, statistics, sys
path, ll0, n, d, k, spread, threads = sys.argv[1:]
ll0 = float(ll0)
rows = [json.loads(l) for l in open(path)]
def med(what, key):
    return statistics.median(r[key] for r in rows if r["what"] == what)
def online(what, key):
    return statistics.median(r["online"][key] for r in rows if r["what"] == what)
print(f"online EM vs full EM: n = {n}, d = {d}, k = {k}, diag, blobs spread {spread}, "
      f"{threads} threads, medians of {sum(r['what'] == 'full' for r in rows)} runs")
print(f"initial parameters: log-likelihood {ll0:.6f} per row")
full_ll, on_ll = med("full", "log_likelihood"), med("online", "log_likelihood")
full_t, on_t = med("full", "iter_seconds"), med("online", "iter_seconds")
gain_full, gain_on = full_ll - ll0, on_ll - ll0
print(f"full EM:   log-likelihood {full_ll:.6f} (improvement {gain_full:.6f}), "
      f"{med('full', 'n_iter'):.0f} iterations, {full_t:.3f} s")
print(f"online EM: log-likelihood {on_ll:.6f} (improvement {gain_on:.6f}), "
      f"{online('online', 'steps'):.0f} steps ({online('online', 'epochs'):.2f} epochs), "
      f"{on_t:.3f} s")
ratio, speed = gain_on / gain_full, on_t / full_t
print(f"improvement ratio {ratio:.4f} (target >= 0.99); time ratio {speed:.4f} "
      f"(target <= 0.2): {'MET' if ratio >= 0.99 and speed <= 0.2 else 'NOT MET'}")
print("whole runs with each one's defaults (--init kmeans; fit_seconds, statistics pass "
      "and initialisation included):")
for what in ("full-defaults", "online-defaults"):
    print(f"  {what:16s} log-likelihood {med(what, 'log_likelihood'):.6f}, "
          f"fit {med(what, 'fit_seconds'):.3f} s (init {med(what, 'init_seconds'):.3f} s, "
          f"iterations/steps {med(what, 'iter_seconds'):.3f} s)")
PY
