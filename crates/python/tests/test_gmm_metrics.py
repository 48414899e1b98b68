"""GaussianMixture and the scores against scikit-learn."""

import numpy as np
import pytest

import mmclust
from mmclust import GaussianMixture, KMeans

sklearn = pytest.importorskip("sklearn")
from sklearn import metrics as skm  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGMM  # noqa: E402

RTOL = 1e-6  # the GMM fixture tests' tolerance for float64 statistics


def start(X, k, covariance_type, seed=0):
    """A common starting mixture: k rows as means, the data's covariance."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(len(X), size=k, replace=False)].astype(np.float64)
    cov = np.cov(X.astype(np.float64).T) + 1e-3 * np.eye(X.shape[1])
    prec = np.linalg.inv(cov)
    precisions = {
        "full": np.stack([prec] * k),
        "tied": prec,
        "diag": np.tile(1.0 / np.diag(cov), (k, 1)),
        "spherical": np.full(k, 1.0 / np.diag(cov).mean()),
    }[covariance_type]
    return np.full(k, 1.0 / k), means, precisions


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("data", ["faithful", "blobs"])
def test_same_mixture_as_scikit_learn_from_the_same_start(request, data, covariance_type):
    X = request.getfixturevalue(data)
    k = 2 if data == "faithful" else 4
    w0, m0, p0 = start(X, k, covariance_type)
    kw = dict(covariance_type=covariance_type, weights_init=w0, means_init=m0, precisions_init=p0,
              tol=1e-3, max_iter=100)
    ours = GaussianMixture(k, **kw).fit(X)
    # scikit-learn on the same float32 values in float64.
    theirs = SkGMM(k, **kw).fit(X.astype(np.float64))
    assert ours.n_iter_ == theirs.n_iter_ and ours.converged_ == theirs.converged_
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=RTOL, atol=1e-9,
                                   err_msg=name)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=RTOL)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X64), rtol=RTOL)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X64), rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X64))
    assert ours.score(X) == pytest.approx(theirs.score(X64), rel=RTOL)
    assert ours.bic(X) == pytest.approx(theirs.bic(X64), rel=RTOL)
    assert ours.aic(X) == pytest.approx(theirs.aic(X64), rel=RTOL)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full", "tied"])
def test_precision_f32_stays_close_to_f64(blobs, covariance_type):
    kw = dict(covariance_type=covariance_type, random_state=0, tol=0.0, max_iter=10)
    a = GaussianMixture(4, **kw).fit(blobs)
    b = GaussianMixture(4, precision="f32", **kw).fit(blobs)
    assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-5)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="precision"):
        GaussianMixture(4, precision="f16").fit(blobs)


def test_default_fit_sample_and_conventions(blobs):
    g = GaussianMixture(4, random_state=0).fit(blobs)
    assert g.converged_ and g.weights_.shape == (4,) and g.means_.shape == (4, 5)
    assert g.covariances_.shape == (4, 5, 5) and g.n_features_in_ == 5
    np.testing.assert_array_equal(g.fit_predict(blobs), g.predict(blobs))
    Xs, ys = g.sample(500)
    assert Xs.shape == (500, 5) and ys.shape == (500,) and set(ys) <= set(range(4))
    c = clone(g)
    assert c.get_params() == g.get_params() and "means_" not in c.__dict__
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banana").fit(blobs)
    with pytest.raises(ValueError, match="init_params"):
        GaussianMixture(2, init_params="bogus").fit(blobs)
    with pytest.raises(ValueError, match="not fitted"):
        GaussianMixture(2).predict(blobs)
    # Warm start continues from the fitted mixture.
    w = GaussianMixture(4, random_state=0, warm_start=True, max_iter=2).fit(blobs)
    before = w.lower_bound_
    assert w.fit(blobs).lower_bound_ >= before - 1e-9


def test_scores_match_scikit_learn(blobs, faithful):
    for X, k in [(blobs, 4), (faithful, 3)]:
        labels = KMeans(k, random_state=0).fit(X).labels_
        X64 = X.astype(np.float64)
        np.testing.assert_allclose(mmclust.silhouette_samples(X, labels), skm.silhouette_samples(X64, labels),
                                   rtol=1e-5, atol=1e-6)
        assert mmclust.silhouette_score(X, labels) == pytest.approx(skm.silhouette_score(X64, labels), rel=1e-5)
        assert mmclust.calinski_harabasz_score(X, labels) == pytest.approx(
            skm.calinski_harabasz_score(X64, labels), rel=1e-6)
        assert mmclust.davies_bouldin_score(X, labels) == pytest.approx(
            skm.davies_bouldin_score(X64, labels), rel=1e-6)
        # String labels work too.
        names = np.array(["abcd"[i] for i in labels])
        assert mmclust.calinski_harabasz_score(X, names) == pytest.approx(
            mmclust.calinski_harabasz_score(X, labels))
    estimate = mmclust.silhouette_score(blobs, labels := KMeans(4, random_state=0).fit(blobs).labels_,
                                        sample_size=500, random_state=1)
    assert estimate == pytest.approx(mmclust.silhouette_score(blobs, labels), abs=0.05)
    with pytest.raises(ValueError, match="labels"):
        mmclust.silhouette_score(blobs, labels[:10])
    with pytest.raises(ValueError, match="metric"):
        mmclust.silhouette_score(blobs, labels, metric="manhattan")
