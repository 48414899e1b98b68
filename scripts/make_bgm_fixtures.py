#!/usr/bin/env python3
"""Write scikit-learn BayesianGaussianMixture reference fixtures for mmclust-gmm.

Run it through ``scripts/make_bgm_fixtures.sh`` (which builds the pinned venv).
Deterministic (fixed seeds, one BLAS thread): reruns with the pinned versions
reproduce the files.

For every data set, weight prior and covariance type, scikit-learn starts from
GIVEN initial responsibilities (``bgm_<set>_resp.npy``, float32 values; scikit-learn
gets the same values upcast to float64 through ``_initialize(X, resp)``, which is
what ``_initialize_parameters`` calls after computing its own), with ``tol=0`` and
a fixed ``max_iter``, default priors (resolved on the data: mean, covariance with
ddof 1, dof = d, concentration 1/k, mean precision 1). mmclust runs the same with
``Init::Responsibilities`` (``--init-resp``).

Data (float32 files; scikit-learn fits the same values upcast to float64, as
mmclust reads float32 and computes in float64):

* ``faithful``  Old Faithful standardised in float64, stored as float32, k = 4
  (more components than the data has: the prior switches some off);
* ``blobs``     make_blobs n = 500, d = 4, 3 centres of different spreads, k = 6.

Recorded per case: ``lower_bounds_`` (every iteration), ``lower_bound_``,
``weight_concentration_`` (a pair for the Dirichlet process), ``mean_precision_``,
``degrees_of_freedom_``, ``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_``, ``score(X)`` (variational expectations) and the first
50 labels of ``predict``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import BayesianGaussianMixture
from threadpoolctl import threadpool_limits

# The same data sets as the EM fixtures (this script's folder is on sys.path).
from make_gmm_fixtures import blobs, faithful

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "gmm" / "tests" / "fixtures"
MAX_FILE_BYTES = 64 * 1024
TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]
MAX_ITER = 15
REG_COVAR = 1e-6


def responsibilities(n: int, k: int, seed: int) -> np.ndarray:
    """Random responsibilities, rows summing to 1 in float64, stored as float32."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(size=(n, k))
    r /= r.sum(axis=1, keepdims=True)
    return r.astype(np.float32)


class GivenResp(BayesianGaussianMixture):
    """BayesianGaussianMixture started from the responsibilities in `given_resp_`."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.given_resp_)


def run(x: np.ndarray, resp: np.ndarray, k: int, cov_type: str, prior: str) -> dict:
    bgm = GivenResp(
        n_components=k,
        covariance_type=cov_type,
        weight_concentration_prior_type=prior,
        tol=0.0,
        max_iter=MAX_ITER,
        reg_covar=REG_COVAR,
    )
    bgm.given_resp_ = resp.astype(np.float64)
    bgm.fit(x)
    wc = bgm.weight_concentration_
    wc = [np.asarray(v).tolist() for v in wc] if isinstance(wc, tuple) else [wc.tolist()]

    def lst(v):
        return np.asarray(v, dtype=np.float64).tolist()

    return {
        "lower_bounds": [float(np.sum(v)) for v in bgm.lower_bounds_],
        "lower_bound": float(np.sum(bgm.lower_bound_)),
        "n_iter": int(bgm.n_iter_),
        "weight_concentration": wc,
        "mean_precision": lst(bgm.mean_precision_),
        "degrees_of_freedom": lst(np.atleast_1d(bgm.degrees_of_freedom_)),
        "weights": lst(bgm.weights_),
        "means": lst(bgm.means_),
        "covariances": lst(bgm.covariances_),
        "precisions_cholesky": lst(bgm.precisions_cholesky_),
        "score": float(bgm.score(x)),
        "labels": bgm.predict(x).astype(int).tolist()[:50],
        "priors": {
            "weight_concentration_prior": float(bgm.weight_concentration_prior_),
            "mean_precision_prior": float(bgm.mean_precision_prior_),
            "mean_prior": lst(bgm.mean_prior_),
            "degrees_of_freedom_prior": float(bgm.degrees_of_freedom_prior_),
            "covariance_prior": lst(bgm.covariance_prior_),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {"faithful": (faithful(), 4, 11), "blobs": (blobs(), 6, 12)}
    warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is fixed on purpose
    with threadpool_limits(1):
        for name, (x, k, seed) in sets.items():
            resp = responsibilities(x.shape[0], k, seed)
            np.save(args.out / f"bgm_{name}_X.npy", x)
            np.save(args.out / f"bgm_{name}_resp.npy", resp)
            x64 = x.astype(np.float64)
            cases = {
                f"{prior}/{cov_type}": run(x64, resp, k, cov_type, prior)
                for prior in PRIORS
                for cov_type in TYPES
            }
            meta = {
                "data": f"bgm_{name}_X.npy",
                "resp": f"bgm_{name}_resp.npy",
                "k": k,
                "max_iter": MAX_ITER,
                "tol": 0.0,
                "reg_covar": REG_COVAR,
                "sklearn": sklearn.__version__,
                "numpy": metadata.version("numpy"),
                "conventions": __doc__,
                "cases": cases,
            }
            (args.out / f"bgm_{name}.json").write_text(json.dumps(meta) + "\n")
    for p in sorted(args.out.glob("bgm_*")):
        size = p.stat().st_size
        assert size < MAX_FILE_BYTES, f"{p} is {size} bytes"
        print(f"{p}: {size} bytes")


if __name__ == "__main__":
    main()
