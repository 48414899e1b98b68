#!/usr/bin/env python3
"""Write scikit-learn K-means reference fixtures for the mmclust-kmeans tests.

Run it through ``scripts/make_sklearn_fixtures.sh`` (which builds the pinned venv).
Every random state is fixed and scikit-learn runs single-threaded, so reruns with the
same pinned versions reproduce the files bit for bit.

Fixture sets (all in ``crates/kmeans/tests/fixtures/`` by default):

* ``blobs_*``    well-separated blobs, n=600, d=5, k=6
* ``faithful_*`` Old Faithful (data/faithful.csv) standardised, k=2
* ``weighted_*`` the blobs data with sample weights in [0.5, 3]
* ``overlap_*``  overlapping blobs, n=2000, d=8, k=10, with the per-iteration path

Each set has a ``<name>_meta.json`` that says what every file holds.

Conventions (shared by all sets, repeated in each meta file):

* C0 is the initial centre matrix. "Iteration t" is one Lloyd step: assign every
  point to its nearest centre in C_{t-1}, then replace each centre by the (weighted)
  mean of its points, giving C_t.
* scikit-learn's ``labels_`` and ``inertia_`` after ``fit`` are NOT from the last
  assignment step: when the run does not end by strict convergence (labels unchanged),
  scikit-learn re-runs the assignment against the final centres, so ``labels_`` are the
  nearest final centres and ``inertia_`` = sum_i w_i * ||x_i - C_final[labels_i]||^2.
* scikit-learn's ``tol`` is relative: it stops when sum_j ||C_t[j] - C_{t-1}[j]||^2
  <= tol * mean(var(X, axis=0)) (the absolute value is stored as ``tol_absolute``), or
  when an iteration leaves every label unchanged (that iteration is counted in n_iter_).
* scikit-learn computes in the dtype of X (float32 here): its centres and inertia carry
  float32 rounding. Files marked ``_f64`` are computed by this script with NumPy in
  float64 and are exact up to float64 rounding.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "kmeans" / "tests" / "fixtures"
MAX_FILE_BYTES = 64 * 1024

CONVENTIONS = {
    "iteration": "one Lloyd step: assign each point to its nearest centre in C_{t-1} "
    "(squared Euclidean; ties to the lowest index), then C_t[j] = (weighted) mean of "
    "the points assigned to j",
    "sklearn_labels_and_inertia": "sklearn's labels_/inertia_ after fit are recomputed "
    "against the FINAL centres (sklearn re-runs the assignment step unless the run "
    "ended by strict convergence, where they coincide); inertia_ = sum_i w_i * "
    "||x_i - C_final[labels_i]||^2",
    "sklearn_tol": "sklearn stops when sum_j ||C_t[j] - C_{t-1}[j]||^2 <= tol_absolute "
    "= tol * mean(np.var(X, axis=0)), or when an iteration changes no label (that "
    "iteration counts in n_iter_)",
    "precision": "sklearn files are computed in float32 (the dtype of X); files ending "
    "in _f64 are NumPy float64 computations by this script",
    "threads": "sklearn ran with one OpenMP/BLAS thread for bit-reproducibility",
}


def versions() -> dict[str, str]:
    """Versions of the packages that produced the fixtures."""
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__}
    for pkg in ("scikit-learn", "numpy", "scipy", "threadpoolctl"):
        try:
            out[f"pip:{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


class FixtureWriter:
    """Saves arrays and meta files into one folder and remembers what it wrote."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.written: list[Path] = []
        out_dir.mkdir(parents=True, exist_ok=True)

    def npy(self, name: str, array: np.ndarray) -> str:
        """Save ``array`` (C order) as ``name`` and return the file name."""
        path = self.out_dir / name
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        self._check(path)
        return name

    def json(self, name: str, obj: dict[str, Any]) -> str:
        """Save ``obj`` as pretty, key-sorted JSON and return the file name."""
        path = self.out_dir / name
        path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
        self._check(path)
        return name

    def _check(self, path: Path) -> None:
        size = path.stat().st_size
        if size >= MAX_FILE_BYTES:
            raise SystemExit(f"{path} is {size} bytes; fixtures must stay under {MAX_FILE_BYTES}")
        self.written.append(path)

    def report(self) -> None:
        """Print every file written with its size and SHA-256 prefix."""
        for path in dict.fromkeys(self.written):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            print(f"  {rel}  {path.stat().st_size:6d} B  sha256:{digest}")


# ----------------------------------------------------------------------------- numerics


def sq_dists_f64(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Exact squared distances n x k in float64 (direct differences, no expansion)."""
    X64 = X.astype(np.float64)
    C64 = C.astype(np.float64)
    return ((X64[:, None, :] - C64[None, :, :]) ** 2).sum(axis=2)


def assign_f64(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Labels (int32) of the nearest centre in float64; ties go to the lowest index."""
    return np.argmin(sq_dists_f64(X, C), axis=1).astype(np.int32)


def inertia_f64(X: np.ndarray, C: np.ndarray, w: np.ndarray | None = None) -> float:
    """sum_i w_i * min_j ||x_i - C_j||^2 in float64."""
    d = sq_dists_f64(X, C).min(axis=1)
    if w is not None:
        d = d * w.astype(np.float64)
    return float(d.sum())


def lloyd_step_f64(
    X: np.ndarray, C: np.ndarray, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Lloyd step in float64: (labels vs C, new centres, per-cluster weight).

    Raises if a cluster is empty (the fixtures are chosen so none is; empty-cluster
    handling differs between engines and is not what these fixtures test).
    """
    labels = assign_f64(X, C)
    k, d = C.shape
    w64 = np.ones(len(X)) if w is None else w.astype(np.float64)
    sums = np.zeros((k, d))
    np.add.at(sums, labels, X.astype(np.float64) * w64[:, None])
    weight = np.bincount(labels, weights=w64, minlength=k)
    if np.any(weight == 0):
        raise SystemExit(f"empty cluster(s) {np.flatnonzero(weight == 0)} in the float64 step")
    return labels, sums / weight[:, None], weight


def sklearn_fit(
    X: np.ndarray, C0: np.ndarray, max_iter: int, tol: float, w: np.ndarray | None = None
) -> KMeans:
    """scikit-learn Lloyd K-means from C0, one run, single-threaded."""
    km = KMeans(
        n_clusters=len(C0), init=C0, n_init=1, algorithm="lloyd", max_iter=max_iter, tol=tol
    )
    with threadpool_limits(limits=1):
        km.fit(X, sample_weight=w)
    return km


def pick_rows(n: int, k: int, seed: int) -> np.ndarray:
    """k distinct row indices from a fixed NumPy Generator, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


# ----------------------------------------------------------------------------- fixtures


def write_kmeans_set(
    fx: FixtureWriter,
    prefix: str,
    X: np.ndarray,
    C0: np.ndarray,
    meta: dict[str, Any],
    w: np.ndarray | None = None,
    write_x: bool = True,
) -> KMeans:
    """The one-iteration and converged outputs shared by every fixture set."""
    files: dict[str, str] = dict(meta.pop("files", {}))
    n, d = X.shape
    k = len(C0)
    if write_x:
        files[fx.npy(f"{prefix}_X.npy", X)] = f"data, float32 {n}x{d}, C order"
    files[fx.npy(f"{prefix}_C0.npy", C0)] = f"initial centres C0, float32 {k}x{d}"
    if w is not None:
        files[fx.npy(f"{prefix}_w.npy", w)] = f"sample weights, float32 vector of {n}"

    # Iteration 1: the assignment step against C0 and the updated centres.
    labels1, centers1_f64, weight1 = lloyd_step_f64(X, C0, w)
    files[fx.npy(f"{prefix}_iter1_labels.npy", labels1)] = (
        "int32 labels of X against C0 (argmin of squared distances, float64 NumPy): "
        "the assignment step of iteration 1"
    )
    files[fx.npy(f"{prefix}_iter1_centers_f64.npy", centers1_f64)] = (
        "float64 centres after iteration 1 (weighted means of the iter1_labels "
        "clusters), NumPy float64"
    )
    one = sklearn_fit(X, C0, max_iter=1, tol=0.0, w=w)
    files[fx.npy(f"{prefix}_iter1_centers.npy", one.cluster_centers_)] = (
        "float32 centres after one iteration: sklearn KMeans(init=C0, n_init=1, "
        "algorithm='lloyd', max_iter=1, tol=0).cluster_centers_"
    )

    # Converged run.
    full = sklearn_fit(X, C0, max_iter=300, tol=1e-4, w=w)
    files[fx.npy(f"{prefix}_centers.npy", full.cluster_centers_)] = (
        "float32 converged centres: sklearn KMeans(init=C0, n_init=1, algorithm='lloyd', "
        "max_iter=300, tol=1e-4).cluster_centers_"
    )
    files[fx.npy(f"{prefix}_labels.npy", full.labels_.astype(np.int32))] = (
        "int32 sklearn labels_ of the converged run: nearest FINAL centre of each point "
        "(sklearn re-assigns after the last update)"
    )
    iter1_inertia_c0 = inertia_f64(X, C0, w)
    meta.update(
        {
            "n": n,
            "d": d,
            "k": k,
            "weighted": w is not None,
            "iter1": {
                "inertia_vs_C0_f64": iter1_inertia_c0,
                "cluster_weight_f64": weight1.tolist(),
                "sklearn_inertia": float(one.inertia_),
                "sklearn_inertia_means": "inertia of X against the iter1 centres "
                "(sklearn re-assigns to them), float32 accumulation",
                "inertia_vs_iter1_centers_f64": inertia_f64(X, one.cluster_centers_, w),
                "labels_changed_from_C0_to_iter1_centers": int(
                    np.count_nonzero(assign_f64(X, one.cluster_centers_) != labels1)
                ),
            },
            "converged": {
                "max_iter": 300,
                "tol": 1e-4,
                "tol_absolute": float(full._tol),
                "n_iter": int(full.n_iter_),
                "sklearn_inertia": float(full.inertia_),
                "inertia_f64": inertia_f64(X, full.cluster_centers_, w),
                "inertia_f64_means": "float64 recomputation of sum_i w_i min_j "
                "||x_i - centers_j||^2 with the saved float32 centres",
            },
            "conventions": CONVENTIONS,
            "versions": versions(),
            "files": files,
        }
    )
    fx.json(f"{prefix}_meta.json", meta)
    return full


def make_blobs_set(fx: FixtureWriter) -> tuple[np.ndarray, np.ndarray]:
    """``blobs_*``: well-separated blobs; returns (X, C0) for the weighted set."""
    n, d, k = 600, 5, 6
    X, truth = make_blobs(
        n_samples=n, n_features=d, centers=k, cluster_std=1.0, random_state=42
    )
    X = X.astype(np.float32)
    # Seed 210 is a seed whose draw puts one initial centre in each blob, so the
    # converged run recovers the generating partition (most draws do not).
    rows = pick_rows(n, k, seed=210)
    if len(set(truth[rows].tolist())) != k:
        raise SystemExit("blobs: C0 rows no longer hit every blob; pick another seed")
    C0 = X[rows].copy()
    meta = {
        "description": "well-separated blobs: sklearn.datasets.make_blobs(n_samples=600, "
        "n_features=5, centers=6, cluster_std=1.0, random_state=42) cast to float32; "
        "C0 = X[rows] with rows = sorted(np.random.default_rng(210).choice(600, 6, "
        "replace=False)), one row in each generating blob",
        "C0_rows": rows.tolist(),
        "files": {
            fx.npy("blobs_truth.npy", truth.astype(np.int32)): "int32 generating blob "
            "of each row (make_blobs y); the converged labels equal it up to renaming",
        },
    }
    full = write_kmeans_set(fx, "blobs", X, C0, meta)
    agree = len(set(zip(truth.tolist(), full.labels_.tolist())))
    if agree != k:
        raise SystemExit("blobs: the converged labels do not reproduce the blobs")
    return X, C0


def make_weighted_set(fx: FixtureWriter, X: np.ndarray, C0: np.ndarray) -> None:
    """``weighted_*``: the blobs data and C0 with fixed sample weights in [0.5, 3]."""
    w = np.random.default_rng(11).uniform(0.5, 3.0, size=len(X)).astype(np.float32)
    meta = {
        "description": "the blobs_X.npy data with C0 = blobs_C0.npy (copied here as "
        "weighted_C0.npy) and sample weights w = np.random.default_rng(11).uniform(0.5, "
        "3.0, 600).astype(float32); sklearn fit(X, sample_weight=w); X is not duplicated: "
        "use blobs_X.npy",
        "X_file": "blobs_X.npy",
        "weight_sum_f64": float(w.astype(np.float64).sum()),
    }
    write_kmeans_set(fx, "weighted", X, C0, meta, w=w, write_x=False)


def read_faithful(path: Path) -> np.ndarray:
    """The Old Faithful CSV (header ``eruptions,waiting``) as float64 n x 2."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if [h.strip() for h in header] != ["eruptions", "waiting"]:
            raise SystemExit(f"{path}: unexpected header {header}")
        rows = [[float(v) for v in row] for row in reader if row]
    return np.asarray(rows, dtype=np.float64)


def make_faithful_set(fx: FixtureWriter, csv_path: Path) -> None:
    """``faithful_*``: standardised Old Faithful, k=2, C0 = rows 0 and 1."""
    raw = read_faithful(csv_path)
    scaler = StandardScaler().fit(raw)
    Z64 = scaler.transform(raw)
    X = Z64.astype(np.float32)
    rows = np.array([0, 1])
    C0 = X[rows].copy()
    meta = {
        "description": "data/faithful.csv (272x2, eruptions,waiting) standardised with "
        "sklearn StandardScaler (float64, population std, ddof=0) then cast to float32; "
        "k=2; C0 = rows 0 and 1 of the standardised data (a long and a short eruption)",
        "source": "data/faithful.csv",
        "C0_rows": rows.tolist(),
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        "scaler_var": scaler.var_.tolist(),
        "scaler_means": "mean_ and scale_ (= sqrt(var_), population std, ddof=0) of the "
        "raw float64 columns; X = ((raw - mean) / scale).astype(float32)",
        "files": {
            fx.npy("faithful_raw.npy", raw): "the raw CSV as float64 272x2 (for checking "
            "our own CSV reader and standardisation)",
        },
    }
    write_kmeans_set(fx, "faithful", X, C0, meta)


def make_overlap_set(fx: FixtureWriter) -> None:
    """``overlap_*``: overlapping blobs, many Lloyd iterations, and the full path."""
    n, d, k = 2000, 8, 10
    X, _ = make_blobs(
        n_samples=n, n_features=d, centers=k, cluster_std=4.0,
        center_box=(-10.0, 10.0), random_state=3,
    )
    X = X.astype(np.float32)
    rows = pick_rows(n, k, seed=5)
    C0 = X[rows].copy()
    meta = {
        "description": "overlapping blobs: make_blobs(n_samples=2000, n_features=8, "
        "centers=10, cluster_std=4.0, center_box=(-10, 10), random_state=3) cast to "
        "float32; C0 = X[rows], rows = sorted(np.random.default_rng(5).choice(2000, 10, "
        "replace=False))",
        "C0_rows": rows.tolist(),
    }
    full = write_kmeans_set(fx, "overlap", X, C0, meta)
    if full.n_iter_ <= 10:
        raise SystemExit(f"overlap set converged in {full.n_iter_} iterations; need > 10")

    # The path: C_t for t = 0..T from sklearn runs with max_iter=t, tol=0.
    T = int(full.n_iter_)
    path = [C0]
    sk_inertia = []
    for t in range(1, T + 1):
        km = sklearn_fit(X, C0, max_iter=t, tol=0.0)
        path.append(km.cluster_centers_)
        sk_inertia.append(float(km.inertia_))
    path_arr = np.stack(path).astype(np.float32)
    inertia_path = [inertia_f64(X, C) for C in path_arr]
    changed = [
        int(np.count_nonzero(assign_f64(X, path_arr[t]) != assign_f64(X, path_arr[t - 1])))
        for t in range(1, T + 1)
    ]
    meta_path = fx.out_dir / "overlap_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["files"][fx.npy("overlap_path_centers.npy", path_arr)] = (
        f"float32 ({T + 1})x{k}x{d}: entry t is C_t, the sklearn centres after t "
        "iterations (KMeans(init=C0, n_init=1, algorithm='lloyd', max_iter=t, "
        "tol=0).cluster_centers_); entry 0 is C0"
    )
    meta["path"] = {
        "T": T,
        "inertia_at_centres_f64": inertia_path,
        "inertia_at_centres_f64_means": "entry t = sum_i min_j ||x_i - C_t[j]||^2 in "
        "float64, t = 0..T: the inertia that the ASSIGNMENT step of iteration t+1 sees. "
        "An engine that reports, for iteration t, the inertia of its assignment step "
        "(against C_{t-1}) has history[t-1] == inertia_at_centres_f64[t-1]",
        "sklearn_inertia_max_iter_t": sk_inertia,
        "sklearn_inertia_max_iter_t_means": "entry t-1 = inertia_ of the run with "
        "max_iter=t, tol=0: sklearn's float32 inertia against C_t (after re-assignment), "
        "i.e. it matches inertia_at_centres_f64[t], NOT the assignment inertia of "
        "iteration t",
        "labels_changed": changed,
        "labels_changed_means": "entry t-1 = number of points whose nearest centre "
        "differs between C_{t-1} and C_t (float64 assignment)",
    }
    fx.json("overlap_meta.json", meta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixture folder")
    parser.add_argument(
        "--faithful", type=Path, default=REPO / "data" / "faithful.csv",
        help="Old Faithful CSV (header eruptions,waiting)",
    )
    args = parser.parse_args()

    fx = FixtureWriter(args.out)
    X, C0 = make_blobs_set(fx)
    make_weighted_set(fx, X, C0)
    make_faithful_set(fx, args.faithful)
    make_overlap_set(fx)
    print(f"make_sklearn_fixtures: wrote {len(set(fx.written))} files (sklearn {sklearn.__version__}):")
    fx.report()


if __name__ == "__main__":
    main()
