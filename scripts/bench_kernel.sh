#!/usr/bin/env bash
# Assignment-kernel benchmark: NumPy single-thread sgemm reference + the
# criterion bench `benches/assign.rs`, summarised as a Markdown table of
# GFLOP/s (2·n·k·d per pass) per (d, k), on 1 thread and on all threads, with
# the ratio of the 1-thread figure to NumPy's.
#
# Usage: scripts/bench_kernel.sh [--quick] [--write]
#   --quick  MMCLUST_BENCH_QUICK=1 (small n, few samples: a smoke run)
#   --write  replace the table in docs/benchmarks.md (the kernel section)
# Needs python3 (a venv with numpy is created in .venv-bench/) and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
write=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --write) write=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy threadpoolctl
fi

echo "== NumPy single-thread sgemm reference" >&2
sgemm_json=$("$venv/bin/python" scripts/bench_sgemm.py --json)
echo "$sgemm_json" >&2

echo "== criterion bench (quick=$quick)" >&2
rm -rf target/criterion/assign
if [ "$quick" = 1 ]; then export MMCLUST_BENCH_QUICK=1; fi
cargo bench --bench assign >&2

table=$(SGEMM_JSON="$sgemm_json" QUICK="$quick" "$venv/bin/python" - <<'PY'
import json, os, pathlib, platform, re, subprocess

sgemm = json.loads(os.environ["SGEMM_JSON"])
ref = sgemm["gflops"]
root = pathlib.Path("target/criterion/assign")
rows = {}
for est in root.glob("d*_k*/*/new/estimates.json"):
    dk, run = est.parts[-4], est.parts[-3]
    d, k = map(int, re.fullmatch(r"d(\d+)_k(\d+)", dk).groups())
    threads, n = re.fullmatch(r"(\w+)_n(\d+)", run).groups()
    median_ns = json.loads(est.read_text())["median"]["point_estimate"]
    rows.setdefault((d, k), {"n": int(n)})[threads] = 2 * int(n) * k * d / median_ns
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
nproc = os.cpu_count()
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
print(f"Machine: {cpu}, {nproc} logical CPUs; {rustc}; "
      f"{'QUICK smoke run' if os.environ['QUICK'] == '1' else 'full run'}.")
print()
print(f"NumPy reference: {sgemm['numpy']} sgemm {sgemm['n']}³, one thread, {sgemm['blas']}: "
      f"median of {sgemm['repeats']} = **{ref:.1f} GFLOP/s**.")
print()
print("| d | k | n | GFLOP/s, 1 thread | GFLOP/s, all threads | 1 thread / NumPy |")
print("|---:|---:|---:|---:|---:|---:|")
for (d, k) in sorted(rows):
    r = rows[(d, k)]
    one, all_ = r.get("1t", float("nan")), r.get("all", float("nan"))
    print(f"| {d} | {k} | {r['n']} | {one:.1f} | {all_:.1f} | {one / ref:.0%} |")
PY
)
echo
echo "$table"

if [ "$write" = 1 ]; then
  doc=docs/benchmarks.md
  TABLE="$table" python3 - "$doc" <<'PY'
import os, sys, pathlib
doc = pathlib.Path(sys.argv[1])
text = doc.read_text()
begin, end = "<!-- assign-table:begin -->", "<!-- assign-table:end -->"
i, j = text.index(begin) + len(begin), text.index(end)
doc.write_text(text[:i] + "\n" + os.environ["TABLE"] + "\n" + text[j:])
PY
  echo "(table written into $doc)" >&2
fi
