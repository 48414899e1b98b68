#!/usr/bin/env bash
# mmclust against its peers (scikit-learn, scikit-learn-intelex, faiss-cpu), and the
# benchmark report docs/benchmarks.md.
#
#   scripts/bench_peers.sh --all [--quick]   # every section below, then the report
#   scripts/bench_peers.sh --kmeans          # Lloyd iteration, full fit, mini-batch (n = 1e6)
#   scripts/bench_peers.sh --real            # scikit-learn digits and sample-image pixels
#   scripts/bench_peers.sh --embeddings      # Lloyd iteration on real word embeddings (d = 384,
#                                            # n = 200,000, k = 100 and 1000; scripts/make_embeddings.sh)
#   scripts/bench_peers.sh --accel           # exact Lloyd / Hamerly / Yinyang to convergence
#   scripts/bench_peers.sh --gmm             # one EM iteration vs GaussianMixture
#   scripts/bench_peers.sh --silhouette      # exact silhouette vs silhouette_score
#   scripts/bench_peers.sh [bench_peers.py options]   # anything else goes to the script
#
# Builds the pinned venv (.venv-py, scripts/pyenv.sh) and the release binary, generates
# the data under bench-out/, runs engines alternately with medians of several runs, and
# splices each section's Markdown into docs/benchmarks.md (scripts/bench_report.py, which
# also rewrites the machine description and the headline table there and in README.md).
# --all also runs scripts/scaling.sh and scripts/bench_kernel.sh. The full --all takes
# hours on a 2-core machine; --quick shrinks every problem for a smoke run (and then
# does not touch docs/ unless --write-quick is given too).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(scripts/pyenv.sh | tail -n 1)
if ! cargo build --release -p mmclust-cli >&2; then
    echo "bench_peers.sh: cargo build failed; mmclust will be skipped if no binary is usable" >&2
fi
# The Python package, for the engine mmclust-py (mmclust.KMeans beside sklearn's).
if ! "$PY" -m pip install --quiet ./crates/python >&2; then
    echo "bench_peers.sh: pip install ./crates/python failed; mmclust-py will fail" >&2
fi

mode=""; quick=(); write_quick=0; rest=()
for a in "$@"; do
    case "$a" in
        --all|--kmeans|--embeddings) mode=${a#--} ;;
        --quick) quick=(--quick) ;;
        --write-quick) write_quick=1 ;;
        *) rest+=("$a") ;;
    esac
done
report=()
if [ ${#quick[@]} -gt 0 ] && [ $write_quick = 0 ]; then report=(--no-report); fi

run() { "$PY" scripts/bench_peers.py "${quick[@]}" "${report[@]}" "$@"; }

case "$mode" in
    kmeans) run --configs 32x100,128x1000 --minibatch "${rest[@]}" ;;
    embeddings)
        # Per Lloyd iteration against every peer, then time to convergence from
        # the same C0 (mmclust's variants against scikit-learn-intelex, the
        # fastest peer per iteration here; scikit-learn's elkan takes minutes
        # per run at k = 1000), spliced into one section.
        emb=bench-out/embeddings_words_minilm384.npy
        [ -f "$emb" ] || scripts/make_embeddings.sh --out "$emb" >&2
        run --embeddings "$emb" --no-full --no-report --out bench-out/section-embeddings-iter.md \
            "${rest[@]}"
        run --embeddings "$emb" --no-full --no-iter --accel --no-mlpack \
            --engines mmclust,sklearnex --no-report --out bench-out/section-embeddings-accel.md \
            "${rest[@]}"
        { cat bench-out/section-embeddings-iter.md
          sed -n '/^## Exact accelerated K-means/,$p' bench-out/section-embeddings-accel.md
        } > bench-out/section-embeddings.md
        if [ ${#report[@]} -eq 0 ]; then
            "$PY" scripts/bench_report.py --section embeddings bench-out/section-embeddings.md
        fi
        ;;
    all)
        q=${#quick[@]}
        if [ "$q" -gt 0 ]; then configs=32x100; else configs=32x100,128x1000; fi
        run --configs "$configs" --minibatch "${rest[@]}"
        run --real "${rest[@]}"
        run --accel --no-iter --no-full --configs "$configs" --engines mmclust,sklearn,sklearnex "${rest[@]}"
        if [ "$q" -gt 0 ]; then
            run --gmm --configs 50000x16x16 "${rest[@]}"
            run --silhouette --sil-n 5000 "${rest[@]}"
            scripts/scaling.sh --quick --out bench-out/section-scaling.md
        else
            run --gmm --configs 200000x16x16,1000000x32x32 "${rest[@]}"
            run --silhouette "${rest[@]}"
            scripts/scaling.sh --out bench-out/section-scaling.md
            scripts/bench_kernel.sh --write
        fi
        if [ ${#report[@]} -eq 0 ]; then
            "$PY" scripts/bench_report.py --section scaling bench-out/section-scaling.md
        fi
        ;;
    *) run "${rest[@]}" ;;
esac
