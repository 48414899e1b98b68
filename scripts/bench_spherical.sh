#!/usr/bin/env bash
# Per-iteration time of spherical (cosine) K-means against Euclidean Lloyd on
# the same data, from the same initial centres (issue 22's target: cosine within
# 1.15x Euclidean). Cosine reads every row through the L2 normalisation on the
# fly (core/src/normalize.rs) and projects the centres after each update; the
# assignment is the same exact Euclidean one, on the unit rows.
#
# Usage: scripts/bench_spherical.sh [DIR]   (data and results in DIR, default
#        target/bench-spherical). Set THREADS (default: nproc), REPS (default 5)
#        and ITERS (default 10).
# Shapes: overlapping blobs n = 1e6, d = 32, k = 100 and n = 2e5, d = 384, k = 100;
# and, when present,
# bench-out/embeddings_words_minilm384.npy (scripts/make_embeddings.sh: 200,000
# real sentence-embedding rows, d = 384) with k = 100.
# Each repetition runs both metrics back to back, alternating which goes first;
# the table gives the median per-iteration time (iter_seconds / n_iter: the
# statistics pass and the initialisation are left out) and the ratio of the
# medians. --algorithm lloyd, --tol 0, --max-iter ITERS.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-spherical}
reps=${REPS:-5}
iters=${ITERS:-10}
threads=${THREADS:-$(nproc)}
mkdir -p "$dir"
cargo build --profile ci -q --bin mmclust
m=target/ci/mmclust
[ -f "$dir/b32.npy" ] || "$m" generate blobs -o "$dir/b32.npy" --n 1000000 --d 32 --k 100 \
  --spread 4 --seed 7 --quiet
# A high-dimensional generated shape too, so d = 384 is measured where the
# embeddings file has not been made.
[ -f "$dir/b384.npy" ] || "$m" generate blobs -o "$dir/b384.npy" --n 200000 --d 384 --k 100 \
  --spread 4 --seed 7 --quiet
shapes=("$dir/b32.npy n=1e6,d=32,k=100" "$dir/b384.npy blobs,n=2e5,d=384,k=100")
emb=bench-out/embeddings_words_minilm384.npy
if [ -f "$emb" ]; then
  shapes+=("$emb embeddings,n=2e5,d=384,k=100")
else
  echo "($emb not found: run scripts/make_embeddings.sh for the d = 384 shape)" >&2
fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, threads=${threads}"
echo
echo "| shape | euclidean ms/iter | cosine ms/iter | cosine / euclidean | (median of $reps, $iters iterations each) |"
echo "|---|---:|---:|---:|---|"
one() { # data init metric -> ms per iteration
  local j
  j=$("$m" --threads "$threads" kmeans "$1" -k 100 --init "$2" --algorithm lloyd \
    --max-iter "$iters" --tol 0 --metric "$3" --json --quiet 2>>"$dir/stderr.log")
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(1000*j["iter_seconds"]/j["n_iter"])' "$j"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for shape in "${shapes[@]}"; do
  set -- $shape
  data=$1 label=$2
  c0="$dir/c0_$(basename "$data" .npy).npy"
  # The same initial centres for both metrics: k rows at random (cosine
  # normalises them, as it normalises the rows).
  [ -f "$c0" ] || "$m" kmeans "$data" -k 100 --init random --max-iter 1 --seed 1 \
    --centers-out "$c0" --quiet >/dev/null
  eu=() co=()
  for r in $(seq "$reps"); do
    if (( r % 2 )); then
      eu+=("$(one "$data" "$c0" euclidean)"); co+=("$(one "$data" "$c0" cosine)")
    else
      co+=("$(one "$data" "$c0" cosine)"); eu+=("$(one "$data" "$c0" euclidean)")
    fi
  done
  me=$(printf '%s\n' "${eu[@]}" | median)
  mc=$(printf '%s\n' "${co[@]}" | median)
  printf '| %s | %.1f | %.1f | %.3f | e: %s; c: %s |\n' "$label" "$me" "$mc" \
    "$(python3 -c "print($mc / $me)")" "$(printf '%.1f,' "${eu[@]}")" "$(printf '%.1f,' "${co[@]}")"
done
