#!/usr/bin/env bash
# Thread scaling: a Lloyd iteration, a mini-batch run and a GMM (full covariance)
# EM iteration at 1, 2, 4, … threads up to the core count, with speed-up and
# parallel efficiency. Per-iteration times are measured from outside as
# (wall of N+1 iterations − wall of 1) / N, the median of REPS repetitions.
# Usage: scripts/scaling.sh [--quick] [--out FILE.md]
# Environment: REPS (default 3), N_ITER (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    *) echo "usage: scripts/scaling.sh [--quick] [--out FILE.md]" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet -p mmclust-cli
bin=$PWD/target/release/mmclust
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
reps=${REPS:-3}; iters=${N_ITER:-10}
if [ $quick = 1 ]; then n_km=200000; n_gmm=50000; else n_km=1000000; n_gmm=200000; fi
"$bin" generate blobs -o "$work/km.npy" --n $n_km --d 32 --k 100 --spread 12 --quiet
"$bin" generate blobs -o "$work/gmm.npy" --n $n_gmm --d 16 --k 16 --spread 3 --quiet
"$bin" kmeans "$work/km.npy" -k 100 --init random --max-iter 1 --centers-out "$work/c0.npy" --quiet > /dev/null
"$bin" kmeans "$work/gmm.npy" -k 16 --max-iter 5 --centers-out "$work/m0.npy" --quiet > /dev/null

ncpu=$(nproc); threads=""; t=1
while [ $t -lt "$ncpu" ]; do threads="$threads $t"; t=$((t * 2)); done
threads="$threads $ncpu"

wall() { local s; s=$(date +%s.%N); "$@" > /dev/null; echo "$(date +%s.%N) - $s" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
per_iter() { # command... (without --max-iter): median over reps of (wall(N+1) − wall(1)) / N
  local v=() one many
  for _ in $(seq "$reps"); do
    one=$(wall "$@" --max-iter 1); many=$(wall "$@" --max-iter $((iters + 1)))
    v+=("$(echo "($many - $one) / $iters" | bc -l)")
  done
  median "${v[@]}"
}
run_time() { local v=(); for _ in $(seq "$reps"); do v+=("$(wall "$@")"); done; median "${v[@]}"; }

declare -A lloyd mb gmm
for t in $threads; do
  lloyd[$t]=$(per_iter "$bin" kmeans "$work/km.npy" -k 100 --init "$work/c0.npy" --tol 0 --threads "$t" --quiet)
  mb[$t]=$(run_time "$bin" kmeans "$work/km.npy" -k 100 --algorithm minibatch --max-no-improvement 0 \
    --max-iter 2 --threads "$t" --quiet)
  gmm[$t]=$(per_iter "$bin" gmm "$work/gmm.npy" -k 16 --covariance full --init "$work/m0.npy" --tol 0 \
    --threads "$t" --quiet)
  echo "threads $t: lloyd ${lloyd[$t]} s/iter, minibatch ${mb[$t]} s, gmm ${gmm[$t]} s/iter" >&2
done

{
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $ncpu logical CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%d)."
  echo "Lloyd: n = $n_km, d = 32, k = 100, per iteration. Mini-batch: same data, 2 epochs of 8192-row batches (no early stop), whole run. GMM: full covariance, n = $n_gmm, d = 16, k = 16, per EM iteration. Medians of $reps."
  echo
  echo "| threads | Lloyd s/iter | speed-up | efficiency | mini-batch s | speed-up | efficiency | GMM s/iter | speed-up | efficiency |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in $threads; do
    row="| $t"
    for name in lloyd mb gmm; do
      declare -n m=$name
      base=${m[1]}; v=${m[$t]}
      row="$row | $(printf '%.4f' "$v") | $(printf '%.2f×' "$(echo "$base / $v" | bc -l)") | $(printf '%.0f%%' "$(echo "100 * $base / $v / $t" | bc -l)")"
    done
    echo "$row |"
  done
} | tee "${out:-/dev/null}"
