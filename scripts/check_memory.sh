#!/usr/bin/env bash
# Memory bounds on a file larger than the limit: generates a 4 GiB matrix
# (32,000,000 × 32 float32) and checks
#   1. `generate blobs` peak RSS (target: under 200 MiB, memory independent of n);
#   2. `info --stats` under a 1 GiB memory cgroup (../shared/tools/memlimit);
#   3. `kmeans` under the same 1 GiB limit gives the same centres, bit for bit,
#      as the same run without the limit;
#   4. mini-batch K-means under 1 GiB (peak RSS);
#   5. a diagonal-covariance GMM fit (3 EM iterations, labels written) under 1 GiB.
# Skips the limited runs (without failing) where memlimit has no cgroup (exit 3).
# Usage: scripts/check_memory.sh [WORKDIR]   (default: a temporary folder, removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p mmclust-cli
bin=$PWD/target/release/mmclust
memlimit=${MEMLIMIT:-$PWD/../shared/tools/memlimit}
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
n=${N:-32000000}
file="$work/big.npy"

rss() { /usr/bin/time -f "%M" -o "$work/rss" "$@" && echo $(( $(cat "$work/rss") / 1024 )); }

echo "== generate blobs --n $n --d 32 (4 GiB)"
start=$(date +%s.%N)
mib=$(rss "$bin" generate blobs -o "$file" --n "$n" --d 32 --k 100 --spread 4 --quiet)
echo "peak RSS ${mib} MiB, $(echo "$(date +%s.%N) - $start" | bc) s, file $(stat -c %s "$file") bytes"

limited() {
  set +e
  "$memlimit" 1G "$@"
  local rc=$?
  set -e
  if [ $rc -eq 3 ]; then echo "memlimit: no memory cgroup here; skipped"; return 3; fi
  return $rc
}

echo "== info --stats under memlimit 1G"
if limited "$bin" info "$file" --stats --quiet > "$work/info.txt"; then
  head -8 "$work/info.txt"
  echo "info --stats under 1 GiB: ok"
fi

echo "== kmeans -k 20 --max-iter 5 with and without memlimit 1G"
args=(kmeans "$file" -k 20 --max-iter 5 --tol 0 --seed 3 --quiet --json)
"$bin" "${args[@]}" --centers-out "$work/free.npy" > "$work/free.json"
if limited "$bin" "${args[@]}" --centers-out "$work/limited.npy" > "$work/limited.json"; then
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print('init', a['init'], 'inertia free', a['inertia'], 'limited', b['inertia'], 'fit s', round(a['fit_seconds'],1), round(b['fit_seconds'],1))" "$work/free.json" "$work/limited.json"
  if cmp -s "$work/free.npy" "$work/limited.npy"; then
    echo "kmeans under 1 GiB: same centres, bit for bit"
  else
    echo "kmeans under 1 GiB: centres DIFFER" >&2
    exit 1
  fi
fi

echo "== kmeans --algorithm minibatch under memlimit 1G (peak RSS)"
if limited /usr/bin/time -f "%M" -o "$work/mbrss" "$bin" kmeans "$file" -k 100 --algorithm minibatch \
    --seed 3 --quiet --json > "$work/mb.json"; then
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); print('minibatch: steps', a['n_iter'], 'epochs', round(a['epochs'],3), 'inertia', a['inertia'], 'fit s', round(a['fit_seconds'],1))" "$work/mb.json"
  echo "minibatch under 1 GiB: ok, peak RSS $(( $(cat "$work/mbrss") / 1024 )) MiB"
fi

echo "== gmm --covariance diag -k 16 --max-iter 3 --init random-from-data under memlimit 1G (peak RSS)"
if limited /usr/bin/time -f "%M" -o "$work/gmmrss" "$bin" gmm "$file" -k 16 --covariance diag \
    --max-iter 3 --init random-from-data --seed 3 --quiet --json --labels-out "$work/gmm-labels.npy" > "$work/gmm.json"; then
  python3 -c "import json,sys; a=json.load(open(sys.argv[1])); print('gmm diag: iterations', a['n_iter'], 'mean log-likelihood', a['log_likelihood'], 'fit s', round(a['fit_seconds'],1))" "$work/gmm.json"
  echo "gmm diag under 1 GiB: ok, peak RSS $(( $(cat "$work/gmmrss") / 1024 )) MiB"
fi
