#!/usr/bin/env bash
# Wall time of `mmclust report` against the separate commands it replaces
# (issue 24's target: report on 10^6 x 32, k = 2..=10, in at most the time of
# `elbow`, `silhouette --sample` with the same sample size and `gmm-select`,
# run one after the other). Not to be confused with scripts/bench_report.py,
# which assembles docs/benchmarks.md.
#
# Usage: scripts/bench_report.sh [DIR]   (data and results in DIR, default
#        target/bench-report). Set THREADS (default: nproc), REPS (default 3),
#        N (default 1000000), D (default 32), K (default 2..=10) and SAMPLE
#        (default 10000: the report's --sample, used above 10^5 rows).
# Data: blobs n = N, d = D, 8 centres, spread 4 (overlapping a little), seed 7.
# Each repetition runs the report and the three commands back to back,
# alternating which goes first; the table gives the median wall time of each,
# the sum of the three commands' medians, and report / sum. Every run has the
# same seed, so the numbers are the same (the report's --json SSEs,
# silhouettes and BICs equal the commands'; tests/report_cli.rs checks that
# on a small file); the script checks it on this one too.
# Writes the Markdown table to DIR/report.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-report}
reps=${REPS:-3}
threads=${THREADS:-$(nproc)}
n=${N:-1000000}
d=${D:-32}
ks=${K:-2..=10}
sample=${SAMPLE:-10000}
mkdir -p "$dir"
cargo build --profile ci -q --bin mmclust
m=target/ci/mmclust
data="$dir/blobs_${n}_${d}.npy"
[ -f "$data" ] || "$m" generate blobs -o "$data" --n "$n" --d "$d" --k 8 --spread 4 --seed 7 --quiet

# The report samples its silhouettes above 10^5 rows; the silhouette command
# then gets the same --sample (below, both are exact).
sample_arg=()
if (( n > 100000 )); then sample_arg=(--sample "$sample"); fi
now() { date +%s.%N; }
# timed NAME ARGS...: runs mmclust with ARGS (JSON to DIR/NAME.json), prints seconds.
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(now)
  "$m" --threads "$threads" --seed 0 --json --quiet "$@" >"$dir/$name.json" 2>>"$dir/stderr.log"
  t1=$(now)
  python3 -c "print($t1 - $t0)"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rep=() elb=() sil=() gms=()
run_report() { rep+=("$(timed report report "$data" -k "$ks" --sample "$sample" --out "$dir/page")"); }
run_separate() {
  elb+=("$(timed elbow elbow "$data" --k "$ks")")
  sil+=("$(timed silhouette silhouette "$data" --k "$ks" "${sample_arg[@]}")")
  gms+=("$(timed gmm_select gmm-select "$data" --k "$ks")")
}
for r in $(seq "$reps"); do
  if (( r % 2 )); then run_report; run_separate; else run_separate; run_report; fi
  echo "repetition $r: report ${rep[-1]} s; elbow ${elb[-1]} s, silhouette ${sil[-1]} s, gmm-select ${gms[-1]} s" >&2
done

# Same numbers (the last repetition's summaries).
python3 - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/report.json"))
e = json.load(open(f"{d}/elbow.json"))
s = json.load(open(f"{d}/silhouette.json"))
g = json.load(open(f"{d}/gmm_select.json"))
assert r["elbow"]["sse"] == e["sse"], "SSE differ"
assert r["silhouette"]["silhouette"] == s["silhouette"], "silhouettes differ"
assert [c["bic"] for c in r["gmm_select"]["candidates"]] == [c["bic"] for c in g["candidates"]], "BICs differ"
print("same numbers: SSE, silhouettes and BICs of report equal elbow, silhouette and gmm-select", file=sys.stderr)
EOF

mr=$(printf '%s\n' "${rep[@]}" | median)
me=$(printf '%s\n' "${elb[@]}" | median)
ms=$(printf '%s\n' "${sil[@]}" | median)
mg=$(printf '%s\n' "${gms[@]}" | median)
{
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) logical CPUs, threads=${threads}"
  echo
  echo "\`report\` against the commands it replaces: blobs n = $n, d = $d, k = $ks, silhouettes sampled ($sample rows) above 10^5 rows, median wall seconds of $reps"
  echo
  echo "| report | elbow | silhouette ${sample_arg[*]} | gmm-select | the three | report / the three |"
  echo "|---:|---:|---:|---:|---:|---:|"
  python3 -c "
r, e, s, g = $mr, $me, $ms, $mg
t = e + s + g
print(f'| {r:.1f} | {e:.1f} | {s:.1f} | {g:.1f} | {t:.1f} | {r / t:.3f} |')"
  echo
  echo "runs (s): report $(printf '%.1f ' "${rep[@]}"); elbow $(printf '%.1f ' "${elb[@]}"); silhouette $(printf '%.1f ' "${sil[@]}"); gmm-select $(printf '%.1f ' "${gms[@]}")"
} | tee "$dir/report.md"
