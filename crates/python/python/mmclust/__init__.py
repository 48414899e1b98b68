"""mmclust: K-means and Gaussian mixtures for data larger than RAM, with
scikit-learn's API.

    from mmclust import KMeans
    km = KMeans(100, random_state=0).fit("huge.npy")   # memory-mapped by the engine
    km = KMeans(8).fit(X)                               # or any NumPy array

Estimators: `KMeans`, `MiniBatchKMeans`, `GaussianMixture`. Scores:
`silhouette_score`, `silhouette_samples`, `calinski_harabasz_score`,
`davies_bouldin_score`, and the `elbow` sweep. The engine releases the GIL
while it works and uses all cores (RAYON_NUM_THREADS limits them); Ctrl-C
interrupts a fit.
"""

from . import _native, metrics
from .cluster import KMeans, MiniBatchKMeans
from .metrics import (
    Elbow,
    calinski_harabasz_score,
    davies_bouldin_score,
    elbow,
    silhouette_samples,
    silhouette_score,
)
from .mixture import GaussianMixture

__version__ = _native.__version__

__all__ = ["KMeans", "MiniBatchKMeans", "GaussianMixture", *metrics.__all__]
