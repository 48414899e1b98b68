"""Tables and DataFrames as inputs, and Parquet paths: the estimators read the
numeric columns (integer, float, decimal) as float32, so a pyarrow Table, a
polars or pandas DataFrame and the Parquet file of the same data all give the
model of the float32 NumPy array of those columns, exactly."""

import numpy as np
import pytest

import mmclust

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _data():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(c, 1.0, size=(100, 3)) for c in (-5.0, 0.0, 5.0)])
    return x.astype(np.float32)


def _table(x):
    return pa.table({
        "a": pa.array(x[:, 0]),
        "label": pa.array([f"r{i}" for i in range(len(x))]),
        "b": pa.array(x[:, 1].astype(np.float64)),
        "flag": pa.array(np.arange(len(x)) % 2 == 0),
        "c": pa.array(x[:, 2]),
    })


def _fit(X, estimator):
    return estimator.fit(X)


ESTIMATORS = [
    lambda: mmclust.KMeans(n_clusters=3, random_state=0, n_init=1),
    lambda: mmclust.GaussianMixture(n_components=3, random_state=0),
]


@pytest.mark.parametrize("make", ESTIMATORS)
def test_table_and_parquet_path_give_the_arrays_model(make, tmp_path):
    x = _data()
    want = make().fit(x)
    table = _table(x)
    path = tmp_path / "x.parquet"
    pq.write_table(table, path, row_group_size=70)
    for X in (table, str(path), path):
        got = make().fit(X)
        attr = "cluster_centers_" if hasattr(want, "cluster_centers_") else "means_"
        assert np.array_equal(getattr(got, attr), getattr(want, attr)), type(X)
        assert np.array_equal(got.predict(X), want.predict(x))
    got = make().fit(table)
    assert list(got.feature_names_in_) == ["a", "b", "c"]


def test_pandas_frame_with_text_columns_uses_its_numeric_columns():
    pd = pytest.importorskip("pandas")
    x = _data()
    frame = _table(x).to_pandas()
    want = mmclust.KMeans(n_clusters=3, random_state=0, n_init=1).fit(x)
    got = mmclust.KMeans(n_clusters=3, random_state=0, n_init=1).fit(frame)
    assert np.array_equal(got.cluster_centers_, want.cluster_centers_)
    assert list(got.feature_names_in_) == ["a", "b", "c"]
    assert isinstance(frame, pd.DataFrame)


def test_polars_frame():
    pl = pytest.importorskip("polars")
    x = _data()
    frame = pl.from_arrow(_table(x))
    want = mmclust.KMeans(n_clusters=3, random_state=0, n_init=1).fit(x)
    got = mmclust.KMeans(n_clusters=3, random_state=0, n_init=1).fit(frame)
    assert np.array_equal(got.cluster_centers_, want.cluster_centers_)


def test_nulls_are_an_error_naming_column_and_row():
    table = pa.table({"a": pa.array([1.0, None, 3.0]), "b": pa.array([1.0, 2.0, 3.0])})
    with pytest.raises(ValueError, match="column 'a' is null at row 1"):
        mmclust.KMeans(n_clusters=1).fit(table)


def test_nulls_in_a_parquet_path_say_what_to_do_in_python(tmp_path):
    """The engine's message names the command line's --drop-null; from Python
    the error says how to drop the rows instead, and names column and row."""
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"a": pa.array([1.0, 2.0, None]), "b": pa.array([1.0, 2.0, 3.0])}), path)
    with pytest.raises(ValueError, match=r"column 'a' is null at row 2.*drop_null\(\)") as e:
        mmclust.KMeans(n_clusters=1).fit(str(path))
    assert "--drop-null" not in str(e.value)
