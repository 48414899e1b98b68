#!/usr/bin/env python3
"""Per-iteration time of variational Bayesian GMM: mmclust vs its EM vs scikit-learn.

Every engine starts from the same initial responsibilities (each row to the nearest of
k data rows chosen by a seed, written once as an n x k float32 .npy): mmclust gets them
through ``--init-resp``, scikit-learn through ``_initialize(X, resp)`` (the hook its own
``_initialize_parameters`` calls). One iteration is timed from outside as
(wall(21) - wall(1)) / 20 with ``tol = 0``, so loading, statistics and initialisation
cancel. Engines alternate within each repetition; medians are reported, with ratios.
Threads: every engine uses all cores (mmclust's rayon pool, scikit-learn's BLAS).
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

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mmclust_wall(bin_: Path, data: Path, resp: Path, k: int, cov: str, iters: int,
                 bayesian: bool) -> tuple[float, float]:
    cmd = [str(bin_), "gmm", str(data), "-k", str(k), "--covariance", cov, "--init-resp",
           str(resp), "--max-iter", str(iters), "--tol", "0", "--json", "--quiet"]
    if bayesian:
        cmd.append("--bayesian")
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t
    return wall, float(json.loads(out)["lower_bound"])


SKLEARN_CHILD = r"""
import sys, time, json, warnings
import numpy as np
from sklearn.mixture import BayesianGaussianMixture
warnings.simplefilter("ignore")
data, resp, k, cov, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
X = np.load(data).astype(np.float64)
R = np.load(resp).astype(np.float64)
class Given(BayesianGaussianMixture):
    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, R)
t = time.perf_counter()
m = Given(n_components=k, covariance_type=cov, max_iter=iters, tol=0.0).fit(X)
print(json.dumps({"seconds": time.perf_counter() - t, "lower_bound": float(np.sum(m.lower_bound_))}))
"""


def sklearn_fit(data: Path, resp: Path, k: int, cov: str, iters: int) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", SKLEARN_CHILD, str(data), str(resp), str(k), cov,
                          str(iters)], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["seconds"], r["lower_bound"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, required=True)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--covariances", default="diag,full")
    ap.add_argument("--workdir", type=Path, default=REPO / "bench-out")
    ap.add_argument("--out", type=Path, default=REPO / "bench-out" / "section-bayesian.md")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    n, d, k = a.n, a.d, a.k
    data = a.workdir / f"bgm_blobs_n{n}_d{d}_k{k}.npy"
    if not data.exists():
        subprocess.run([str(a.bin), "generate", "blobs", "--n", str(n), "--d", str(d), "--k",
                        str(k), "--seed", "0", "-o", str(data)], check=True)
    resp = a.workdir / f"bgm_resp_n{n}_k{k}.npy"
    if not resp.exists():
        X = np.load(data, mmap_mode="r")
        rng = np.random.default_rng(0)
        seeds = np.asarray(X[np.sort(rng.choice(n, size=k, replace=False))], dtype=np.float64)
        R = np.zeros((n, k), dtype=np.float32)
        for s in range(0, n, 65536):
            x = np.asarray(X[s:s + 65536], dtype=np.float64)
            dist = ((x[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
            R[np.arange(s, s + len(x)), dist.argmin(axis=1)] = 1.0
        np.save(resp, R)
    rows = []
    for cov in [c.strip() for c in a.covariances.split(",") if c.strip()]:
        per: dict[str, list[float]] = {"mmclust --bayesian": [], "mmclust EM": [],
                                       "sklearn BayesianGaussianMixture": []}
        bounds: dict[str, float] = {}
        for rep in range(a.reps):
            order = list(per)
            if rep % 2:
                order.reverse()
            for eng in order:
                if eng.startswith("mmclust"):
                    bay = "bayesian" in eng
                    w1, _ = mmclust_wall(a.bin, data, resp, k, cov, 1, bay)
                    w21, lb = mmclust_wall(a.bin, data, resp, k, cov, 21, bay)
                else:
                    w1, _ = sklearn_fit(data, resp, k, cov, 1)
                    w21, lb = sklearn_fit(data, resp, k, cov, 21)
                it = (w21 - w1) / 20
                per[eng].append(it)
                bounds[eng] = lb
                print(f"{cov} rep {rep} {eng:34s} {it * 1e3:9.2f} ms/iter  lower bound {lb:.10g}",
                      file=sys.stderr, flush=True)
        med = {e: statistics.median(v) for e, v in per.items()}
        base = med["mmclust --bayesian"]
        for e in per:
            rows.append((cov, e, med[e], med[e] / base, bounds[e]))
    load = os.getloadavg()
    lines = [
        "# Variational Bayesian GMM per iteration",
        "",
        f"Generated by `scripts/bench_bayesian.sh --n {n} --d {d} --k {k} --reps {a.reps}` on "
        f"{cpu_model()} ({os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} at the end); median of {a.reps}, one iteration = (wall(21) - wall(1)) / 20 "
        "from the same initial responsibilities, tol 0. `vs --bayesian` is each engine's time "
        "over mmclust --bayesian's (above 1: slower than mmclust --bayesian). Lower bound: EM's "
        "is the mean log-likelihood per row, the Bayesian ones scikit-learn's variational bound "
        "(a total).",
        "",
        "| n | d | k | covariance | engine | ms / iteration | vs --bayesian | lower bound |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cov, e, t, r, lb in rows:
        lines.append(f"| {n:,} | {d} | {k} | {cov} | {e} | {t * 1e3:.1f} | {r:.2f}× | {lb:.10g} |")
    text = "\n".join(lines) + "\n"
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
