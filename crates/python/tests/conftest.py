"""Shared data and tools of the Python package's tests."""

import os
import pathlib
import shutil

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def faithful():
    """Old Faithful (272 × 2, float32): the data bundled with the CLI."""
    return np.loadtxt(REPO / "data" / "faithful.csv", delimiter=",", skiprows=1, dtype=np.float32)


def make_blobs(n, d, k, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(k, d))
    labels = rng.integers(0, k, size=n)
    X = centers[labels] + spread * rng.normal(size=(n, d))
    return X.astype(np.float32)


@pytest.fixture(scope="session")
def blobs():
    """2,000 × 5 float32 points around 4 centres."""
    return make_blobs(2000, 5, 4, seed=1)


@pytest.fixture(scope="session")
def cli():
    """The `mmclust` binary (scripts/test_python.sh builds it and sets MMCLUST_CLI)."""
    path = os.environ.get("MMCLUST_CLI") or shutil.which("mmclust")
    if not path:
        candidate = REPO / "target" / "ci" / "mmclust"
        path = str(candidate) if candidate.exists() else None
    if not path:
        pytest.fail("the mmclust CLI is needed: run scripts/test_python.sh (sets MMCLUST_CLI)")
    return path
