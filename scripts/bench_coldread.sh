#!/usr/bin/env bash
# Mini-batch K-means reading a file from a cold page cache, against the file's
# raw sequential read rate (dd), in one run. Needs root to drop the page cache
# (`echo 3 > /proc/sys/vm/drop_caches`); without it the numbers are warm and
# the script says so.
# Usage: scripts/bench_coldread.sh [FILE]   (default: generates 32,000,000 × 32
# float32 = 4 GiB in a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mmclust-cli
bin=$PWD/target/release/mmclust
if [ $# -ge 1 ]; then
  file=$1
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  file=$work/big.npy
  "$bin" generate blobs -o "$file" --n 32000000 --d 32 --k 100 --spread 4 --quiet
fi
drop() {
  sync
  if echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then echo cold; else echo "WARM (cannot drop caches)"; fi
}
bytes=$(stat -c %s "$file")
state=$(drop)
start=$(date +%s.%N)
dd if="$file" of=/dev/null bs=8M status=none
dd_s=$(echo "$(date +%s.%N) - $start" | bc)
dd_rate=$(echo "$bytes / $dd_s / 1048576" | bc -l)
printf 'dd sequential read (%s): %.0f MiB/s (%s bytes in %.2f s)\n' "$state" "$dd_rate" "$bytes" "$dd_s"
for block in 256 4096; do
  state=$(drop)
  "$bin" kmeans "$file" -k 100 --algorithm minibatch --block-rows "$block" --seed 1 --quiet --json \
    > "${TMPDIR:-/tmp}/coldread.json"
  python3 - "$dd_rate" "$state" "$block" "${TMPDIR:-/tmp}/coldread.json" <<'PY'
import json, sys
dd_rate, state, block, path = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
j = json.load(open(path))
rows = j["n_iter"] * j["batch_size"]
row_bytes = 4 * j["d"]
rate = rows * row_bytes / j["iter_seconds"] / 1048576
print(f"minibatch ({state}), blocks of {block} rows: {j['n_iter']} steps, {rows:,} rows in "
      f"{j['iter_seconds']:.2f} s = {rows / j['iter_seconds'] / 1e6:.2f} M rows/s = {rate:.0f} MiB/s "
      f"= {100 * rate / dd_rate:.0f}% of dd; init {j['init_seconds']:.2f} s, "
      f"final exact-inertia pass included in fit {j['fit_seconds']:.2f} s")
PY
done
