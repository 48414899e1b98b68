#!/usr/bin/env python3
"""Write the sparse CSR (.npz) fixtures for mmclust's tests.

Run it through ``scripts/make_sparse_fixtures.sh`` (which builds the pinned venv).
Every random draw comes from a fixed NumPy Generator, so reruns with the same pinned
NumPy and SciPy reproduce the files bit for bit (save_npz writes fixed zip dates).

One small document-like matrix (``crates/cli/tests/data/sparse_*``): n = 300 rows
("documents") over d = 128 columns ("words"), k = 4 topics, each row a handful of
words (mostly from its topic's 32), weighted like TF-IDF, about 6 % dense, no empty
row. It is saved three ways, which mmclust must read as the same float32 matrix:

* ``sparse_X.npz``: ``scipy.sparse.save_npz`` default (deflated), float32 values,
  int32 indices, canonical (sorted columns);
* ``sparse_X_plain.npz``: ``compressed=False`` (stored, memory-mapped), float64
  values (each exactly a float32), int64 indices asked for (scipy stores int32 when
  they fit; the Rust unit tests cover int64), columns unsorted within rows;
* ``sparse_X.npy``: the dense copy, ``X.toarray()`` as float32.

The spherical K-means reference is the float64 NumPy one of
``scripts/make_spherical_fixtures.py`` (imported, not repeated): from C0 (each topic's
mean over 12 of its rows, so that no row is orthogonal to every centre),
after 1 and 20 iterations, labels, best-minus-second cosine gaps, centres.

Bad inputs (every command must refuse them with one line, exit 2):
``sparse_bad_csc.npz`` (a CSC matrix), ``sparse_bad_index.npz`` (a column index
= d in row 5), ``sparse_bad_indptr.npz`` (indptr decreasing at row 7), and
``sparse_zero_row.npz`` (row 7 empty: fine for Euclidean K-means, an error for
cosine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from make_spherical_fixtures import assign, spherical_kmeans, unit_rows  # noqa: E402

DEFAULT_OUT = REPO / "crates" / "cli" / "tests" / "data"
N, D, K, TOPIC_WORDS = 300, 128, 4, 32
ITERS = (1, 20)


def documents(rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    """A TF-IDF-like CSR matrix, float32, canonical, no empty row; and each row's topic."""
    rows, cols = [], []
    topics = rng.integers(0, K, size=N)
    for r, t in enumerate(topics):
        n_words = rng.integers(4, 12)
        own = rng.random(n_words) < 0.8
        words = np.where(
            own,
            t * TOPIC_WORDS + rng.integers(0, TOPIC_WORDS, size=n_words),
            rng.integers(0, D, size=n_words),
        )
        rows += [r] * n_words
        cols += words.tolist()
    counts = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(N, D)).tocsr()
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=D)
    idf = np.log((1 + N) / (1 + df)) + 1.0
    x = counts.multiply(idf[None, :]).tocsr().astype(np.float32)
    x.sort_indices()
    assert np.all(np.diff(x.indptr) > 0), "an empty row: pick another seed"
    return x, topics


def unsorted_wide(x: sp.csr_matrix, rng: np.random.Generator) -> sp.csr_matrix:
    """x with float64 values, int64 indices, and each row's entries shuffled."""
    data = x.data.astype(np.float64)
    indices = x.indices.astype(np.int64)
    for r in range(x.shape[0]):
        a, b = x.indptr[r], x.indptr[r + 1]
        p = a + rng.permutation(b - a)
        data[a:b], indices[a:b] = data[p], indices[p]
    y = sp.csr_matrix((data, indices, x.indptr.astype(np.int64)), shape=x.shape)
    y.has_sorted_indices = False
    return y


def raw_npz(path: Path, data, indices, indptr, shape, fmt: bytes = b"csr") -> None:
    """An .npz with the members save_npz writes, without scipy's checks."""
    np.savez(path, indices=indices, indptr=indptr, format=np.array(fmt),
             shape=np.array(shape), data=data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261204)
    x, topics = documents(rng)
    dense = x.toarray().astype(np.float32)
    written: list[Path] = []

    def save(name: str, a: np.ndarray) -> str:
        path = out / name
        np.save(path, np.ascontiguousarray(a), allow_pickle=False)
        written.append(path)
        return name

    sp.save_npz(out / "sparse_X.npz", x)
    sp.save_npz(out / "sparse_X_plain.npz", unsorted_wide(x, rng), compressed=False)
    written += [out / "sparse_X.npz", out / "sparse_X_plain.npz"]
    save("sparse_X.npy", dense)
    # C0: each topic's mean over 12 of its rows. Not single rows: a sparse row
    # shares no word with most other rows, and a row orthogonal to every centre
    # is an exact tie (cosine 0 to all), which a float32 engine breaks by
    # rounding, not by index.
    c0 = np.stack([
        dense[rng.choice(np.flatnonzero(topics == t), size=12, replace=False)].mean(axis=0)
        for t in range(K)
    ]).astype(np.float32)
    save("sparse_C0.npy", c0)

    meta: dict = {
        "n": N, "d": D, "k": K, "nnz": int(x.nnz),
        "reference": "float64 NumPy spherical K-means of scripts/make_spherical_fixtures.py, "
        "from sparse_C0 (topic means of 12 rows each)",
        "iterations": {},
        "numpy": metadata.version("numpy"),
        "scipy": metadata.version("scipy"),
    }
    xn = unit_rows(dense)
    for t in ITERS:
        c = spherical_kmeans(dense, c0, t)
        labels, gap, best = assign(xn, c)
        assert (gap < 1e-6).sum() < N // 20, f"{(gap < 1e-6).sum()} ties after {t}: other data"
        meta["iterations"][str(t)] = {
            "inertia": float((1.0 - best).sum()),
            "labels": save(f"sparse_iter{t}_labels.npy", labels),
            "gap": save(f"sparse_iter{t}_gap.npy", gap),
            "centers": save(f"sparse_iter{t}_centers.npy", c),
        }

    bad = {
        "sparse_bad_csc.npz": lambda p: sp.save_npz(p, x.tocsc()),
        "sparse_bad_index.npz": lambda p: raw_npz(
            p, x.data, np.where(np.arange(x.nnz) == x.indptr[5], D, x.indices).astype(np.int32),
            x.indptr, x.shape),
        "sparse_bad_indptr.npz": lambda p: raw_npz(
            p, x.data, x.indices,
            np.where(np.arange(N + 1) == 8, x.indptr[6], x.indptr).astype(np.int32), x.shape),
    }
    for name, make in bad.items():
        make(out / name)
        written.append(out / name)
    z = x.tolil()
    z[7, :] = 0
    sp.save_npz(out / "sparse_zero_row.npz", z.tocsr())
    written.append(out / "sparse_zero_row.npz")

    path = out / "sparse_meta.json"
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    written.append(path)
    for path in written:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"  {path.name}  {path.stat().st_size:7d} B  sha256:{digest}")


if __name__ == "__main__":
    main()
