//! [`Columnar::open_parquet`]: the numeric columns of a Parquet file as a
//! matrix.
//!
//! The file is memory-mapped and its footer (the metadata) read once. Rows are
//! decoded by the `parquet` crate's Arrow reader, one unit at a time: a run of
//! at most [`super::columnar::UNIT_BYTES`] of `f32` rows within one row group
//! (a row selection skips the rows before it: unread where the page locations
//! are known — the file's offset index, or one built on open from the page
//! headers by [`super::parquet_pages`] — decoded and dropped otherwise, which
//! is why a reader is then kept for the next unit), converted to row-major `f32`
//! and kept in a bounded cache ([`super::columnar`]). Never the whole file.
//!
//! Nulls are refused, or with [`MatrixOptions::drop_null`] their rows left
//! out: the footer's statistics say which row groups hold nulls in a chosen
//! column, and those are decoded on open, so the error (naming the column and
//! the row) comes before any pass, and the rows left out are known before
//! any pass. Row groups of a nullable column written without statistics are
//! decoded on open too (one pass over them: pyarrow, polars, Spark and DuckDB
//! all write statistics).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

use super::FormatProblem;
use super::columnar::{
    BatchConverter, Columnar, ColumnarFormat, MatrixOptions, UnitDecoder, UnitNulls, format_err,
    select_columns, split_units,
};
use super::mapped::FileBytes;
use crate::error::{CoreError, Result};

#[derive(Debug)]
struct ParquetDecoder {
    bytes: Bytes,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    convert: BatchConverter,
    /// Per unit: row group, first row within it, rows, first row in the file.
    units: Vec<Unit>,
    /// Rows per unit (the last of a row group has fewer).
    unit_rows: usize,
    /// Are the page locations of every chosen column chunk known (the file's
    /// offset index, or one built from the page headers on open)? Then a
    /// reader starting at a unit skips the pages before it unread, and no
    /// reader is kept between units.
    indexed: bool,
    /// Without page locations: readers left where a unit ended, by the unit
    /// they read next, so a worker that goes on to the next unit of its row
    /// group (a sequential pass) continues one instead of decoding the group
    /// again from its start to skip to the unit. At most one per worker
    /// thread, oldest out: each holds a decompressed page (and a dictionary)
    /// per chosen column, megabytes each (see [`kept_readers`]).
    readers: Mutex<Vec<(usize, ParquetRecordBatchReader)>>,
}

/// Readers kept between units: one per worker thread. A worker that reads
/// through a row group continues its own reader; more would only serve a
/// worker that left its reader behind and comes back to it, which a pass does
/// not do, and every reader kept costs a page and a dictionary per column
/// (measured in docs/benchmarks.md, section "parquet": the earlier 2 ×
/// threads + 2 kept readers more than doubled the decoder's memory).
fn kept_readers() -> usize {
    rayon::current_num_threads().max(1)
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    row_group: usize,
    offset: usize,
    len: usize,
    first_row: usize,
}

fn parquet_err(path: &Path, detail: impl std::fmt::Display) -> CoreError {
    format_err(
        path,
        FormatProblem::Parquet {
            detail: detail.to_string(),
        },
    )
}

impl Columnar {
    /// Opens a Parquet file and chooses its columns.
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty path;
    /// [`FormatProblem::Parquet`] for a file whose footer cannot be read (not
    /// Parquet, truncated, corrupt); the column errors of
    /// [`MatrixOptions`] ([`FormatProblem::MissingColumn`],
    /// [`FormatProblem::NotNumericColumn`], [`FormatProblem::NoNumericColumns`]);
    /// [`FormatProblem::Empty`] for a file without rows;
    /// [`FormatProblem::NullValue`] for a null in a chosen column (without
    /// [`MatrixOptions::drop_null`]), [`FormatProblem::AllNull`] when every
    /// row holds one (with it).
    pub fn open_parquet(path: impl AsRef<Path>, options: &MatrixOptions) -> Result<Columnar> {
        let path = path.as_ref();
        let bytes = FileBytes::open(path)?.into_shared();
        let file_len = bytes.len() as u64;
        // The offset index (page locations) where the file has one: a unit
        // inside a row group then starts at its own pages.
        let meta = ArrowReaderMetadata::load(
            &bytes,
            ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional),
        )
        .map_err(|e| parquet_err(path, format_args!("cannot read the footer: {e}")))?;
        let columns = select_columns(path, meta.schema(), options)?;
        let d = columns.len();
        let convert = BatchConverter::new(path, columns, options.drop_null);
        let fields = convert.fields();
        let mask = ProjectionMask::roots(meta.parquet_schema(), fields.iter().copied());
        let groups = meta.metadata().row_groups();
        let n_groups = groups.len();
        let sizes = groups
            .iter()
            .enumerate()
            .map(|(g, rg)| {
                usize::try_from(rg.num_rows()).map_err(|_| {
                    parquet_err(
                        path,
                        format_args!("row group {g} has {} rows", rg.num_rows()),
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let unit_rows = options.unit_rows(d);
        let (starts, owners) = split_units(&sizes, unit_rows);
        let units = owners
            .iter()
            .zip(starts.windows(2))
            .map(|(&(row_group, offset), w)| Unit {
                row_group,
                offset,
                len: w[1] - w[0],
                first_row: w[0],
            })
            .collect::<Vec<_>>();
        // Per row group: may a chosen column hold nulls? A column that cannot
        // (required), or whose statistics count none, cannot; without
        // statistics, it may.
        let schema = meta.parquet_schema();
        let leaves: Vec<usize> = (0..schema.num_columns())
            .filter(|&leaf| fields.contains(&schema.get_column_root_idx(leaf)))
            .collect();
        let group_nulls: Vec<bool> = groups
            .iter()
            .map(|rg| {
                leaves.iter().any(|&leaf| {
                    schema.column(leaf).max_def_level() > 0
                        && rg
                            .column(leaf)
                            .statistics()
                            .and_then(parquet::file::statistics::Statistics::null_count_opt)
                            != Some(0)
                })
            })
            .collect();
        let unit_groups: Vec<usize> = units.iter().map(|u| u.row_group).collect();
        let has_index = |meta: &ArrowReaderMetadata| {
            (0..n_groups).all(|g| {
                let index = meta.metadata().page_index_for_row_group(g);
                leaves
                    .iter()
                    .all(|&leaf| index.page_locations(leaf).is_some_and(|p| !p.is_empty()))
            })
        };
        let mut indexed = has_index(&meta);
        // Without an offset index in the file, one from the page headers, when
        // any row group holds more than one unit (a unit that does not start
        // its group is where the locations help).
        let mut meta = meta;
        if !indexed
            && units.iter().any(|u| u.offset > 0)
            && let Some(index) =
                super::parquet_pages::build_offset_index(&bytes, meta.metadata(), &leaves)
        {
            let with_index = meta
                .metadata()
                .as_ref()
                .clone()
                .into_builder()
                .set_page_index(Some(Arc::new(index.build())))
                .build();
            meta = ArrowReaderMetadata::try_new(Arc::new(with_index), ArrowReaderOptions::new())
                .map_err(|e| parquet_err(path, format_args!("cannot read the footer: {e}")))?;
            indexed = has_index(&meta);
        }
        let decoder = ParquetDecoder {
            indexed,
            bytes,
            mask,
            convert,
            units,
            meta,
            unit_rows,
            readers: Mutex::new(Vec::new()),
        };
        Columnar::new(
            path,
            ColumnarFormat::Parquet,
            (Box::new(decoder), n_groups),
            starts,
            file_len,
            |u| group_nulls[unit_groups[u]],
        )
    }
}

impl ParquetDecoder {
    /// A reader of unit `unit` and the units after it in its row group, in
    /// batches of one unit each.
    fn reader(&self, unit: usize) -> Result<ParquetRecordBatchReader> {
        if let Some(reader) = {
            let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            let found = readers.iter().position(|r| r.0 == unit);
            found.map(|i| readers.remove(i).1)
        } {
            return Ok(reader);
        }
        let u = self.units[unit];
        let group_rows = self.meta.metadata().row_group(u.row_group).num_rows();
        let group_rows = usize::try_from(group_rows).unwrap_or(0);
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.bytes.clone(),
            self.meta.clone(),
        )
        .with_row_groups(vec![u.row_group])
        .with_projection(self.mask.clone())
        .with_batch_size(self.unit_rows);
        if u.offset > 0 {
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(u.offset),
                RowSelector::select(group_rows.saturating_sub(u.offset)),
            ]));
        }
        builder.build().map_err(|e| self.err(u, &e))
    }

    fn err(&self, u: Unit, e: &dyn std::fmt::Display) -> CoreError {
        parquet_err(
            &self.convert.path,
            format_args!("row group {}: {e}", u.row_group),
        )
    }
}

impl UnitDecoder for ParquetDecoder {
    fn converter(&self) -> &BatchConverter {
        &self.convert
    }

    fn decode(&self, unit: usize, out: &mut Vec<f32>, nulls: &mut UnitNulls) -> Result<()> {
        let u = self.units[unit];
        let mut reader = self.reader(unit)?;
        let batch = match reader.next() {
            Some(batch) => batch.map_err(|e| self.err(u, &e))?,
            None => return Err(self.err(u, &"fewer rows than the metadata promises")),
        };
        if batch.num_rows() != u.len {
            return Err(self.err(
                u,
                &format_args!(
                    "{} rows decoded where {} were expected",
                    batch.num_rows(),
                    u.len
                ),
            ));
        }
        out.reserve(u.len * self.convert.n_cols());
        self.convert.append(&batch, u.first_row, out, nulls)?;
        let next = unit + 1;
        if !self.indexed
            && self
                .units
                .get(next)
                .is_some_and(|n| n.row_group == u.row_group)
        {
            let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            if readers.len() >= kept_readers() {
                readers.remove(0);
            }
            readers.push((next, reader));
        }
        Ok(())
    }
}
