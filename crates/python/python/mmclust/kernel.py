"""Kernel K-means and spectral clustering through Nyström landmark features
computed on the fly (never an n × M or n × n matrix), with scikit-learn-like
names."""

from __future__ import annotations

from . import _native
from ._base import BaseEstimator, as_input, seed_of

__all__ = ["KernelKMeans", "SpectralClustering"]


class _NystromBase(BaseEstimator):
    _method = ""

    def __init__(self, n_clusters=8, *, kernel="rbf", gamma=None, degree=3, coef0=1.0,
                 n_components=300, landmark_init="k-means++", n_init=1, max_iter=300,
                 random_state=None):
        self.n_clusters = n_clusters
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.n_components = n_components
        self.landmark_init = landmark_init
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y=None):
        """Picks the landmarks, builds the map and clusters X (an array or a
        path to a `.npy` file, memory-mapped)."""
        result = _native.kernel_fit(
            as_input(X),
            int(self.n_clusters),
            method=self._method,
            kernel=str(self.kernel),
            gamma=None if self.gamma is None else float(self.gamma),
            degree=int(self.degree),
            coef0=float(self.coef0),
            n_landmarks=int(self.n_components),
            landmark_init=str(self.landmark_init),
            seed=seed_of(self.random_state),
            # "auto": the engine's default (kernel K-means: 10 starts, on a
            # sample of the features above 32,768 rows, as the command line).
            n_init=None if self.n_init == "auto" else int(self.n_init),
            max_iter=int(self.max_iter),
        )
        self.model_json_ = result["model"]
        self.model_arrays_ = result["arrays"]
        self.labels_ = result["labels"]
        self.gamma_ = float(result["gamma"])
        self.n_components_ = int(result["n_components"])
        self.inertia_ = float(result["inertia"])
        self.n_iter_ = int(result["n_iter"])
        return self

    def fit_predict(self, X, y=None):
        """Fits and returns the labels of X."""
        return self.fit(X).labels_

    def predict(self, X):
        """Labels of new rows through the stored landmarks and map (int32)."""
        self._check_fitted("model_json_")
        return _native.kernel_predict(as_input(X), self.model_json_, self.model_arrays_)


class KernelKMeans(_NystromBase):
    """Kernel K-means: K-means on the Nyström features
    φ(x) = K(x, landmarks) · K_MM^(−1/2), computed chunk by chunk.

    `kernel` is 'rbf' (exp(−γ‖x−y‖²)) or 'polynomial'/'poly'
    ((γ x·y + coef0)^degree); `gamma=None` is a local scale for rbf (the
    median distance from a landmark to its max(7, ⌈M/12⌉)-th nearest other
    landmark, σ, and γ = 1/(2σ²); `gamma_` holds it) and 1/d for polynomial.
    `n_components` is the number of landmarks M (scikit-learn's
    `Nystroem(n_components)`), picked by 'k-means++' or 'uniform'
    (`landmark_init`). As `mmclust kmeans --kernel`. `inertia_` is measured in
    the feature space. Spectral clustering separates what this does not (rings).
    `n_init="auto"` by default, as `mmclust kmeans --kernel`: 10 k-means++
    starts (one start in the feature space of a local kernel often ends in a
    local minimum), run on a uniform sample of 32,768 rows of the features
    above that many rows, then one fit over every row from the best; an
    integer runs that many starts over every row.
    """

    _method = "kmeans"

    def __init__(self, n_clusters=8, *, kernel="rbf", gamma=None, degree=3, coef0=1.0,
                 n_components=300, landmark_init="k-means++", n_init="auto", max_iter=300,
                 random_state=None):
        super().__init__(n_clusters, kernel=kernel, gamma=gamma, degree=degree, coef0=coef0,
                         n_components=n_components, landmark_init=landmark_init,
                         n_init=n_init, max_iter=max_iter, random_state=random_state)


class SpectralClustering(_NystromBase):
    """Normalised spectral clustering with the affinity approximated by the
    same Nyström features (Fowlkes et al. 2004), in O(M²) memory: degrees,
    the top `n_clusters` eigenvectors of the normalised affinity, then
    K-means on the row-normalised embedding. The default rbf `gamma` is the
    local scale with the 7th nearest landmark. Unlike scikit-learn's
    `SpectralClustering`, it never builds an n × n matrix and `predict` works
    for new rows. As `mmclust spectral`."""

    _method = "spectral"
