#!/usr/bin/env python3
"""Write scikit-learn reference fixtures for the mmclust-eval tests.

Run it through ``scripts/make_eval_fixtures.sh`` (which builds the pinned venv).
Every random state is fixed, so reruns with the same pinned versions reproduce the
files bit for bit. Output: ``crates/eval/tests/fixtures/`` (small files).

Each case ``<name>`` has:

* ``<name>_x.npy``      the data, float32 (the scores below are computed by scikit-learn
                        on these float32 values converted exactly to float64);
* ``<name>_labels.npy`` predicted labels, int32;
* ``<name>_truth.npy``  true labels, int32 (cases with a truth only);
* an entry in ``eval_fixtures.json``: ``silhouette_samples`` (per row),
  ``silhouette_score``, ``calinski_harabasz``, ``davies_bouldin`` and, with a truth,
  ``adjusted_rand`` and ``nmi`` (arithmetic normalisation, sklearn's default).

Cases:

* ``faithful``  Old Faithful (data/faithful.csv) standardised (population std), labels
                from KMeans(k=2, n_init=10, random_state=0);
* ``faithful3`` the same data, KMeans k=3;
* ``blobs``     make_blobs n=600, d=5, 4 centres, cluster_std=2.5, random_state=7; labels
                from KMeans(k=4), truth the generating labels;
* ``odd``       blobs-like data n=300, d=3 with labels of arbitrary values (-1, 7, 42,
                1000), one singleton cluster, truth drawn at random (ARI/NMI near 0).
"""

from __future__ import annotations

import argparse
import csv
import json
from importlib import metadata
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (adjusted_rand_score, calinski_harabasz_score,
                             davies_bouldin_score, normalized_mutual_info_score,
                             silhouette_samples, silhouette_score)
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "eval" / "tests" / "fixtures"


def faithful() -> np.ndarray:
    with open(REPO / "data" / "faithful.csv") as f:
        rows = list(csv.reader(f))[1:]
    x = np.array(rows, dtype=np.float64)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    return z.astype(np.float32)


def case(out: Path, name: str, x32: np.ndarray, labels: np.ndarray,
         truth: np.ndarray | None) -> dict:
    x = x32.astype(np.float64)
    labels = labels.astype(np.int32)
    np.save(out / f"{name}_x.npy", np.ascontiguousarray(x32))
    np.save(out / f"{name}_labels.npy", labels)
    entry = {
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "silhouette_samples": [float(v) for v in silhouette_samples(x, labels)],
        "silhouette_score": float(silhouette_score(x, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(x, labels)),
        "davies_bouldin": float(davies_bouldin_score(x, labels)),
    }
    if truth is not None:
        truth = truth.astype(np.int32)
        np.save(out / f"{name}_truth.npy", truth)
        entry["adjusted_rand"] = float(adjusted_rand_score(truth, labels))
        entry["nmi"] = float(normalized_mutual_info_score(truth, labels))
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cases = {}
    with threadpool_limits(1):
        z = faithful()
        km2 = KMeans(2, n_init=10, random_state=0).fit(z.astype(np.float64))
        km3 = KMeans(3, n_init=10, random_state=0).fit(z.astype(np.float64))
        cases["faithful"] = case(out, "faithful", z, km2.labels_, None)
        cases["faithful3"] = case(out, "faithful3", z, km3.labels_, km2.labels_)

        xb, yb = make_blobs(n_samples=600, n_features=5, centers=4, cluster_std=2.5,
                            random_state=7)
        xb32 = xb.astype(np.float32)
        kb = KMeans(4, n_init=10, random_state=0).fit(xb32.astype(np.float64))
        cases["blobs"] = case(out, "blobs", xb32, kb.labels_, yb)

        rng = np.random.default_rng(11)
        xo, yo = make_blobs(n_samples=300, n_features=3, centers=3, cluster_std=1.5,
                            random_state=3)
        xo32 = xo.astype(np.float32)
        mapping = np.array([-1, 7, 42])
        lo = mapping[yo]
        lo[5] = 1000  # a singleton cluster
        truth = rng.integers(0, 4, size=300)
        cases["odd"] = case(out, "odd", xo32, lo, truth)

    meta = {
        "generator": "scripts/make_eval_fixtures.py",
        "versions": {p: metadata.version(p) for p in ("numpy", "scikit-learn")},
        "cases": cases,
    }
    (out / "eval_fixtures.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
