#!/usr/bin/env bash
# Per-iteration time of spherical (cosine) K-means on a sparse CSR .npz against
# its dense float32 copy (.npy), from the same initial centres (issue 22: sparse
# input for documents).
#
# Usage: scripts/bench_sparse.sh [DIR]   (data and results in DIR, default
#        target/bench-sparse). Environment: N (rows, default 100000), D (columns,
#        default 32768), DENSITY (default 0.005), K (default 20), THREADS (default
#        nproc), REPS (default 3), ITERS (default 10), METRICS (default "cosine";
#        "cosine euclidean" for both).
#
# The data: a 20-newsgroups-like TF-IDF matrix made by a short NumPy/SciPy program
# below (venv from scripts/pyenv.sh): K topics, each row about D·DENSITY words,
# 70 % of them from its topic's vocabulary, Zipf-like word frequencies, TF-IDF
# weights, float32, saved by scipy.sparse.save_npz compressed (the default) and
# uncompressed; the dense copy by `mmclust convert` (N·D·4 bytes on disk: 13 GB
# at the defaults; lower N for a smaller disk).
#
# Rows: sparse uncompressed (memory-mapped), sparse compressed (inflated once to a
# scratch file in TMPDIR at open: that time is in fit_seconds, not in the
# per-iteration figure), dense. The table gives the median per-iteration time
# (iter_seconds / n_iter) and the ratio to the dense copy, and checks that the
# three runs give the same inertia (they must: the same bits).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-sparse}
n=${N:-100000}
d=${D:-32768}
density=${DENSITY:-0.005}
k=${K:-20}
reps=${REPS:-3}
iters=${ITERS:-10}
threads=${THREADS:-$(nproc)}
metrics=${METRICS:-cosine}
mkdir -p "$dir"
cargo build --profile ci -q --bin mmclust
m=target/ci/mmclust
base="$dir/tfidf_n${n}_d${d}_p${density}"
if [ ! -f "$base.npz" ]; then
  PY=$(scripts/pyenv.sh | tail -n 1)
  "$PY" - "$base" "$n" "$d" "$density" "$k" <<'PYEOF'
import sys
import numpy as np
import scipy.sparse as sp
base, n, d, density, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(20261204)
per_row = max(1, int(round(d * density)))
zipf = 1.0 / np.arange(1, d + 1) ** 1.1
zipf /= zipf.sum()
vocab = d // k
topic = rng.integers(0, k, size=n)
words = rng.choice(d, size=(n, per_row), p=zipf)           # background words
own = rng.random((n, per_row)) < 0.7
words = np.where(own, topic[:, None] * vocab + rng.integers(0, vocab, size=(n, per_row)), words)
rows = np.repeat(np.arange(n), per_row)
counts = sp.coo_matrix((np.ones(rows.size, np.float32), (rows, words.ravel())), shape=(n, d)).tocsr()
counts.sum_duplicates()
df = np.bincount(counts.indices, minlength=d)
idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
x = counts.multiply(idf[None, :]).tocsr().astype(np.float32)
x.sort_indices()
sp.save_npz(base + ".npz", x)
sp.save_npz(base + "_plain.npz", x, compressed=False)
print(f"{base}.npz: {n} x {d}, nnz {x.nnz} ({x.nnz / (n * d):.4%})", file=sys.stderr)
PYEOF
fi
[ -f "$base.npy" ] || "$m" convert "$base.npz" "$base.npy" --quiet
c0="$base.c0.npy"
[ -f "$c0" ] || "$m" kmeans "$base.npz" -k "$k" --init random --max-iter 1 --seed 1 \
  --centers-out "$c0" --quiet >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, threads=${threads}"
echo "data: n=$n, d=$d, density=$density, k=$k; $(du -h "$base.npz" | cut -f1) compressed, $(du -h "$base"_plain.npz | cut -f1) uncompressed, $(du -h "$base.npy" | cut -f1) dense"
echo
echo "| metric | input | ms/iter | / dense | inertia | (median of $reps, $iters iterations each) |"
echo "|---|---|---:|---:|---|---|"
one() { # data metric -> "ms_per_iter inertia"
  local j
  j=$("$m" --threads "$threads" kmeans "$1" -k "$k" --init "$c0" --algorithm lloyd \
    --max-iter "$iters" --tol 0 --metric "$2" --json --quiet 2>>"$dir/stderr.log")
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(1000*j["iter_seconds"]/j["n_iter"], repr(j["inertia"]))' "$j"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for metric in $metrics; do
  declare -A ms=() inertia=()
  for r in $(seq "$reps"); do
    for input in "$base.npy" "$base"_plain.npz "$base.npz"; do
      read -r t i < <(one "$input" "$metric")
      ms[$input]+="$t "
      inertia[$input]=$i
    done
  done
  dense=$(printf '%s\n' ${ms[$base.npy]} | median)
  for input in "$base"_plain.npz "$base.npz" "$base.npy"; do
    med=$(printf '%s\n' ${ms[$input]} | median)
    same=$([ "${inertia[$input]}" = "${inertia[$base.npy]}" ] && echo "same as dense" || echo "DIFFERS from dense ${inertia[$base.npy]}")
    printf '| %s | %s | %.1f | %.3f | %s (%s) | %s |\n' "$metric" "$(basename "$input")" "$med" \
      "$(python3 -c "print($med / $dense)")" "${inertia[$input]}" "$same" "${ms[$input]}"
  done
  unset ms inertia
done
