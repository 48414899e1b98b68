#!/usr/bin/env bash
# A/B of `mmclust gmm` binaries on one data set, interleaved, from the same
# initial means: per-iteration CPU time (user + sys) and wall time, each as
# (t(N+1) − t(1)) / N, plus the final lower bound (must agree).
#   scripts/bench_gmm_ab.sh DATA.npy C0.npy K COV N BIN...
# CPU time is less sensitive than wall time to other jobs on a shared machine.
set -euo pipefail
if [ $# -lt 6 ]; then
    echo "usage: $0 DATA.npy C0.npy K COVARIANCE N BINARY..." >&2
    exit 2
fi
data=$1; c0=$2; k=$3; cov=$4; it=$5; shift 5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bin in "$@"; do
    for n in 1 $((it + 1)); do
        /usr/bin/time -f "%U %S %e" -o "$tmp/t.$n" "$bin" gmm "$data" -k "$k" --covariance "$cov" \
            --init "$c0" --max-iter "$n" --tol 0 --json --quiet --threads 2 >"$tmp/out.$n.json" 2>/dev/null
    done
    python3 - "$bin" "$it" "$tmp" <<'PY'
import json, sys
b, it, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
one = [float(x) for x in open(f"{tmp}/t.1").read().split()[-3:]]
many = [float(x) for x in open(f"{tmp}/t.{it + 1}").read().split()[-3:]]
lb = json.load(open(f"{tmp}/out.{it + 1}.json"))["lower_bound"]
cpu = ((many[0] + many[1]) - (one[0] + one[1])) / it * 1e3
wall = (many[2] - one[2]) / it * 1e3
print(f"{b}\tcpu/iter {cpu:.1f} ms\twall/iter {wall:.1f} ms\tlower bound {lb!r}")
PY
done
