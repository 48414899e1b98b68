//! [`Columnar::open_parquet`]: the numeric columns of a Parquet file as a
//! matrix.
//!
//! The file is memory-mapped and its footer (the metadata) read once. Rows are
//! decoded by the `parquet` crate's Arrow reader, one unit at a time: a run of
//! at most [`super::columnar::UNIT_BYTES`] of `f32` rows within one row group
//! (a row selection skips the pages before it), converted to row-major `f32`
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
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use super::FormatProblem;
use super::columnar::{
    BatchConverter, Columnar, ColumnarFormat, MatrixOptions, UnitDecoder, UnitNulls,
    cache_capacity, format_err, select_columns, split_units,
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
    /// Readers left where a unit ended, by the unit they read next: a worker
    /// that goes on to the next unit of its row group (a sequential pass)
    /// continues one instead of starting a reader and skipping to the unit.
    /// At most [`super::columnar::cache_capacity`] of them, oldest out.
    readers: Mutex<Vec<(usize, ParquetRecordBatchReader)>>,
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
        let meta = ArrowReaderMetadata::load(&bytes, ArrowReaderOptions::new())
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
        let decoder = ParquetDecoder {
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
        if self
            .units
            .get(next)
            .is_some_and(|n| n.row_group == u.row_group)
        {
            let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            if readers.len() >= cache_capacity() {
                readers.remove(0);
            }
            readers.push((next, reader));
        }
        Ok(())
    }
}
