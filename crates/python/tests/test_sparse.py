"""scipy.sparse input: KMeans accepts CSR (and other scipy.sparse formats) as
scikit-learn's does, through a temporary uncompressed .npz the engine maps; the
results are the same bits as on the dense copy. Fixtures from
scripts/make_sparse_fixtures.py."""

import gc
import os

import numpy as np
import pytest
from conftest import REPO

from mmclust import KMeans, MiniBatchKMeans

sp = pytest.importorskip("scipy.sparse")

DATA = REPO / "crates" / "cli" / "tests" / "data"


def matrix():
    return sp.load_npz(DATA / "sparse_X.npz"), np.load(DATA / "sparse_X.npy")


@pytest.mark.parametrize(
    "estimator, params",
    [(KMeans, {"metric": "cosine"}), (KMeans, {}), (MiniBatchKMeans, {"batch_size": 64})],
)
def test_sparse_fit_predict_transform_score_equal_the_dense_copy(estimator, params):
    X, dense = matrix()
    assert np.array_equal(X.toarray().astype(np.float32), dense)
    a = estimator(4, random_state=3, **params).fit(X)
    b = estimator(4, random_state=3, **params).fit(dense)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    for Y in (X, X.tocsc(), X.tocoo()):
        assert np.array_equal(a.predict(Y), b.predict(dense))
        assert np.array_equal(a.transform(Y), b.transform(dense))
        assert a.score(Y) == b.score(dense)


def test_the_temporary_file_is_removed():
    from mmclust._base import as_input

    X, _ = matrix()
    path = as_input(X)
    assert isinstance(path, str) and path.endswith(".npz") and os.path.exists(path)
    folder = os.path.dirname(path)
    del path
    gc.collect()
    assert not os.path.exists(folder)


def test_boolean_sparse_is_read_as_numbers():
    X, dense = matrix()
    B = X > 1.0
    a = KMeans(2, random_state=0).fit(B)
    b = KMeans(2, random_state=0).fit((dense > 1.0).astype(np.float32))
    assert np.array_equal(a.labels_, b.labels_)
