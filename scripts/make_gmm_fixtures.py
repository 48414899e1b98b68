#!/usr/bin/env python3
"""Write scikit-learn GaussianMixture reference fixtures for the mmclust-gmm tests.

Run it through ``scripts/make_gmm_fixtures.sh`` (which builds the pinned venv).
Everything is deterministic (fixed seeds, one BLAS thread), so reruns with the
pinned versions reproduce the files.

For every data set and covariance type, scikit-learn's ``GaussianMixture`` starts
from the SAME given parameters (``weights_init``, ``means_init``,
``precisions_init`` = inverse of the stored initial covariances), with ``tol=0`` and
a fixed ``max_iter``, so no initialisation randomness is involved: sklearn takes the
given parameters as they are (no initial M-step) and then alternates E-step (whose
mean log-likelihood is the iteration's entry of ``lower_bounds_``) and M-step.

Data sets (``<name>_X.npy`` is float32; mmclust reads every matrix as float32):

* ``faithful``  Old Faithful (data/faithful.csv) standardised in float64, stored as
  float32, k=2.
* ``blobs``     make_blobs n=500, d=4, 3 centres with different spreads, k=3.
* ``offset``    the blobs data + 1e4 (float32): second moments far from the origin.
  scikit-learn's float32 run fails or loses digits there (its tied covariance is
  ``X.T @ X - nk * means.T @ means`` in float32); where it raises, the f32 case holds
  ``{"error": ...}`` instead of results.

Two references per case:

* ``f32``: scikit-learn on the float32 array. scikit-learn keeps float32 input in
  float32 (``validate_data(dtype=[float64, float32])``) and computes its statistics in
  float32, so this reference carries float32 rounding: compare at 1e-4.
* ``f64``: scikit-learn on the same values upcast to float64 (mmclust's statistics
  and parameters are float64): compare at 1e-6. For ``offset`` the f64 reference is
  computed on the data minus 1e4 (exact in float64) with means shifted back, so that
  it does not suffer scikit-learn's own uncentred ``X.T @ X`` (tied) and
  ``E[x^2] - mean^2`` (diag, spherical) cancellation: it is the translation-invariant
  truth.
"""

from __future__ import annotations

import argparse
import csv
import json
from importlib import metadata
from pathlib import Path

import warnings

import numpy as np
import sklearn
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "gmm" / "tests" / "fixtures"
MAX_FILE_BYTES = 64 * 1024
TYPES = ["full", "tied", "diag", "spherical"]
MAX_ITER = 10
REG_COVAR = 1e-6
OFFSET = 1e4


def faithful() -> np.ndarray:
    with open(REPO / "data" / "faithful.csv") as f:
        rows = list(csv.reader(f))
    x = np.array([[float(v) for v in r] for r in rows[1:]], dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32)


def blobs() -> np.ndarray:
    x, _ = make_blobs(
        n_samples=500, n_features=4, centers=3, cluster_std=[1.0, 1.5, 0.7], random_state=0
    )
    return x.astype(np.float32)


def initial(name: str, x: np.ndarray, k: int, cov_type: str):
    """Initial weights, means and covariances (float64), in sklearn's layouts."""
    d = x.shape[1]
    rng = np.random.default_rng({"faithful": 1, "blobs": 2, "offset": 2}[name])
    idx = rng.choice(x.shape[0], size=k, replace=False)
    means = x[idx].astype(np.float64) + rng.normal(scale=0.1, size=(k, d))
    weights = np.linspace(1.0, 2.0, k)
    weights /= weights.sum()
    base = np.var(x.astype(np.float64), axis=0).mean() * 0.5
    if cov_type == "full":
        covs = np.stack(
            [base * (np.eye(d) * (1.0 + 0.2 * j) + 0.1 * np.ones((d, d))) for j in range(k)]
        )
    elif cov_type == "tied":
        covs = base * (np.eye(d) + 0.1 * np.ones((d, d)))
    elif cov_type == "diag":
        covs = base * (1.0 + 0.1 * np.arange(k * d).reshape(k, d) / d)
    else:
        covs = base * (1.0 + 0.3 * np.arange(k))
    return weights, means, covs


def precisions(covs: np.ndarray, cov_type: str) -> np.ndarray:
    if cov_type == "full":
        return np.stack([np.linalg.inv(c) for c in covs])
    if cov_type == "tied":
        return np.linalg.inv(covs)
    return 1.0 / covs


def run(x: np.ndarray, k: int, cov_type: str, w0, m0, c0) -> dict:
    gm = GaussianMixture(
        n_components=k,
        covariance_type=cov_type,
        weights_init=w0,
        means_init=m0,
        precisions_init=precisions(c0, cov_type),
        tol=0.0,
        max_iter=MAX_ITER,
        reg_covar=REG_COVAR,
    )
    gm.fit(x)
    return {
        "dtype": str(x.dtype),
        "history": [float(v) for v in gm.lower_bounds_],
        "lower_bound": float(gm.lower_bound_),
        "n_iter": int(gm.n_iter_),
        "score": float(gm.score(x)),
        "bic": float(gm.bic(x)),
        "aic": float(gm.aic(x)),
        "weights": np.asarray(gm.weights_, dtype=np.float64).tolist(),
        "means": np.asarray(gm.means_, dtype=np.float64).tolist(),
        "covariances": np.asarray(gm.covariances_, dtype=np.float64).tolist(),
        "precisions_cholesky": np.asarray(gm.precisions_cholesky_, dtype=np.float64).tolist(),
        "labels": gm.predict(x).astype(int).tolist()[:50],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {"faithful": (faithful(), 2), "blobs": (blobs(), 3)}
    sets["offset"] = ((sets["blobs"][0] + np.float32(OFFSET)).astype(np.float32), 3)
    warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is fixed on purpose
    with threadpool_limits(1):
        for name, (x, k) in sets.items():
            np.save(args.out / f"{name}_X.npy", x)
            cases = {}
            for cov_type in TYPES:
                w0, m0, c0 = initial(name, x, k, cov_type)
                try:
                    ref32 = run(x, k, cov_type, w0, m0, c0)
                except ValueError as e:
                    # float32 far from the origin: scikit-learn's uncentred
                    # second moments cancel (tied: X.T @ X) and its Cholesky fails.
                    ref32 = {"dtype": "float32", "error": str(e)}
                x64 = x.astype(np.float64)
                if name == "offset":
                    ref64 = run(x64 - OFFSET, k, cov_type, w0, m0 - OFFSET, c0)
                    ref64["means"] = (np.array(ref64["means"]) + OFFSET).tolist()
                    ref64["note"] = "computed on X - 1e4 in float64, means shifted back"
                else:
                    ref64 = run(x64, k, cov_type, w0, m0, c0)
                cases[cov_type] = {
                    "init": {
                        "weights": w0.tolist(),
                        "means": m0.tolist(),
                        "covariances": np.asarray(c0).tolist(),
                    },
                    "f32": ref32,
                    "f64": ref64,
                }
            meta = {
                "data": f"{name}_X.npy",
                "k": k,
                "max_iter": MAX_ITER,
                "tol": 0.0,
                "reg_covar": REG_COVAR,
                "sklearn": sklearn.__version__,
                "numpy": metadata.version("numpy"),
                "conventions": __doc__,
                "cases": cases,
            }
            path = args.out / f"{name}_gmm.json"
            path.write_text(json.dumps(meta, indent=1) + "\n")
    for p in sorted(args.out.iterdir()):
        size = p.stat().st_size
        assert size < MAX_FILE_BYTES, f"{p} is {size} bytes"
        print(f"{p.relative_to(REPO)}: {size} bytes")


if __name__ == "__main__":
    main()
