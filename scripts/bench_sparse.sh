#!/usr/bin/env bash
# Per-iteration time of K-means (spherical/cosine, and Euclidean) on a sparse
# CSR .npz: the sparse passes (products over the non-zeros, sums of the
# non-zeros; crates/core/src/kernel/sparse.rs, crates/kmeans/src/sparse_pass.rs)
# against the densified passes on the same file (MMCLUST_SPARSE=off: each chunk
# of rows densified, the dense kernels), from the same initial centres, and
# scikit-learn's KMeans (lloyd) on the CSR matrix (Euclidean; for cosine on the
# L2-normalised rows, its centres being means, not unit vectors: the same E-step
# work, not the same algorithm). Issue 22.
#
# Usage: scripts/bench_sparse.sh [DIR]   (data and results in DIR, default
#        target/bench-sparse). Environment: N (rows, default 100000), D (columns,
#        default 50000), DENSITY (default 0.002: about 100 non-zeros a row), K
#        (default 100), THREADS (default nproc), REPS (default 3), ITERS (sparse
#        path and scikit-learn, default 10), ITERS_DENSE (densified path, default 1:
#        an iteration there is n·k·d products), METRICS (default
#        "cosine euclidean"), SKLEARN (default 1), MMCLUST (a built binary to use
#        instead of building target/ci/mmclust).
#
# The data: a TF-IDF-like matrix made by a short NumPy/SciPy program below (venv
# from scripts/pyenv.sh): K topics, each row about D·DENSITY words, 70 % from its
# topic's vocabulary, Zipf-like background words, TF-IDF weights, float32, saved
# by scipy.sparse.save_npz uncompressed (memory-mapped). No dense copy is written
# (it would be N·D·4 bytes: 20 GB at the defaults).
#
# The table gives the median per-iteration time (iter_seconds / n_iter, medians
# of REPS runs) and the ratio to the densified path, and checks that the sparse
# and densified runs give the same inertia after the same iterations (they must:
# the same bits; the tests check centres and labels).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-sparse}
n=${N:-100000}
d=${D:-50000}
density=${DENSITY:-0.002}
k=${K:-100}
reps=${REPS:-3}
iters=${ITERS:-10}
iters_dense=${ITERS_DENSE:-1}
threads=${THREADS:-$(nproc)}
metrics=${METRICS:-cosine euclidean}
sklearn=${SKLEARN:-1}
mkdir -p "$dir"
if [ -n "${MMCLUST:-}" ]; then m=$MMCLUST; else
  cargo build --profile ci -q --bin mmclust
  m=target/ci/mmclust
fi
PY=$(scripts/pyenv.sh | tail -n 1)
base="$dir/tfidf_n${n}_d${d}_p${density}"
if [ ! -f "$base.npz" ]; then
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
sp.save_npz(base + ".npz", x, compressed=False)
print(f"{base}.npz: {n} x {d}, nnz {x.nnz} ({x.nnz / n:.1f} a row)", file=sys.stderr)
PYEOF
fi
c0="$base.k$k.c0.npy"
[ -f "$c0" ] || "$m" kmeans "$base.npz" -k "$k" --init random --max-iter 1 --seed 1 \
  --metric cosine --centers-out "$c0" --quiet >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, threads=${threads}"
echo "data: n=$n, d=$d, density=$density ($(python3 -c "print(round($d*$density))") non-zeros a row), k=$k; $(du -h "$base.npz" | cut -f1) uncompressed .npz"
echo
echo "| metric | path | ms/iter | / densified | inertia after 1 iteration | runs (ms/iter) |"
echo "|---|---|---:|---:|---|---|"
one() { # metric iters env... -> "ms_per_iter inertia"
  local metric=$1 it=$2 j
  shift 2
  j=$(env "$@" "$m" --threads "$threads" kmeans "$base.npz" -k "$k" --init "$c0" --algorithm lloyd \
    --max-iter "$it" --tol 0 --metric "$metric" --json --quiet 2>>"$dir/stderr.log")
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(1000*j["iter_seconds"]/j["n_iter"], repr(j["history"][0]))' "$j" |
    tee -a "$dir/runs.log"
}
skl() { # metric -> ms_per_iter
  OMP_NUM_THREADS=$threads "$PY" - "$base.npz" "$c0" "$1" "$iters" <<'PYEOF'
import sys, time
import numpy as np, scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize
x = sp.load_npz(sys.argv[1]).astype(np.float32)
c0 = np.load(sys.argv[2]).astype(np.float32)
if sys.argv[3] == "cosine":
    x = normalize(x)
it = int(sys.argv[4])
t = time.perf_counter()
km = KMeans(n_clusters=c0.shape[0], init=c0, n_init=1, max_iter=it, tol=0, algorithm="lloyd").fit(x)
print(1000 * (time.perf_counter() - t) / km.n_iter_)
PYEOF
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for metric in $metrics; do
  sparse_ms="" dense_ms="" skl_ms=""
  for r in $(seq "$reps"); do
    read -r t i_sparse < <(one "$metric" "$iters")
    sparse_ms+="$t "
    read -r t i_dense < <(one "$metric" "$iters_dense" MMCLUST_SPARSE=off)
    dense_ms+="$t "
    if [ "$sklearn" = 1 ]; then skl_ms+="$(skl "$metric") "; fi
  done
  dense=$(printf '%s\n' $dense_ms | median)
  same=$([ "$i_sparse" = "$i_dense" ] && echo "same" || echo "DIFFERS: $i_dense")
  row() { # label times inertia
    local med
    med=$(printf '%s\n' $2 | median)
    printf '| %s | %s | %.1f | %.4f | %s | %s |\n' "$metric" "$1" "$med" \
      "$(python3 -c "print($med / $dense)")" "$3" "$2"
  }
  row "sparse (mmclust)" "$sparse_ms" "$i_sparse ($same)"
  row "densified (MMCLUST_SPARSE=off)" "$dense_ms" "$i_dense"
  if [ "$sklearn" = 1 ]; then row "scikit-learn KMeans on the CSR" "$skl_ms" "-"; fi
done
