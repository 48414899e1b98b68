#!/usr/bin/env python3
"""Write spherical (cosine) K-means reference fixtures for mmclust's tests.

Run it through ``scripts/make_spherical_fixtures.sh`` (which builds the pinned venv).
Every random draw comes from a fixed NumPy Generator, so reruns with the same pinned
NumPy reproduce the files bit for bit.

The reference is a short float64 NumPy spherical K-means, written out here so that
it can be read at a glance:

* rows are L2-normalised: x̂ = x / ‖x‖ (float64, from the float32 file);
* each row goes to the centre of largest cosine x̂·c / ‖c‖, ties to the lowest index;
* each centre becomes the normalised sum of its rows, Σ x̂ / ‖Σ x̂‖;
* from fixed initial centres C0 (rows of X, normalised), one "iteration" is one
  assignment against C_{t-1} followed by one update, giving C_t.

At C0 (iteration 0: what ``predict`` with the initial centres gives) and after 1
and 20 iterations it stores, against the centres C_t (as a fitted model
reports them: mmclust's labels and inertia are measured against its final centres):
labels (largest cosine), the gap between the best and the second-best cosine per row
(rows with a gap under 1e-6 are ties, which a float32 engine may break either way),
the centres, and the inertia Σ (1 − cos(x, c_label)).

The cosine silhouette (``crates/eval/tests/fixtures/cosine_*``): scikit-learn's
``silhouette_samples(X, labels, metric="cosine")`` of the first 600 rows of the blobs
case, labelled by the reference after 20 iterations.

Cases (``crates/kmeans/tests/fixtures/spherical_<case>_*``):

* ``blobs``: n = 2000, d = 16, k = 5 directions, rows of random length (0.5 to 4);
* ``ties``:  n = 1000, d = 16, k = 6 overlapping directions, of which 150 rows are
  built on the bisector of the two closest initial centres, nudged towards one of them
  so that their best two cosines differ by 2e-6 to 2e-5 at C0: the exact assignment
  must resolve them as the reference does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "kmeans" / "tests" / "fixtures"
EVAL_OUT = REPO / "crates" / "eval" / "tests" / "fixtures"
ITERS = (0, 1, 20)


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (float64) divided by their Euclidean norms."""
    a = a.astype(np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def cosines(xn: np.ndarray, c: np.ndarray) -> np.ndarray:
    """n × k cosines between unit rows ``xn`` and centres ``c`` (any length)."""
    return xn @ unit_rows(c).T


def assign(xn: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (largest cosine, ties to the lowest index), gaps best − second, best cosines."""
    cos = cosines(xn, c)
    labels = np.argmax(cos, axis=1)  # the first maximum: the lowest index
    top2 = np.sort(cos, axis=1)[:, -2:]
    return labels.astype(np.int32), top2[:, 1] - top2[:, 0], top2[:, 1]


def update(xn: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Each centre the normalised sum of its rows (no empty cluster allowed)."""
    sums = np.zeros((k, xn.shape[1]))
    np.add.at(sums, labels, xn)
    counts = np.bincount(labels, minlength=k)
    if np.any(counts == 0):
        raise SystemExit(f"empty cluster(s) {np.flatnonzero(counts == 0)}: pick other data")
    return unit_rows(sums)


def spherical_kmeans(x: np.ndarray, c0: np.ndarray, iters: int) -> np.ndarray:
    """C_iters from C0 (float64)."""
    xn = unit_rows(x)
    c = unit_rows(c0)
    for _ in range(iters):
        labels, _, _ = assign(xn, c)
        c = update(xn, labels, len(c))
    return c


def directions(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    return unit_rows(rng.standard_normal((k, d)))


def blobs_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, d, k = 2000, 16, 5
    dirs = directions(rng, k, d)
    which = rng.integers(0, k, size=n)
    x = dirs[which] + 0.35 * rng.standard_normal((n, d))
    x *= rng.uniform(0.5, 4.0, size=(n, 1))
    x = x.astype(np.float32)
    rows = np.sort(rng.choice(n, size=k, replace=False))
    return x, x[rows].copy()


def ties_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, d, k, n_ties = 1000, 16, 6, 150
    dirs = directions(rng, k, d)
    which = rng.integers(0, k, size=n - n_ties)
    body = dirs[which] + 0.6 * rng.standard_normal((n - n_ties, d))
    body *= rng.uniform(0.5, 3.0, size=(n - n_ties, 1))
    body = body.astype(np.float32)
    rows = np.sort(rng.choice(n - n_ties, size=k, replace=False))
    c0 = body[rows].copy()
    cn = unit_rows(c0)
    # The two closest initial centres and their bisector.
    cos = cn @ cn.T - 2.0 * np.eye(k)
    a, b = np.unravel_index(np.argmax(cos), cos.shape)
    mid = unit_rows((cn[a] + cn[b])[None, :])[0]
    toward = (cn[a] - cn[b]) / np.linalg.norm(cn[a] - cn[b])
    ties = []
    while len(ties) < n_ties:
        # A nudge off the bisector: a cosine gap of about 2·δ·sin(θ/2)·… ≈ 1e-6..1e-5.
        delta = rng.uniform(2e-6, 2e-5) * rng.choice([-1.0, 1.0])
        side = rng.standard_normal(d) * 1e-3
        side -= (side @ toward) * toward
        v = (mid + delta * toward + side) * rng.uniform(0.5, 3.0)
        v32 = v.astype(np.float32)
        _, gap, _ = assign(unit_rows(v32[None, :]), c0)
        top = np.argsort(cosines(unit_rows(v32[None, :]), c0)[0])[-2:]
        if set(top.tolist()) == {a, b} and 2e-6 <= gap[0] <= 2e-5:
            ties.append(v32)
    x = np.concatenate([body, np.array(ties, dtype=np.float32)])
    order = rng.permutation(n)
    x = x[order]
    return np.ascontiguousarray(x), c0


def write_case(out: Path, name: str, x: np.ndarray, c0: np.ndarray, written: list[Path]) -> None:
    def save(suffix: str, a: np.ndarray) -> str:
        path = out / f"spherical_{name}_{suffix}.npy"
        np.save(path, np.ascontiguousarray(a), allow_pickle=False)
        written.append(path)
        return path.name

    xn = unit_rows(x)
    meta: dict = {
        "case": name,
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "k": int(c0.shape[0]),
        "reference": "float64 NumPy spherical K-means (scripts/make_spherical_fixtures.py): "
        "rows normalised, label = largest cosine (ties to the lowest index), centre = "
        "normalised sum of its rows; from C0 (normalised)",
        "files": {
            save("X", x): "data, float32 n x d (rows of any length)",
            save("C0", c0): "initial centres, float32 k x d (rows of X, not normalised)",
        },
        "iterations": {},
    }
    _, gap0, _ = assign(xn, c0)
    meta["min_gap_at_C0"] = float(gap0.min())
    meta["rows_with_gap_below_1e-5_at_C0"] = int((gap0 < 1e-5).sum())
    for t in ITERS:
        c = spherical_kmeans(x, c0, t)
        labels, gap, best = assign(xn, c)
        meta["iterations"][str(t)] = {
            "inertia": float((1.0 - best).sum()),
            "labels": save(f"iter{t}_labels", labels),
            "gap": save(f"iter{t}_gap", gap),
            "centers": save(f"iter{t}_centers", c),
            "what": f"after {t} iteration(s): centres C_{t} (float64, unit rows), labels and "
            "gaps (best minus second-best cosine) against C_t, inertia = sum(1 - cos) "
            "against C_t",
        }
    path = out / f"spherical_{name}_meta.json"
    meta["numpy"] = metadata.version("numpy")
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    written.append(path)


def write_silhouette(out: Path, written: list[Path]) -> None:
    import sklearn
    from sklearn.metrics import silhouette_samples

    out.mkdir(parents=True, exist_ok=True)
    x, c0 = blobs_case(np.random.default_rng(20261203))
    x = x[:600]
    labels, _, _ = assign(unit_rows(x), spherical_kmeans(x, c0, 20))
    values = silhouette_samples(x.astype(np.float64), labels, metric="cosine")
    np.save(out / "cosine_x.npy", x, allow_pickle=False)
    np.save(out / "cosine_labels.npy", labels, allow_pickle=False)
    meta = {
        "what": "sklearn.metrics.silhouette_samples(cosine_x (as float64), cosine_labels, "
        "metric='cosine'); score = their mean",
        "sklearn": sklearn.__version__,
        "silhouette_samples": [float(v) for v in values],
        "silhouette_score": float(values.mean()),
    }
    (out / "cosine_silhouette.json").write_text(json.dumps(meta, indent=1) + "\n")
    written += [out / "cosine_x.npy", out / "cosine_labels.npy", out / "cosine_silhouette.json"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--eval-out", type=Path, default=EVAL_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    write_case(args.out, "blobs", *blobs_case(np.random.default_rng(20261203)), written)
    write_case(args.out, "ties", *ties_case(np.random.default_rng(20261204)), written)
    write_silhouette(args.eval_out, written)
    for path in written:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"  {path.name}  {path.stat().st_size:7d} B  sha256:{digest}")


if __name__ == "__main__":
    main()
