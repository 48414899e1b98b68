"""KernelKMeans and SpectralClustering: accuracy on rings and moons, the CLI's
labels bit for bit, predict through the stored map, pickling, errors."""

import os
import pickle
import subprocess

import numpy as np
import pytest

from mmclust import KernelKMeans, SpectralClustering

sklearn = pytest.importorskip("sklearn")
from sklearn.metrics import adjusted_rand_score  # noqa: E402


def rings(n, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(label == 0, 1.0, 3.0)
    x = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + rng.normal(0, 0.1, (n, 2))
    return x.astype(np.float32), label


def test_spectral_separates_rings_and_predicts_new_rows():
    x, truth = rings(8000)
    sc = SpectralClustering(2, random_state=0).fit(x)
    assert adjusted_rand_score(truth, sc.labels_) >= 0.99
    assert sc.gamma_ > 0
    np.testing.assert_array_equal(sc.predict(x), sc.labels_)
    x2, truth2 = rings(2000, seed=1)
    assert adjusted_rand_score(truth2, sc.predict(x2)) >= 0.99
    back = pickle.loads(pickle.dumps(sc))
    np.testing.assert_array_equal(back.predict(x2), sc.predict(x2))


@pytest.mark.parametrize("n", [3000, 40000])
def test_kernel_kmeans_matches_the_cli(tmp_path, n):
    # 40,000 rows: above 32,768, both run their 10 default starts on a sample.
    cli = os.environ.get("MMCLUST_CLI")
    if not cli:
        pytest.skip("MMCLUST_CLI not set (scripts/test_python.sh sets it)")
    x, _ = rings(n, seed=2)
    path = tmp_path / "x.npy"
    np.save(path, x)
    labels = tmp_path / "labels.npy"
    subprocess.run([cli, "kmeans", str(path), "-k", "2", "--kernel", "rbf", "--landmarks", "80",
                    "--seed", "5", "--labels-out", str(labels), "-q"], check=True)
    kk = KernelKMeans(2, n_components=80, random_state=5).fit(str(path))
    assert kk.get_params()["n_init"] == "auto"
    np.testing.assert_array_equal(kk.labels_, np.load(labels))
    np.testing.assert_array_equal(kk.predict(x), kk.labels_)


def test_bad_parameters_are_value_errors():
    x, _ = rings(200)
    with pytest.raises(ValueError, match="gamma"):
        KernelKMeans(2, gamma=-1.0, n_components=20).fit(x)
    with pytest.raises(ValueError, match="landmarks"):
        SpectralClustering(2, n_components=500).fit(x)
    with pytest.raises(ValueError, match="degree"):
        KernelKMeans(2, kernel="polynomial", degree=0, n_components=20).fit(x)
    with pytest.raises(ValueError, match="kernel"):
        KernelKMeans(2, kernel="laplacian", n_components=20).fit(x)
