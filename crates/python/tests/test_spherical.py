"""KMeans(metric="cosine"): spherical K-means against the float64 NumPy reference
of scripts/make_spherical_fixtures.py, and silhouette_score(metric="cosine")
against scikit-learn's."""

import json

import numpy as np
import pytest
from conftest import REPO

import mmclust
from mmclust import KMeans

FIXTURES = REPO / "crates" / "kmeans" / "tests" / "fixtures"
TOL = 1e-6


def case(name):
    meta = json.loads((FIXTURES / f"spherical_{name}_meta.json").read_text())
    X = np.load(FIXTURES / f"spherical_{name}_X.npy")
    C0 = np.load(FIXTURES / f"spherical_{name}_C0.npy")
    return X, C0, meta


def want(meta, t, what):
    return np.load(FIXTURES / meta["iterations"][str(t)][what])


@pytest.mark.parametrize("name", ["blobs", "ties"])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "yinyang"])
@pytest.mark.parametrize("t", [1, 20])
def test_cosine_kmeans_matches_the_numpy_reference(name, algorithm, t):
    X, C0, meta = case(name)
    km = KMeans(len(C0), init=C0, n_init=1, max_iter=t, tol=0.0, algorithm=algorithm,
                metric="cosine").fit(X)
    assert np.all(np.abs(km.cluster_centers_ - want(meta, t, "centers")) <= TOL)
    inertia = meta["iterations"][str(t)]["inertia"]
    assert abs(km.inertia_ - inertia) <= TOL * inertia
    labels, gap = want(meta, t, "labels"), want(meta, t, "gap")
    sure = gap >= TOL
    assert np.array_equal(km.labels_[sure], labels[sure])
    assert np.array_equal(km.predict(X), km.labels_)
    # score is minus the sum of 1 - cos; transform gives 1 - cos per centre.
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-9)
    d = km.transform(X)
    unit = X / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    cos = unit @ km.cluster_centers_.astype(np.float64).T
    assert np.allclose(d, 1.0 - cos, atol=1e-6)
    # Cosine ignores each row's length.
    scaled = X * (1 + np.arange(len(X)) % 5).astype(np.float32)[:, None]
    assert np.array_equal(km.predict(scaled), km.labels_)


def test_cosine_centres_are_unit_and_params_round_trip():
    X, _, _ = case("blobs")
    km = KMeans(5, metric="cosine", random_state=3).fit(X)
    assert np.allclose(np.linalg.norm(km.cluster_centers_, axis=1), 1.0, atol=1e-6)
    assert km.get_params()["metric"] == "cosine"
    assert 0 < km.inertia_ < 2 * len(X)
    # Euclidean is the default and differs on rows of different lengths.
    assert KMeans(5, random_state=3).fit(X).inertia_ != pytest.approx(km.inertia_)


def test_cosine_bad_inputs_raise_value_error():
    X = np.ones((30, 3), dtype=np.float32) + np.arange(90, dtype=np.float32).reshape(30, 3) % 4
    X[7] = 0.0
    with pytest.raises(ValueError, match="row 7"):
        KMeans(2, metric="cosine").fit(X)
    with pytest.raises(ValueError, match="metric"):
        KMeans(2, metric="manhattan").fit(X)


def test_cosine_silhouette_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    X, C0, meta = case("blobs")
    X = X[:500]
    labels = KMeans(5, init=C0, n_init=1, metric="cosine").fit(X).labels_
    want = metrics.silhouette_score(X.astype(np.float64), labels, metric="cosine")
    got = mmclust.silhouette_score(X, labels, metric="cosine")
    assert got == pytest.approx(want, rel=1e-6)
    per_row = mmclust.silhouette_samples(X, labels, metric="cosine")
    want_rows = metrics.silhouette_samples(X.astype(np.float64), labels, metric="cosine")
    assert np.all(np.abs(per_row - want_rows) <= 1e-6)
