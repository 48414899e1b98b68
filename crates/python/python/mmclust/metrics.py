"""Cluster-validity scores (scikit-learn's definitions) and the elbow sweep,
computed by the engine in O(n) memory on arrays or `.npy` paths."""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from . import _native
from ._base import as_input, seed_of

__all__ = [
    "silhouette_score",
    "silhouette_samples",
    "calinski_harabasz_score",
    "davies_bouldin_score",
    "elbow",
    "Elbow",
]


def _labels(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.dtype.kind in "iub":
        return np.ascontiguousarray(labels, dtype=np.int64)
    # Any other labels (strings, floats): their codes.
    return np.unique(labels, return_inverse=True)[1].astype(np.int64).ravel()


def _metric(metric):
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"metric={metric!r} is not supported; use 'euclidean' or 'cosine'")
    return metric


def silhouette_samples(X, labels, *, metric="euclidean"):
    """Silhouette of every row (exact, in O(n) memory: no n x n matrix).

    `metric='cosine'`: cosine distances 1 - cos, as scikit-learn's."""
    return _native.silhouette(as_input(X), _labels(labels), metric=_metric(metric))[0]


def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None):
    """Mean silhouette of all rows.

    With `sample_size`, the mean over that many rows drawn at random, each
    scored against *all* rows: an unbiased estimate of the full score
    (scikit-learn scores the sample against itself only).
    """
    return float(
        _native.silhouette(
            as_input(X), _labels(labels), sample_size, seed_of(random_state), metric=_metric(metric)
        )[1]
    )


def calinski_harabasz_score(X, labels):
    """Calinski–Harabasz score (higher is better)."""
    return _native.cluster_scores(as_input(X), _labels(labels))[0]


def davies_bouldin_score(X, labels):
    """Davies–Bouldin score (lower is better)."""
    return _native.cluster_scores(as_input(X), _labels(labels))[1]


class Elbow(NamedTuple):
    """The inertia curve over k and its knee (None when the curve has none)."""

    ks: list
    inertia: list
    knee: Optional[int]


def elbow(X, k_range=range(1, 11), *, n_init=3, random_state=None):
    """Fits K-means (k-means++, `n_init` runs) for every k of the contiguous
    `k_range` and returns the inertia curve with its knee (the suggested k)."""
    ks = list(k_range)
    if not ks or ks != list(range(ks[0], ks[-1] + 1)):
        raise ValueError(f"k_range must be a non-empty contiguous range of k, got {k_range!r}")
    r = _native.elbow(as_input(X), ks[0], ks[-1], int(n_init), seed_of(random_state))
    return Elbow(r["ks"], r["inertia"], r["knee"])
