"""GaussianMixture.partial_fit: online (stepwise) EM one batch per call."""

import pickle

import numpy as np
import pytest

from mmclust import BayesianGaussianMixture, GaussianMixture

from conftest import make_blobs


@pytest.fixture(scope="module")
def data():
    """20,000 x 3 float32 points around 4 centres."""
    return make_blobs(20000, 3, 4, seed=5, spread=1.5)


def pieces(X, size=1000):
    return [X[i : i + size] for i in range(0, len(X), size)]


def test_partial_fit_learns_from_pieces_like_fit(data):
    full = GaussianMixture(4, covariance_type="diag", random_state=0).fit(data)
    gm = GaussianMixture(4, covariance_type="diag", random_state=0)
    for epoch in range(2):
        for p in pieces(data):
            gm.partial_fit(p)
    assert gm.n_steps_ == 40 and gm.n_iter_ == 40
    assert gm.means_.shape == (4, 3) and gm.covariances_.shape == (4, 3)
    assert gm.weights_.sum() == pytest.approx(1.0)
    assert np.isfinite(gm.lower_bound_) and not gm.converged_
    assert gm.score(data) == pytest.approx(full.score(data), abs=0.01)
    assert gm.predict(data[:10]).shape == (10,)
    # Deterministic for a random_state, and the state survives a pickle.
    again = GaussianMixture(4, covariance_type="diag", random_state=0)
    for epoch in range(2):
        for i, p in enumerate(pieces(data)):
            again.partial_fit(p)
            if epoch == 1 and i == 3:
                again = pickle.loads(pickle.dumps(again))
    assert again.means_.tobytes() == gm.means_.tobytes()
    assert again.covariances_.tobytes() == gm.covariances_.tobytes()


def test_the_step_count_persists_and_fit_starts_afresh(data):
    gm = GaussianMixture(3, covariance_type="full", random_state=1)
    gm.partial_fit(data[:2000])
    assert gm.n_steps_ == 1
    gm.partial_fit(data[2000:4000])
    assert gm.n_steps_ == 2
    # fit replaces what partial_fit learnt; a later partial_fit continues
    # from the fitted mixture, its step count from 1 again.
    gm.fit(data)
    assert not hasattr(gm, "n_steps_")
    fitted = gm.score(data)
    gm.partial_fit(data[:5000])
    assert gm.n_steps_ == 1
    assert gm.score(data) == pytest.approx(fitted, abs=0.05)


def test_warm_start_fit_starts_from_the_partial_fit_mixture(data):
    gm = GaussianMixture(4, covariance_type="diag", random_state=0, warm_start=True,
                         max_iter=1, tol=0.0)
    for p in pieces(data)[:5]:
        gm.partial_fit(p)
    before = gm.score(data)
    gm.fit(data)
    # One EM iteration from the online mixture: its lower bound is the
    # log-likelihood of that mixture on the data.
    assert gm.lower_bound_ == pytest.approx(before, abs=1e-9)
    # Without warm_start, fit starts from its own initialisation.
    cold = GaussianMixture(4, covariance_type="diag", random_state=0, max_iter=1, tol=0.0)
    for p in pieces(data)[:5]:
        cold.partial_fit(p)
    assert cold.score(data) == before
    cold.fit(data)
    assert cold.lower_bound_ != pytest.approx(before, abs=1e-6)


def test_given_initial_parameters_start_the_first_step(data):
    means = np.array([[0, 0, 0], [1, 1, 1], [-1, 2, 0], [3, -2, 1]], dtype=np.float64)
    gm = GaussianMixture(4, covariance_type="spherical", means_init=means, random_state=0)
    gm.partial_fit(data[:3000])
    assert gm.n_steps_ == 1 and np.isfinite(gm.means_).all()


def test_bad_input_names_what_is_wrong(data):
    gm = GaussianMixture(4, covariance_type="diag").partial_fit(data[:1000])
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        gm.partial_fit(data[:100, :2])
    with pytest.raises(ValueError, match="step_decay"):
        GaussianMixture(4, step_decay=0.3).partial_fit(data[:1000])
    bad = data[:1000].copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="row 17"):
        gm.partial_fit(bad)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="box").partial_fit(data[:100])
    with pytest.raises(NotImplementedError):
        BayesianGaussianMixture(n_components=2).partial_fit(data[:100])
