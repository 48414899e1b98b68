#!/usr/bin/env bash
# Per-Lloyd-iteration time of the exact assignment on each instruction-set
# path this CPU has, from the same initial centres, with the re-check rate.
#
# Usage: scripts/bench_exact.sh [DIR]     (data and results in DIR, default
#        target/bench-exact). Set BASELINE=/path/to/an/older/mmclust to time
#        that binary too (its default path), e.g. one built before the exact
#        assignment. Set THREADS (default: nproc), REPS (default 3) and PATHS
#        (default: every path this CPU has but scalar).
# Shapes: overlapping blobs n = 1e6, d = 32, k = 100; n = 2e5, d = 384,
# k = 100 and k = 1000; n = 5e5, d = 64, k = 1000 and k = 100 (the bf16 range's edge).
# Prints one Markdown table (median of REPS runs of 10 iterations each, tol 0,
# --algorithm lloyd, the variants alternating run by run; the speed-up is the
# first row's time over each row's) with the CPU model.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-exact}
reps=${REPS:-3}
threads=${THREADS:-$(nproc)}
mkdir -p "$dir"
cargo build --profile ci -q --bin mmclust
m=target/ci/mmclust
gen() { # name n d
  [ -f "$dir/$1.npy" ] || "$m" generate blobs -o "$dir/$1.npy" --n "$2" --d "$3" --k 100 --spread 4 --seed 7 --quiet
}
gen b32 1000000 32
gen b384 200000 384
gen b64 500000 64
init() { # data k out
  [ -f "$dir/$3.npy" ] || "$m" kmeans "$dir/$1.npy" -k "$2" --init random --max-iter 1 --seed 1 \
    --centers-out "$dir/$3.npy" --quiet >/dev/null 2>&1
}
init b32 100 c_b32_100
init b384 100 c_b384_100
init b384 1000 c_b384_1000
init b64 1000 c_b64_1000
init b64 100 c_b64_100
# The paths this CPU has (the refusal of a bogus one lists them), without the
# scalar one unless PATHS names it: it is there for correctness, not speed.
have=$( (MMCLUST_ISA=bogus "$m" info "$dir/b32.npy" 2>&1 || true) | sed -n 's/.*this CPU has \([^;]*\);.*/\1/p' | tr -d ',')
paths=${PATHS:-$(echo "$have" | tr ' ' '\n' | grep -v '^scalar$' | tr '\n' ' ')}
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, threads=${threads}"
echo
echo "| shape | binary / path | ms per iteration (median of $reps) | vs the first row | rechecks per row |"
echo "|---|---|---:|---:|---:|"
once() { # binary isa data k init -> "ms rechecks"
  local j
  j=$(env ${2:+MMCLUST_ISA=$2} "$1" --threads "$threads" kmeans "$dir/$3.npy" -k "$4" --init "$dir/$5.npy" \
    --algorithm lloyd --max-iter 10 --tol 0 --json --quiet 2>/dev/null)
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(1000*j["iter_seconds"]/j["n_iter"], j.get("rechecks_per_row","-"))' "$j"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The runs alternate between the binaries and paths, repetition by
# repetition, so that a change in the machine's speed (a shared host) falls
# on all of them alike.
for shape in "b32 100 c_b32_100 n=1e6,d=32,k=100" "b384 100 c_b384_100 n=2e5,d=384,k=100" \
             "b384 1000 c_b384_1000 n=2e5,d=384,k=1000" "b64 1000 c_b64_1000 n=5e5,d=64,k=1000" \
             "b64 100 c_b64_100 n=5e5,d=64,k=100"; do
  set -- $shape
  variants=()
  [ -z "${BASELINE:-}" ] || variants+=("$BASELINE|")
  for p in $paths; do variants+=("$m|$p"); done
  declare -A times=() rcs=()
  for _ in $(seq "$reps"); do
    for v in "${variants[@]}"; do
      read -r ms rc < <(once "${v%%|*}" "${v#*|}" "$1" "$2" "$3")
      times[$v]+="$ms "
      rcs[$v]=$rc
    done
  done
  first=""
  for v in "${variants[@]}"; do
    med=$(printf '%s\n' ${times[$v]} | median)
    [ -n "$first" ] || first=$med
    if [ "${v%%|*}" = "$m" ]; then label="exact, ${v#*|}"; else label="baseline ($(basename "${v%%|*}"))"; fi
    printf '| %s | %s | %.1f | %.2fx | %s |\n' "$4" "$label" "$med" "$(python3 -c "print($first/$med)")" "${rcs[$v]}"
  done
  unset times rcs
done
