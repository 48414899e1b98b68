#!/usr/bin/env bash
# The walk-through on the bundled Old Faithful data (272 eruptions × 2 columns):
# standardise, elbow and silhouette over k, K-means at the chosen k, Gaussian
# mixtures chosen by BIC; writes report/index.html (override with OUT=dir) with
# the plots and a table of scores, and prints a summary. Same as
# `cargo run --release -- demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-report}
cargo build --release --quiet -p mmclust-cli
target/release/mmclust demo --out "$out"
echo "open $out/index.html in a browser (no network needed)"
