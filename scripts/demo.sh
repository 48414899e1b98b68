#!/usr/bin/env bash
# The main job on the bundled Old Faithful data (272 eruptions × 2 columns):
# standardise it, as one should before distance-based clustering, and describe
# the result. Outputs land in report/ (override with OUT=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-report}
mkdir -p "$out"
cargo build --release --quiet -p mmclust-cli
bin=target/release/mmclust
"$bin" info data/faithful.csv --stats
"$bin" standardize data/faithful.csv -o "$out/faithful_z.npy" --stats-out "$out/faithful_z.json"
"$bin" info "$out/faithful_z.npy" --stats
