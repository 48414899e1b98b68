#!/usr/bin/env python3
"""Splits a 2-D .npy file into shards of consecutive rows (Python standard
library only): npy_split.py IN.npy OUT_PREFIX ROWS[,ROWS...] writes
OUT_PREFIX-0.npy, OUT_PREFIX-1.npy, ... with those row counts (the last takes
the rest). Used by scripts/test_mpi.sh for the --shards tests."""
import ast
import struct
import sys


def read_header(f):
    magic = f.read(6)
    assert magic == b"\x93NUMPY", "not a .npy file"
    major, _minor = f.read(2)
    if major == 1:
        (hlen,) = struct.unpack("<H", f.read(2))
    else:
        (hlen,) = struct.unpack("<I", f.read(4))
    return ast.literal_eval(f.read(hlen).decode("latin1"))


def write_npy(path, descr, shape, data):
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as out:
        out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        out.write(data)


def main():
    src, prefix, counts = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")]
    with open(src, "rb") as f:
        h = read_header(f)
        n, d = h["shape"]
        item = int(h["descr"][2:])
        row_bytes = d * item
        start = 0
        for i, c in enumerate(counts + [None]):
            rows = n - start if c is None else c
            write_npy(f"{prefix}-{i}.npy", h["descr"], (rows, d), f.read(rows * row_bytes))
            start += rows


if __name__ == "__main__":
    main()
