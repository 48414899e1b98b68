"""BayesianGaussianMixture against scikit-learn's."""

import numpy as np
import pytest

from mmclust import BayesianGaussianMixture

sklearn = pytest.importorskip("sklearn")
from sklearn.mixture import BayesianGaussianMixture as SkBGM  # noqa: E402

from conftest import make_blobs  # noqa: E402


@pytest.fixture(scope="module")
def three():
    """3,000 × 3 float32 rows around 3 well-separated centres."""
    return make_blobs(3000, 3, 3, seed=4, spread=0.5)


def matched(ours, theirs):
    """Indices of scikit-learn's components in the order of ours (nearest means)."""
    d = ((ours[:, None, :] - theirs[None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_same_fixed_point_as_scikit_learn(three, covariance_type):
    # A symmetric Dirichlet prior is invariant to the order of the components,
    # so both engines' K-means initialisations (which order them differently)
    # reach the same fixed point; run both to a tight tolerance.
    kw = dict(n_components=3, covariance_type=covariance_type,
              weight_concentration_prior_type="dirichlet_distribution", tol=1e-9, max_iter=2000,
              random_state=0)
    ours = BayesianGaussianMixture(**kw).fit(three)
    theirs = SkBGM(**kw).fit(three.astype(np.float64))
    assert ours.converged_ and theirs.converged_
    idx = matched(ours.means_, theirs.means_)
    assert sorted(idx) == [0, 1, 2]
    np.testing.assert_allclose(ours.weights_, theirs.weights_[idx], rtol=1e-5)
    np.testing.assert_allclose(ours.means_, theirs.means_[idx], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.mean_precision_, theirs.mean_precision_[idx], rtol=1e-5)
    np.testing.assert_allclose(ours.weight_concentration_, theirs.weight_concentration_[idx],
                               rtol=1e-5)
    if covariance_type == "tied":
        np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-5)
        assert ours.degrees_of_freedom_ == pytest.approx(theirs.degrees_of_freedom_, rel=1e-6)
    else:
        np.testing.assert_allclose(ours.covariances_, theirs.covariances_[idx], rtol=1e-5)
        np.testing.assert_allclose(ours.degrees_of_freedom_, theirs.degrees_of_freedom_[idx],
                                   rtol=1e-6)
    X64 = three.astype(np.float64)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-6)
    assert ours.score(three) == pytest.approx(theirs.score(X64), rel=1e-6)
    np.testing.assert_allclose(ours.score_samples(three), theirs.score_samples(X64), rtol=1e-5)
    np.testing.assert_array_equal(idx[ours.predict(three)], theirs.predict(X64))
    for name in ["mean_prior_", "covariance_prior_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-6,
                                   atol=1e-9, err_msg=name)
    assert ours.degrees_of_freedom_prior_ == theirs.degrees_of_freedom_prior_
    assert ours.weight_concentration_prior_ == pytest.approx(theirs.weight_concentration_prior_)


def test_dirichlet_process_switches_off_unneeded_components(three):
    m = BayesianGaussianMixture(n_components=8, max_iter=500, random_state=1).fit(three)
    assert m.effective_components_ == 3
    a, b = m.weight_concentration_
    assert a.shape == (8,) and b.shape == (8,)
    assert m.weights_.sum() == pytest.approx(1.0)
    proba = m.predict_proba(three)
    np.testing.assert_array_equal(m.predict(three), proba.argmax(axis=1))
    assert m.score(three) == pytest.approx(m.score_samples(three).mean(), rel=1e-12)
    assert len(m.lower_bounds_) == m.n_iter_
    with pytest.raises(AttributeError):
        m.bic(three)


def test_bad_priors_are_value_errors(three):
    with pytest.raises(ValueError, match="dof|degrees"):
        BayesianGaussianMixture(n_components=2, degrees_of_freedom_prior=1.0).fit(three)
    with pytest.raises(ValueError, match="weight_concentration_prior_type"):
        BayesianGaussianMixture(n_components=2, weight_concentration_prior_type="x").fit(three)
