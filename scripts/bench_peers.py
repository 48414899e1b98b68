#!/usr/bin/env python3
"""Benchmark mmclust K-means against scikit-learn, scikit-learn-intelex and faiss-cpu.

Run it through ``scripts/bench_peers.sh`` (builds the pinned venv and the release
binary). What it measures, for every configuration (n, d, k):

* **time per Lloyd iteration**, from outside: every engine runs in its own subprocess
  on the same .npy file from the same initial centres C0 with tol=0, once with 1
  iteration and once with N+1; per-iteration time = (wall(N+1) - wall(1)) / N, so
  interpreter start-up, imports and loading the data cancel;
* **full fit** from k-means++ (faiss: its own random initialisation, it has no
  k-means++) with each engine's default stopping rule; the time is the one measured
  inside the process around the fit (mmclust: ``fit_seconds`` of its ``--json``);
* **final inertia** of the full fit, recomputed here in float64 from the centres each
  engine returns (engines report it differently: sklearn accumulates in float32 and
  reports it against the final centres; faiss's ``obj`` is the SSE of the last
  assignment step, i.e. against the centres *before* the last update);
* **peak RSS** of each engine's subprocesses (GNU time around each run);
* each peer's time divided by mmclust's.

Engines alternate in round-robin order across repetitions; the table shows medians.
All engines get the same thread count (default 2). The data comes from
``mmclust generate blobs`` (or, when the binary cannot, from NumPy with the same
model: centres uniform in [-10, 10]^d, labels uniform, N(0, spread^2) noise).

With ``--silhouette`` it instead compares the exact silhouette: ``mmclust silhouette``
against ``sklearn.metrics.silhouette_score`` on the same .npy data and labels file
(default n = 50,000, d = 16, k = 8 blobs with spread 4, from ``mmclust generate blobs
--labels-out``), each in its own subprocess with the same thread count: wall time (sklearn:
also the time inside the process around the call), peak RSS, and the two scores' relative
difference. Report: the silhouette section of ``docs/benchmarks.md``.

The script runs itself in ``_run`` mode as the per-engine subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BIN = REPO / "target" / "release" / "mmclust"
DEFAULT_OUT = None  # bench-out/section-<mode>.md, then spliced into docs/benchmarks.md
ENGINES = ("mmclust", "mmclust-py", "sklearn", "sklearnex", "faiss")
PEERS = ENGINES[1:]
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "RAYON_NUM_THREADS", "TBB_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# =========================================================================== runner
# Runs inside the engine subprocess. Imports stay inside the functions so the parent
# never loads the engines (and each child loads only its own).


def _load(path: str):
    import numpy as np

    return np.load(path, mmap_mode=None)


def _kmeans_init(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """A scikit-learn-style K-means estimator's ``init`` for ``--init`` (k-means++, or
    the C0 .npy file) and the keyword arguments that go with it (the seed for
    k-means++)."""
    import numpy as np

    if args.init == "k-means++":
        return "k-means++", {"random_state": args.seed}
    return np.load(args.init), {}


def _fit_seconds(estimator: Any, X: Any, threads: int | None) -> float:
    """Seconds of ``estimator.fit(X)``; with ``threads``, inside threadpoolctl's limit
    (BLAS and OpenMP pools), the import and the limit's set-up outside the clock."""
    from contextlib import nullcontext

    if threads is None:
        limit = nullcontext()
    else:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=threads)
    with limit:
        t0 = time.perf_counter()
        estimator.fit(X)
        return time.perf_counter() - t0


def _kmeans_result(km: Any, fit_seconds: float, n_iter: int) -> dict[str, Any]:
    """The runner's result for a fitted scikit-learn-style K-means estimator."""
    return {"fit_seconds": fit_seconds, "n_iter": int(n_iter),
            "reported_inertia": float(km.inertia_), "centers": km.cluster_centers_}


def run_sklearn(args: argparse.Namespace, flavour: str) -> dict[str, Any]:
    """Fit scikit-learn (flavour 'sklearn') or scikit-learn-intelex ('sklearnex')."""
    if flavour == "sklearnex":
        import daal4py

        daal4py.daalinit(args.threads)
        from sklearnex.cluster import KMeans
    else:
        from sklearn.cluster import KMeans

    X = _load(args.data)
    init, kw = _kmeans_init(args)
    km = KMeans(n_clusters=args.k, init=init, n_init=1, algorithm=args.sk_algorithm,
                max_iter=args.max_iter, tol=args.tol, **kw)
    return _kmeans_result(km, _fit_seconds(km, X, args.threads), km.n_iter_)


def run_mmclust_py(args: argparse.Namespace) -> dict[str, Any]:
    """The Python package (``mmclust.KMeans``, crates/python) on the array in memory,
    as a scikit-learn user would call it; threads from RAYON_NUM_THREADS."""
    from mmclust import KMeans

    X = _load(args.data)
    init, kw = _kmeans_init(args)
    km = KMeans(n_clusters=args.k, init=init, n_init=1, max_iter=args.max_iter, tol=args.tol,
                **kw)
    return _kmeans_result(km, _fit_seconds(km, X, None), km.n_iter_)


def run_sklearn_minibatch(args: argparse.Namespace) -> dict[str, Any]:
    """scikit-learn MiniBatchKMeans with k-means++ and its defaults (max_no_improvement=10)."""
    from sklearn.cluster import MiniBatchKMeans

    X = _load(args.data)
    km = MiniBatchKMeans(n_clusters=args.k, init="k-means++", n_init=1,
                         batch_size=args.batch_size, random_state=args.seed)
    return _kmeans_result(km, _fit_seconds(km, X, args.threads), km.n_steps_)


def run_sklearn_gmm(args: argparse.Namespace) -> dict[str, Any]:
    """scikit-learn GaussianMixture from the given initial parameters (an .npz with
    weights, means, precisions), tol and max_iter as given, one init."""
    import numpy as np
    from sklearn.mixture import GaussianMixture

    X = _load(args.data)
    p = np.load(args.init)
    gm = GaussianMixture(n_components=args.k, covariance_type=args.covariance, tol=args.tol,
                         max_iter=args.max_iter, n_init=1, weights_init=p["weights"],
                         means_init=p["means"], precisions_init=p["precisions"],
                         random_state=args.seed)
    return {"fit_seconds": _fit_seconds(gm, X, args.threads), "n_iter": int(gm.n_iter_),
            "lower_bound": float(gm.lower_bound_), "centers": gm.means_}


def run_faiss(args: argparse.Namespace) -> dict[str, Any]:
    """Fit faiss.Kmeans on every point (max_points_per_centroid huge: no sampling)."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(args.threads)
    X = np.ascontiguousarray(_load(args.data), dtype=np.float32)
    n, d = X.shape
    kw: dict[str, Any] = {}
    init = None
    if args.init == "k-means++":
        # faiss >= 1.14 has k-means++; older versions only sample random points.
        if hasattr(faiss, "ClusteringInitMethod_KMEANS_PLUS_PLUS"):
            kw["init_method"] = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    else:
        init = np.ascontiguousarray(np.load(args.init), dtype=np.float32)
    km = faiss.Kmeans(d, args.k, niter=args.max_iter, max_points_per_centroid=10**9,
                      seed=args.seed, verbose=False, **kw)
    t0 = time.perf_counter()
    km.train(X, init_centroids=init)
    fit_s = time.perf_counter() - t0
    obj = list(km.obj)
    return {"fit_seconds": fit_s, "n_iter": len(obj),
            "reported_inertia": float(obj[-1]) if obj else float("nan"),
            "init": "k-means++" if "init_method" in kw else
                    ("random" if init is None else "given"),
            "centers": km.centroids}


def run_sklearn_silhouette(args: argparse.Namespace) -> dict[str, Any]:
    """sklearn.metrics.silhouette_score on the data and labels, timed in-process."""
    import numpy as np
    from sklearn.metrics import silhouette_score

    X = _load(args.data)
    labels = np.load(args.labels)
    t0 = time.perf_counter()
    score = float(silhouette_score(X, labels))
    return {"silhouette": score, "seconds": time.perf_counter() - t0}


def run_mlpack(args: argparse.Namespace) -> dict[str, Any]:
    """mlpack's kmeans (PyPI ``mlpack``) from the given C0 with ``--sk-algorithm``
    (hamerly, elkan or naive). mlpack computes in float64: the float32 data is
    converted before the clock starts. It has no tolerance: it stops when the
    centroids moved less than 1e-5 (norm of all shifts) or after ``--max-iter``
    iterations; its Python binding reports no iteration count."""
    import mlpack
    import numpy as np

    X = np.asarray(_load(args.data), dtype=np.float64)
    C0 = np.load(args.init).astype(np.float64)
    t0 = time.perf_counter()
    out = mlpack.kmeans(input_=X, clusters=args.k, initial_centroids=C0,
                        algorithm=args.sk_algorithm, max_iterations=args.max_iter,
                        allow_empty_clusters=True)
    secs = time.perf_counter() - t0
    return {"fit_seconds": secs, "n_iter": None, "centers": np.asarray(out["centroid"])}


def runner_main(args: argparse.Namespace) -> None:
    """Entry point of the per-engine subprocess: fit, write a JSON result."""
    import numpy as np

    if args.engine == "sklearn-sil":
        Path(args.result).write_text(json.dumps(run_sklearn_silhouette(args)))
        return
    if args.engine == "sklearn-gmm":
        res = run_sklearn_gmm(args)
    elif args.engine == "faiss":
        res = run_faiss(args)
    elif args.engine == "sklearn-mb":
        res = run_sklearn_minibatch(args)
    elif args.engine == "mmclust-py":
        res = run_mmclust_py(args)
    elif args.engine == "mlpack":
        res = run_mlpack(args)
    else:
        res = run_sklearn(args, args.engine)
    centers = res.pop("centers")
    if args.centers_out:
        np.save(args.centers_out, np.ascontiguousarray(centers, dtype=np.float32))
    Path(args.result).write_text(json.dumps(res))


# =========================================================================== parent


@dataclass
class Run:
    """One subprocess: its wall time, peak RSS and the engine's own summary."""

    wall: float
    rss_mib: float
    summary: dict[str, Any]


@dataclass
class Cell:
    """Everything measured for one engine in one configuration."""

    iter_diffs: list[float] = field(default_factory=list)   # per-iteration, per rep
    fit_seconds: list[float] = field(default_factory=list)
    fit_walls: list[float] = field(default_factory=list)
    inertia: list[float] = field(default_factory=list)
    reported_inertia: list[float] = field(default_factory=list)
    fit_iters: list[int] = field(default_factory=list)
    rss_mib: float = 0.0
    notes: list[str] = field(default_factory=list)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_ENV:
        env[var] = str(threads)
    return env


GNU_TIME = Path("/usr/bin/time")


def timed(cmd: list[str], threads: int, timeout: float) -> tuple[float, float, int, str, str]:
    """Run ``cmd``; return wall seconds, peak RSS (MiB), exit code, stdout, stderr.

    Peak RSS comes from GNU time wrapped around the command where it exists: a child
    forked from this (large) Python process would otherwise report this process's
    own peak, which Linux carries across fork and exec into ``ru_maxrss``."""
    rss_file = tempfile.NamedTemporaryFile(delete=False)
    rss_file.close()
    if GNU_TIME.exists():
        cmd = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name] + cmd
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env(threads))
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss_kib = float(usage.ru_maxrss)
        try:
            text = Path(rss_file.name).read_text().strip().splitlines()
            if GNU_TIME.exists() and text:
                rss_kib = float(text[-1])
        except (OSError, ValueError):
            pass
        os.unlink(rss_file.name)
        return (wall, rss_kib / 1024.0, proc.returncode,
                out.read().decode(errors="replace"), err.read().decode(errors="replace"))


class Bench:
    """Drives the engines on one data file."""

    def __init__(self, opts: argparse.Namespace, workdir: Path):
        self.o = opts
        self.workdir = workdir

    def mm_cmd(self, data: Path, k: int, init: str, max_iter: int | None, tol: float | None,
               algorithm: str, centers_out: Path | None) -> list[str]:
        cmd = [str(self.o.bin), "kmeans", str(data), "-k", str(k), "--init", init,
               "--json", "--threads", str(self.o.threads), "--quiet",
               "--seed", str(self.o.seed), "--algorithm", algorithm]
        if max_iter is not None:
            cmd += ["--max-iter", str(max_iter)]
        if tol is not None:
            cmd += ["--tol", repr(tol)]
        if centers_out is not None:
            cmd += ["--centers-out", str(centers_out)]
        return cmd

    def peer_cmd(self, engine: str, data: Path, k: int, init: str, max_iter: int, tol: float,
                 result: Path, centers_out: Path | None) -> list[str]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "_run", "--engine", engine,
               "--data", str(data), "-k", str(k), "--init", init,
               "--max-iter", str(max_iter), "--tol", repr(tol), "--threads",
               str(self.o.threads), "--seed", str(self.o.seed), "--result", str(result)]
        if centers_out is not None:
            cmd += ["--centers-out", str(centers_out)]
        return cmd

    def run(self, engine: str, data: Path, k: int, init: str, max_iter: int | None,
            tol: float | None, centers_out: Path | None = None,
            algorithm: str = "lloyd", batch_size: int | None = None,
            extra: list[str] | None = None, sk_algorithm: str | None = None) -> Run:
        """Run one engine once; raise RuntimeError with its stderr on failure."""
        result = self.workdir / f"result-{engine}.json"
        result.unlink(missing_ok=True)
        if engine == "mmclust":
            cmd = self.mm_cmd(data, k, init, max_iter, tol, algorithm, centers_out) + (extra or [])
        else:
            cmd = self.peer_cmd(engine, data, k, init, max_iter if max_iter else 300,
                                1e-4 if tol is None else tol, result, centers_out)
            if batch_size is not None:
                cmd += ["--batch-size", str(batch_size)]
            if sk_algorithm is not None:
                cmd += ["--sk-algorithm", sk_algorithm]
        wall, rss, rc, out, err = timed(cmd, self.o.threads, self.o.timeout)
        if rc != 0:
            raise RuntimeError(f"{engine} exited {rc}: {' '.join(cmd)}\n{err[-2000:]}")
        if engine == "mmclust":
            summary = json.loads(out)
            summary["reported_inertia"] = summary.get("inertia")
        else:
            summary = json.loads(result.read_text())
        return Run(wall, rss, summary)


def mmclust_status(binary: Path) -> str | None:
    """None when ``mmclust kmeans`` works, else why it is skipped."""
    if not binary.exists():
        return f"{binary} does not exist (cargo build failed or was not run)"
    try:
        r = subprocess.run([str(binary), "kmeans", "--help"], capture_output=True, timeout=30)
    except OSError as e:
        return f"{binary} cannot run: {e}"
    if r.returncode != 0:
        return "`mmclust kmeans --help` failed (the kmeans command is not there yet)"
    return None


def generate_data(opts: argparse.Namespace, n: int, d: int, k: int) -> tuple[Path, str]:
    """The benchmark data file (cached under --workdir); returns (path, how made)."""
    import numpy as np

    stem = f"blobs_n{n}_d{d}_k{k}_s{opts.spread:g}_seed{opts.seed}"
    mm_path = opts.workdir / f"{stem}.mmclust.npy"
    np_path = opts.workdir / f"{stem}.numpy.npy"
    if mm_path.exists():
        return mm_path, "mmclust generate blobs (cached)"
    if opts.bin.exists():
        cmd = [str(opts.bin), "generate", "blobs", "-o", str(mm_path), "--n", str(n),
               "--d", str(d), "--k", str(k), "--spread", f"{opts.spread:g}",
               "--seed", str(opts.seed), "--threads", str(opts.threads), "--quiet"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0 and mm_path.exists():
            return mm_path, "mmclust generate blobs"
        log(f"bench: `mmclust generate blobs` failed ({r.stderr.strip()[:300]}); using NumPy")
    if np_path.exists():
        return np_path, "NumPy fallback (cached)"
    log(f"bench: generating {n}x{d} k={k} blobs with NumPy (mmclust generate unavailable)")
    rng = np.random.default_rng(opts.seed)
    centres = rng.uniform(-10.0, 10.0, size=(k, d))
    tmp = np_path.with_suffix(".tmp")
    X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, d))
    step = 65536
    for start in range(0, n, step):
        rows = min(step, n - start)
        labels = rng.integers(0, k, size=rows)
        X[start:start + rows] = centres[labels] + opts.spread * rng.standard_normal((rows, d))
    X.flush()
    del X
    tmp.rename(np_path)
    return np_path, "NumPy fallback (same model as mmclust generate blobs, different stream)"


def initial_centres(opts: argparse.Namespace, data: Path, k: int) -> Path:
    """C0: k distinct rows of the data chosen by a fixed NumPy Generator, saved .npy."""
    import numpy as np

    path = data.with_name(data.name.replace(".npy", f".C0_k{k}_seed{opts.seed}.npy"))
    if not path.exists():
        X = np.load(data, mmap_mode="r")
        rows = np.sort(np.random.default_rng(opts.seed + 1).choice(len(X), k, replace=False))
        np.save(path, np.ascontiguousarray(X[rows], dtype=np.float32))
    return path


def inertia_f64(data: Path, centers: Path, chunk: int = 32768) -> float:
    """sum_i min_j ||x_i - c_j||^2 in float64, chunked (||x||^2 - 2 x.c + ||c||^2,
    clamped at 0; float64 throughout, so the expansion loses nothing that matters)."""
    import numpy as np

    X = np.load(data, mmap_mode="r")
    C = np.load(centers).astype(np.float64)
    cc = (C * C).sum(axis=1)
    total = 0.0
    for start in range(0, len(X), chunk):
        x = np.asarray(X[start:start + chunk], dtype=np.float64)
        d2 = (x * x).sum(axis=1)[:, None] - 2.0 * (x @ C.T) + cc[None, :]
        total += float(np.maximum(d2.min(axis=1), 0.0).sum())
    return total


def rotated(engines: list[str], rep: int) -> list[str]:
    r = rep % len(engines)
    return engines[r:] + engines[:r]


def real_datasets(opts: argparse.Namespace) -> list[tuple[str, Path, int, str]]:
    """--real: (title, .npy path, k, how made) of the real data sets, float32 .npy files
    written once under --workdir from what scikit-learn ships."""
    import numpy as np
    from sklearn.datasets import load_digits, load_sample_images

    out = []
    digits = opts.workdir / "real_digits.npy"
    if not digits.exists():
        np.save(digits, np.ascontiguousarray(load_digits().data, dtype=np.float32))
    out.append(("scikit-learn digits", digits, 10,
                "`sklearn.datasets.load_digits().data`: 8×8 grey images of handwritten digits, "
                "float32"))
    images = load_sample_images()
    for name, img in zip(images.filenames, images.images):
        stem = Path(name).stem
        path = opts.workdir / f"real_{stem}_pixels.npy"
        if not path.exists():
            np.save(path, np.ascontiguousarray(img.reshape(-1, 3) / 255.0, dtype=np.float32))
        out.append((f"{stem}.jpg pixels, colour quantisation", path, 64,
                    f"`sklearn.datasets.load_sample_images()`, `{stem}.jpg`: every pixel's RGB "
                    "scaled to [0, 1], float32 (the scikit-learn colour-quantisation example)"))
    return out


def embeddings_description(path: Path) -> str:
    """How the --embeddings file was made, from the JSON sidecar that
    scripts/make_embeddings.py writes beside it (``PATH`` with ``.json``)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        src, model = meta["source"], meta["model"]
        return (f"the first {src['n']:,} of the sorted, lower-cased `{'+'.join(src['lists'])}` "
                f"words of english-words {src['version']} ('{src['first']}' to '{src['last']}'), "
                f"embedded by {model['name']} from the PyPI wheel {model['package']} "
                f"{model['package_version']} (`scripts/make_embeddings.sh`, NumPy forward pass), "
                "float32, L2-normalised")
    except (OSError, ValueError, KeyError, TypeError):
        return (f"`{path.name}` from `scripts/make_embeddings.sh` (English words embedded by "
                "all-MiniLM-L6-v2; no sidecar found beside it)")


def bench_config(b: Bench, opts: argparse.Namespace, n: int, d: int, k: int,
                 engines: list[str], given: tuple[Path, str] | None = None,
                 title: str | None = None) -> dict[str, Any]:
    """Per-iteration and full-fit measurements for one (n, d, k), on generated blobs or
    on the ``given`` (path, description) data."""
    data, how = given if given else generate_data(opts, n, d, k)
    c0 = initial_centres(opts, data, k)
    log(f"bench: n={n} d={d} k={k}: data {data.name} ({how}), C0 {c0.name}")
    cells = {e: Cell() for e in engines}
    N = opts.iters

    def record(e: str, run: Run) -> None:
        cells[e].rss_mib = max(cells[e].rss_mib, run.rss_mib)

    # The real data sets are small (an iteration takes microseconds to ~10 ms): the
    # difference of two process walls would be noise, so only the in-process full
    # fit is timed there.
    tiny = given is not None and not opts.embeddings
    if tiny:
        for c in cells.values():
            c.notes.append("per-iteration not timed on real data (too short to time from outside)")
    if not opts.no_iter and not tiny:
        for rep in range(opts.reps):
            for e in rotated(engines, rep):
                try:
                    one = b.run(e, data, k, str(c0), 1, 0.0)
                    many = b.run(e, data, k, str(c0), N + 1, 0.0)
                except RuntimeError as err:
                    log(f"bench: {err}")
                    cells[e].notes.append("per-iteration run failed")
                    continue
                record(e, one)
                record(e, many)
                got = many.summary.get("n_iter")
                if got is not None and got != N + 1:
                    cells[e].notes.append(f"ran {got} iterations, not {N + 1}")
                diff = (many.wall - one.wall) / N
                cells[e].iter_diffs.append(diff)
                log(f"  rep {rep} {e:9s} wall(1)={one.wall:7.3f}s wall({N + 1})="
                    f"{many.wall:7.3f}s -> {diff * 1e3:8.2f} ms/iter  rss={many.rss_mib:.0f} MiB")

    if not opts.no_full:
        for rep in range(opts.reps):
            for e in rotated(engines, rep):
                cout = b.workdir / f"centers-{e}.npy"
                cout.unlink(missing_ok=True)
                try:
                    if e == "faiss":
                        run = b.run(e, data, k, "k-means++", opts.faiss_niter, 0.0, cout)
                    elif e == "mmclust":
                        run = b.run(e, data, k, "k-means++", None, None, cout,
                                    algorithm=opts.mm_full_algorithm)
                    else:
                        run = b.run(e, data, k, "k-means++", 300, 1e-4, cout)
                except (RuntimeError, json.JSONDecodeError) as err:
                    log(f"bench: {err}")
                    cells[e].notes.append("full fit failed")
                    continue
                record(e, run)
                c = cells[e]
                c.fit_seconds.append(float(run.summary["fit_seconds"]))
                c.fit_walls.append(run.wall)
                c.fit_iters.append(int(run.summary.get("n_iter", -1)))
                rep_in = run.summary.get("reported_inertia")
                c.reported_inertia.append(float("nan") if rep_in is None else float(rep_in))
                c.inertia.append(inertia_f64(data, cout) if cout.exists() else float("nan"))
                log(f"  fit {rep} {e:9s} fit={c.fit_seconds[-1]:8.3f}s wall={run.wall:8.3f}s "
                    f"iters={c.fit_iters[-1]} inertia={c.inertia[-1]:.6g} rss={run.rss_mib:.0f} MiB")
    minibatch = bench_minibatch(b, opts, data, k, cells) if opts.minibatch else None
    accel = bench_accel(b, opts, data, k, c0, engines) if opts.accel else None
    if not given:
        how += f", spread {opts.spread:g}"
    return {"n": n, "d": d, "k": k, "data": str(data), "data_how": how, "cells": cells,
            "minibatch": minibatch, "accel": accel, "title": title}


ACCEL_VARIANTS = (("mmclust", "lloyd"), ("mmclust", "hamerly"), ("mmclust", "yinyang"),
                  ("mmclust", "auto"), ("sklearn", "lloyd"), ("sklearn", "elkan"),
                  ("sklearnex", "lloyd"))


def bench_accel(b: Bench, opts: argparse.Namespace, data: Path, k: int, c0: Path,
                engines: list[str]) -> dict[str, Any]:
    """Time to convergence from the same C0 (tol 1e-4, max_iter 300): mmclust's exact
    variants (lloyd, hamerly, yinyang, auto) against scikit-learn lloyd and elkan and
    scikit-learn-intelex. Variants run interleaved, rotated each repetition; the
    1-minute load average is recorded next to every run (the machine may be shared)."""
    variants = [v for v in ACCEL_VARIANTS if v[0] in engines]
    rows: dict[str, dict[str, list]] = {f"{e} {a}": {"seconds": [], "wall": [], "n_iter": [],
                                                     "inertia": [], "evals": [], "skipped": [],
                                                     "load": [], "resolved": []}
                                        for e, a in variants}
    for rep in range(opts.reps):
        r = rep % len(variants)
        for e, a in variants[r:] + variants[:r]:
            key = f"{e} {a}"
            cout = b.workdir / "centers-accel.npy"
            cout.unlink(missing_ok=True)
            load = os.getloadavg()[0]
            try:
                if e == "mmclust":
                    run = b.run(e, data, k, str(c0), 300, 1e-4, cout, algorithm=a)
                else:
                    run = b.run(e, data, k, str(c0), 300, 1e-4, cout, sk_algorithm=a)
            except (RuntimeError, json.JSONDecodeError) as err:
                log(f"bench: {err}")
                continue
            sm = run.summary
            # mmclust: the iterations alone (init is given; the statistics pass and
            # the read are the same for every variant); peers: their fit().
            secs = float(sm["iter_seconds"] if e == "mmclust" else sm["fit_seconds"])
            row = rows[key]
            row["seconds"].append(secs)
            row["wall"].append(run.wall)
            row["n_iter"].append(int(sm.get("n_iter", -1)))
            row["inertia"].append(inertia_f64(data, cout) if cout.exists() else float("nan"))
            row["evals"].append(sm.get("distance_evals"))
            row["skipped"].append(sm.get("skipped_fraction"))
            row["load"].append(load)
            row["resolved"].append(sm.get("algorithm", a))
            log(f"  accel {rep} {key:17s} {secs:8.3f}s wall={run.wall:8.3f}s "
                f"iters={row['n_iter'][-1]} inertia={row['inertia'][-1]:.9g} "
                f"skipped={sm.get('skipped_fraction')} load={load:.2f}")
    if not opts.no_mlpack and "mmclust" in engines and mlpack_status() is None:
        # mlpack has no tolerance (it stops when the centroids move less than 1e-5):
        # it gets as many iterations as mmclust's Lloyd needed to converge under
        # tol 1e-4, so that every engine does the same work.
        cap = rows.get("mmclust lloyd", {}).get("n_iter") or [300]
        cap_iter = int(statistics.median(cap))
        for rep in range(opts.reps):
            for a in ("hamerly", "elkan"):
                key = f"mlpack {a}"
                row = rows.setdefault(key, {"seconds": [], "wall": [], "n_iter": [],
                                            "inertia": [], "evals": [], "skipped": [],
                                            "load": [], "resolved": []})
                cout = b.workdir / "centers-accel.npy"
                cout.unlink(missing_ok=True)
                load = os.getloadavg()[0]
                try:
                    run = b.run("mlpack", data, k, str(c0), cap_iter, 1e-4, cout,
                                sk_algorithm=a)
                except (RuntimeError, json.JSONDecodeError) as err:
                    log(f"bench: {err}")
                    continue
                row["seconds"].append(float(run.summary["fit_seconds"]))
                row["wall"].append(run.wall)
                row["n_iter"].append(f"≤ {cap_iter}")
                row["inertia"].append(inertia_f64(data, cout) if cout.exists()
                                      else float("nan"))
                row["evals"].append(None)
                row["skipped"].append(None)
                row["load"].append(load)
                row["resolved"].append(a)
                log(f"  accel {rep} {key:17s} {row['seconds'][-1]:8.3f}s "
                    f"iters<={cap_iter} inertia={row['inertia'][-1]:.9g} load={load:.2f}")
    return rows


def mlpack_status() -> str | None:
    """None when this interpreter can import mlpack, else why not."""
    r = subprocess.run([sys.executable, "-c", "import mlpack"], capture_output=True,
                       text=True, check=False)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["?"])[-1]


def accel_markdown(results: list[dict[str, Any]], opts: argparse.Namespace) -> str:
    out = ["", "## Exact accelerated K-means: time to convergence from C0", "",
           f"tol 1e-4, max_iter 300, {opts.threads} threads, {opts.reps} repetition(s), "
           "median shown; mmclust: iteration seconds, peers: fit seconds. "
           "`load` is the 1-minute load average when the run started. "
           "`vs mmclust lloyd` is the relative difference of the final inertia (f64, "
           "recomputed from each engine's centres) from mmclust lloyd's.", "",
           "- mmclust lloyd / hamerly / yinyang: `--algorithm NAME --init C0.npy --tol 1e-4 "
           "--max-iter 300`; auto shows what it resolved to. Every variant takes the "
           "reference label (the exact assignment), so from the same C0 they reach the "
           "same centres bit for bit, in the same number of iterations. Hamerly and "
           "Yinyang start with Lloyd's passes until one changes at most 0.5 % of the "
           "labels (the bounds' warm-up), then run their bounds; `distances skipped` "
           "counts the whole run.",
           "- scikit-learn `KMeans(init=C0, n_init=1, algorithm='lloyd'|'elkan', tol=1e-4, "
           "max_iter=300)`; scikit-learn-intelex the same with lloyd.",
           ("- mlpack: not run for these tables (`--no-mlpack`). Its Hamerly and Elkan "
            "steps run on one thread; at n = 10⁶, d = 32, k = 100 its Hamerly had taken "
            "380 s when an earlier run was stopped, and its Elkan did not finish."
            if opts.no_mlpack else
            "- mlpack (PyPI `mlpack`, float64, `mlpack.kmeans(algorithm='hamerly'|'elkan', "
            "initial_centroids=C0, allow_empty_clusters=True)`): it has no tolerance (it "
            "stops when the centroids move less than 1e-5 in all), so it is given "
            "`max_iterations` = mmclust lloyd's iteration count (`≤ N`): the same number "
            "of iterations, not fewer. Its data is converted to float64 before the clock "
            "starts. Its Hamerly and Elkan steps run on one thread."),
           "- **auto** (`Algorithm::resolve`, `mmclust kmeans --help`): Lloyd when k < 32, "
           "d < 8 or k·d < 1024; otherwise Yinyang when its bounds (4·⌈k/16⌉ bytes per "
           "point) take at most half of a row's 4·d bytes, Hamerly (4 bytes per point) "
           "when they would take more; derived from these tables. The memory clause keeps "
           "the bounds, which live in a memory-mapped scratch file beyond the in-memory "
           "limit and are read and written by every pass, small next to the data.", ""]
    for r in results:
        rows = r.get("accel")
        if not rows:
            continue
        out += [f"### n = {r['n']:,}, d = {r['d']}, k = {r['k']}", "",
                "| engine | seconds | iterations | inertia (f64) | vs mmclust lloyd "
                "| distances skipped | load |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        ref = rows.get("mmclust lloyd", {}).get("inertia") or [float("nan")]
        best_peer = min((med(v["seconds"]) for key, v in rows.items()
                         if not key.startswith("mmclust") and v["seconds"]), default=None)
        for key, v in rows.items():
            if not v["seconds"]:
                continue
            name = key if key != "mmclust auto" else f"mmclust auto ({v['resolved'][0]})"
            sk = v["skipped"][0] if v["skipped"] and v["skipped"][0] is not None else None
            ratio_txt = ""
            if best_peer and key.startswith("mmclust"):
                ratio_txt = f" ({best_peer / med(v['seconds']):.1f}x vs fastest peer)"
            rel = (v["inertia"][0] - ref[0]) / ref[0]
            out.append(f"| {name} | {fmt(med(v['seconds']))}{ratio_txt} | "
                       f"{v['n_iter'][0]} | {v['inertia'][0]:.9g} | {rel:+.1e} | "
                       f"{'' if sk is None else f'{sk:.1%}'} | "
                       f"{', '.join(f'{x:.1f}' for x in v['load'])} |")
        out.append("")
    return "\n".join(out)


def gmm_initial_params(data: Path, m0: Path, cov: str, reg: float = 1e-6,
                       chunk: int = 65536) -> Path:
    """The initial parameters mmclust derives from ``--init M0.npy``: every row assigned
    to its nearest mean (float64, ties to the lowest index), means kept, weights
    (N_k + 10 eps) / sum, covariances the scatter about M0 over N_k + 10 eps plus
    reg_covar (spherical: the mean of the diagonal), as precisions (inverse
    covariances) for scikit-learn. Saved .npz. Full, diag and spherical."""
    import numpy as np

    path = m0.with_name(m0.name.replace(".npy", f".params_{cov}.npz"))
    if path.exists():
        return path
    X = np.load(data, mmap_mode="r")
    M = np.load(m0).astype(np.float64)
    k, d = M.shape
    nk = np.zeros(k)
    s2 = np.zeros((k, d, d)) if cov == "full" else np.zeros((k, d))
    mm = (M * M).sum(axis=1)
    for start in range(0, len(X), chunk):
        x = np.asarray(X[start:start + chunk], dtype=np.float64)
        lab = (mm[None, :] - 2.0 * (x @ M.T)).argmin(axis=1)
        for c in np.unique(lab):
            t = x[lab == c] - M[c]
            nk[c] += len(t)
            s2[c] += t.T @ t if cov == "full" else (t * t).sum(axis=0)
    n = nk + 10.0 * np.finfo(np.float64).eps
    if cov == "full":
        covs = s2 / n[:, None, None] + reg * np.eye(d)[None]
        prec = np.linalg.inv(covs)
    elif cov == "spherical":
        prec = 1.0 / ((s2 / n[:, None]).mean(axis=1) + reg)
    else:
        prec = 1.0 / (s2 / n[:, None] + reg)
    np.savez(path, weights=n / n.sum(), means=M, precisions=prec)
    return path


GMM_ENGINES = ("mmclust", "mmclust --precision f32", "sklearn")
# --precision f32 changes every covariance type (the benchmark's are full, diag, spherical).
F32_COVARIANCES = ("full", "diag", "spherical")


def bench_gmm(opts: argparse.Namespace, workdir: Path, n: int, d: int, k: int,
              cov: str) -> dict[str, Any]:
    """Per-iteration time of one EM iteration, mmclust vs scikit-learn GaussianMixture,
    from the same initial parameters; (wall(N+1) - wall(1)) / N as for K-means."""
    data, how = generate_data(opts, n, d, k)
    m0 = initial_centres(opts, data, k)
    params = gmm_initial_params(data, m0, cov)
    log(f"bench gmm: n={n} d={d} k={k} {cov}: data {data.name} ({how}), M0 {m0.name}")
    wanted = opts.engines.split(",")
    engines = [e for e in GMM_ENGINES if e.split()[0] in wanted
               and ("f32" not in e or cov in F32_COVARIANCES)]
    cells = {e: Cell() for e in engines}
    lower: dict[str, list[float]] = {e: [] for e in engines}
    N = opts.iters
    result = workdir / "result-gmm.json"

    def run(e: str, iters: int) -> Run:
        if e.startswith("mmclust"):
            cmd = [str(opts.bin), "gmm", str(data), "-k", str(k), "--covariance", cov,
                   "--init", str(m0), "--max-iter", str(iters), "--tol", "0", "--json",
                   "--quiet", "--threads", str(opts.threads)] + e.split()[1:]
        else:
            result.unlink(missing_ok=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), "_run", "--engine",
                   "sklearn-gmm", "--covariance", cov, "--data", str(data), "-k", str(k),
                   "--init", str(params), "--max-iter", str(iters), "--tol", "0",
                   "--threads", str(opts.threads), "--seed", str(opts.seed),
                   "--result", str(result)]
        wall, rss, rc, out, err = timed(cmd, opts.threads, opts.timeout)
        if rc != 0:
            raise RuntimeError(f"{e} exited {rc}: {' '.join(cmd)}\n{err[-2000:]}")
        summary = json.loads(out) if e.startswith("mmclust") else json.loads(result.read_text())
        return Run(wall, rss, summary)

    for rep in range(opts.reps):
        for e in rotated(engines, rep):
            try:
                one = run(e, 1)
                many = run(e, N + 1)
            except (RuntimeError, json.JSONDecodeError) as err:
                log(f"bench gmm: {err}")
                cells[e].notes.append("run failed")
                continue
            c = cells[e]
            c.rss_mib = max(c.rss_mib, one.rss_mib, many.rss_mib)
            got = many.summary.get("n_iter")
            if got is not None and got != N + 1:
                c.notes.append(f"ran {got} iterations, not {N + 1}")
            if "f32" in e and many.summary.get("f32_iterations") != got:
                c.notes.append(f"only {many.summary.get('f32_iterations')} of {got} "
                               "iterations ran in f32")
            diff = (many.wall - one.wall) / N
            c.iter_diffs.append(diff)
            lower[e].append(float(many.summary.get("lower_bound", float("nan"))))
            log(f"  rep {rep} {e:24s} wall(1)={one.wall:7.3f}s wall({N + 1})={many.wall:7.3f}s"
                f" -> {diff * 1e3:8.2f} ms/iter  lower bound {lower[e][-1]:.10f}"
                f"  rss={many.rss_mib:.0f} MiB")
    return {"n": n, "d": d, "k": k, "covariance": cov, "data_how": how, "cells": cells,
            "lower_bound": {e: med(v) for e, v in lower.items()}}


def gmm_markdown(results: list[dict[str, Any]], opts: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        "# GMM: mmclust vs scikit-learn GaussianMixture",
        "",
        f"Generated by `scripts/bench_peers.sh --gmm` on {platform.node()} "
        f"({os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} at the end), {opts.threads} threads per engine, "
        f"median of {opts.reps}.",
        "",
        "One EM iteration (E-step, log-likelihood and M-step) timed from outside as "
        f"(wall({opts.iters + 1}) - wall(1)) / {opts.iters}, both engines from the same "
        "initial parameters (mmclust `--init M0.npy`: every row assigned to the nearest "
        "of k rows M0, means kept; scikit-learn gets the same weights, means and "
        "precisions), tol 0. Lower bound: mean per-sample log-likelihood after "
        f"{opts.iters + 1} iterations. Peak RSS over both runs. `mmclust --precision f32` "
        "(diag and spherical only): the same runs with the single-precision EM kernel, "
        "the precision scikit-learn itself computes in for this float32 data.",
        "",
        "| n | d | k | covariance | engine | ms / iteration | vs mmclust | lower bound "
        "| peak RSS (MiB) | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        mine = med(r["cells"]["mmclust"].iter_diffs) if "mmclust" in r["cells"] else None
        for e, c in r["cells"].items():
            t = med(c.iter_diffs)
            lb = r["lower_bound"].get(e)
            lines.append(
                f"| {r['n']:,} | {r['d']} | {r['k']} | {r['covariance']} | {e} | "
                f"{fmt(t, 1e3)} | {ratio(t, mine) if e != 'mmclust' else '1'} | "
                f"{'-' if lb is None else f'{lb:.8f}'} | {c.rss_mib:.0f} | "
                f"{'; '.join(sorted(set(c.notes)))} |")
    return "\n".join(lines) + "\n"


def gmm_main(opts: argparse.Namespace) -> None:
    covs = [c.strip() for c in opts.gmm_covariances.split(",") if c.strip()]
    opts.workdir.mkdir(parents=True, exist_ok=True)
    n_default = opts.n if opts.n else (100_000 if opts.quick else 1_000_000)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-", dir=opts.workdir) as tmp:
        for n, d, k in parse_gmm_configs(opts.configs, n_default):
            for cov in covs:
                results.append(bench_gmm(opts, Path(tmp), n, d, k, cov))
    text = gmm_markdown(results, opts)
    print(text)
    write_section(opts, "gmm", text)


def parse_gmm_configs(text: str, n_default: int) -> list[tuple[int, int, int]]:
    """DxK or NxDxK items, comma-separated."""
    out = []
    for part in text.split(","):
        f = [int(v) for v in part.lower().split("x")]
        out.append((n_default, f[0], f[1]) if len(f) == 2 else (f[0], f[1], f[2]))
    return out


MB_SIZES = (1024, 4096, 16384)


def bench_minibatch(b: Bench, opts: argparse.Namespace, data: Path, k: int,
                    cells: dict[str, Cell]) -> dict[str, Any]:
    """Mini-batch runs: mmclust (defaults) and scikit-learn MiniBatchKMeans at several
    batch sizes, all from k-means++, judged against full Lloyd's converged inertia."""
    ref = med(cells["mmclust"].inertia) if "mmclust" in cells else None
    if ref is None:
        cout = b.workdir / "centers-lloyd-ref.npy"
        b.run("mmclust", data, k, "k-means++", None, None, cout)
        ref = inertia_f64(data, cout)
    rows: dict[str, Cell] = {"mmclust": Cell(), "mmclust --refine 5": Cell()}
    rows.update({f"sklearn MiniBatchKMeans, batch {bs}": Cell() for bs in MB_SIZES})
    for rep in range(opts.reps):
        for name in rotated(list(rows), rep):
            cout = b.workdir / "centers-mb.npy"
            cout.unlink(missing_ok=True)
            try:
                if name.startswith("mmclust"):
                    extra = ["--refine", "5"] if "refine" in name else []
                    run = b.run("mmclust", data, k, "k-means++", None, None, cout,
                                algorithm="minibatch", extra=extra)
                else:
                    bs = int(name.rsplit(" ", 1)[1])
                    run = b.run("sklearn-mb", data, k, "k-means++", 100, 0.0, cout,
                                batch_size=bs)
            except (RuntimeError, json.JSONDecodeError) as err:
                log(f"bench: {err}")
                rows[name].notes.append("failed")
                continue
            c = rows[name]
            c.rss_mib = max(c.rss_mib, run.rss_mib)
            c.fit_seconds.append(float(run.summary["fit_seconds"]))
            c.fit_iters.append(int(run.summary.get("n_iter", -1)))
            c.inertia.append(inertia_f64(data, cout) if cout.exists() else float("nan"))
            log(f"  mb {rep} {name:36s} fit={c.fit_seconds[-1]:7.3f}s steps={c.fit_iters[-1]} "
                f"inertia={c.inertia[-1]:.6g} (x{c.inertia[-1] / ref:.4f} of Lloyd)")
    return {"lloyd_inertia": ref, "rows": rows}


# =========================================================================== report


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt(x: float | None, scale: float = 1.0, digits: int = 3) -> str:
    """Significant-digit formatting; large values without exponent; None as a dash."""
    if x is None:
        return "—"
    v = x * scale
    return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:.0f}"


def ratio(peer: float | None, mine: float | None) -> str:
    if peer is None or mine is None or mine <= 0:
        return "—"
    return f"{peer / mine:.2f}×"


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("numpy", "scikit-learn", "scikit-learn-intelex", "faiss-cpu", "threadpoolctl",
                "mlpack"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def markdown(results: list[dict[str, Any]], opts: argparse.Namespace, mm_note: str | None) -> str:
    """The Markdown report: one table per configuration plus the method."""
    v = versions()
    lines = [
        "# K-means on real data: mmclust vs peers" if opts.real
        else "# K-means on real word embeddings: mmclust vs peers" if opts.embeddings
        else "# K-means: mmclust vs peers",
        "",
        f"Generated by `scripts/bench_peers.py` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({platform.node()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, Python {platform.python_version()}).",
        f"Threads per engine: {opts.threads}. Repetitions: {opts.reps} (medians shown). "
        f"N = {opts.iters}.",
        "Peers: " + ", ".join(f"{p} {ver}" for p, ver in v.items()) + ".",
    ]
    if mm_note:
        lines += ["", f"**mmclust skipped:** {mm_note}. Ratios need it."]
    for res in results:
        if opts.no_iter and opts.no_full and not res.get("minibatch"):
            continue  # nothing of this table was measured (e.g. --accel alone)
        cells: dict[str, Cell] = res["cells"]
        mm = cells.get("mmclust")
        mm_iter = med(mm.iter_diffs) if mm else None
        mm_fit = med(mm.fit_seconds) if mm else None
        lines += [
            "",
            f"## {res['title'] + ': ' if res.get('title') else ''}"
            f"n = {res['n']:,}, d = {res['d']}, k = {res['k']}, f32",
            "",
            f"Data: `{Path(res['data']).name}` ({res['data_how']}).",
            "",
            "| engine | ms / Lloyd iteration | ÷ mmclust | full fit (s) | ÷ mmclust "
            "| full-fit wall (s) | fit iterations | final inertia (f64) | reported inertia "
            "| peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e, c in cells.items():
            it = med(c.iter_diffs)
            fit = med(c.fit_seconds)
            iters = med([float(i) for i in c.fit_iters])
            lines.append(
                f"| {e} | {fmt(it, 1e3)} | {'1' if e == 'mmclust' and it else ratio(it, mm_iter)} "
                f"| {fmt(fit)} | {'1' if e == 'mmclust' and fit else ratio(fit, mm_fit)} "
                f"| {fmt(med(c.fit_walls))} | {fmt(iters, digits=4)} "
                f"| {fmt(med(c.inertia), digits=7)} | {fmt(med(c.reported_inertia), digits=7)} "
                f"| {c.rss_mib:.0f} |"
            )
        notes = [f"{e}: {'; '.join(sorted(set(c.notes)))}" for e, c in cells.items() if c.notes]
        if notes:
            lines += ["", "Notes: " + " · ".join(notes)]
        mb = res.get("minibatch")
        if mb:
            ref = mb["lloyd_inertia"]
            mm_fit = med(mb["rows"]["mmclust"].fit_seconds)
            lines += [
                "",
                f"### Mini-batch, n = {res['n']:,}, d = {res['d']}, k = {res['k']}",
                "",
                f"Reference: full Lloyd from k-means++ converges to inertia {ref:.7g} "
                "(mmclust's full fit above, f64). Target: final inertia ≤ 1.02 × that.",
                "",
                "| engine | fit (s) | ÷ mmclust | steps | final inertia (f64) | ÷ Lloyd "
                "| ≤ 1.02× Lloyd | peak RSS (MiB) |",
                "|---|---:|---:|---:|---:|---:|:---:|---:|",
            ]
            for name, c in mb["rows"].items():
                fit = med(c.fit_seconds)
                inert = med(c.inertia)
                ok = "—" if inert is None else ("yes" if inert <= 1.02 * ref else "no")
                lines.append(
                    f"| {name} | {fmt(fit)} | {'1' if name == 'mmclust' else ratio(fit, mm_fit)} "
                    f"| {fmt(med([float(i) for i in c.fit_iters]), digits=5)} "
                    f"| {fmt(inert, digits=7)} | {fmt(None if inert is None else inert / ref, digits=4)} "
                    f"| {ok} | {c.rss_mib:.0f} |"
                )
    lines += [
        "",
        "## Method",
        "",
        "- Every run is a separate subprocess on the same .npy file (peers load it with "
        "`np.load`, mmclust memory-maps it), with the same thread count "
        "(`OMP_NUM_THREADS` etc., threadpoolctl for scikit-learn, `daal4py.daalinit` for "
        "scikit-learn-intelex, `faiss.omp_set_num_threads` for faiss, `--threads` for "
        "mmclust). Engines alternate in round-robin order across repetitions.",
        f"- **ms / Lloyd iteration** = (wall(N+1 iterations) − wall(1 iteration)) / N with "
        f"N = {opts.iters}, from the same initial centres C0 (k rows of the data picked by "
        "a fixed NumPy generator) and tol = 0, so start-up, imports and loading cancel. "
        "scikit-learn / -intelex: `KMeans(init=C0, n_init=1, algorithm='lloyd', "
        "max_iter=N, tol=0)`; faiss: `faiss.Kmeans(d, k, niter=N, "
        "max_points_per_centroid=10**9).train(X, init_centroids=C0)`; mmclust: "
        f"`mmclust kmeans FILE -k K --init C0.npy --max-iter N --tol 0 --algorithm lloyd "
        "--json`.",
        "- **faiss samples** the training set down to k × max_points_per_centroid points "
        "(default 256 per centroid) unless that parameter is large; here it is 10⁹, so "
        "faiss uses every point, as the other engines do.",
        "- **full fit** = time inside the process around the fit, initialisation included "
        "(mmclust: `fit_seconds` of `--json`; mmclust uses `--init k-means++ --algorithm "
        f"{opts.mm_full_algorithm}` and its default max-iter/tol). scikit-learn / -intelex: "
        "`init='k-means++', n_init=1, max_iter=300, tol=1e-4`. faiss: "
        "`init_method=ClusteringInitMethod_KMEANS_PLUS_PLUS` (faiss ≥ 1.14; older faiss "
        f"samples random points), niter = {opts.faiss_niter}; faiss has no tol, it stops "
        "early only when the objective is exactly unchanged from one iteration to the next "
        "(`early_stop_threshold = 0`, its default).",
        "- **final inertia (f64)** is recomputed by this script in float64 from each "
        "engine's final centres (each point to its nearest centre), so all engines are "
        "judged the same way. **reported inertia** is what the engine says: scikit-learn "
        "and -intelex `inertia_` (against the final centres, float32 accumulation in "
        "scikit-learn); faiss `obj[-1]`, the SSE of the last iteration's assignment step, "
        "i.e. against the centres before the last update; mmclust's `inertia`.",
        "- **peak RSS** = largest maximum resident set of that engine's subprocesses, "
        "measured by GNU time around each (a child forked from the benchmark's own Python "
        "process would otherwise inherit its peak); it includes the interpreter and the "
        "loaded data for the peers, and the touched pages of the memory-mapped file for mmclust.",
        "- **mini-batch** (with `--minibatch`): mmclust `--algorithm minibatch` with its "
        "defaults (batch 8192 rows in 256-row blocks, max-no-improvement 10, k-means++ on "
        "a 3-batch sample), and with `--refine 5` (five full Lloyd passes from the "
        "mini-batch centres), against scikit-learn `MiniBatchKMeans(init='k-means++', n_init=1, "
        "batch_size=B)` with its defaults otherwise; fit time inside the process (mmclust's "
        "includes its final exact-inertia pass); inertia recomputed in f64 from the centres.",
    ]
    return "\n".join(lines) + "\n"


# =========================================================================== main


def parse_configs(text: str) -> list[tuple[int | None, int, int]]:
    """``DxK`` items (n from --n) or ``NxDxK`` items, comma-separated."""
    out: list[tuple[int | None, int, int]] = []
    for part in text.split(","):
        nums = [int(v) for v in part.lower().split("x")]
        if len(nums) == 2:
            out.append((None, nums[0], nums[1]))
        elif len(nums) == 3:
            out.append((nums[0], nums[1], nums[2]))
        else:
            raise SystemExit(f"--configs: {part!r} is neither DxK nor NxDxK")
    return out


def bench_silhouette(opts: argparse.Namespace) -> None:
    """--silhouette: exact silhouette, mmclust vs scikit-learn, same data and labels."""
    n, d, k = opts.sil_n, opts.sil_d, opts.sil_k
    opts.workdir.mkdir(parents=True, exist_ok=True)
    data = opts.workdir / f"sil_blobs_n{n}_d{d}_k{k}_seed{opts.seed}.npy"
    labels = data.with_name(data.stem + ".labels.npy")
    if not (data.exists() and labels.exists()):
        cmd = [str(opts.bin), "generate", "blobs", "-o", str(data), "--n", str(n), "--d", str(d),
               "--k", str(k), "--spread", "4", "--seed", str(opts.seed), "--labels-out",
               str(labels), "--quiet"]
        subprocess.run(cmd, check=True)
    rows: dict[str, list[tuple[float, float, float, float]]] = {"mmclust": [], "sklearn": []}
    result = opts.workdir / "result-sil.json"
    for rep in range(opts.reps):
        for engine in rotated(["mmclust", "sklearn"], rep):
            if engine == "mmclust":
                cmd = [str(opts.bin), "silhouette", str(data), str(labels), "--json", "--quiet",
                       "--threads", str(opts.threads)]
            else:
                cmd = [sys.executable, str(Path(__file__).resolve()), "_run", "--engine",
                       "sklearn-sil", "--data", str(data), "--labels", str(labels), "-k", str(k),
                       "--init", "-", "--max-iter", "0", "--tol", "0", "--threads",
                       str(opts.threads), "--result", str(result)]
            wall, rss, rc, out, err = timed(cmd, opts.threads, opts.timeout)
            if rc != 0:
                raise SystemExit(f"{engine} exited {rc}: {err[-2000:]}")
            summary = json.loads(out) if engine == "mmclust" else json.loads(result.read_text())
            inner = summary.get("seconds", wall)
            rows[engine].append((wall, inner, rss, summary["silhouette"]))
            log(f"bench: silhouette {engine} rep {rep}: wall {wall:.2f} s, inside {inner:.2f} s, "
                f"peak RSS {rss:.0f} MiB, score {summary['silhouette']:.9f}")
    mm = [statistics.median(x[i] for x in rows["mmclust"]) for i in range(3)]
    sk = [statistics.median(x[i] for x in rows["sklearn"]) for i in range(3)]
    s_mm, s_sk = rows["mmclust"][0][3], rows["sklearn"][0][3]
    text = "\n".join([
        "# Exact silhouette: mmclust vs scikit-learn",
        "",
        f"Generated by `scripts/bench_peers.py --silhouette` on {platform.node() or 'this machine'} "
        f"({platform.processor() or platform.machine()}), {opts.threads} thread(s) each, "
        f"median of {opts.reps}. Data: `mmclust generate blobs --n {n} --d {d} --k {k} "
        f"--spread 4 --seed {opts.seed}`, float32, with its generating labels.",
        "",
        "| engine | wall (s) | time in call (s) | peak RSS (MiB) | score |",
        "|---|---|---|---|---|",
        f"| mmclust silhouette | {mm[0]:.2f} | {mm[1]:.2f} | {mm[2]:.0f} | {s_mm:.9f} |",
        f"| sklearn silhouette_score | {sk[0]:.2f} | {sk[1]:.2f} | {sk[2]:.0f} | {s_sk:.9f} |",
        "",
        f"Speed-up (wall): {sk[0] / mm[0]:.1f}x; in the call: {sk[1] / mm[1]:.1f}x. "
        f"Relative difference of the scores: {abs(s_mm - s_sk) / abs(s_sk):.1e}.",
        "",
        f"Versions: {json.dumps(versions())}",
        "",
    ])
    print(text)
    write_section(opts, "silhouette", text)


def write_section(opts: argparse.Namespace, section: str, text: str) -> None:
    """Write the report to --out (default bench-out/section-SECTION.md) and, unless
    --no-report, splice it into docs/benchmarks.md as block SECTION."""
    out = opts.out or opts.workdir / f"section-{section}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log(f"bench: wrote {out}")
    if not opts.no_report:
        subprocess.run([sys.executable, str(REPO / "scripts" / "bench_report.py"),
                        "--section", section, str(out)], check=True)


def section_of(opts: argparse.Namespace) -> str:
    """The docs/benchmarks.md section a K-means run of these options writes."""
    if opts.real:
        return "real"
    if opts.embeddings:
        return "embeddings"
    if opts.accel and opts.no_iter and opts.no_full:
        return "accel"
    return "kmeans"


def report_text(results: list[dict[str, Any]], opts: argparse.Namespace,
                mm_note: str | None) -> str:
    if section_of(opts) == "accel":
        load = os.getloadavg()
        text = "\n".join([
            "# Exact K-means to convergence: Lloyd, Hamerly, Yinyang vs peers",
            "",
            f"Generated by `scripts/bench_peers.sh --accel` on {time.strftime('%Y-%m-%d %H:%M')} "
            f"({platform.node()}, {os.cpu_count()} logical CPUs, load average "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end).",
            "",
        ])
    else:
        text = markdown(results, opts, mm_note)
    if opts.accel:
        text += accel_markdown(results, opts)
    return text


def bench_main(opts: argparse.Namespace) -> None:
    if opts.silhouette:
        bench_silhouette(opts)
        return
    engines = [e.strip() for e in opts.engines.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if bad:
        raise SystemExit(f"unknown engine(s) {bad}; choose from {', '.join(ENGINES)}")
    n = opts.n if opts.n else (100_000 if opts.quick else 1_000_000)
    opts.workdir.mkdir(parents=True, exist_ok=True)

    mm_note = mmclust_status(opts.bin) if "mmclust" in engines else None
    if mm_note:
        log(f"bench: skipping mmclust: {mm_note}")
        engines.remove("mmclust")
    for e in list(engines):
        if e == "mmclust":
            continue
        mod = {"sklearn": "sklearn", "sklearnex": "sklearnex", "faiss": "faiss",
               "mmclust-py": "mmclust"}[e]
        probe = subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True)
        if probe.returncode != 0:
            log(f"bench: skipping {e}: `import {mod}` failed")
            engines.remove(e)
    if not engines:
        raise SystemExit("no engine to run")

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-", dir=opts.workdir) as tmp:
        b = Bench(opts, Path(tmp))
        if opts.embeddings:
            import numpy as np

            rows, d = np.load(opts.embeddings, mmap_mode="r").shape
            how = embeddings_description(opts.embeddings)
            for k in (int(x) for x in opts.embed_ks.split(",") if x.strip()):
                results.append(bench_config(b, opts, rows, d, k, engines,
                                            (opts.embeddings, how), "word embeddings"))
                partial = opts.out or opts.workdir / f"section-{section_of(opts)}.md"
                partial.write_text(report_text(results, opts, mm_note))
        elif opts.real:
            import numpy as np

            for title, path, k, how in real_datasets(opts):
                rows, d = np.load(path, mmap_mode="r").shape
                results.append(bench_config(b, opts, rows, d, k, engines, (path, how), title))
        else:
            for n_cfg, d, k in parse_configs(opts.configs):
                results.append(bench_config(b, opts, n_cfg or n, d, k, engines))
                # The report so far, after every configuration: a long run cut short
                # still leaves the finished tables (spliced into the docs only at the end).
                partial = opts.out or opts.workdir / f"section-{section_of(opts)}.md"
                partial.write_text(report_text(results, opts, mm_note))
                log(f"bench: wrote {partial} ({len(results)} configuration(s))")
    text = report_text(results, opts, mm_note)
    print(text)
    write_section(opts, section_of(opts), text)
    if opts.json_out:
        blob = [{**{k: v for k, v in r.items() if k not in ("cells", "minibatch")},
                 "cells": {e: c.__dict__ for e, c in r["cells"].items()}} for r in results]
        opts.json_out.write_text(json.dumps(blob, indent=2))
        log(f"bench: wrote {opts.json_out}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: n = 100,000")
    p.add_argument("--n", type=int, default=0, help="rows (default 1,000,000; --quick 100,000)")
    p.add_argument("--configs", default="32x100,128x1000",
                   help="comma-separated DxK list (default 32x100,128x1000)")
    p.add_argument("--spread", type=float, default=12.0,
                   help="blob std per coordinate (centres in [-10, 10]^d); 12 made "
                        "sklearn's k-means++ fit take 89 iterations at n=1e6, d=32, "
                        "k=100 (8 took only 38) (default 12)")
    p.add_argument("--seed", type=int, default=0, help="data, C0 and init seed (default 0)")
    p.add_argument("--reps", type=int, default=3, help="repetitions, median shown (default 3)")
    p.add_argument("--iters", type=int, default=20, help="N in (wall(N+1) - wall(1)) / N")
    p.add_argument("--threads", type=int, default=2, help="threads per engine (default 2)")
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    p.add_argument("--no-iter", action="store_true", help="skip the per-iteration runs")
    p.add_argument("--no-full", action="store_true", help="skip the full k-means++ fits")
    p.add_argument("--minibatch", action="store_true",
                   help="also compare mini-batch K-means (mmclust vs scikit-learn MiniBatchKMeans)")
    p.add_argument("--silhouette", action="store_true",
                   help="instead: exact silhouette, mmclust vs sklearn silhouette_score")
    p.add_argument("--sil-n", type=int, default=50_000, help="--silhouette rows (default 50,000)")
    p.add_argument("--sil-d", type=int, default=16, help="--silhouette columns (default 16)")
    p.add_argument("--sil-k", type=int, default=8, help="--silhouette clusters (default 8)")
    p.add_argument("--accel", action="store_true",
                   help="also time exact K-means to convergence from C0: mmclust "
                        "lloyd/hamerly/yinyang/auto vs scikit-learn lloyd/elkan, sklearnex")
    p.add_argument("--no-mlpack", action="store_true",
                   help="--accel without mlpack's hamerly/elkan (run when `import mlpack` "
                        "works)")
    p.add_argument("--faiss-niter", type=int, default=300,
                   help="faiss niter in the full fit (it has no tol; default 300)")
    p.add_argument("--mm-full-algorithm", default="auto",
                   help="mmclust --algorithm for the full fit (default auto)")
    p.add_argument("--bin", type=Path, default=DEFAULT_BIN, help="the mmclust binary")
    p.add_argument("--workdir", type=Path, default=REPO / "bench-out",
                   help="data and scratch folder (default bench-out/, gitignored)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="Markdown report (default bench-out/section-MODE.md, MODE one of "
                        "kmeans, real, accel, gmm, silhouette), then spliced into "
                        "docs/benchmarks.md by scripts/bench_report.py")
    p.add_argument("--no-report", action="store_true",
                   help="do not splice the report into docs/benchmarks.md")
    p.add_argument("--real", action="store_true",
                   help="instead of blobs: real data sets from scikit-learn (digits, k = 10; "
                        "the pixels of its sample images for colour quantisation, k = 64); "
                        "full fits from k-means++ and Lloyd iterations from C0")
    p.add_argument("--embeddings", type=Path, default=None,
                   help="a real embeddings .npy (scripts/make_embeddings.sh): per-iteration "
                        "runs on it for each k of --embed-ks")
    p.add_argument("--embed-ks", default="100,1000", help="--embeddings cluster counts")
    p.add_argument("--gmm", action="store_true",
                   help="instead of K-means: one EM iteration of mmclust gmm vs scikit-learn "
                        "GaussianMixture; --configs then takes DxK or NxDxK items "
                        "(e.g. 200000x16x16,1000000x32x32)")
    p.add_argument("--gmm-covariances", default="full,diag",
                   help="covariance types for --gmm (default full,diag)")
    p.add_argument("--json-out", type=Path, default=None, help="also dump raw numbers")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per subprocess")
    return p


def build_runner_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench_peers.py _run",
                                description="internal: one peer fit in this process")
    p.add_argument("--engine",
                   choices=PEERS + ("sklearn-mb", "sklearn-gmm", "sklearn-sil", "mlpack"),
                   required=True)
    p.add_argument("--covariance", default="full", help="sklearn-gmm covariance type")
    p.add_argument("--labels", default=None, help="sklearn-sil labels .npy")
    p.add_argument("--batch-size", type=int, default=1024, help="sklearn-mb batch size")
    p.add_argument("--sk-algorithm", default="lloyd",
                   choices=("lloyd", "elkan", "hamerly", "naive"),
                   help="scikit-learn KMeans algorithm (lloyd, elkan); mlpack's (hamerly, "
                        "elkan, naive)")
    p.add_argument("--data", required=True)
    p.add_argument("-k", type=int, required=True)
    p.add_argument("--init", required=True,
                   help="C0.npy or k-means++ (sklearn-gmm: an .npz of initial parameters)")
    p.add_argument("--max-iter", type=int, required=True)
    p.add_argument("--tol", type=float, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--result", required=True)
    p.add_argument("--centers-out", default=None)
    return p


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        runner_main(build_runner_parser().parse_args(sys.argv[2:]))
    else:
        opts = build_parser().parse_args()
        if opts.gmm:
            gmm_main(opts)
        else:
            bench_main(opts)


if __name__ == "__main__":
    main()
