"""K-means estimators with scikit-learn's names, defaults and attributes."""

from __future__ import annotations

import numpy as np

from . import _native
from ._base import (
    BaseEstimator,
    as_input,
    feature_names_of,
    n_features_of,
    seed_of,
    weights_of,
)

__all__ = ["KMeans", "MiniBatchKMeans"]


class _KMeansBase(BaseEstimator):
    """What KMeans and MiniBatchKMeans share: prediction from the centres.

    `labels_` is computed on first access (one pass over the training data
    with the final centres, the labels scikit-learn reports): the engine's fit
    keeps no per-row state, so a fit on a file larger than RAM costs only its
    own passes. Until then the estimator holds a reference to the training
    array (or path); change that array in place before reading `labels_` and
    the labels describe the changed array.
    """

    _estimator_type = "clusterer"

    def __init__(self, n_clusters, *, init, n_init, max_iter, tol, verbose, random_state):
        # The parameters both estimators take, stored as given (scikit-learn's
        # convention); each subclass's own signature lists them with its defaults.
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state

    def _init_arg(self, inp):
        init = self.init
        if callable(init):
            if isinstance(inp, str):
                raise TypeError("a callable init needs an in-memory array, not a path")
            init = init(inp, self.n_clusters, np.random.RandomState(seed_of(self.random_state)))
        if isinstance(init, str):
            return init
        init = np.ascontiguousarray(init, dtype=np.float32)
        if init.ndim != 2:
            raise ValueError(f"init must be a 2-D array of centres, got shape {init.shape}")
        return init

    def _n_init(self):
        n_init = self.n_init
        if n_init == "auto":
            return None
        if not isinstance(n_init, (int, np.integer)) or n_init < 1:
            raise ValueError(f"n_init must be 'auto' or an int >= 1, got {n_init!r}")
        return int(n_init)

    def _fit(self, X, sample_weight, algorithm, **extra):
        """One engine fit of X with this estimator's common parameters (and
        `extra` keyword arguments); sets the fitted attributes and returns the
        engine's result."""
        inp = as_input(X)
        n_rows = n_features_of(inp, _native)[0]
        result = _native.kmeans_fit(
            inp,
            int(self.n_clusters),
            init=self._init_arg(inp),
            n_init=self._n_init(),
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            seed=seed_of(self.random_state),
            algorithm=algorithm,
            sample_weight=weights_of(sample_weight, n_rows),
            metric=self._metric(),
            **extra,
        )
        self._set_fitted(X, inp, result)
        return result

    def _metric(self):
        return getattr(self, "metric", "euclidean")

    def _set_fitted(self, X, inp, result):
        self.cluster_centers_ = result["cluster_centers"]
        self.inertia_ = float(result["inertia"])
        self.n_iter_ = int(result["n_iter"])
        self.n_features_in_ = self.cluster_centers_.shape[1]
        names = feature_names_of(X)
        if names is not None:
            self.feature_names_in_ = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        self.__dict__.pop("_labels", None)
        self._fit_input = inp

    @property
    def labels_(self):
        """Label of each training row (computed on first access)."""
        if "_labels" not in self.__dict__:
            if "_fit_input" not in self.__dict__:
                raise AttributeError(f"{type(self).__name__} has no labels_: fit it first")
            self._labels = _native.kmeans_predict(
                self._fit_input, self.cluster_centers_, with_distances=False, metric=self._metric()
            )[0]
            del self._fit_input
        return self._labels

    @labels_.setter
    def labels_(self, value):
        self.__dict__.pop("_fit_input", None)
        self._labels = value

    def __getstate__(self):
        state = self.__dict__.copy()
        if "_fit_input" in state:
            state["_labels"] = self.labels_
            state.pop("_fit_input", None)
        return state

    def predict(self, X, sample_weight="deprecated"):
        """Index of the nearest centre of each row (int32)."""
        self._check_fitted("cluster_centers_")
        return _native.kmeans_predict(
            as_input(X), self.cluster_centers_, with_distances=False, metric=self._metric()
        )[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fits and returns the training labels."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distance of each row to each centre, (n_samples, n_clusters);
        with metric='cosine', the cosine distance 1 - cos."""
        self._check_fitted("cluster_centers_")
        return _native.kmeans_transform(as_input(X), self.cluster_centers_, metric=self._metric())

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fits and returns `transform(X)`."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of X against the centres
        (metric='cosine': of the sum of 1 - cos)."""
        self._check_fitted("cluster_centers_")
        inp = as_input(X)
        w = weights_of(sample_weight, n_features_of(inp, _native)[0])
        return -_native.kmeans_inertia(inp, self.cluster_centers_, w, metric=self._metric())

    def get_feature_names_out(self, input_features=None):
        """Names of the `transform` columns."""
        self._check_fitted("cluster_centers_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.cluster_centers_.shape[0])], dtype=object)


class KMeans(_KMeansBase):
    """K-means clustering (scikit-learn's `sklearn.cluster.KMeans`).

    Parameters keep scikit-learn's names, defaults and meanings. Differences:

    * X may be a path (str or os.PathLike) to a `.npy` file (or a sparse CSR
      `.npz` from `scipy.sparse.save_npz`), which the engine memory-maps: data
      larger than RAM is fine. A C-contiguous float32 array is read in place;
      other dtypes and layouts are converted chunk by chunk. A scipy.sparse
      matrix (as scikit-learn's KMeans accepts) is written once to a temporary
      uncompressed `.npz` (its non-zeros only, removed afterwards) and read as
      the dense matrix chunk by chunk: the same results as on `X.toarray()`.
    * Computation is in float32 with float64 accumulation; `cluster_centers_`
      is float32 whatever the input dtype.
    * `random_state=None` means seed 0 (reproducible); results are bitwise
      the same for a seed whatever the thread count, and equal the command
      line's (`mmclust kmeans --seed`).
    * `init` also accepts 'k-means||' (k-means‖: a few passes instead of k,
      for very large inputs), 'sample' (k-means++ and Lloyd on 256 rows per
      centre drawn at random: no pass over the data) and 'auto' (k-means++ up
      to 1 GiB of data, k-means‖ up to 8 GiB, 'sample' above). `algorithm` accepts 'lloyd', 'elkan' (run as Hamerly's
      bounds: same answer as Lloyd), 'hamerly', 'yinyang' and 'auto'.
    * `copy_x` and `verbose` are accepted and ignored (X is never modified).
    * `metric='cosine'` (not in scikit-learn): spherical K-means. Rows are
      L2-normalised as they are read (a row of zeros is an error), each row
      goes to the centre of largest cosine, each centre is the normalised sum
      of its rows (unit length); `inertia_` and `-score` are the sum of
      1 - cos (half the squared distance of the unit vectors), `transform`
      gives 1 - cos to each centre. As `mmclust kmeans --metric cosine`.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        metric="euclidean",
    ):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.metric = metric

    def fit(self, X, y=None, sample_weight=None):
        """Computes the clustering of X (an array or a `.npy` path)."""
        self._fit(X, sample_weight, self.algorithm)
        return self


class MiniBatchKMeans(_KMeansBase):
    """Mini-batch K-means (scikit-learn's `sklearn.cluster.MiniBatchKMeans`).

    As `KMeans` for inputs, precision and seeds. `max_iter` counts epochs;
    the run stops after `max_no_improvement` steps without improvement of the
    smoothed batch inertia, or when the centres move less than `tol` (relative
    to the data's variance), as scikit-learn's. Extra parameters:

    * `block_rows` (default 256): batches are drawn as runs of this many
      contiguous rows, so a memory-mapped file is read in pages; 0 draws
      single random rows, as scikit-learn does.
    * `refine` (default 0): full Lloyd iterations from the mini-batch centres
      at the end.

    `n_init` is accepted for compatibility, but `fit` makes one run (one
    initialisation on `init_size` rows), as the command line does.

    `fit` equals `mmclust kmeans --algorithm minibatch` for the same
    parameters and seed. `partial_fit` updates the centres with one batch (the
    given rows), scikit-learn's incremental update, for data that arrives in
    pieces.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
        block_rows=256,
        refine=0,
    ):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)
        self.batch_size = batch_size
        self.compute_labels = compute_labels
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.reassignment_ratio = reassignment_ratio
        self.block_rows = block_rows
        self.refine = refine

    def fit(self, X, y=None, sample_weight=None):
        """Computes the clustering of X by mini-batches."""
        result = self._fit(
            X,
            sample_weight,
            "lloyd",
            minibatch=True,
            batch_size=int(self.batch_size),
            block_rows=int(self.block_rows),
            max_no_improvement=None if self.max_no_improvement is None else int(self.max_no_improvement),
            reassignment_ratio=float(self.reassignment_ratio),
            init_size=None if self.init_size is None else int(self.init_size),
            refine=int(self.refine),
        )
        # The engine counts steps; scikit-learn's n_iter_ counts epochs.
        self.n_steps_ = self.n_iter_
        self.n_iter_ = int(np.ceil(result["epochs"] - 1e-9)) if result["epochs"] else 0
        if not self.compute_labels:
            del self._fit_input
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Updates the centres with one mini-batch: the rows of X.

        The first call initialises the centres from X (the `init` method on
        `init_size` rows of X, then one Lloyd step on them, as `fit` does).
        Each call then assigns X to the nearest centres (in the engine),
        moves each centre to the running mean of the points it has been
        given, and re-seeds centres whose accumulated weight falls below
        `reassignment_ratio` times the largest from random rows of X.
        Deterministic for a `random_state`.
        """
        inp = as_input(X)
        if isinstance(inp, str):
            # partial_fit's batches are small by nature: read this one.
            inp = np.load(inp, mmap_mode="r")
        n, d = inp.shape
        X32 = np.ascontiguousarray(inp, dtype=np.float32)
        if not np.isfinite(X32).all():
            raise ValueError("Input contains NaN or infinity; remove or impute them first")
        w = weights_of(sample_weight, n)
        w64 = np.ones(n) if w is None else w.astype(np.float64)
        k = int(self.n_clusters)
        seed = seed_of(self.random_state)
        first = "cluster_centers_" not in self.__dict__
        if not first and d != self.n_features_in_:
            raise ValueError(
                f"X has {d} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        if first:
            init_size = self.init_size if self.init_size is not None else 3 * int(self.batch_size)
            init_size = min(max(init_size, 3 * k), n)
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(n, size=init_size, replace=False))
            sample = X32[rows]
            init = self._init_arg(sample)
            result = _native.kmeans_fit(
                sample,
                k,
                init=init,
                n_init=1,
                max_iter=1,
                tol=0.0,
                seed=seed,
                algorithm="lloyd",
            )
            self.cluster_centers_ = result["cluster_centers"]
            self.n_features_in_ = d
            self._counts = np.zeros(k)
            self._n_since_last_reassign = 0
            self.n_steps_ = 0
        centers = self.cluster_centers_.astype(np.float64)
        labels = _native.kmeans_predict(X32, self.cluster_centers_, with_distances=False)[0]
        weight = np.bincount(labels, weights=w64, minlength=k)
        sums = np.empty((k, d))
        for j in range(d):
            sums[:, j] = np.bincount(labels, weights=w64 * X32[:, j], minlength=k)
        moved = weight > 0
        new = self._counts + weight
        centers[moved] = (centers[moved] * self._counts[moved, None] + sums[moved]) / new[moved, None]
        self._counts = new
        centers = centers.astype(np.float32)
        self._n_since_last_reassign += n
        ratio = float(self.reassignment_ratio)
        if ratio > 0 and ((self._counts == 0).any() or self._n_since_last_reassign >= 10 * k):
            self._reassign(centers, X32, w64, ratio, seed)
            self._n_since_last_reassign = 0
        self.cluster_centers_ = centers
        self.n_steps_ += 1
        if self.compute_labels:
            labels, dist = _native.kmeans_predict(X32, centers)
            self.labels_ = labels
            self.inertia_ = float(np.dot(dist.astype(np.float64), w64))
        return self

    def _reassign(self, centers, X, w, ratio, seed):
        counts = self._counts
        to = np.flatnonzero(counts < ratio * counts.max())
        if to.size == 0:
            return
        limit = max(X.shape[0] // 2, 1)
        if to.size > limit:
            to = np.sort(to[np.argsort(counts[to], kind="stable")[:limit]])
        positive = np.count_nonzero(w > 0)
        rng = np.random.default_rng([seed, self.n_steps_])
        picks = rng.choice(X.shape[0], size=min(to.size, positive), replace=False, p=w / w.sum())
        kept = np.setdiff1d(np.arange(counts.size), to)
        kept_min = counts[kept].min() if kept.size else 0.0
        to = to[: picks.size]
        centers[to] = X[picks]
        counts[to] = kept_min
