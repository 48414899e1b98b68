"""mmclust: K-means and Gaussian mixtures for data larger than RAM, with
scikit-learn's API.

    from mmclust import KMeans
    km = KMeans(100, random_state=0).fit("huge.npy")   # memory-mapped by the engine
    km = KMeans(8).fit(X)                               # or any NumPy array

Estimators: `KMeans`, `MiniBatchKMeans`, `KernelKMeans`, `SpectralClustering`,
`GaussianMixture`, `BayesianGaussianMixture`. Scores:
`silhouette_score`, `silhouette_samples`, `calinski_harabasz_score`,
`davies_bouldin_score`, and the `elbow` sweep. The engine releases the GIL
while it works and uses all cores (RAYON_NUM_THREADS limits them); Ctrl-C
interrupts a fit.
"""

from . import _native, metrics
from .cluster import KMeans, MiniBatchKMeans
from .kernel import KernelKMeans, SpectralClustering
from .metrics import (
    Elbow,
    calinski_harabasz_score,
    davies_bouldin_score,
    elbow,
    silhouette_samples,
    silhouette_score,
)
from .mixture import BayesianGaussianMixture, GaussianMixture

__version__ = _native.__version__


def kernel_path() -> dict:
    """The instruction-set path the engine's kernels run in this process.

    Returns ``{"isa": name, "amx_refusal": reason or None}``: ``name`` is what
    ``MMCLUST_ISA`` asks for, or the most capable path of this CPU
    (``"amx"``, ``"avx512bf16"``, ``"avx512"``, ``"avx2"``, ``"scalar"``);
    ``amx_refusal`` says why the ``amx`` path is not available on a CPU that
    has AMX (the operating system refused the tile data: in a process with a
    small alternate signal stack, Linux answers ENOSPC). Every path gives
    the same K-means model bit for bit. Raises ``ValueError`` when
    ``MMCLUST_ISA`` names a path this CPU lacks.
    """
    isa, refusal = _native.kernel_path()
    return {"isa": isa, "amx_refusal": refusal}


__all__ = [
    "KMeans",
    "MiniBatchKMeans",
    "KernelKMeans",
    "SpectralClustering",
    "GaussianMixture",
    "BayesianGaussianMixture",
    "kernel_path",
    *metrics.__all__,
]
