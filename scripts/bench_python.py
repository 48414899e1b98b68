#!/usr/bin/env python3
"""What calling mmclust through Python costs: the same K-means fit through the CLI
and through the Python package (``mmclust.KMeans``), on the same data, from the same
initial centres C0, for a fixed number of iterations (tol = 0).

Run it through ``scripts/bench_python.sh`` (builds the release CLI and installs the
wheel into the benchmark venv). For each repetition, in rotating order:

* **cli**: ``mmclust kmeans data.npy -k K --init c0.npy --max-iter N --tol 0 --json``;
  the time is the fit's own ``fit_seconds`` (measured inside the process around the
  library call, file already open);
* **py-array**: ``KMeans(K, init=C0, n_init=1, max_iter=N, tol=0).fit(X)`` on the data
  loaded into a NumPy float32 array first; the time is measured in Python around
  ``fit`` (input checks, conversion to the engine's view, releasing the GIL, the
  worker thread, building the result arrays: everything a Python user pays);
* **py-path**: the same ``fit`` given the ``.npy`` path (memory-mapped by the engine).

It reports the medians, each Python variant's ratio to the CLI, and whether the
centres are bitwise equal (they must be). Writes the python section of docs/benchmarks.md (see --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PY_FIT = r"""
import json, sys, time
import numpy as np
from mmclust import KMeans
data, c0, k, iters, out, mode = sys.argv[1:7]
X = np.load(data) if mode == "array" else data
C0 = np.load(c0)
km = KMeans(int(k), init=C0, n_init=1, max_iter=int(iters), tol=0.0)
t0 = time.perf_counter()
km.fit(X)
seconds = time.perf_counter() - t0
np.save(out, km.cluster_centers_)
print(json.dumps({"fit_seconds": seconds, "n_iter": km.n_iter_, "inertia": km.inertia_}))
"""


def env(threads: int) -> dict[str, str]:
    e = dict(os.environ)
    e["RAYON_NUM_THREADS"] = str(threads)
    return e


def run(cmd: list[str], threads: int) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(threads))
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=32)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--iters", type=int, default=20, help="Lloyd iterations per fit")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bin", type=Path, default=REPO / "target" / "release" / "mmclust")
    p.add_argument("--workdir", type=Path, default=REPO / "bench-out" / "python")
    p.add_argument("--out", type=Path, default=REPO / "bench-out" / "section-python.md",
                   help="report; spliced into docs/benchmarks.md as its python section")
    o = p.parse_args()

    import numpy as np

    o.workdir.mkdir(parents=True, exist_ok=True)
    data = o.workdir / f"blobs_n{o.n}_d{o.d}_k{o.k}_seed{o.seed}.npy"
    if not data.exists():
        subprocess.run([str(o.bin), "generate", "blobs", "-o", str(data), "--n", str(o.n),
                        "--d", str(o.d), "--k", str(o.k), "--seed", str(o.seed), "--quiet"],
                       check=True)
    c0 = o.workdir / f"c0_k{o.k}_seed{o.seed}.npy"
    X = np.load(data, mmap_mode="r")
    rows = np.sort(np.random.default_rng(o.seed + 1).choice(len(X), o.k, replace=False))
    np.save(c0, np.ascontiguousarray(X[rows], dtype=np.float32))
    del X

    variants = ["cli", "py-array", "py-path"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    centres: dict[str, bytes] = {}
    for rep in range(o.reps):
        order = variants[rep % 3:] + variants[:rep % 3]
        for v in order:
            out = o.workdir / f"centres-{v}.npy"
            if v == "cli":
                res = run([str(o.bin), "kmeans", str(data), "-k", str(o.k), "--init", str(c0),
                           "--max-iter", str(o.iters), "--tol", "0", "--json", "--quiet",
                           "--centers-out", str(out)], o.threads)
            else:
                res = run([sys.executable, "-c", PY_FIT, str(data), str(c0), str(o.k),
                           str(o.iters), str(out), v.split("-")[1]], o.threads)
            if res["n_iter"] != o.iters:
                raise SystemExit(f"{v} ran {res['n_iter']} iterations, not {o.iters}")
            times[v].append(float(res["fit_seconds"]))
            centres.setdefault(v, np.load(out).tobytes())
            if np.load(out).tobytes() != centres[v]:
                raise SystemExit(f"{v}: centres differ between repetitions")
            print(f"rep {rep} {v:8s} {times[v][-1]:8.3f} s", file=sys.stderr, flush=True)

    med = {v: statistics.median(t) for v, t in times.items()}
    same = all(centres[v] == centres["cli"] for v in variants)
    load = os.getloadavg()
    lines = [
        "# K-means through Python vs through the CLI",
        "",
        f"Written by `scripts/bench_python.py` on {time.strftime('%Y-%m-%d')}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{o.threads} threads (RAYON_NUM_THREADS), load average before the report "
        f"{load[0]:.2f}. Data: `mmclust generate blobs`, n = {o.n:,}, d = {o.d}, "
        f"k = {o.k}; C0 = k rows chosen by NumPy (seed {o.seed + 1}); {o.iters} Lloyd "
        f"iterations (tol = 0); {o.reps} repetitions in rotating order; medians.",
        "",
        "| variant | fit seconds (median) | ratio to CLI | all repetitions |",
        "|---|---:|---:|---|",
    ]
    for v in variants:
        lines.append(f"| {v} | {med[v]:.3f} | {med[v] / med['cli']:.3f} | "
                     f"{', '.join(f'{t:.3f}' for t in times[v])} |")
    lines += [
        "",
        f"Centres bitwise equal across the three: **{'yes' if same else 'NO'}**.",
        "",
        "cli: `fit_seconds` of `mmclust kmeans --json` (inside the process, file open). "
        "py-array: wall time around `KMeans.fit(X)` in Python, X a float32 array in "
        "memory. py-path: the same given the `.npy` path.",
        "",
    ]
    o.out.parent.mkdir(parents=True, exist_ok=True)
    o.out.write_text("\n".join(lines))
    print("\n".join(lines))
    subprocess.run([sys.executable, str(REPO / "scripts" / "bench_report.py"),
                    "--section", "python", str(o.out)], check=True)
    if not same:
        raise SystemExit("centres differ between the CLI and Python")


if __name__ == "__main__":
    main()
