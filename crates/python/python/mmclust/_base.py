"""Estimator conventions and input handling shared by the estimators.

`BaseEstimator` follows scikit-learn's conventions (constructor arguments
stored verbatim, `get_params`/`set_params`, `__sklearn_tags__`) without
depending on scikit-learn, so `sklearn.base.clone`, `Pipeline` and
`GridSearchCV` work when scikit-learn is installed.
"""

from __future__ import annotations

import inspect
import numbers
import os

import numpy as np

__all__ = ["BaseEstimator", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before `fit` (as scikit-learn's)."""


class BaseEstimator:
    """get_params/set_params/repr/tags in scikit-learn's manner."""

    _estimator_type = None

    @classmethod
    def _get_param_names(cls):
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        return sorted(
            p.name
            for p in params
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep=True):
        """The constructor parameters (and nested estimators' with `deep`)."""
        out = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                for k, v in value.get_params().items():
                    out[f"{key}__{k}"] = v
            out[key] = value
        return out

    def set_params(self, **params):
        """Sets constructor parameters (`name__sub` for nested estimators)."""
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested = {}
        for key, value in params.items():
            key, delim, sub = key.partition("__")
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {self!r}. "
                    f"Valid parameters are: {sorted(self._get_param_names())!r}."
                )
            if delim:
                nested.setdefault(key, {})[sub] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub in nested.items():
            valid[key].set_params(**sub)
        return self

    def __repr__(self):
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not p.empty
        }
        shown = []
        for key in self._get_param_names():
            value = getattr(self, key, None)
            default = defaults.get(key, inspect.Parameter.empty)
            same = False
            try:
                same = value is default or (
                    not isinstance(value, np.ndarray) and bool(value == default)
                )
            except (TypeError, ValueError):
                same = False
            if not same:
                shown.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self):
        # Only called by scikit-learn, so importing it here adds no dependency.
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags() if hasattr(self, "transform") else None,
            regressor_tags=None,
            classifier_tags=None,
        )

    def _check_fitted(self, attribute):
        if attribute not in self.__dict__:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )


def seed_of(random_state):
    """The engine's seed for scikit-learn's `random_state`.

    None gives seed 0: results are reproducible by default (scikit-learn draws
    a fresh seed each time). An int is used as it is; a NumPy RandomState or
    Generator gives a seed drawn from it.
    """
    if random_state is None:
        return 0
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise ValueError(
        f"random_state must be None, an int, a RandomState or a Generator; got {random_state!r}"
    )


def _module(X):
    return type(X).__module__.split(".")[0]


def _frame_columns(X, values=True):
    """The numeric columns of a pyarrow Table, a polars DataFrame or a pandas
    DataFrame with non-numeric columns: a list of (name, 1-D NumPy array), or
    None for anything else (a numeric pandas frame goes through np.asarray).
    Integer, float and decimal columns are numeric, as in the engine's
    Parquet reader; booleans, strings and timestamps are left out. A null is
    an error naming the column and the row. None of pyarrow, polars, pandas
    is imported unless X is one of theirs. values=False: names only (None
    for the arrays), no conversion and no null check."""
    module = _module(X)
    if module == "pyarrow" and hasattr(X, "schema") and hasattr(X, "column_names"):
        import pyarrow as pa
        import pyarrow.compute as pc

        out = []
        for field, column in zip(X.schema, X.columns):
            t = field.type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
                continue
            if not values:
                out.append((field.name, None))
                continue
            if column.null_count:
                row = pc.index(pc.is_null(column), True).as_py()
                raise ValueError(f"column {field.name!r} is null at row {row}; fill or drop the rows with nulls first")
            if pa.types.is_decimal(t):
                column = pc.cast(column, pa.float64())
            out.append((field.name, column.to_numpy()))
        return out
    if module == "polars" and hasattr(X, "schema") and hasattr(X, "get_column"):
        out = []
        for name, dtype in X.schema.items():
            if not dtype.is_numeric():
                continue
            if not values:
                out.append((name, None))
                continue
            column = X.get_column(name)
            if column.null_count():
                row = int(column.is_null().arg_max())
                raise ValueError(f"column {name!r} is null at row {row}; fill or drop the rows with nulls first")
            if dtype.is_decimal():
                column = column.cast(float)
            out.append((name, column.to_numpy()))
        return out
    if module == "pandas" and hasattr(X, "select_dtypes"):
        numeric = X.select_dtypes("number")
        if numeric.shape[1] == X.shape[1]:
            return None
        return [(name, numeric[name].to_numpy() if values else None) for name in numeric.columns]
    return None


def _frame_matrix(columns):
    """The columns as one C-order 2-D array: float32 (each column converted as
    `astype(np.float32)`), the engine's type."""
    if not columns:
        raise ValueError("no numeric (integer, float or decimal) column to cluster")
    n = len(columns[0][1])
    X = np.empty((n, len(columns)), dtype=np.float32)
    for j, (_, values) in enumerate(columns):
        X[:, j] = np.asarray(values).astype(np.float32)
    return X


def as_input(X):
    """What the engine reads: a `str` path (`.npy`, `.parquet`, `.arrow`, …,
    opened by the engine's own readers), or a 2-D NumPy array of a real
    dtype in native byte order (read in place when C-contiguous float32,
    converted chunk by chunk otherwise). A scipy.sparse matrix becomes the
    path of a temporary uncompressed CSR `.npz` (see `_sparse_as_npz`).
    Array-likes (lists, numeric pandas DataFrames) go through `np.asarray`; a
    pyarrow Table, a polars DataFrame and a pandas DataFrame with non-numeric
    columns give their numeric columns as float32; only unusual dtypes are
    copied here."""
    if isinstance(X, (str, os.PathLike)):
        return os.fspath(X)
    if hasattr(X, "tocsr"):
        return _sparse_as_npz(X)
    if hasattr(X, "toarray"):
        raise TypeError("this sparse format is not supported; pass a scipy.sparse matrix or X.toarray()")
    columns = _frame_columns(X)
    if columns is not None:
        return _frame_matrix(columns)
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got {X.ndim}D array instead: reshape your data with "
            "X.reshape(-1, 1) if it has a single feature or X.reshape(1, -1) if it holds "
            "a single sample"
        )
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError("complex data is not supported")
    if kind == "O":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"could not convert the data to numbers: {e}") from None
    elif kind not in "fiub":
        raise TypeError(f"data of dtype {X.dtype} is not supported; give numbers")
    elif kind == "f" and X.dtype.itemsize not in (4, 8):
        X = X.astype(np.float32)  # float16, longdouble: copied once
    elif not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    return X


class _TemporaryPath(str):
    """A path whose file lives as long as this object: `_owner` (a
    `tempfile.TemporaryDirectory`) removes it when the last reference goes."""


def _sparse_as_npz(X):
    """A scipy.sparse matrix or array as the path of a temporary uncompressed
    CSR `.npz`, which the engine memory-maps and reads as the dense matrix
    chunk by chunk (the same results as on `X.toarray()`, without the dense
    copy). scipy is imported only here, so it stays an optional dependency: a
    scipy object in hand means scipy is installed."""
    import tempfile

    import scipy.sparse as sp

    X = X.tocsr()
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D sparse matrix, got {X.ndim}D instead")
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError("complex data is not supported")
    if kind == "b" or (kind == "f" and X.dtype.itemsize not in (2, 4, 8)):
        X = X.astype(np.float32)
    owner = tempfile.TemporaryDirectory(prefix="mmclust-sparse-")
    path = _TemporaryPath(os.path.join(owner.name, "X.npz"))
    path._owner = owner
    sp.save_npz(path, X, compressed=False)
    return path


def n_features_of(inp, native):
    """(n_samples, n_features) of an input returned by `as_input`."""
    if isinstance(inp, str):
        return native.shape_of(inp)
    return inp.shape


def feature_names_of(X):
    """`feature_names_in_` of a DataFrame or Table with string column names
    (its numeric columns, as `as_input` reads them), else None."""
    frame = _frame_columns(X, values=False) if _module(X) in ("pyarrow", "polars", "pandas") else None
    if frame is not None:
        names = np.asarray([name for name, _ in frame], dtype=object)
        return names if all(isinstance(c, str) for c in names) else None
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(columns, dtype=object)
    if len(names) and all(isinstance(c, str) for c in names):
        return names
    return None


def weights_of(sample_weight, n_rows):
    """sample_weight as a contiguous float32 vector (the engine checks its
    length and values), or None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_rows, sample_weight, dtype=np.float32)
    w = np.ascontiguousarray(sample_weight, dtype=np.float32)
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {w.shape}")
    return w
