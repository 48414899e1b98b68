#!/usr/bin/env bash
# Parquet input larger than the memory limit (issue 24: "read row group by row
# group with bounded memory, never the whole file"). Generates an N × 32 float32
# matrix (default 12,000,000 rows: 1.5 GB as .npy) and writes it as Parquet twice:
#   - pyarrow's defaults (ParquetWriter, row groups of 1 Mi rows, dictionary
#     encoding, snappy, no page index): the file most users have;
#   - `mmclust convert` (row groups of 1 Mi rows, plain, snappy, with an offset
#     index), itself run under the limit.
# Then, under a 1 GiB memory cgroup (../shared/tools/memlimit; LIMIT overrides),
# for each Parquet file:
#   1. `info --stats`;
#   2. `kmeans -k 20 --max-iter 5` gives the centres of the same run on the .npy
#      without the limit, bit for bit;
#   3. `report -k 2..=3` in the light settings of the report's own memory test
#      (crates/cli/tests/report_cli.rs: one start, 5 Lloyd iterations, diagonal
#      mixtures of 3 EM iterations, silhouettes of 1000 sampled rows).
# Mini-batch is left out: each 256-row block it draws decodes a whole page per
# column (1 MiB with pyarrow's defaults), so over a file larger than the limit it
# rereads the file many times over (measured in docs/benchmarks.md, "parquet");
# convert such a file to .npy for mini-batch.
# Prints the peak RSS and seconds of each run. Skips the limited runs (without
# failing) where memlimit has no cgroup (exit 3). Needs python3 (a venv with
# pyarrow is made by scripts/pyreqs.sh).
# Usage: scripts/check_memory_parquet.sh [WORKDIR]   (default: a temporary folder, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet -p mmclust-cli
  bin=$root/target/release/mmclust
fi
memlimit=${MEMLIMIT:-$root/../shared/tools/memlimit}
limit=${LIMIT:-1G}
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
n=${N:-12000000}
source scripts/pyreqs.sh
venv="$root/.venv-parquet"
venv_ensure "$venv" "${PYTHON:-python3}" "$(pin numpy)" "$(pin pyarrow)"

npy="$work/big.npy"
[ -f "$npy" ] || "$bin" generate blobs -o "$npy" --n "$n" --d 32 --k 50 --spread 4 --seed 5 --quiet
pyarrow_file="$work/big_pyarrow.parquet"
[ -f "$pyarrow_file" ] || "$venv/bin/python" - "$npy" "$pyarrow_file" <<'EOF'
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
x = np.load(sys.argv[1], mmap_mode="r")
schema = pa.schema([(f"x{j}", pa.float32()) for j in range(x.shape[1])])
step = 1 << 20
with pq.ParquetWriter(sys.argv[2], schema) as w:
    for s in range(0, x.shape[0], step):
        b = np.ascontiguousarray(x[s:s + step])
        w.write_table(pa.table({f"x{j}": b[:, j] for j in range(b.shape[1])}, schema=schema), row_group_size=step)
EOF

# limited CMD...: CMD under the memory limit, its peak RSS (MiB) and seconds in
# $work/last; returns 3 where there is no cgroup. The page cache is dropped first
# where this user may (root): pages of the input already cached outside the cgroup
# are charged to it no more, so mapped pages would count in the peak RSS without
# counting against the limit; dropped, every page read is charged to the cgroup,
# which must evict them to stay under the limit.
limited() {
  sync
  echo 3 2>/dev/null > /proc/sys/vm/drop_caches || true
  set +e
  "$memlimit" "$limit" /usr/bin/time -f "%M %e" -o "$work/last" "$@"
  local rc=$?
  set -e
  if [ $rc -eq 3 ]; then echo "memlimit: no memory cgroup here; skipped"; return 3; fi
  return $rc
}
shown() { awk '{ printf "peak RSS %d MiB, %s s", $1 / 1024, $2 }' "$work/last"; }

converted="$work/big_convert.parquet"
echo "== convert $npy -> Parquet under memlimit $limit"
if [ ! -f "$converted" ]; then
  limited "$bin" convert "$npy" "$converted" --quiet && echo "convert: $(shown)"
fi
ls -l "$npy" "$pyarrow_file" "$converted"

args=(kmeans -k 20 --max-iter 5 --tol 0 --seed 3 --quiet --json)
"$bin" "${args[@]}" "$npy" --centers-out "$work/free.npy" > "$work/free.json"
status=0
for pq in "$pyarrow_file" "$converted"; do
  name=$(basename "$pq")
  echo "== $name ($(stat -c %s "$pq") bytes) under memlimit $limit"
  limited "$bin" info "$pq" --stats --quiet > "$work/info.txt" || { [ $? -eq 3 ] && exit 0; status=1; continue; }
  echo "info --stats: $(shown)"
  if limited "$bin" "${args[@]}" "$pq" --centers-out "$work/limited.npy" > "$work/limited.json"; then
    if cmp -s "$work/free.npy" "$work/limited.npy"; then
      echo "kmeans -k 20, 5 iterations: $(shown); the .npy's centres, bit for bit"
    else
      echo "kmeans -k 20: centres DIFFER from the .npy's" >&2; status=1
    fi
  else
    echo "kmeans under $limit failed" >&2; status=1
  fi
  if limited "$bin" report "$pq" -k 2..=3 --n-init 1 --max-iter 5 --covariance diag \
      --gmm-max-iter 3 --sample 1000 --out "$work/report_$name" --quiet > "$work/report.txt"; then
    echo "report -k 2..=3 (light): $(shown); $(grep -m1 '^chosen' "$work/report.txt")"
  else
    echo "report under $limit failed" >&2; status=1
  fi
done
exit $status
