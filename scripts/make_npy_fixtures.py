"""Writes the .npy / .fvecs / .bvecs fixtures of crates/core/tests/formats.rs.

numpy is the trusted peer: every well-formed fixture is written by numpy itself
(numpy.save or numpy.lib.format.write_array), and the hand-crafted ones (old
16-byte alignment, odd data offset, odd header spellings) are checked to load
with np.load, so the Rust reader is tested against what numpy really reads.
Values are simple and deterministic (np.arange(12).reshape(4, 3) in each
dtype) so that the tests can compute what to expect.

Usage:
    python make_npy_fixtures.py OUT_DIR            write the fixtures
    python make_npy_fixtures.py --check-written DIR
        np.load the files the Rust test `writer_output_is_loadable_by_numpy`
        wrote to DIR (MMCLUST_NPY_OUT) and check their values.
"""

import os
import struct
import sys

import numpy as np
from numpy.lib import format as npf

MAGIC = b"\x93NUMPY"


def base(dtype):
    return np.arange(12).reshape(4, 3).astype(dtype)


def save(out, name, array, version=None):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        if version is None:
            np.save(f, array)
        else:
            npf.write_array(f, array, version=version)
    return path


def raw(out, name, data):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def v1_header(dict_text, total_len):
    """A version 1.0 header whose data starts at `total_len`."""
    header_len = total_len - 10
    body = dict_text.encode("latin1")
    assert len(body) + 1 <= header_len, (dict_text, total_len)
    body = body + b" " * (header_len - len(body) - 1) + b"\n"
    return MAGIC + bytes([1, 0]) + struct.pack("<H", header_len) + body


def crafted(out, name, dict_text, total_len, payload):
    path = raw(out, name, v1_header(dict_text, total_len) + payload)
    return path


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    f4 = base("<f4")

    # Happy paths written by numpy.
    save(out, "f4.npy", f4)
    save(out, "f8.npy", base("<f8"))
    save(out, "u1.npy", base("|u1"))
    save(out, "i4.npy", base("<i4"))
    save(out, "f2.npy", base("<f2"))
    save(out, "i1.npy", base("|i1"))
    save(out, "f4_v2.npy", f4, version=(2, 0))
    save(out, "f4_v3.npy", f4, version=(3, 0))
    # 1-D vectors for the label / weight readers.
    save(out, "vec_i4.npy", np.array([3, -1, 0, 7, 2], dtype="<i4"))
    save(out, "vec_i8.npy", np.array([3, -1, 0, 7, 2], dtype="<i8"))
    save(out, "vec_i8_big.npy", np.array([1, 2**40], dtype="<i8"))
    save(out, "vec_f4.npy", np.array([0.5, 1.5, -2.0], dtype="<f4"))
    save(out, "vec_f8.npy", np.array([0.5, 1.5, -2.0], dtype="<f8"))
    save(out, "vec_f2.npy", np.array([0.5, 1.5, -2.0], dtype="<f2"))
    save(out, "vec_i1.npy", np.array([3, -1, 0, 7, 2], dtype="|i1"))

    # float16 and int8, with numpy's own conversion to float32 beside them:
    # the reader must give the same bits. Half bit patterns: every exponent
    # with the edge mantissas, both signs (zeros, subnormals, the largest
    # finite, infinities, quiet and signalling NaNs with payloads), then
    # patterns drawn with a fixed seed, 960 in all (each file under 4 KiB).
    edges = [0x000, 0x001, 0x002, 0x155, 0x1FF, 0x200, 0x3FE, 0x3FF]
    picked = [s << 15 | e << 10 | m for s in (0, 1) for e in range(32) for m in edges]
    rest = sorted(set(range(65536)) - set(picked))
    rng = np.random.default_rng(20)
    picked += list(rng.choice(rest, 960 - len(picked), replace=False))
    halves = np.array(picked, dtype="<u2").view("<f2").reshape(480, 2)
    save(out, "f2_bits.npy", halves)
    save(out, "f2_bits_as_f4.npy", halves.astype("<f4"))
    int8s = np.arange(-128, 128, dtype="|i1").reshape(128, 2)
    save(out, "i1_all.npy", int8s)
    save(out, "i1_all_as_f4.npy", int8s.astype("<f4"))
    # Three blobs in 8 columns, rounded to float16 (values a K-means fit can
    # tell apart), and the same values as float32: a fit gives one model.
    centres = rng.normal(0, 6, size=(3, 8))
    blobs = (centres[rng.integers(0, 3, 120)] + rng.normal(0, 1, size=(120, 8))).astype("<f2")
    save(out, "blobs_f2.npy", blobs)
    save(out, "blobs_f2_as_f4.npy", blobs.astype("<f4"))

    # Valid .npy files that are not matrices mmclust reads.
    save(out, "three_d.npy", np.arange(24, dtype="<f4").reshape(2, 3, 4))
    save(out, "scalar.npy", np.array(1.0, dtype="<f4"))
    save(out, "fortran.npy", np.asfortranarray(f4))
    save(out, "big_endian.npy", base(">f4"))
    save(out, "c8.npy", base("<c8"))
    save(out, "zero_rows.npy", np.zeros((0, 3), dtype="<f4"))
    save(out, "zero_cols.npy", np.zeros((3, 0), dtype="<f4"))

    payload = f4.tobytes()
    # Old numpy aligned the data to 16 bytes, not 64: total header 80 bytes.
    crafted(out, "align16.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 80, payload)
    # Data at an odd offset: a reader must copy, not cast.
    crafted(out, "misaligned.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 83, payload)
    # Keys in another order, double quotes, odd spacing, no trailing comma.
    crafted(out, "odd_header.npy",
            '{"shape":( 4 ,3 ),  "fortran_order" :False,"descr":"<f4"}', 128, payload)

    # Broken files.
    good = open(os.path.join(out, "f4.npy"), "rb").read()
    raw(out, "truncated.npy", good[:-5])
    raw(out, "trailing.npy", good + b"\0\0\0")
    raw(out, "truncated_header.npy", good[:30])
    raw(out, "bad_magic.npy", b"this is not a numpy file at all\n")
    raw(out, "bad_version.npy", MAGIC + bytes([4, 0]) + good[8:])
    raw(out, "header_too_large.npy",
        MAGIC + bytes([2, 0]) + struct.pack("<I", 100_000) + b"{'descr': '<f4'" + b" " * 64)
    crafted(out, "malformed_header.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3", 128, payload)
    crafted(out, "overflow_shape.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }",
            128, payload)

    # vecs: 4 rows of dimension 3, values arange(12).
    rows = np.arange(12).reshape(4, 3)
    fvecs = b"".join(struct.pack("<i", 3) + r.astype("<f4").tobytes() for r in rows)
    bvecs = b"".join(struct.pack("<i", 3) + r.astype("|u1").tobytes() for r in rows)
    raw(out, "tiny.fvecs", fvecs)
    raw(out, "tiny.bvecs", bvecs)
    # Row 2 declares dimension 5 but is stored with 3 values (the length still
    # is a multiple of the row size, so only the pass finds it).
    bad = bytearray(fvecs)
    struct.pack_into("<i", bad, 2 * 16, 5)
    raw(out, "mismatch.fvecs", bytes(bad))
    raw(out, "bad_dim.fvecs", struct.pack("<i", 1_000_000) + b"\0" * 12)
    raw(out, "ragged_len.fvecs", fvecs[:-2])

    check_fixtures(out)


def check_fixtures(out):
    """Every fixture meant to be readable loads in numpy with the expected values."""
    expect = np.arange(12).reshape(4, 3)
    for name in ["f4.npy", "f8.npy", "u1.npy", "i4.npy", "f2.npy", "i1.npy",
                 "f4_v2.npy", "f4_v3.npy",
                 "align16.npy", "misaligned.npy", "odd_header.npy", "fortran.npy",
                 "big_endian.npy"]:
        a = np.load(os.path.join(out, name))
        assert a.shape == (4, 3) and (a == expect).all(), name
    assert npf.read_magic(open(os.path.join(out, "f4_v2.npy"), "rb")) == (2, 0)
    assert npf.read_magic(open(os.path.join(out, "f4_v3.npy"), "rb")) == (3, 0)
    for name in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, name))
        assert size < 4096, (name, size)


def check_written(folder):
    """Loads what the Rust writer produced (see tests/formats.rs)."""
    a = np.load(os.path.join(folder, "written_f32.npy"))
    assert a.dtype == np.float32 and a.shape == (5, 3), (a.dtype, a.shape)
    assert (a == np.arange(15, dtype=np.float32).reshape(5, 3) * 0.5).all()
    v = np.load(os.path.join(folder, "written_i32.npy"))
    assert v.dtype == np.int32 and v.shape == (7,), (v.dtype, v.shape)
    assert (v == np.arange(7) - 3).all()
    b = np.load(os.path.join(folder, "written_u8.npy"))
    assert b.dtype == np.uint8 and b.shape == (2, 2)
    d = np.load(os.path.join(folder, "written_f64.npy"))
    assert d.dtype == np.float64 and d.shape == (0, 4)
    print("numpy", np.__version__, "loads the Rust-written files:", sorted(os.listdir(folder)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
    elif len(sys.argv) == 2:
        write_fixtures(sys.argv[1])
        print("numpy", np.__version__, "wrote", len(os.listdir(sys.argv[1])), "fixtures to", sys.argv[1])
    else:
        sys.exit(__doc__)
