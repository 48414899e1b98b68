"""Gaussian mixtures with scikit-learn's names, defaults and attributes."""

from __future__ import annotations

import numpy as np

from . import _native
from ._base import BaseEstimator, as_input, feature_names_of, n_features_of, seed_of

__all__ = ["GaussianMixture", "BayesianGaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _precisions(prec_chol, covariance_type):
    """Precision matrices from their Cholesky factors (scikit-learn's `precisions_`)."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def _covariances_of_precisions(precisions, covariance_type):
    p = np.asarray(precisions, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(p)
    return 1.0 / p


class GaussianMixture(BaseEstimator):
    """Gaussian mixture fitted by EM (scikit-learn's `sklearn.mixture.GaussianMixture`).

    Parameters keep scikit-learn's names, defaults and meanings, and the fitted
    attributes their names and shapes (`weights_`, `means_`, `covariances_`,
    `precisions_cholesky_`, `precisions_`, `converged_`, `n_iter_`,
    `lower_bound_`). Differences:

    * X may be a path to a `.npy` file (memory-mapped by the engine); EM
      streams over the data, never storing an n x k responsibility matrix.
    * Data are read as float32; statistics and parameters are float64.
    * `random_state=None` means seed 0 (reproducible); same answer as
      `mmclust gmm` for the same seed.
    * `init_params` also accepts 'k-means++', 'random_from_data',
      'kmeans-sample' (K-means on 256 sampled rows per component, then one
      pass: no K-means over the whole of X) and 'auto' ('kmeans' up to 8 GiB
      of data, 'kmeans-sample' above). Given
      initial values: `means_init` alone, or `weights_init`, `means_init` and
      `precisions_init` together.
    * `sample` returns rows in random component order (scikit-learn sorts
      them by component), drawn from the seed of `random_state`: two calls
      give the same rows (scikit-learn's generator moves on).
    * `verbose` and `verbose_interval` are accepted and ignored.
    * `partial_fit(X)` (not in scikit-learn): one step of online (stepwise)
      EM on the rows of X, the engine of `mmclust gmm --online`. The first
      call initialises from X (`init_params` on its rows, or the given
      `weights_init`/`means_init`/`precisions_init`); after `fit`, it
      continues from the fitted mixture. The step count (`n_steps_`) and the
      running statistics persist across calls; step t has step size
      (t + 2)^(-step_decay) (`step_decay`, not in scikit-learn, default 0.6,
      in (0.5, 1]). `fit` starts afresh (or, with `warm_start`, from the
      current mixture, as scikit-learn defines it) and drops the online state.
    * `precision` (not in scikit-learn): 'f64' (default) or 'f32'. With 'f32',
      fits compute their per-row products in float32 on CPUs with AVX-512,
      faster per iteration (scripts/bench_peers.sh --gmm), within about
      1e-6 of the 'f64' answer (scikit-learn itself computes in float32 on
      float32 input); means more than 16 standard deviations from the mean
      of the means, and ill-conditioned full or tied covariances, run in
      float64.
    """

    _estimator_type = "density_estimator"

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        precision="f64",
        step_decay=0.6,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.precision = precision
        self.step_decay = step_decay

    def _initial(self):
        self._check_covariance_type()
        if self.warm_start and "means_" in self.__dict__:
            return dict(
                weights_init=self.weights_,
                means_init=self.means_,
                covariances_init=self.covariances_,
            )
        out = {}
        if self.weights_init is not None:
            out["weights_init"] = np.asarray(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            out["means_init"] = np.asarray(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            out["covariances_init"] = _covariances_of_precisions(
                self.precisions_init, self.covariance_type
            )
        return out

    def fit(self, X, y=None):
        """Estimates the mixture's parameters by EM."""
        inp = as_input(X)
        r = _native.gmm_fit(
            inp,
            int(self.n_components),
            covariance_type=self.covariance_type,
            tol=float(self.tol),
            reg_covar=float(self.reg_covar),
            max_iter=int(self.max_iter),
            n_init=int(self.n_init),
            init_params=self.init_params,
            seed=seed_of(self.random_state),
            precision=self.precision,
            **self._initial(),
        )
        self._set_mixture(r, X)
        self.converged_ = bool(r["converged"])
        self.n_iter_ = int(r["n_iter"])
        # A new fit replaces whatever partial_fit had learnt.
        self.__dict__.pop("_online_state", None)
        self.__dict__.pop("n_steps_", None)
        return self

    def partial_fit(self, X, y=None):
        """One step of online (stepwise) EM on the rows of X.

        The first call (on an unfitted estimator) initialises the mixture
        from X: `init_params` run on the rows of X, or the given
        `weights_init`, `means_init` and `precisions_init`. On a fitted
        estimator the step starts from the fitted mixture. Each call then
        computes the responsibilities of X under the current mixture,
        blends X's sufficient statistics into the running ones with step
        size (t + 2)^(-step_decay) (the first step takes X's alone), and sets
        the parameters from them (an M-step). `n_steps_` counts the calls;
        `lower_bound_` is X's mean log-likelihood before the step.
        """
        inp = as_input(X)
        d = n_features_of(inp, _native)[1]
        fitted = "means_" in self.__dict__
        if fitted and d != self.n_features_in_:
            raise ValueError(
                f"X has {d} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        state = self.__dict__.get("_online_state")
        if state is not None or not fitted:
            initial = {} if state is not None else self._initial()
        else:
            # Continue from the fitted mixture (fit, or the attributes set).
            initial = dict(
                weights_init=self.weights_,
                means_init=self.means_,
                covariances_init=self.covariances_,
            )
        self._check_covariance_type()
        r = _native.gmm_partial_fit(
            inp,
            int(self.n_components),
            covariance_type=self.covariance_type,
            tol=float(self.tol),
            reg_covar=float(self.reg_covar),
            init_params=self.init_params,
            seed=seed_of(self.random_state),
            step_decay=float(self.step_decay),
            state=state,
            precision=self.precision,
            **initial,
        )
        self._online_state = r["state"]
        self._set_mixture(r, X)
        self.n_steps_ = int(r["n_steps"])
        self.n_iter_ = self.n_steps_
        self.converged_ = False
        return self

    def _set_mixture(self, r, X):
        """The fitted attributes every fit sets, from the engine's dict `r`."""
        self.weights_ = r["weights"]
        self.means_ = r["means"]
        self.covariances_ = r["covariances"]
        self.precisions_cholesky_ = r["precisions_cholesky"]
        self.precisions_ = _precisions(self.precisions_cholesky_, self.covariance_type)
        self.lower_bound_ = float(r["lower_bound"])
        self.n_features_in_ = self.means_.shape[1]
        self._n_parameters = int(r["n_parameters"])
        names = feature_names_of(X)
        if names is not None:
            self.feature_names_in_ = names

    def _check_covariance_type(self):
        if self.covariance_type not in _COVARIANCE_TYPES:
            raise ValueError(
                f"Invalid value for 'covariance_type': {self.covariance_type!r}; "
                f"use one of {_COVARIANCE_TYPES}"
            )

    def _params(self):
        self._check_fitted("means_")
        return (self.covariance_type, self.weights_, self.means_, self.covariances_)

    def fit_predict(self, X, y=None):
        """Fits and returns the component of each training row."""
        return self.fit(X).predict(X)

    def predict(self, X):
        """Most probable component of each row (int32)."""
        return _native.gmm_rows(as_input(X), "predict", *self._params())

    def predict_proba(self, X):
        """Posterior probability of each component, (n_samples, n_components)."""
        return _native.gmm_rows(as_input(X), "proba", *self._params())

    def score_samples(self, X):
        """Log-likelihood of each row."""
        return _native.gmm_rows(as_input(X), "score_samples", *self._params())

    def score(self, X, y=None):
        """Mean log-likelihood per row."""
        return _native.gmm_score(as_input(X), *self._params())

    def sample(self, n_samples=1):
        """Draws (X, y): `n_samples` rows (float32) and their components."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        params = self._params()
        return _native.gmm_sample(int(n_samples), seed_of(self.random_state), *params)

    def _n_parameters_(self):
        self._check_fitted("means_")
        return self._n_parameters

    def bic(self, X):
        """Bayesian information criterion of X (lower is better)."""
        inp = as_input(X)
        n = n_features_of(inp, _native)[0]
        return -2 * self.score(inp) * n + self._n_parameters_() * np.log(n)

    def aic(self, X):
        """Akaike information criterion of X (lower is better)."""
        inp = as_input(X)
        n = n_features_of(inp, _native)[0]
        return -2 * self.score(inp) * n + 2 * self._n_parameters_()


class BayesianGaussianMixture(GaussianMixture):
    """Variational Bayesian Gaussian mixture (scikit-learn's
    `sklearn.mixture.BayesianGaussianMixture`).

    Same engine and streaming passes as `GaussianMixture` (`mmclust gmm
    --bayesian`). Parameters keep scikit-learn's names, defaults and meanings
    (`weight_concentration_prior_type`, `weight_concentration_prior`,
    `mean_precision_prior`, `mean_prior`, `degrees_of_freedom_prior`,
    `covariance_prior`); fitted attributes too (`weights_`, `means_`,
    `covariances_`, `precisions_cholesky_`, `precisions_`,
    `weight_concentration_`, `mean_precision_`, `degrees_of_freedom_`, the
    resolved priors with a trailing underscore, `converged_`, `n_iter_`,
    `lower_bound_`, `lower_bounds_`). `lower_bound_` is the variational lower
    bound, a total over rows as in scikit-learn. `score`, `score_samples`,
    `predict` and `predict_proba` use the variational expectations, as
    scikit-learn does. Not in scikit-learn: `effective_components_` (weights
    above 0.01). `warm_start` and given initial parameters are not supported
    (scikit-learn's BayesianGaussianMixture has no `weights_init` either).
    """

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    def partial_fit(self, X, y=None):
        """Not available: online EM fits maximum-likelihood mixtures."""
        raise NotImplementedError(
            "partial_fit is online EM of a maximum-likelihood mixture; "
            "BayesianGaussianMixture has none (neither has scikit-learn's)"
        )

    def _priors(self):
        def flat(v):
            return None if v is None else np.asarray(v, dtype=np.float64).ravel()

        def scalar(v):
            return None if v is None else float(v)

        return dict(
            weight_concentration_prior_type=self.weight_concentration_prior_type,
            weight_concentration_prior=scalar(self.weight_concentration_prior),
            mean_precision_prior=scalar(self.mean_precision_prior),
            mean_prior=flat(self.mean_prior),
            degrees_of_freedom_prior=scalar(self.degrees_of_freedom_prior),
            covariance_prior=flat(self.covariance_prior),
        )

    def fit(self, X, y=None):
        """Estimates the variational posterior."""
        self._check_covariance_type()
        if self.warm_start:
            raise ValueError("warm_start is not supported by mmclust's BayesianGaussianMixture")
        inp = as_input(X)
        r = _native.gmm_fit(
            inp,
            int(self.n_components),
            covariance_type=self.covariance_type,
            tol=float(self.tol),
            reg_covar=float(self.reg_covar),
            max_iter=int(self.max_iter),
            n_init=int(self.n_init),
            init_params=self.init_params,
            seed=seed_of(self.random_state),
            bayesian=self._priors(),
        )
        self._set_mixture(r, X)
        self.converged_ = bool(r["converged"])
        self.n_iter_ = int(r["n_iter"])
        self.lower_bounds_ = list(r["lower_bounds"])
        p = r["posterior"]
        self._posterior = p
        d = self.n_features_in_
        self.weight_concentration_prior_ = p["weight_concentration_prior"]
        self.mean_precision_prior_ = p["mean_precision_prior"]
        self.mean_prior_ = p["mean_prior"]
        self.degrees_of_freedom_prior_ = p["degrees_of_freedom_prior"]
        cp = p["covariance_prior"]
        self.covariance_prior_ = {
            "full": lambda: cp.reshape(d, d),
            "tied": lambda: cp.reshape(d, d),
            "diag": lambda: cp,
            "spherical": lambda: float(cp[0]),
        }[self.covariance_type]()
        if len(p["concentration_b"]):
            self.weight_concentration_ = (p["concentration_a"], p["concentration_b"])
        else:
            self.weight_concentration_ = p["concentration_a"]
        self.mean_precision_ = p["mean_precision"]
        dof = p["degrees_of_freedom"]
        self.degrees_of_freedom_ = float(dof[0]) if self.covariance_type == "tied" else dof
        self.effective_components_ = int(np.sum(self.weights_ > 0.01))
        return self

    def predict(self, X):
        """Most probable component of each row (int32)."""
        return _native.gmm_rows(as_input(X), "predict", *self._params(), self._posterior)

    def predict_proba(self, X):
        """Posterior probability of each component, (n_samples, n_components)."""
        return _native.gmm_rows(as_input(X), "proba", *self._params(), self._posterior)

    def score_samples(self, X):
        """Log-likelihood of each row under the variational expectations."""
        return _native.gmm_rows(as_input(X), "score_samples", *self._params(), self._posterior)

    def score(self, X, y=None):
        """Mean of `score_samples`."""
        return _native.gmm_score(as_input(X), *self._params(), self._posterior)

    def bic(self, X):
        raise AttributeError("BayesianGaussianMixture has no bic (as in scikit-learn)")

    def aic(self, X):
        raise AttributeError("BayesianGaussianMixture has no aic (as in scikit-learn)")
