#!/usr/bin/env python3
"""Write scikit-learn Nystroem fixtures for the mmclust-kernel tests.

Run it through ``scripts/make_kernel_fixtures.sh`` (which builds the pinned venv).
Every random state is fixed, so reruns with the same pinned versions reproduce the
files bit for bit. Output: ``crates/kernel/tests/fixtures/``.

Each case ``<name>`` has:

* ``<name>_x.npy``         the data, float32, n × d;
* ``<name>_landmarks.npy`` the landmarks, float32, M × d (rows of the data);
* ``<name>_gram.npy``      φ(x)·φ(y) for every pair of rows, float64 n × n, where φ is
                           scikit-learn's ``Nystroem`` fitted on exactly the landmarks
                           (``n_components = M``, so its basis is all of them), on the
                           float32 values converted exactly to float64;
* an entry in ``kernel_fixtures.json``: kernel, gamma, degree, coef0.

Nystroem's basis is a random permutation of the rows it is fitted on; φ(x)·φ(y) does
not depend on the order (nor on the rotation of the components), which is why the
fixture is the Gram matrix of the approximation, not φ itself.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
from sklearn.kernel_approximation import Nystroem

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "crates" / "kernel" / "tests" / "fixtures"


def case(name, rng, n, d, m, kernel, gamma, degree=None, coef0=None, scale=1.0):
    x = (rng.standard_normal((n, d)) * scale).astype(np.float32)
    idx = np.sort(rng.choice(n, size=m, replace=False))
    landmarks = x[idx]
    params = {}
    if kernel == "poly":
        params = dict(degree=degree, coef0=coef0)
    nys = Nystroem(kernel=kernel, gamma=gamma, n_components=m, random_state=0, **params)
    nys.fit(landmarks.astype(np.float64))
    phi = nys.transform(x.astype(np.float64))
    gram = phi @ phi.T
    np.save(OUT / f"{name}_x.npy", x)
    np.save(OUT / f"{name}_landmarks.npy", landmarks)
    np.save(OUT / f"{name}_gram.npy", gram)
    return {
        "kernel": "rbf" if kernel == "rbf" else "polynomial",
        "gamma": gamma,
        "degree": degree,
        "coef0": coef0,
        "n": n,
        "d": d,
        "m": m,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261203)
    cases = {
        # Wide enough that K_MM is well conditioned (every eigenvalue kept by
        # both scikit-learn's 1e-12 clamp and mmclust's relative tolerance).
        "rbf": case("rbf", rng, 120, 3, 25, "rbf", 0.3),
        "poly": case("poly", rng, 100, 5, 20, "poly", 0.2, degree=3, coef0=1.0, scale=0.7),
    }
    meta = {
        "sklearn": metadata.version("scikit-learn"),
        "numpy": metadata.version("numpy"),
        "cases": cases,
    }
    (OUT / "kernel_fixtures.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
