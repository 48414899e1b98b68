#!/usr/bin/env python3
"""Single-thread NumPy sgemm reference for the assignment-kernel benchmark.

Times C = A @ B on float32 square matrices (default 2048^3) with the BLAS
restricted to one thread, and prints the median GFLOP/s of the repeats
(2·n³ FLOP per product). Used by scripts/bench_kernel.sh.

Usage: bench_sgemm.py [--n 2048] [--repeats 7] [--json]
"""

import argparse
import json
import os

# Must be set before NumPy loads its BLAS.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(1)
        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} thread)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        )
    except ImportError:
        blas = "unknown (threadpoolctl missing)"

    n = args.n
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    gflops = 2.0 * n**3 / median / 1e9
    if args.json:
        print(json.dumps({"n": n, "repeats": args.repeats, "median_s": median, "gflops": gflops,
                          "numpy": np.__version__, "blas": blas}))
    else:
        print(f"numpy {np.__version__} sgemm {n}^3, 1 thread [{blas}]: "
              f"median {median * 1e3:.1f} ms of {args.repeats} -> {gflops:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
