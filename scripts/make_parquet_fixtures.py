"""Writes the Parquet / Arrow IPC fixtures of crates/core/tests/columnar.rs and
crates/cli/tests/parquet_cli.rs.

pyarrow is the trusted peer: every file is written by pyarrow itself, and the
.npy beside it holds the float32 matrix numpy computes from the same columns
(`astype(np.float32)`), so the Rust reader is tested against what the Arrow
writers produce and what numpy would feed the engine.

Usage:
    python make_parquet_fixtures.py OUT_DIR
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
from decimal import Decimal


def blobs():
    """600 x 5 float32 rows around 3 centres (seeded)."""
    rng = np.random.default_rng(20261204)
    centres = rng.normal(0.0, 6.0, size=(3, 5))
    labels = rng.integers(0, 3, size=600)
    x = centres[labels] + rng.normal(0.0, 1.0, size=(600, 5))
    return x.astype(np.float32)


def table(x, order=None):
    names = [f"x{j}" for j in range(x.shape[1])]
    order = order or list(range(x.shape[1]))
    return pa.table({names[j]: pa.array(x[:, j]) for j in order})


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    x = blobs()
    np.save(p("blobs.npy"), x)
    t = table(x)
    # Row groups of several sizes (none divides 600 evenly but 100), codecs.
    pq.write_table(t, p("blobs_rg64_none.parquet"), row_group_size=64, compression="none")
    pq.write_table(t, p("blobs_rg100_snappy.parquet"), row_group_size=100, compression="snappy")
    pq.write_table(t, p("blobs_rg1000_zstd.parquet"), row_group_size=1000, compression="zstd")
    pq.write_table(t, p("blobs_rg37_lz4_v1pages.parquet"), row_group_size=37,
                   compression="lz4", data_page_version="1.0", data_page_size=256)
    # One row group of many small pages (dictionary first, v1 and v2 data
    # pages), without and with an offset index: the reader builds the page
    # locations from the page headers of the first two, and they must be the
    # ones pyarrow wrote into the third.
    pq.write_table(t, p("blobs_pages_v1.parquet"), row_group_size=1000,
                   data_page_version="1.0", data_page_size=200, write_batch_size=16)
    pq.write_table(t, p("blobs_pages_v2.parquet"), row_group_size=1000,
                   data_page_version="2.0", data_page_size=200, write_batch_size=16,
                   compression="zstd")
    pq.write_table(t, p("blobs_pages_v1_indexed.parquet"), row_group_size=1000,
                   data_page_version="1.0", data_page_size=200, write_batch_size=16,
                   write_page_index=True)
    # Columns stored in another order: --columns x0,x1,x2,x3,x4 reads the matrix.
    pq.write_table(table(x, [3, 0, 4, 1, 2]), p("blobs_shuffled.parquet"), row_group_size=128)
    # Feather v2 (LZ4 by default) and uncompressed Arrow IPC, batches of 128 / 50.
    feather.write_feather(t, p("blobs.feather"), chunksize=128)
    feather.write_feather(t, p("blobs_uncompressed.arrow"), compression="uncompressed", chunksize=50)
    # Shards: 200 + 250 + 150 rows, row groups of 90, 64 and 37 rows.
    os.makedirs(p("shards"), exist_ok=True)
    for i, ((a, b), rg) in enumerate(zip([(0, 200), (200, 450), (450, 600)], [90, 64, 37])):
        pq.write_table(table(x[a:b]), p(f"shards/part-{i}.parquet"), row_group_size=rg)

    # Nulls in several row groups and columns (--drop-null): the blobs with
    # nulls at seeded rows of x1 and x3, a whole row group (rows 128..192)
    # null in x2, and nulls in a string column that is never chosen. The .npy
    # beside them holds the rows without a null in x0..x4, as numpy selects
    # them; _dropped.npy the file rows left out (int32).
    rng = np.random.default_rng(20261205)
    null_rows = {1: rng.choice(600, 40, replace=False), 3: rng.choice(600, 25, replace=False),
                 2: np.arange(128, 192)}
    valid = np.ones((600, 5), dtype=bool)
    for j, rows in null_rows.items():
        valid[rows, j] = False
    cols = {f"x{j}": pa.array(x[:, j], mask=~valid[:, j]) for j in range(5)}
    cols["tag"] = pa.array([None if k % 3 == 0 else f"t{k}" for k in range(600)])
    nt = pa.table(cols)
    kept = valid.all(axis=1)
    pq.write_table(nt, p("nulls_multi.parquet"), row_group_size=64)
    feather.write_feather(nt, p("nulls_multi.feather"), chunksize=100)
    np.save(p("nulls_multi_kept.npy"), np.ascontiguousarray(x[kept]))
    np.save(p("nulls_multi_dropped.npy"), np.flatnonzero(~kept).astype(np.int32))
    # The same rows as shards (--shards with --drop-null): 250 + 350 rows.
    os.makedirs(p("shards_nulls"), exist_ok=True)
    for i, ((a, b), rg) in enumerate(zip([(0, 250), (250, 600)], [100, 48])):
        pq.write_table(nt.slice(a, b - a), p(f"shards_nulls/part-{i}.parquet"), row_group_size=rg)

    # Every numeric type, and the columns that are not numeric, interleaved.
    n = 40
    i = np.arange(n)
    dec = [Decimal(int(v)) / Decimal(4) for v in (i * 7 - 100)]  # multiples of 0.25
    mixed = pa.table({
        "i8": pa.array((i % 50 - 25).astype(np.int8)),
        "name": pa.array([f"row{k}" for k in i]),
        "i32": pa.array((i * 1000 - 7).astype(np.int32)),
        "u16": pa.array((i * 3).astype(np.uint16)),
        "flag": pa.array(i % 2 == 0),
        "i64": pa.array((i * i - 50).astype(np.int64)),
        "f16": pa.array((i / 8).astype(np.float16)),
        "when": pa.array(i.astype("datetime64[s]")),
        "f64": pa.array(np.sqrt(i + 0.5)),
        "dec": pa.array(dec, type=pa.decimal128(9, 2)),
    })
    pq.write_table(mixed, p("mixed.parquet"), row_group_size=16)
    feather.write_feather(mixed, p("mixed.feather"), chunksize=16)
    expected = np.stack([
        (i % 50 - 25).astype(np.int8).astype(np.float32),
        (i * 1000 - 7).astype(np.int32).astype(np.float32),
        (i * 3).astype(np.uint16).astype(np.float32),
        (i * i - 50).astype(np.int64).astype(np.float32),
        (i / 8).astype(np.float16).astype(np.float32),
        np.sqrt(i + 0.5).astype(np.float32),
        np.array([float(v) for v in dec]).astype(np.float32),
    ], axis=1)
    np.save(p("mixed.npy"), np.ascontiguousarray(expected))

    # Integers beyond 2^24: read (rounded), with a warning.
    pq.write_table(pa.table({"big": pa.array([1, 2**24 + 1, 2**40 + 3], type=pa.int64()),
                             "small": pa.array([1.0, 2.0, 3.0], type=pa.float32())}),
                   p("big_ints.parquet"))

    # Nulls: in row 7 (row group 1 of 4-row groups), with and without statistics.
    vals = pa.array([float(k) if k != 7 else None for k in range(12)], type=pa.float32())
    other = pa.array([float(k) for k in range(12)], type=pa.float32())
    nt = pa.table({"a": other, "b": vals})
    pq.write_table(nt, p("nulls.parquet"), row_group_size=4)
    pq.write_table(nt, p("nulls_nostats.parquet"), row_group_size=4, write_statistics=False)
    feather.write_feather(nt, p("nulls.feather"), chunksize=4)

    # A column null in every row: nothing left with --drop-null --columns a.
    pq.write_table(pa.table({"a": pa.array([None] * 4, type=pa.float32()),
                             "b": pa.array([1.0, 2.0, 3.0, 4.0], type=pa.float32())}),
                   p("all_null.parquet"), row_group_size=2)

    # Only strings and booleans.
    pq.write_table(pa.table({"s": pa.array(["a", "b"]), "t": pa.array([True, False])}),
                   p("no_numeric.parquet"))
    # A schema and no rows.
    pq.write_table(pa.table({"a": pa.array([], type=pa.float32())}), p("no_rows.parquet"))
    # A corrupt footer: the Thrift metadata overwritten, the length and magic kept.
    good = open(p("blobs_rg100_snappy.parquet"), "rb").read()
    footer_len = int.from_bytes(good[-8:-4], "little")
    start = len(good) - 8 - footer_len
    bad = good[:start] + bytes([0xEE]) * footer_len + good[-8:]
    open(p("corrupt_footer.parquet"), "wb").write(bad)
    # Truncated: the last half of the file gone (no footer magic).
    open(p("truncated.parquet"), "wb").write(good[: len(good) // 2])
    # A corrupt Arrow file: magic at both ends, garbage between.
    open(p("corrupt.arrow"), "wb").write(b"ARROW1\0\0" + bytes([0x5A]) * 64 + b"ARROW1")
    # An empty file (0 bytes).
    open(p("empty.parquet"), "wb").close()

    for name in sorted(os.listdir(out)):
        if name.endswith((".parquet", ".feather", ".arrow")) and name not in (
                "corrupt_footer.parquet", "truncated.parquet", "corrupt.arrow", "empty.parquet"):
            # Every well-formed file reads back with pyarrow.
            path = p(name)
            (pq.read_table(path) if name.endswith(".parquet") else feather.read_table(path))


if __name__ == "__main__":
    main(sys.argv[1])
