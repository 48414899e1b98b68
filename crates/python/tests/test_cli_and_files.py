"""The same answer as the CLI, bit for bit; data larger than RAM from a
path; Ctrl-C."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, make_blobs

from mmclust import GaussianMixture, KMeans, MiniBatchKMeans


def run_cli(cli, *args):
    r = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X = make_blobs(20000, 8, 6, seed=11, spread=2.0)
    np.save(d / "x.npy", X)
    return d, X


@pytest.mark.parametrize(
    "init,algorithm,cli_args",
    [
        ("k-means++", "lloyd", ["--init", "k-means++", "--algorithm", "lloyd"]),
        ("random", "lloyd", ["--init", "random", "--algorithm", "lloyd", "--n-init", "3"]),
        ("k-means||", "yinyang", ["--init", "k-means-parallel", "--algorithm", "yinyang"]),
    ],
)
def test_kmeans_equals_cli_bitwise(cli, data, init, algorithm, cli_args):
    d, X = data
    out = d / f"c-{init}-{algorithm}.npy"
    summary = json.loads(
        run_cli(cli, "--seed", 42, "--json", "kmeans", d / "x.npy", "-k", 6, *cli_args,
                "--centers-out", out).stdout
    )
    n_init = 3 if init == "random" else "auto"
    for X_in in (X, d / "x.npy"):
        km = KMeans(6, init=init, n_init=n_init, algorithm=algorithm, random_state=42).fit(X_in)
        assert km.cluster_centers_.tobytes() == np.load(out).tobytes()
        assert km.inertia_ == summary["inertia"]
        assert km.n_iter_ == summary["n_iter"]


def test_minibatch_equals_cli_bitwise(cli, data):
    d, X = data
    out = d / "mb.npy"
    summary = json.loads(
        run_cli(cli, "--seed", 3, "--json", "kmeans", d / "x.npy", "-k", 6, "--algorithm", "minibatch",
                "--batch-size", 1024, "--max-iter", 20, "--centers-out", out).stdout
    )
    mb = MiniBatchKMeans(6, batch_size=1024, max_iter=20, random_state=3).fit(X)
    assert mb.cluster_centers_.tobytes() == np.load(out).tobytes()
    assert mb.inertia_ == summary["inertia"]


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gmm_equals_cli_bitwise(cli, data, covariance_type):
    d, X = data
    out = d / f"gmm-{covariance_type}.json"
    run_cli(cli, "--seed", 5, "gmm", d / "x.npy", "-k", 6, "--covariance", covariance_type,
            "--model-out", out)
    model = json.loads(out.read_text())
    g = GaussianMixture(6, covariance_type=covariance_type, random_state=5).fit(X)
    assert g.weights_.tolist() == model["weights"]
    assert g.means_.tolist() == model["means"]
    assert g.covariances_.tolist() == model["covariances"]
    assert g.lower_bound_ == model["lower_bound"]
    assert g.n_iter_ == model["n_iter"]


def memlimit():
    tool = os.environ.get("MEMLIMIT") or str(REPO.parent / "shared" / "tools" / "memlimit")
    return tool if os.path.exists(tool) else None


def test_fit_from_a_npy_file_larger_than_the_memory_limit(tmp_path):
    tool = memlimit()
    if tool is None:
        pytest.skip("no memlimit tool (../shared/tools/memlimit)")
    probe = subprocess.run([tool, "64M", "true"], capture_output=True)
    if probe.returncode == 3:
        pytest.skip("memlimit: no writable memory cgroup here")
    # 1.5 GiB of float32 (12.6 M rows of 32), written block by block.
    n, d, block = 12_582_912, 32, 1 << 20
    path = tmp_path / "big.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    tile = make_blobs(block, d, 8, seed=0)
    for start in range(0, n, block):
        out[start : start + block] = tile[: n - start]
    out.flush()
    del out
    assert path.stat().st_size > 1.5 * 2**30
    script = (
        "import sys, mmclust\n"
        "km = mmclust.KMeans(8, init='random', n_init=1, max_iter=2, random_state=0).fit(sys.argv[1])\n"
        "assert km.cluster_centers_.shape == (8, 32) and km.inertia_ > 0\n"
        "print('ok', km.n_iter_)\n"
    )
    try:
        r = subprocess.run([tool, "1G", sys.executable, "-c", script, str(path)],
                           capture_output=True, text=True, timeout=300)
    finally:
        path.unlink()  # pytest keeps the last runs' folders: do not keep 1.5 GiB each
    if r.returncode == 3:
        pytest.skip("memlimit: no writable memory cgroup here")
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.startswith("ok 2")


def test_ctrl_c_interrupts_a_fit(tmp_path):
    # A fit that takes minutes: many clusters, no tolerance, many iterations.
    # The child installs Python's own SIGINT handler: a shell that starts the
    # tests as a background job (`.ci/run &`) leaves SIGINT ignored, which
    # Python then keeps, and the signal would never reach it.
    script = (
        "import numpy as np, signal, sys, mmclust\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "X = np.random.default_rng(0).normal(size=(200_000, 16)).astype(np.float32)\n"
        "print('start', flush=True)\n"
        "try:\n"
        "    mmclust.KMeans(500, init='random', n_init=1, max_iter=100000, tol=0).fit(X)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(7)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.0)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    assert rc == 7, rc
    assert p.stdout.read().strip() == "interrupted"
    assert time.monotonic() - t < 10


def test_arrays_are_never_copied_whole():
    # Peak RSS of a fit on a 256 MiB array stays far below two copies of it,
    # for float32 (read in place) and float64 (converted chunk by chunk).
    script = (
        "import resource, sys, numpy as np, mmclust\n"
        "dtype = np.dtype(sys.argv[1])\n"
        "X = np.ones((2**26 // dtype.itemsize * 4 // 8, 8), dtype=dtype)\n"
        "X[::7] = 2\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "mmclust.KMeans(4, init='random', n_init=1, max_iter=2).fit(X).labels_\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) / 1024, X.nbytes / 2**20, len(X) * 4 / 2**20)\n"
    )
    for dtype in ["float32", "float64"]:
        r = subprocess.run([sys.executable, "-c", script, dtype], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        grew_mib, size_mib, per_row_mib = map(float, r.stdout.split())
        assert size_mib == 256
        # The labels (4 bytes per row) are the only O(n) state; a float32 copy
        # of the data would be 256 (128 from float64) MiB.
        assert grew_mib < per_row_mib + 32, (dtype, grew_mib, per_row_mib)


# A child interpreter that gives its main thread an alternate signal stack too
# small for the AMX tile state (as some embedders and faulthandler-like tools
# do), then fits: Linux refuses the tile-data permission with ENOSPC, and the
# engine must fall back to the next path and give the same model.
_SMALL_ALTSTACK_FIT = r"""
import ctypes, json, sys
import numpy as np
if sys.argv[1] == "small":
    class StackT(ctypes.Structure):
        _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                    ("ss_size", ctypes.c_size_t)]
    buf = ctypes.create_string_buffer(4096)
    st = StackT(ctypes.cast(buf, ctypes.c_void_p), 0, 4096)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.sigaltstack(ctypes.byref(st), None) == 0, ctypes.get_errno()
import mmclust
info = mmclust.kernel_path()
rng = np.random.default_rng(3)
X = (rng.standard_normal((4000, 96)) + rng.integers(0, 8, (4000, 1))).astype(np.float32)
km = mmclust.KMeans(80, init="random", n_init=1, random_state=5, max_iter=5).fit(X)
print(json.dumps({**info, "centres": km.cluster_centers_.tobytes().hex(),
                  "labels": km.labels_.tolist()}))
"""


def _cpu_has_amx():
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_tile" in flags and " amx_bf16" in flags


def _fit_in_child(mode, env=None):
    r = subprocess.run([sys.executable, "-c", _SMALL_ALTSTACK_FIT, mode],
                       capture_output=True, text=True, env={**os.environ, **(env or {})})
    return r


@pytest.mark.skipif(not _cpu_has_amx(), reason="this CPU has no AMX")
def test_amx_refused_by_a_small_signal_stack_falls_back_to_the_same_model():
    env = {"MMCLUST_ISA": ""}
    normal = _fit_in_child("normal", env)
    assert normal.returncode == 0, normal.stderr
    small = _fit_in_child("small", env)
    assert small.returncode == 0, small.stderr
    a, b = json.loads(normal.stdout), json.loads(small.stdout)
    assert a["isa"] == "amx" and a["amx_refusal"] is None, a["isa"]
    assert b["isa"] != "amx", b["isa"]
    assert "refused" in b["amx_refusal"], b["amx_refusal"]
    # The bf16 pre-screen ran in one process and not in the other (d = 96,
    # k = 80): the same model bit for bit all the same.
    assert a["centres"] == b["centres"]
    assert a["labels"] == b["labels"]
    # Asking for the refused path is a clear error, not a crash.
    forced = _fit_in_child("small", {"MMCLUST_ISA": "amx"})
    assert forced.returncode != 0
    assert "ValueError" in forced.stderr and "amx" in forced.stderr, forced.stderr
