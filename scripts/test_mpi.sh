#!/usr/bin/env bash
# MPI tests: builds the binary with `--features mpi` and checks that runs under
# `mpirun -n 1, 2, 3` give byte-identical outputs to the single-process run
# (centres, labels, models minus timings, GMM parameters, responsibilities,
# --json summaries minus timings, ranks and threads) for every K-means
# algorithm, GMM, and predict, score, silhouette, scores, elbow, gmm-select,
# that shards read as one file give the same answer, that node-local shards
# (--shards --node-local, each rank its own files) give the same bits for the
# same layout twice and one process's labels, and that faults end the
# whole job quickly with a non-zero status. Needs Open MPI; installs it (and
# libclang for the bindings, iproute2 for the namespaces) from Debian's
# packages when missing.
#
# Separate hosts: as root, it also makes three network namespaces joined by a
# bridge (scripts/mpi_netns.sh), each with its own address and hostname, and
# runs the same comparisons with one rank per namespace, Open MPI on TCP only,
# remote daemons started through a namespace instead of ssh; then takes one
# host's link down mid-run: the job must end within 60 s, naming the host.
# Where namespaces cannot be made (not root, no CAP_SYS_ADMIN) it says so and
# skips that part.
#
# Slurm: as root, it also starts a one-node Slurm cluster in a temporary
# directory (scripts/slurm_local.sh: munged, slurmctld, slurmd of Debian's
# slurm-wlm, installed when missing) and runs the same comparisons under
# `srun -n 2 --mpi=pmix`. Where Slurm cannot start it prints
# "slurm: skipped: REASON" and goes on.
#
# Usage: scripts/test_mpi.sh [--full]
#   default: 1, 2, 3 ranks over shared memory, 3 namespace hosts × 1 rank and
#            srun -n 2
#   --full:  also 4 ranks, 2 namespace hosts × 1 rank, 3 hosts × 2 ranks
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
case ${1:-} in
    --full) full=1 ;;
    "") ;;
    *) echo "usage: scripts/test_mpi.sh [--full]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/debian_packages.sh
source scripts/debian_packages.sh
missing=()
for p in "${MPI_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# crates/mpi is outside the workspace (it needs MPI to build): lint and format
# it here, with the CLI that uses it. Clippy in the default (dev) profile, as
# .ci/run's workspace clippy, so the dependencies' checks are shared with it
# rather than redone in the `ci` profile.
cargo clippy -p mmclust-mpi -p mmclust-cli --features mmclust-cli/mpi,mmclust-cli/test-hooks --all-targets -- -D warnings
rustfmt --edition 2024 --check crates/mpi/src/*.rs
# The binary, built as the workspace test build (scripts/test.sh) builds it plus
# the `mpi` feature: every other crate resolves with the same features (see the
# `syn` entry in crates/cli/Cargo.toml), so after scripts/test.sh only crates/mpi
# and the CLI compile here (1.2 minutes instead of 3.3 for a build of its own).
features=(--profile ci --workspace --features mmclust-cli/mpi,mmclust-cli/test-hooks)
cargo test "${features[@]}" --no-run
# The binary's unit tests with MPI in (crates/mpi's own test is among them,
# in crates/cli/src/dist.rs: the crate is outside the workspace), built by the
# line above.
cargo test "${features[@]}" -q --bins
BIN="$PWD/target/ci/mmclust"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's shared-memory transport warns in some containers; quiet and safe.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN=(mpirun --oversubscribe --bind-to none)

# The layouts every comparison runs: nR is R ranks over shared memory; hH is H
# namespace hosts × 1 rank, hHxP is H hosts × P ranks (TCP only); sR is
# `srun -n R` on the one-node Slurm cluster.
layouts=(n1 n2 n3)
[ $full = 1 ] && layouts+=(n4)
source scripts/mpi_netns.sh
source scripts/slurm_local.sh
work=$(mktemp -d)
trap 'netns_down; slurm_down; rm -rf "$work"' EXIT
if netns_up 3; then
    layouts+=(h3)
    [ $full = 1 ] && layouts+=(h2 h3x2)
    echo "separate hosts: namespaces ${NETNS_PREFIX}-h0..2 on 10.231.$NETNS_NET.0/24"
else
    echo "SKIP separate hosts (network namespaces): $NETNS_WHY"
fi
# Milliseconds since the epoch.
now_ms() { local t=${EPOCHREALTIME/[^0-9]/}; echo $((t / 1000)); }
# The milliseconds spent on Slurm (start, srun runs, stop): its CI cost,
# reported at the end.
slurm_ms=$(now_ms)
if slurm_up; then
    layouts+=(s2)
    echo "slurm: one-node cluster up in $((($(now_ms) - slurm_ms) / 1000)) s (node $(hostname -s), $(nproc) CPUs, $SLURM_DIR)"
else
    echo "slurm: skipped: $SLURM_WHY"
fi
slurm_ms=$(($(now_ms) - slurm_ms))
cd "$work"
fail=0
note() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=1; }

# launcher LAYOUT: sets L to the command that starts the layout's ranks.
launcher() {
    case $1 in
        n*) L=("${MPIRUN[@]}" -n "${1#n}") ;;
        h*x*) local h=${1#h}; mapfile -t L < <(netns_mpirun "${h%x*}" "${h#*x}") ;;
        h*) mapfile -t L < <(netns_mpirun "${1#h}" 1) ;;
        s*) mapfile -t L < <(slurm_srun "${1#s}") ;;
    esac
}
describe() {
    case $1 in
        n*) echo "mpirun -n ${1#n}" ;;
        h*x*) local h=${1#h}; echo "${h%x*} hosts x ${h#*x} ranks" ;;
        h*) echo "${1#h} hosts" ;;
        s*) echo "srun -n ${1#s}" ;;
    esac
}

# Models without their timings (the only field that may differ).
strip_model() {
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m.pop("seconds",None); print(json.dumps(m,sort_keys=True))' "$1"
}
# --json summaries without timings, `ranks` and `threads`, and with the run's
# tag (single, n1, n2, n3) taken out of the output paths they name.
strip_json() {
    python3 - "$1" <<'PY'
import json, re, sys
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()
                if k not in ("ranks", "threads") and not k.endswith("seconds")}
    if isinstance(v, list):
        return [clean(x) for x in v]
    if isinstance(v, str):
        return re.sub(r"\.(single|plain|[ns][0-9]+|h[0-9]+(x[0-9]+)?)\.", ".TAG.", v)
    return v
print(json.dumps(clean(json.load(open(sys.argv[1]))), sort_keys=True))
PY
}

# The namespace hosts are separate nodes to Open MPI: one rank on each, each
# under its own hostname, on its own address, and rank traffic crosses the veth
# links (host 1 receives bytes over eth0 during a run).
if [ -n "$NETNS_DIR" ]; then
    launcher h3
    rx0=$(ip netns exec "$NETNS_PREFIX-h1" cat /sys/class/net/eth0/statistics/rx_bytes)
    seen=$(timeout 60 "${L[@]}" sh -c 'echo "$(hostname) $(ip -4 -o addr show eth0 | awk "{print \$4}")"' | sort -u)
    rx1=$(ip netns exec "$NETNS_PREFIX-h1" cat /sys/class/net/eth0/statistics/rx_bytes)
    want=$(for i in 0 1 2; do echo "$NETNS_PREFIX-h$i 10.231.$NETNS_NET.$((i + 1))/24"; done)
    if [ "$seen" = "$want" ] && [ "$rx1" -gt "$rx0" ]; then
        note "ok   3 hosts: one rank on each of $(echo "$seen" | tr '\n' ' ')"
    else
        bad "3 hosts: ranks ran on [$(echo "$seen" | tr '\n' ' ')], expected [$(echo "$want" | tr '\n' ' ')]; host 1 received $((rx1 - rx0)) bytes"
    fi
fi

# d = 40 gives 1632-row chunks: 30,000 rows are 19 chunks, split unevenly
# over 2 and 3 ranks.
"$BIN" generate blobs -o data.npy --n 30000 --d 40 --k 6 --seed 5 -q
"$BIN" generate blobs -o small.npy --n 5000 --d 40 --k 4 --seed 6 -q

# mmclust's Open MPI default (docs/distributed.md): waiting ranks yield
# (mpi_yield_when_idle, set before MPI_Init), unless the user sets it.
yield_seen() {
    OMPI_MCA_mpi_show_mca_params=all "${MPIRUN[@]}" -n 2 "$@" "$BIN" info small.npy 2>&1 \
        | grep -o 'mpi_yield_when_idle=[a-z]* ([a-z ]*)' | sort -u | tr '\n' ' '
}
seen=$(yield_seen)
[ "$seen" = "mpi_yield_when_idle=true (environment) " ] \
    && note "ok   default: $seen" || bad "default mpi_yield_when_idle: got [$seen]"
seen=$(yield_seen --mca mpi_yield_when_idle 0)
[ "$seen" = "mpi_yield_when_idle=false (environment) " ] \
    && note "ok   --mca mpi_yield_when_idle 0 kept: $seen" || bad "the user's mpi_yield_when_idle 0: got [$seen]"

# compare NAME OUTPUT-FLAGS... -- ARGS...: runs single-process, then in every
# layout, and byte-compares every output and the --json summary (less timings,
# ranks and threads).
compare() {
    local name=$1; shift
    local outs=()
    while [ "$1" != "--" ]; do outs+=("$1"); shift; done
    shift
    run_one() {
        local tag=$1; shift
        local args=()
        for o in "${outs[@]}"; do
            case $o in
                labels) args+=(--labels-out "$name.$tag.labels.npy") ;;
                centers) args+=(--centers-out "$name.$tag.centers.npy") ;;
                proba) args+=(--proba-out "$name.$tag.proba.npy") ;;
                model) args+=(--model-out "$name.$tag.model.json") ;;
                out) args+=(-o "$name.$tag.out.npy") ;;
                persample) args+=(--per-sample-out "$name.$tag.persample.npy") ;;
                values) args+=(--values-out "$name.$tag.values.npy") ;;
            esac
        done
        "$@" "${args[@]}" -q --json > "$name.$tag.json" 2> "$name.$tag.err" \
            || { bad "$name ($tag) exited $?: $(tail -3 "$name.$tag.err")"; return 1; }
    }
    run_one single "$BIN" "$@" || return 0
    local t
    for t in "${layouts[@]}"; do
        launcher "$t"
        local t0
        t0=$(now_ms)
        run_one "$t" timeout 120 "${L[@]}" "$BIN" "$@" || continue
        [[ $t == s* ]] && slurm_ms=$((slurm_ms + $(now_ms) - t0))
        local same=1 what
        what=$(describe "$t")
        cmp -s <(strip_json "$name.single.json") <(strip_json "$name.$t.json") \
            || { same=0; bad "$name: --json differs ($what): $(diff <(strip_json "$name.single.json") <(strip_json "$name.$t.json") | head -c 300)"; }
        for o in "${outs[@]}"; do
            case $o in
                model) cmp -s <(strip_model "$name.single.model.json") <(strip_model "$name.$t.model.json") || { same=0; bad "$name: model differs ($what)"; } ;;
                *) cmp -s "$name.single.$o.npy" "$name.$t.$o.npy" || { same=0; bad "$name: $o differ ($what)"; } ;;
            esac
        done
        local shown=("${outs[@]}" json)
        [ $same = 1 ] && note "ok   $name: $what identical (${shown[*]})"
    done
    # (A difference in the last layout is reported above, not fatal here.)
    return 0
}

compare kmeans-pp labels centers model -- kmeans data.npy -k 9 --seed 1 --init k-means++ --tol 0
# Under srun the ranks are one MPI job of 2 (PMIx), not 2 separate processes.
if [[ " ${layouts[*]} " == *" s2 "* ]]; then
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["ranks"] == 2 else 1)' kmeans-pp.s2.json \
        && note "ok   srun -n 2: one job of 2 ranks" || bad "srun -n 2: --json does not say 2 ranks"
fi
compare kmeans-par labels centers model -- kmeans data.npy -k 9 --seed 2 --init k-means-parallel
compare kmeans-random-std labels centers model -- kmeans data.npy -k 7 --seed 3 --init random --n-init 2 --standardize
# k·d = 1600: auto resolves to Yinyang (on any number of ranks), with empty
# clusters relocated under the bounds.
compare kmeans-empty labels centers model -- kmeans small.npy -k 40 --seed 4 --init random --n-init 1 --max-iter 5
grep -q '"algorithm": *"yinyang"' kmeans-empty.n2.json || bad "kmeans-empty: auto did not resolve to yinyang on 2 ranks"
# The bounded variants: Lloyd passes while many labels change, then the bounds.
compare kmeans-hamerly labels centers model -- kmeans data.npy -k 9 --seed 1 --algorithm hamerly --tol 0
compare kmeans-yinyang labels centers model -- kmeans data.npy -k 40 --seed 2 --init random --n-init 1 --algorithm yinyang --max-iter 100
# ... and their bounds did skip distances on 2 ranks (the runs left the warm-up).
for c in kmeans-hamerly kmeans-yinyang; do
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["skipped_fraction"] > 0 else 1)' "$c.n2.json" \
        || bad "$c: the bounds skipped no distance on 2 ranks"
done
compare minibatch labels centers model -- kmeans data.npy -k 9 --seed 1 --algorithm minibatch --batch-size 1024 --refine 1
# Ranks read only their share of each batch; re-seeded centres (many here)
# come from rows any rank may not have read.
compare minibatch-reseed labels centers model -- kmeans small.npy -k 40 --seed 2 --algorithm minibatch --batch-size 1000 --reassignment-ratio 0.8 --max-iter 5 --block-rows 0
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["relocated"] > 0 else 1)' minibatch-reseed.n2.json \
    || bad "minibatch-reseed: no centre was re-seeded"
compare gmm-full labels proba model -- gmm data.npy -k 4 --seed 1 --covariance full
compare gmm-diag labels model -- gmm data.npy -k 4 --seed 2 --covariance diag --init random
compare gmm-diag-f32 labels proba model -- gmm data.npy -k 4 --seed 2 --covariance diag --init random --precision f32
# ... and its passes did run in f32 (on AVX-512 CPUs; elsewhere they run in f64).
if grep -q avx512f /proc/cpuinfo && ! grep -Eq '"f32_iterations": ?[1-9]' gmm-diag-f32.single.json; then
    bad "gmm-diag-f32: no pass ran in f32"
fi
compare gmm-tied labels model -- gmm small.npy -k 3 --seed 3 --covariance tied --init k-means++
compare gmm-spherical labels model -- gmm small.npy -k 3 --seed 4 --covariance spherical --standardize
compare gmm-bayesian labels proba model -- gmm data.npy -k 6 --seed 5 --covariance full --bayesian
compare gmm-online labels model -- gmm data.npy -k 4 --seed 8 --covariance diag --online --batch-size 512 --refine 1
compare gmm-bayesian-dd labels model -- gmm small.npy -k 4 --seed 6 --covariance tied --bayesian --weight-prior dirichlet-distribution --standardize

# The commands run after a fit, on the models and labels above: ranks split the
# rows, write theirs into the one output, and sum in one process's order.
compare predict-kmeans out -- predict kmeans-pp.single.model.json data.npy
compare predict-transform out -- predict kmeans-random-std.single.model.json data.npy --transform
compare predict-gmm out -- predict gmm-full.single.model.json data.npy
compare predict-gmm-proba out -- predict gmm-diag.single.model.json data.npy --proba
compare score-kmeans persample -- score kmeans-random-std.single.model.json data.npy
compare score-kmeans-pass -- score kmeans-pp.single.model.json data.npy
compare score-gmm persample -- score gmm-full.single.model.json data.npy
compare score-gmm-pass -- score gmm-spherical.single.model.json small.npy
compare score-bayesian persample -- score gmm-bayesian.single.model.json data.npy
compare silhouette values -- silhouette small.npy gmm-tied.single.labels.npy
compare silhouette-sampled values -- silhouette data.npy kmeans-pp.single.labels.npy --sample 1500 --standardize
compare scores -- scores small.npy gmm-tied.single.labels.npy --truth gmm-spherical.single.labels.npy --standardize
compare elbow -- elbow small.npy --k 2..=5 --n-init 1 --standardize
compare gmm-select -- gmm-select small.npy --k 2..=3 --covariance full,spherical
compare gmm-select-bayesian -- gmm-select small.npy --k 5 --covariance diag,tied --bayesian

# Shards (uneven: 7,000 + 15,000 + 8,000 rows) give the answer of the whole file.
python3 "$OLDPWD/scripts/npy_split.py" data.npy part 7000,15000
"$BIN" kmeans data.npy -k 9 --seed 1 --labels-out whole.labels.npy --centers-out whole.centers.npy -q > /dev/null
shard_layouts=(n1 n3)
[ -n "$NETNS_DIR" ] && shard_layouts+=(h3)
for t in "${shard_layouts[@]}"; do
    launcher "$t"
    timeout 120 "${L[@]}" "$BIN" kmeans --shards 'part-*.npy' -k 9 --seed 1 \
        --labels-out shards$t.labels.npy --centers-out shards$t.centers.npy -q > /dev/null \
        && cmp -s whole.labels.npy shards$t.labels.npy && cmp -s whole.centers.npy shards$t.centers.npy \
        && note "ok   shards: $(describe "$t") identical to the whole file" || bad "shards ($(describe "$t"))"
done

# Node-local shards (--shards --node-local): each rank expands the pattern on
# its own disk. One machine simulates the disks with the test hook
# MMCLUST_TEST_NODE_DIRS (rank r reads the pattern's file name in folder r).
# data.npy is split in row order over 3 "nodes": rank 0 holds two files
# (7,000 + 5,000 rows), rank 1 one (10,000), rank 2 one (8,000), so the global
# (rank, file name) order is data.npy's. The chunk grid is per rank, so the
# bits are this layout's, not one process's: the same layout twice must give
# the same bits (model and --json), and against one process on data.npy the
# same labels (both models predicting data.npy) with the inertia or
# log-likelihood within 1e-6 relative.
mkdir -p nl0 nl1 nl2 nlempty nlbad
python3 "$OLDPWD/scripts/npy_split.py" data.npy nl 7000,5000,10000
mv nl-0.npy nl0/part-a.npy; mv nl-1.npy nl0/part-b.npy; mv nl-2.npy nl1/part-c.npy; mv nl-3.npy nl2/part-d.npy
cp nl1/part-c.npy nlbad/part-c.npy
"$BIN" generate blobs -o nlbad/part-e.npy --n 100 --d 12 --k 2 --seed 1 -q
node_local() { # DIRS ARGS...: 3 ranks, rank r reading folder r of DIRS
    local dirs=$1; shift
    MMCLUST_TEST_NODE_DIRS=$dirs timeout 120 "${MPIRUN[@]}" -n 3 "$BIN" "$@"
}
# nl_compare NAME KEY CMD ARGS...: CMD on the node-local shards twice and on
# data.npy in one process; KEY is the --json figure compared within 1e-6.
nl_compare() {
    local name=$1 key=$2 cmd=$3; shift 3
    local i
    for i in 1 2; do
        # One --model-out path for both runs, so the two --json agree on it.
        node_local nl0:nl1:nl2 "$cmd" 'part-*.npy' --shards --node-local "$@" \
            --model-out "nl-$name.model.json" -q --json > "nl-$name.$i.json" 2> "nl-$name.$i.err" \
            || { bad "node-local $name exited $?: $(tail -2 "nl-$name.$i.err")"; return 0; }
        mv "nl-$name.model.json" "nl-$name.$i.model.json"
    done
    "$BIN" "$cmd" data.npy "$@" --model-out "nl-$name.single.model.json" -q --json > "nl-$name.single.json"
    for i in 1 single; do
        "$BIN" predict "nl-$name.$i.model.json" data.npy -o "nl-$name.$i.pred.npy" -q
    done
    if ! cmp -s <(strip_model "nl-$name.1.model.json") <(strip_model "nl-$name.2.model.json") \
        || ! cmp -s <(strip_json "nl-$name.1.json") <(strip_json "nl-$name.2.json"); then
        bad "node-local $name: the same layout twice gave other bits"
    elif ! cmp -s "nl-$name.1.pred.npy" "nl-$name.single.pred.npy"; then
        bad "node-local $name: labels differ from one process's"
    elif why=$(python3 - "nl-$name.1.json" "nl-$name.single.json" "$key" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = sys.argv[3]
if a["n"] != 30000 or a["ranks"] != 3:
    print(f"n {a['n']}, ranks {a['ranks']}"); sys.exit(1)
rel = abs(a[key] - b[key]) / abs(b[key])
if rel > 1e-6:
    print(f"{key} {a[key]!r} vs {b[key]!r}, relative {rel:.2e}"); sys.exit(1)
print(f"{key} within {rel:.1e}")
PY
    ); then
        note "ok   node-local $name: 3 ranks twice identical; one process's labels, $why"
    else
        bad "node-local $name: $why"
    fi
}
nl_compare kmeans-pp inertia kmeans -k 9 --seed 1 --init k-means++ --tol 0
nl_compare kmeans-par-hamerly inertia kmeans -k 9 --seed 2 --init k-means-parallel --algorithm hamerly
nl_compare kmeans-sample-yinyang inertia kmeans -k 6 --seed 3 --init sample --algorithm yinyang --standardize
nl_compare gmm-full log_likelihood gmm -k 4 --seed 1 --covariance full
nl_compare gmm-diag-rfd log_likelihood gmm -k 4 --seed 2 --covariance diag --init random-from-data
# Real node-local disks on the namespace hosts: each host has its own mount
# namespace, where disk.HOST is bind-mounted on disk (NETNS_LOCAL_DISK,
# scripts/mpi_netns.sh), so the ranks open the same path and see different
# files, with no test hook. One rank per host in the same layout as above must
# give the bits of the simulated disks.
if [ -n "$NETNS_DIR" ]; then
    mkdir -p disk
    for i in 0 1 2; do mkdir -p "disk.$NETNS_PREFIX-h$i" && cp nl$i/* "disk.$NETNS_PREFIX-h$i/"; done
    launcher h3
    if NETNS_LOCAL_DISK=$PWD/disk timeout 120 "${L[@]}" "$BIN" kmeans "$PWD/disk/part-*.npy" --shards --node-local \
        -k 9 --seed 1 --init k-means++ --tol 0 --model-out nl-hosts.model.json -q > /dev/null 2> nl-hosts.err; then
        python3 - nl-hosts.model.json nl-kmeans-pp.1.model.json <<'PY' \
            && note "ok   node-local kmeans-pp: 3 hosts with their own disks identical to the simulated disks" \
            || bad "node-local on 3 hosts: differs from the simulated disks"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ("centers", "inertia", "history", "n_iter", "n_rows")
sys.exit(0 if all(a[k] == b[k] for k in keys) else 1)
PY
    else
        bad "node-local on 3 hosts exited $?: $(grep -v '^-' nl-hosts.err | head -3)"
    fi
fi
# Checked together before iteration 1: a rank without files, a rank with a
# file of other columns, and what node-local shards cannot do (exit 2).
nl_fail() { # NAME WANT-IN-MESSAGE DIRS ARGS...
    local name=$1 want=$2 dirs=$3; shift 3
    MMCLUST_TEST_NODE_DIRS=$dirs expect_fail "nl-$name" 2 "${MPIRUN[@]}" -n 3 "$BIN" "$@"
    grep -q -- "$want" "nl-$name.err" || bad "node-local $name: no '$want' in: $(grep -v '^-' "nl-$name.err" | head -2)"
}

# A mini-batch checkpoint written by rank 0 of 2 ranks, resumed by one process,
# 1 and 3 ranks (and 3 hosts): each gives the bits of the run never
# interrupted. The run is stopped by SIGTERM to its ranks (as Slurm or a
# terminal's Ctrl-C sends) once its first periodic checkpoint exists, well
# before its end.
"$BIN" generate blobs -o mb.npy --n 200000 --d 32 --k 30 --seed 8 -q
mb=(kmeans mb.npy -k 30 --seed 4 --algorithm minibatch --batch-size 4096 --max-iter 40
    --max-no-improvement 0 --tol 0 --refine 1 -q --json)
mb_out() { echo --labels-out "resume.$1.labels.npy" --centers-out "resume.$1.centers.npy" --model-out "resume.$1.model.json"; }
rm -f ck.json
"$BIN" "${mb[@]}" $(mb_out single) > resume.single.json 2> /dev/null
"${MPIRUN[@]}" -n 2 "$BIN" "${mb[@]}" --checkpoint ck.json --checkpoint-every 100 > /dev/null 2> ck.err &
launcher_pid=$!
t0=$SECONDS
while [ ! -e ck.json ] && kill -0 "$launcher_pid" 2> /dev/null && [ $((SECONDS - t0)) -lt 60 ]; do sleep 0.05; done
for pid in $(pgrep -P "$launcher_pid" || true); do kill -TERM "$pid" 2> /dev/null || true; done
set +e
wait "$launcher_pid"
rc=$?
set -e
step=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["state"]; print(-1 if s["done"] else s["step"])' ck.json 2> /dev/null || echo none)
if [ "$step" = none ] || [ "$step" -le 0 ] || [ "$rc" = 0 ]; then
    bad "resume: no checkpoint of an unfinished run (step $step, exit $rc): $(grep -v '^-' ck.err | head -3)"
else
    resume_layouts=(plain n1 n3)
    [ -n "$NETNS_DIR" ] && resume_layouts+=(h3)
    for t in "${resume_layouts[@]}"; do
        if [ "$t" = plain ]; then L=(); else launcher "$t"; fi
        # shellcheck disable=SC2046
        timeout 120 "${L[@]}" "$BIN" "${mb[@]}" --resume ck.json $(mb_out "$t") > "resume.$t.json" 2> "resume.$t.err" \
            || { bad "resume ($t) exited $?: $(tail -2 "resume.$t.err")"; continue; }
        what=$([ "$t" = plain ] && echo "one process" || describe "$t")
        if cmp -s resume.single.labels.npy "resume.$t.labels.npy" && cmp -s resume.single.centers.npy "resume.$t.centers.npy" \
            && cmp -s <(strip_model resume.single.model.json) <(strip_model "resume.$t.model.json") \
            && cmp -s <(strip_json resume.single.json) <(strip_json "resume.$t.json"); then
            note "ok   resume: a 2-rank checkpoint (step $step) resumed by $what, identical to the run never stopped"
        else
            bad "resume by $what differs from the run never stopped: $(diff <(strip_json resume.single.json) <(strip_json "resume.$t.json") | head -c 300)"
        fi
    done
fi

# Faults: each must end the whole job, non-zero, within seconds.
expect_fail() {
    local name=$1 want=$2; shift 2
    local t0=$SECONDS
    set +e
    timeout 60 "$@" > "$name.out" 2> "$name.err"
    local rc=$?
    set -e
    local took=$((SECONDS - t0))
    if [ "$rc" = 124 ]; then bad "$name: hung (killed after 60 s)"
    elif [ "$want" != any ] && [ "$rc" != "$want" ]; then bad "$name: exit $rc, expected $want: $(tail -2 "$name.err")"
    elif [ "$rc" = 0 ]; then bad "$name: exit 0"
    elif [ "$took" -gt 15 ]; then bad "$name: took $took s"
    else note "ok   $name: exit $rc after ${took} s"
    fi
}
python3 - <<'PY'
import struct
h = repr({"descr": "<f4", "fortran_order": False, "shape": (10, 3)})
h = h + " " * (64 - (10 + len(h) + 1) % 64) + "\n"
open("part-x.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + bytes(120))
PY
expect_fail mismatched-shards 2 "${MPIRUN[@]}" -n 2 "$BIN" kmeans --shards 'part-*.npy' -k 3 -q
grep -q "same columns" mismatched-shards.err || bad "mismatched shards: message does not say why"
rm part-x.npy
nl_fail empty-rank "rank 1 of 3" nl0:nlempty:nl2 kmeans 'part-*.npy' --shards --node-local -k 3 -q
nl_fail other-columns "rank 1's nlbad/part-e.npy" nl0:nlbad:nl2 kmeans 'part-*.npy' --shards --node-local -k 3 -q
nl_fail minibatch "use --algorithm lloyd" nl0:nl1:nl2 kmeans 'part-*.npy' --shards --node-local -k 3 --algorithm minibatch -q
nl_fail labels-out "mmclust predict" nl0:nl1:nl2 gmm 'part-*.npy' --shards --node-local -k 3 --labels-out x.npy -q
MMCLUST_TEST_PANIC_RANK=1 expect_fail panic-rank-1 any "${MPIRUN[@]}" -n 3 "$BIN" kmeans data.npy -k 5 -q
if [ -n "$NETNS_DIR" ]; then
    launcher h3
    MMCLUST_TEST_PANIC_RANK=1 expect_fail panic-rank-1-hosts any "${L[@]}" "$BIN" kmeans data.npy -k 5 -q
fi
# A rank killed in the middle of a long run.
"$BIN" generate blobs -o big.npy --n 400000 --d 32 --k 50 --seed 7 -q
"${MPIRUN[@]}" -n 2 "$BIN" kmeans big.npy -k 200 --max-iter 300 --tol 0 --init random -q > kill.out 2> kill.err &
launcher=$!
sleep 4
# The ranks are the launcher's children; kill the last one.
victim=$(pgrep -P "$launcher" | tail -1 || true)
if [ -n "$victim" ]; then
    t0=$SECONDS
    kill -9 "$victim"
    set +e
    wait "$launcher"
    rc=$?
    set -e
    took=$((SECONDS - t0))
    if [ "$rc" != 0 ] && [ $took -le 15 ]; then note "ok   killed rank: job exit $rc after ${took} s"
    else bad "killed rank: exit $rc after $took s"; fi
else
    wait "$launcher" || true
    bad "killed rank: the run ended before a rank could be killed"
fi

# A lost host: host 2's link goes down in the middle of a long run. No reset
# reaches the others (TCP would retry for many minutes); the daemons' keepalive
# (netns_mpirun's oob_tcp_keepalive_* settings) notices within ~20 s and
# mpirun ends the job, naming the host. Nothing may appear under a final name.
if [ -n "$NETNS_DIR" ]; then
    launcher h3
    "${L[@]}" "$BIN" kmeans big.npy -k 200 --algorithm lloyd --max-iter 300 --tol 0 --init random -q \
        --labels-out lost.labels.npy --model-out lost.model.json > lost.out 2> lost.err &
    launcher_pid=$!
    sleep 5
    if kill -0 "$launcher_pid" 2> /dev/null; then
        t0=$SECONDS
        netns_link_down 2
        # Wait at most 60 s for the job to end.
        while kill -0 "$launcher_pid" 2> /dev/null && [ $((SECONDS - t0)) -lt 60 ]; do sleep 1; done
        took=$((SECONDS - t0))
        if kill -0 "$launcher_pid" 2> /dev/null; then
            bad "lost host: the job still runs 60 s after host 2's link went down"
            kill -9 "$launcher_pid" 2> /dev/null || true
        fi
        set +e
        wait "$launcher_pid"
        rc=$?
        set -e
        if [ "$rc" = 0 ]; then bad "lost host: exit 0"
        elif ! grep -q "$NETNS_PREFIX-h2" lost.err; then bad "lost host: exit $rc after $took s, but the message does not name host 2: $(tail -5 lost.err)"
        elif [ -e lost.labels.npy ] || [ -e lost.model.json ]; then bad "lost host: an output has its final name"
        else note "ok   lost host: exit $rc after ${took} s, naming $(grep -o "$NETNS_PREFIX-h2" lost.err | head -1)"
        fi
        # The lost host's own rank and daemon end too (its daemon's keepalive
        # sees mpirun gone), within 30 s more.
        t0=$SECONDS
        while [ -n "$(ip netns pids "$NETNS_PREFIX-h2")" ] && [ $((SECONDS - t0)) -lt 30 ]; do sleep 1; done
        left=$(ip netns pids "$NETNS_PREFIX-h2" | xargs -r ps -o comm= -p | tr '\n' ' ')
        [ -z "$left" ] || bad "lost host: still running on host 2 after 30 s: $left"
    else
        wait "$launcher_pid" || true
        bad "lost host: the run ended before the link went down: $(tail -3 lost.err)"
    fi
fi
if [ -n "$SLURM_DIR" ]; then
    t0=$(now_ms)
    slurm_down
    slurm_ms=$((slurm_ms + $(now_ms) - t0))
    note "slurm: $((slurm_ms / 1000)) s in all (start, the srun runs, stop)"
fi
ls -a | grep -q mmclust-tmp && bad "temporary outputs left behind: $(ls -a | grep mmclust-tmp)"

if [ $fail = 0 ]; then echo "MPI tests passed"; else echo "MPI tests FAILED"; exit 1; fi
