#!/usr/bin/env bash
# One EM iteration of `mmclust gmm` per instruction-set tier (issue 23, part 4):
# the AVX2 + FMA tier of the block kernels (MMCLUST_ISA=avx2 on this build)
# against the previous AVX2 path (the portable E- and M-step bodies of
# gmm/src/simd.rs compiled for AVX2 + FMA: MMCLUST_ISA=avx2 on a build of
# BASE_REV, the commit before the AVX2 tier, which this script builds in a
# temporary git worktree) and against the AVX-512 tier (MMCLUST_ISA=avx512 on
# this build).
#
# Usage: scripts/bench_gmm_isa.sh [DIR]   (data, builds and results in DIR,
#        default target/bench-gmm-isa). Environment: N (200000), D (16),
#        K (16), REPS (5), ITERS (5), THREADS (nproc), BASE_REV (fb9e376),
#        TYPES ("diag spherical full tied"), PATHS ("avx2 avx512": the paths
#        of this build; the base build runs avx2 only).
# Every run starts from the same means (the generating centres, --init
# C0.npy) with --tol 0. Per repetition, the time of one iteration is
# (iter_seconds of ITERS + 1 iterations − iter_seconds of 1) / ITERS, which
# leaves out the initialisation, the statistics pass and the first
# iteration; the table gives the median over REPS repetitions, the variants
# interleaved within each repetition, and the final lower bounds (avx2 and
# avx512 of this build must agree bit for bit; the base build's agree to
# about 1e-12 relative).
# Measure on a quiet machine: the numbers of a loaded one mean little.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${1:-target/bench-gmm-isa}
n=${N:-200000}
d=${D:-16}
k=${K:-16}
reps=${REPS:-5}
iters=${ITERS:-5}
threads=${THREADS:-$(nproc)}
base_rev=${BASE_REV:-fb9e376}
types=${TYPES:-diag spherical full tied}
paths=${PATHS:-avx2 avx512}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

cargo build --profile ci -q --bin mmclust
new=$root/target/ci/mmclust

# The base build, once per BASE_REV (its own worktree and target folder).
base_src=$dir/base-src
base_bin=$dir/base-target/ci/mmclust
base_stamp=$dir/base-target/rev
if [ ! -x "$base_bin" ] || [ "$(cat "$base_stamp" 2>/dev/null)" != "$base_rev" ]; then
    if [ -d "$base_src" ]; then
        git worktree remove --force "$base_src"
    fi
    git worktree add --detach "$base_src" "$base_rev" >/dev/null
    # Start from this build's folder: the dependencies are built already.
    if [ ! -d "$dir/base-target/ci" ] && [ -d "$root/target/ci" ]; then
        mkdir -p "$dir/base-target"
        cp -a "$root/target/ci" "$dir/base-target/ci"
    fi
    (cd "$base_src" && CARGO_TARGET_DIR=$dir/base-target cargo build --profile ci -q --bin mmclust)
    echo "$base_rev" >"$base_stamp"
    git worktree remove --force "$base_src"
fi

data=$dir/blobs_${n}_${d}_${k}.npy
c0=$dir/c0_${n}_${d}_${k}.npy
[ -f "$data" ] && [ -f "$c0" ] || "$new" generate blobs -o "$data" --centers-out "$c0" \
    --n "$n" --d "$d" --k "$k" --spread 4 --seed 11 --quiet

# Variants: name, binary, MMCLUST_ISA.
variants=("base-avx2 $base_bin avx2")
for p in $paths; do
    variants+=("tier-$p $new $p")
done

out=$dir/results.tsv
: >"$out"
for cov in $types; do
    for rep in $(seq 1 "$reps"); do
        for v in "${variants[@]}"; do
            read -r name bin isa <<<"$v"
            for it in 1 $((iters + 1)); do
                MMCLUST_ISA=$isa "$bin" gmm "$data" -k "$k" --covariance "$cov" --init "$c0" \
                    --max-iter "$it" --tol 0 --threads "$threads" --json --quiet \
                    >"$dir/run.$it.json" 2>"$dir/run.err" || { cat "$dir/run.err" >&2; exit 1; }
            done
            python3 - "$dir" "$iters" "$cov" "$name" "$rep" >>"$out" <<'PY'
import json, sys
d, iters, cov, name, rep = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
one = json.load(open(f"{d}/run.1.json"))
many = json.load(open(f"{d}/run.{iters + 1}.json"))
per = (many["iter_seconds"] - one["iter_seconds"]) / iters
print(f"{cov}\t{name}\t{rep}\t{per!r}\t{many['lower_bound']!r}\t{many['isa']}")
PY
        done
    done
done

python3 - "$out" "$n" "$d" "$k" "$threads" <<'PY'
import statistics, sys
from collections import defaultdict
path, n, d, k, threads = sys.argv[1:]
times, bounds, order = defaultdict(list), {}, []
for line in open(path):
    cov, name, _rep, per, lb, _isa = line.rstrip("\n").split("\t")
    times[(cov, name)].append(float(per))
    bounds[(cov, name)] = lb
    if (cov, name) not in order:
        order.append((cov, name))
print(f"one EM iteration, n={n} d={d} k={k}, {threads} threads: median ms (min-max)")
print("covariance\tvariant\tmedian_ms\trange_ms\tvs_base_avx2\tlower_bound")
for cov, name in order:
    t = times[(cov, name)]
    base = statistics.median(times[(cov, "base-avx2")])
    med = statistics.median(t)
    print(f"{cov}\t{name}\t{med * 1e3:.2f}\t{min(t) * 1e3:.2f}-{max(t) * 1e3:.2f}\t"
          f"{base / med:.2f}x\t{bounds[(cov, name)]}")
PY
