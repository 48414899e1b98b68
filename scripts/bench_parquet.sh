#!/usr/bin/env bash
# Parquet (snappy) input against the .npy of the same data: the time of one Lloyd
# iteration (iter_seconds / n_iter of `kmeans --json`), median of REPS runs each,
# npy and parquet interleaved, and the ratio npy/parquet (the Parquet path's share of
# the .npy path's throughput; issue 24's targets: >= 0.50 at k = 100, >= 0.80 at
# k = 1000). Same data, same random init (seeded), --tol 0, --max-iter ITERS.
#
#   scripts/bench_parquet.sh [--n 1000000] [--d 32] [--ks 100,1000] [--reps 3]
#                            [--iters 10] [--threads T] [--bin PATH]
#
# Data: `mmclust generate blobs`, converted by `mmclust convert` to Parquet (float32
# columns, snappy, row groups of 1 Mi rows as pyarrow and the parquet crate write by
# default). Builds the release binary unless --bin is given; data go to
# bench-out/parquet/. No Python needed. Run on a quiet machine.
# Smoke run: scripts/bench_parquet.sh --n 5000 --d 8 --ks 10 --reps 1 --iters 2
set -euo pipefail
cd "$(dirname "$0")/.."
n=1000000; d=32; ks=100,1000; reps=3; iters=10; threads=$(nproc); bin=
while [ $# -gt 0 ]; do
    case $1 in
        --n) n=$2; shift 2 ;;
        --d) d=$2; shift 2 ;;
        --ks) ks=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        *) echo "bench_parquet.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$bin" ]; then
    cargo build --release -p mmclust-cli >&2
    bin=target/release/mmclust
fi
out=bench-out/parquet
mkdir -p "$out"
npy=$out/blobs_${n}x${d}.npy
pq=$out/blobs_${n}x${d}.parquet
[ -f "$npy" ] || "$bin" generate blobs -o "$npy" --n "$n" --d "$d" --k 100 --seed 7 --quiet
[ -f "$pq" ] || "$bin" convert "$npy" "$pq" --quiet
echo "data: $npy ($(stat -c %s "$npy") bytes), $pq ($(stat -c %s "$pq") bytes, snappy); threads $threads"

# Seconds per Lloyd iteration of one run.
per_iter() {
    local file=$1 k=$2 json it ni
    json=$("$bin" kmeans "$file" -k "$k" --algorithm lloyd --init random --n-init 1 \
        --max-iter "$iters" --tol 0 --seed 1 --threads "$threads" --json --quiet)
    it=$(printf '%s' "$json" | grep -o '"iter_seconds":[^,}]*' | cut -d: -f2)
    ni=$(printf '%s' "$json" | grep -o '"n_iter":[^,}]*' | cut -d: -f2)
    awk -v t="$it" -v n="$ni" 'BEGIN { printf "%.6f\n", t / n }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-6s %-14s %-14s %-8s\n' k npy_s_per_iter parquet_s_per_iter ratio
for k in ${ks//,/ }; do
    a=(); b=()
    for _ in $(seq "$reps"); do
        a+=("$(per_iter "$npy" "$k")")
        b+=("$(per_iter "$pq" "$k")")
    done
    ma=$(printf '%s\n' "${a[@]}" | median)
    mb=$(printf '%s\n' "${b[@]}" | median)
    ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')
    printf '%-6s %-14s %-14s %-8s\n' "$k" "$ma" "$mb" "$ratio"
done
