#!/usr/bin/env bash
# Issue 20's check at real scale: a file larger than this machine's RAM,
# every step from a cold page cache, against a cold `dd` of the same file.
#
#   scripts/check_beyond_ram.sh [--file PATH] [--steps LIST] [--out RESULTS.md]
#
# Generates PATH (default target/beyond-ram/big.npy: `generate blobs --n
# 268435456 --d 32 --k 100 --spread 4 --seed 7`, 32 GiB; N and D override the
# shape) unless it exists, and skips with a message when the disk has no room
# for it and the outputs. Needs root to drop the page cache between steps
# (`echo 3 > /proc/sys/vm/drop_caches`); without it every figure is marked WARM.
# Not part of .ci/run: it takes 30 minutes or more and about 40 GB of disk.
#
# Steps (comma-separated names for --steps; default all but `large`):
#   dd       cold sequential read of the file (the reference);
#   stats    `info --stats` (one pass);
#   kmeans   `kmeans -k 100` with every default, to convergence (auto init and
#            algorithm), writing the model for `predict`;
#   lloyd    `kmeans --algorithm lloyd --init sample --max-iter 4 --tol 0`,
#            passes alternating (default), all forward
#            (MMCLUST_PASS_DIRECTION=forward), and alternating without the
#            drop-behind (MMCLUST_DROP_BEHIND=0), for the cache's share;
#   minibatch `kmeans -k 100 --algorithm minibatch`;
#   gmm      `gmm -k 16 --covariance diag --max-iter 1`;
#   predict  labels of every row from the kmeans model (a 1 GiB output);
#   large    the `#[ignore]`d test over more than 2^31 elements
#            (crates/cli/tests/large.rs).
#
# For each step it records the wall time, the bytes the process read
# (/proc/PID/io), the peak of RssAnon + RssShmem (sampled every 0.2 s) and the
# ratio of the wall time to the cold dd; the kmeans steps add their JSON's
# init, iteration count and seconds per iteration. The table goes to stdout
# and to RESULTS.md (default target/beyond-ram/results.md).
set -euo pipefail
cd "$(dirname "$0")/.."

file="" steps="dd,stats,kmeans,lloyd,minibatch,gmm,predict" out=""
while [ $# -gt 0 ]; do
  case $1 in
    --file) file=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "check_beyond_ram.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
work=target/beyond-ram
mkdir -p "$work"
file=${file:-$work/big.npy}
out=${out:-$work/results.md}
has() { [[ ",$steps," == *",$1,"* ]]; }

cargo build --release --quiet -p mmclust-cli
bin=$PWD/target/release/mmclust
n=${N:-268435456} d=${D:-32}
ram=$(awk '/^MemTotal:/ {printf "%.0f", $2 * 1024}' /proc/meminfo)
if [ ! -f "$file" ]; then
  bytes=$((n * d * 4))
  avail=$(df -B1 --output=avail "$(dirname "$file")" | tail -1)
  # The file, a labels output (4 bytes per row) and scratch headroom.
  need=$((bytes + n * 4 + (4 << 30)))
  if [ "$bytes" -le "$ram" ]; then
    echo "check_beyond_ram.sh: skipped: a ${n} x ${d} file ($((bytes >> 30)) GiB) is not larger than RAM ($((ram >> 30)) GiB); set N" >&2
    exit 0
  fi
  if [ "$avail" -lt "$need" ]; then
    echo "check_beyond_ram.sh: skipped: needs $((need >> 30)) GiB free beside $file, has $((avail >> 30)) GiB" >&2
    exit 0
  fi
  "$bin" generate blobs --n "$n" --d "$d" --k 100 --spread 4 --seed 7 -o "$file" --quiet
fi
size=$(stat -c %s "$file")
n_rows=$("$bin" info "$file" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["file"]["rows"])')

cold=cold
drop() {
  sync
  if ! echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then cold=WARM; fi
}

# measure NAME CMD...: runs CMD from a cold cache; sets wall, read, peak.
measure() {
  local name=$1; shift
  drop
  local start end pid r=0 p=0 x
  start=$(date +%s.%N)
  "$@" > "$work/$name.out" 2> "$work/$name.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    x=$(awk '/^read_bytes:/ {print $2}' "/proc/$pid/io" 2>/dev/null || true)
    [ -n "$x" ] && r=$x
    x=$(awk '/^(RssAnon|RssShmem):/ {s += $2} END {printf "%.0f", s * 1024}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$x" ] && [ "$x" -gt "$p" ] && p=$x
    sleep 0.2
  done
  if ! wait "$pid"; then
    echo "check_beyond_ram.sh: step $name failed:" >&2
    tail -5 "$work/$name.err" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc -l)
  rbytes=$r peak=$p
}

rows=()
row() { # STEP WALL READ PEAK NOTE
  local ratio="" gb mib
  [ -n "${dd_s:-}" ] && ratio=$(printf '%.2f' "$(echo "$2 / $dd_s" | bc -l)")
  gb=$(printf '%.1f' "$(echo "$3 / 1000000000" | bc -l)")
  mib=$(printf '%.0f' "$(echo "$4 / 1048576" | bc -l)")
  rows+=("| $1 | $(printf '%.1f' "$2") | $ratio | $gb | $mib | $5 |")
  echo "${rows[-1]}"
}
js() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$work/$1.out"; }
fit_note() { # the JSON summary of a kmeans/gmm step, in a few words
  js "$1" '"init %s (%.1f s), %s, %d iterations, %.1f s/iteration, converged %s" % (j["init"], j["init_seconds"], j.get("algorithm", j.get("covariance")), j["n_iter"], j["iter_seconds"] / max(j["n_iter"], 1), j["converged"])'
}

echo "file: $file ($((size >> 20)) MiB), RAM $((ram >> 20)) MiB, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "| step | wall s | × cold dd | read GB | peak anon MiB | notes |"
echo "|---|---|---|---|---|---|"

{
  measure dd dd if="$file" of=/dev/null bs=8M status=none
  dd_s=$wall
  row "dd (reference, $cold)" "$wall" "$rbytes" "$peak" "$(printf '%.0f MB/s' "$(echo "$size / $wall / 1000000" | bc -l)")"
}
if has stats; then
  measure stats "$bin" info "$file" --stats --quiet --json
  row "info --stats" "$wall" "$rbytes" "$peak" "one pass"
fi
if has kmeans; then
  measure kmeans "$bin" kmeans "$file" -k 100 --json --quiet --model-out "$work/kmeans.json"
  row "kmeans -k 100 (defaults)" "$wall" "$rbytes" "$peak" "$(fit_note kmeans)"
fi
if has lloyd; then
  for dir in alternate forward nodrop; do
    # nodrop: alternating, with the drop-behind and lead off (walk.rs).
    measure "lloyd-$dir" env MMCLUST_PASS_DIRECTION=${dir/nodrop/alternate} \
      MMCLUST_DROP_BEHIND=$([ "$dir" = nodrop ] && echo 0 || echo 1) "$bin" kmeans "$file" -k 100 \
      --algorithm lloyd --init sample --max-iter 4 --tol 0 --json --quiet
    row "kmeans --algorithm lloyd, 4 iterations, $dir" "$wall" "$rbytes" "$peak" "$(fit_note "lloyd-$dir")"
  done
fi
if has minibatch; then
  measure minibatch "$bin" kmeans "$file" -k 100 --algorithm minibatch --json --quiet
  row "kmeans --algorithm minibatch" "$wall" "$rbytes" "$peak" \
    "$(js minibatch '"%d steps, inertia %.6g" % (j["n_iter"], j["inertia"])')"
fi
if has gmm; then
  measure gmm "$bin" gmm "$file" -k 16 --covariance diag --max-iter 1 --json --quiet
  row "gmm -k 16 --covariance diag --max-iter 1" "$wall" "$rbytes" "$peak" "$(fit_note gmm)"
fi
if has predict; then
  # The model of this run's kmeans step, or a fresh k = 100 model (never a
  # leftover of another file).
  if ! has kmeans; then
    "$bin" kmeans "$file" -k 100 --init sample --max-iter 1 --quiet --model-out "$work/kmeans.json"
  fi
  measure predict "$bin" predict "$work/kmeans.json" "$file" -o "$work/labels.npy" --quiet
  rm -f "$work/labels.npy"
  row "predict (labels of every row)" "$wall" "$rbytes" "$peak" "writes $((n_rows * 4 >> 20)) MiB of int32"
fi
if has large; then
  start=$(date +%s.%N)
  cargo test --profile ci --workspace --test large -- --ignored --quiet
  row "test over 2^31 + 1000 rows (--ignored)" "$(echo "$(date +%s.%N) - $start" | bc -l)" 0 0 "passed"
fi

{
  echo "File: \`$file\` ($((size >> 20)) MiB), RAM $((ram >> 20)) MiB, $(nproc) cores,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); page cache: $cold; $(date -u +%Y-%m-%d)."
  echo
  echo "| step | wall s | × cold dd | read GB | peak anon MiB | notes |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$out"
echo "wrote $out"
