//! What Parquet and Arrow IPC inputs share: choosing the columns, converting
//! Arrow arrays to row-major `f32`, and serving row ranges from a bounded
//! cache of decoded units (a slice of a Parquet row group, an IPC record
//! batch).
//!
//! A columnar file cannot be read in place: every read decodes (decompresses,
//! converts, transposes to rows). A sequential pass asks for chunks in row
//! order within each worker, so each worker decodes the units its chunks fall
//! in, in order, once; random access (mini-batch blocks, samples, silhouette
//! tiles) asks for scattered rows, and a unit decoded for one request serves
//! the next ones that fall in it. The cache holds at most
//! [`cache_capacity`] units (2 × threads + 2, at least 4), each at most
//! [`UNIT_BYTES`] of `f32` for Parquet (a record batch, as written, for IPC),
//! so memory stays O(threads · unit), never O(n·d).
//!
//! The values are those numpy's `astype(np.float32)` gives for the same
//! column: integers and floats round to nearest; a decimal is its unscaled
//! integer times 10^-scale in `f64`, then rounded to `f32`. The bits do not
//! depend on the unit or chunk layout: every value is converted on its own.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{DataType, Schema};

use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// How a Parquet or Arrow file's columns become the matrix's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatrixOptions {
    /// The columns, by name, in this order; `None`: every numeric column in
    /// the file's order (other columns are skipped). Only Parquet and Arrow
    /// files have named columns: a file of another format refuses it.
    pub columns: Option<Vec<String>>,
    /// Rows per decoded unit; `None`: [`UNIT_BYTES`] of `f32` rows. Memory
    /// and speed only: the values read do not depend on it (tests set it
    /// small to split row groups into many units).
    pub unit_rows: Option<usize>,
    /// Leave out the rows with a null in a chosen column (Parquet and Arrow
    /// files; other formats cannot hold nulls, and read as they are). The
    /// matrix then holds only the other rows, in file order; its
    /// [`DroppedRows`] say which file rows were left out. `false`: a null is
    /// an error naming its column and row.
    pub drop_null: bool,
}

impl MatrixOptions {
    /// Rows per unit for `d` columns.
    pub(crate) fn unit_rows(&self, d: usize) -> usize {
        self.unit_rows.unwrap_or(UNIT_BYTES / (4 * d.max(1))).max(1)
    }
}

/// Decoded bytes per Parquet unit (a run of rows within one row group):
/// large enough that per-unit overhead (page headers, a reader) is small next
/// to decoding, small enough that a cache of a few per thread stays modest.
pub const UNIT_BYTES: usize = 8 << 20;

/// Units a cache holds: 2 × the worker threads + 2, at least 4. Each worker
/// reads at most one unit at a time and a pass moves forward through its
/// range, so this keeps every worker's current and next unit.
#[must_use]
pub fn cache_capacity() -> usize {
    (2 * rayon::current_num_threads() + 2).max(4)
}

/// What a column of the file is, as the matrix sees it.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// The column's name in the file.
    pub(crate) name: String,
    /// Its index among the file's top-level fields.
    pub(crate) field: usize,
    /// Its type.
    pub(crate) data_type: DataType,
}

/// True for the types converted to `f32`: signed and unsigned integers,
/// floats, decimals.
fn is_numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(_, _)
            | DataType::Decimal64(_, _)
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _)
    )
}

/// True for the integer types whose values can exceed 2²⁴, beyond which an
/// `f32` cannot hold every integer.
fn may_lose_precision(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int32 | DataType::Int64 | DataType::UInt32 | DataType::UInt64
    )
}

pub(crate) fn format_err(path: &Path, problem: FormatProblem) -> CoreError {
    CoreError::Format(FormatError::new(path, problem))
}

/// The matrix's columns among `schema`'s fields, as `options` asks.
///
/// # Errors
/// [`FormatProblem::MissingColumn`], [`FormatProblem::NotNumericColumn`],
/// [`FormatProblem::NoNumericColumns`].
pub(crate) fn select_columns(
    path: &Path,
    schema: &Schema,
    options: &MatrixOptions,
) -> Result<Vec<Column>> {
    let column = |field: usize| {
        let f = schema.field(field);
        Column {
            name: f.name().clone(),
            field,
            data_type: f.data_type().clone(),
        }
    };
    let Some(names) = &options.columns else {
        let chosen: Vec<Column> = (0..schema.fields().len())
            .filter(|&i| is_numeric(schema.field(i).data_type()))
            .map(column)
            .collect();
        if chosen.is_empty() {
            return Err(format_err(
                path,
                FormatProblem::NoNumericColumns {
                    columns: describe_fields(schema),
                },
            ));
        }
        return Ok(chosen);
    };
    names
        .iter()
        .map(|name| {
            let Some(field) = schema.fields().iter().position(|f| f.name() == name) else {
                return Err(format_err(
                    path,
                    FormatProblem::MissingColumn {
                        column: name.clone(),
                        columns: describe_fields(schema),
                    },
                ));
            };
            let c = column(field);
            if !is_numeric(&c.data_type) {
                return Err(format_err(
                    path,
                    FormatProblem::NotNumericColumn {
                        column: c.name,
                        data_type: c.data_type.to_string(),
                    },
                ));
            }
            Ok(c)
        })
        .collect()
}

/// `name (type), …` for messages, at most 12 fields.
fn describe_fields(schema: &Schema) -> String {
    let mut text: Vec<String> = schema
        .fields()
        .iter()
        .take(12)
        .map(|f| format!("{} ({})", f.name(), f.data_type()))
        .collect();
    if schema.fields().len() > 12 {
        text.push(format!("and {} more", schema.fields().len() - 12));
    }
    if text.is_empty() {
        "none".to_string()
    } else {
        text.join(", ")
    }
}

/// The indices of the chosen fields, sorted and without repeats (what a
/// projection takes), and for each matrix column its position among them
/// (a projected batch holds its columns in file order).
pub(crate) fn projection(columns: &[Column]) -> (Vec<usize>, Vec<usize>) {
    let mut fields: Vec<usize> = columns.iter().map(|c| c.field).collect();
    fields.sort_unstable();
    fields.dedup();
    let positions = columns
        .iter()
        .map(|c| fields.binary_search(&c.field).unwrap_or(0))
        .collect();
    (fields, positions)
}

/// Integer columns with values beyond 2²⁴ in magnitude met while decoding,
/// one message per file and column, for the caller to warn about (the
/// library never prints): see [`take_precision_warnings`].
static PRECISION_WARNINGS: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());

/// The messages of the precision losses met since the last call, each once:
/// `FILE: column 'x' holds integers beyond 2^24 …`.
#[must_use]
pub fn take_precision_warnings() -> Vec<String> {
    let mut all = PRECISION_WARNINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    all.iter_mut()
        .filter(|(_, taken)| !*taken)
        .map(|(m, taken)| {
            *taken = true;
            m.clone()
        })
        .collect()
}

/// Converts a projected record batch to row-major `f32`, appending its rows
/// to `out`: shared by the Parquet and Arrow IPC readers.
#[derive(Debug)]
pub(crate) struct BatchConverter {
    pub(crate) path: PathBuf,
    pub(crate) columns: Vec<Column>,
    /// Each matrix column's position in a projected batch.
    pub(crate) positions: Vec<usize>,
    /// Per column: a loss of precision was already recorded.
    lossy_seen: Vec<AtomicBool>,
    /// Nulls are recorded in a [`UnitNulls`] instead of refused.
    drop_null: bool,
}

/// The nulls met in one decoded unit (with [`MatrixOptions::drop_null`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct UnitNulls {
    /// The unit's rows (0-based within it) with a null in a chosen column,
    /// sorted, each once.
    pub(crate) rows: Vec<usize>,
    /// Nulls per matrix column.
    pub(crate) per_column: Vec<u64>,
}

impl BatchConverter {
    pub(crate) fn new(path: &Path, columns: Vec<Column>, drop_null: bool) -> Self {
        let (_, positions) = projection(&columns);
        let lossy_seen = columns.iter().map(|_| AtomicBool::new(false)).collect();
        BatchConverter {
            path: path.to_path_buf(),
            columns,
            positions,
            lossy_seen,
            drop_null,
        }
    }

    /// The projection's sorted field indices.
    pub(crate) fn fields(&self) -> Vec<usize> {
        projection(&self.columns).0
    }

    pub(crate) fn n_cols(&self) -> usize {
        self.columns.len()
    }

    /// Appends `batch`'s rows (the file's rows from `first_row`) to `out`,
    /// row-major. With `drop_null`, the rows holding a null are recorded in
    /// `nulls` (their values in `out` are whatever the null slots hold);
    /// without, a null is an error.
    ///
    /// # Errors
    /// [`FormatProblem::NullValue`] naming the column and the file's row of
    /// the first null; [`FormatProblem::Columnar`] if the batch is not what
    /// the schema promised.
    pub(crate) fn append(
        &self,
        batch: &RecordBatch,
        first_row: usize,
        out: &mut Vec<f32>,
        nulls: &mut UnitNulls,
    ) -> Result<()> {
        let d = self.columns.len();
        let rows = batch.num_rows();
        let base = out.len();
        out.resize(base + rows * d, 0.0);
        let dest = &mut out[base..];
        nulls.rows.clear();
        nulls.per_column.clear();
        nulls.per_column.resize(d, 0);
        for (j, (column, &pos)) in self.columns.iter().zip(&self.positions).enumerate() {
            let Some(array) = batch.columns().get(pos) else {
                return Err(self.corrupt(format!("a record batch lacks column '{}'", column.name)));
            };
            if let Some(mask) = array.logical_nulls().filter(|n| n.null_count() > 0) {
                if !self.drop_null {
                    let at = mask.iter().position(|valid| !valid).unwrap_or(0);
                    return Err(format_err(
                        &self.path,
                        FormatProblem::NullValue {
                            column: column.name.clone(),
                            row: first_row + at,
                        },
                    ));
                }
                nulls.per_column[j] = mask.null_count() as u64;
                nulls
                    .rows
                    .extend(mask.iter().enumerate().filter(|(_, v)| !v).map(|(r, _)| r));
            }
            let max_abs = convert_column(array.as_ref(), &column.data_type, d, j, dest)
                .ok_or_else(|| {
                    self.corrupt(format!(
                        "column '{}' holds {} values where the schema says {}",
                        column.name,
                        array.data_type(),
                        column.data_type
                    ))
                })?;
            if max_abs > (1u64 << 24) && !self.lossy_seen[j].swap(true, Ordering::Relaxed) {
                PRECISION_WARNINGS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((
                        format!(
                            "{}: column '{}' ({}) holds integers beyond 2^24 in magnitude (up to {max_abs}); \
                             they lose precision as float32",
                            self.path.display(),
                            column.name,
                            column.data_type
                        ),
                        false,
                    ));
            }
        }
        nulls.rows.sort_unstable();
        nulls.rows.dedup();
        Ok(())
    }

    pub(crate) fn corrupt(&self, detail: String) -> CoreError {
        format_err(&self.path, FormatProblem::Columnar { detail })
    }
}

/// Writes `array`'s values into column `j` of the row-major `dest` (`d`
/// columns), converted to `f32`. Returns the largest magnitude of an integer
/// column that may exceed 2²⁴ (0 for other types), or `None` when the array
/// is not of type `t`.
// Rounding to the nearest f32 is the documented conversion, as numpy's astype.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn convert_column(
    array: &dyn Array,
    t: &DataType,
    d: usize,
    j: usize,
    dest: &mut [f32],
) -> Option<u64> {
    fn fill<T: ArrowPrimitiveType>(
        array: &dyn Array,
        d: usize,
        j: usize,
        dest: &mut [f32],
        f: impl Fn(T::Native) -> f32,
    ) -> Option<()> {
        let values = array.as_primitive_opt::<T>()?.values();
        for (row, &v) in dest.chunks_exact_mut(d).zip(values.iter()) {
            row[j] = f(v);
        }
        Some(())
    }
    fn max_abs<T: ArrowPrimitiveType>(array: &dyn Array, abs: impl Fn(T::Native) -> u64) -> u64 {
        array
            .as_primitive_opt::<T>()
            .map_or(0, |a| a.values().iter().map(|&v| abs(v)).max().unwrap_or(0))
    }
    if array.data_type() != t {
        return None;
    }
    // v × 10^-s as v / 10^s: 10^s is exact in f64 for s <= 22, so the one
    // rounding is the division's (then the f32's).
    let unscale = |s: i8| {
        let p = 10f64.powi(i32::from(s).abs());
        move |v: f64| if s >= 0 { v / p } else { v * p }
    };
    match t {
        DataType::Int8 => fill::<Int8Type>(array, d, j, dest, f32::from)?,
        DataType::Int16 => fill::<Int16Type>(array, d, j, dest, f32::from)?,
        DataType::Int32 => fill::<Int32Type>(array, d, j, dest, |v| v as f32)?,
        DataType::Int64 => fill::<Int64Type>(array, d, j, dest, |v| v as f32)?,
        DataType::UInt8 => fill::<UInt8Type>(array, d, j, dest, f32::from)?,
        DataType::UInt16 => fill::<UInt16Type>(array, d, j, dest, f32::from)?,
        DataType::UInt32 => fill::<UInt32Type>(array, d, j, dest, |v| v as f32)?,
        DataType::UInt64 => fill::<UInt64Type>(array, d, j, dest, |v| v as f32)?,
        DataType::Float16 => fill::<Float16Type>(array, d, j, dest, |v| v.to_f32())?,
        DataType::Float32 => fill::<Float32Type>(array, d, j, dest, |v| v)?,
        DataType::Float64 => fill::<Float64Type>(array, d, j, dest, |v| v as f32)?,
        DataType::Decimal32(_, s) => {
            let f = unscale(*s);
            fill::<Decimal32Type>(array, d, j, dest, |v| f(f64::from(v)) as f32)?;
        }
        DataType::Decimal64(_, s) => {
            let f = unscale(*s);
            fill::<Decimal64Type>(array, d, j, dest, |v| f(v as f64) as f32)?;
        }
        DataType::Decimal128(_, s) => {
            let f = unscale(*s);
            fill::<Decimal128Type>(array, d, j, dest, |v| f(v as f64) as f32)?;
        }
        DataType::Decimal256(_, s) => {
            let f = unscale(*s);
            // Beyond i128 (|v| > 1.7e38 unscaled) is beyond any f32 at scale 0.
            fill::<Decimal256Type>(array, d, j, dest, |v| match v.to_i128() {
                Some(v) => f(v as f64) as f32,
                None if v.is_negative() => f32::NEG_INFINITY,
                None => f32::INFINITY,
            })?;
        }
        _ => return None,
    }
    Some(match t {
        DataType::Int32 => max_abs::<Int32Type>(array, |v| u64::from(v.unsigned_abs())),
        DataType::Int64 => max_abs::<Int64Type>(array, i64::unsigned_abs),
        DataType::UInt32 => max_abs::<UInt32Type>(array, u64::from),
        DataType::UInt64 => max_abs::<UInt64Type>(array, |v| v),
        t => {
            debug_assert!(!may_lose_precision(t));
            0
        }
    })
}

/// Decodes the units of a columnar file: the format-specific half of
/// [`Columnar`].
pub(crate) trait UnitDecoder: Send + Sync + std::fmt::Debug {
    /// Appends unit `unit`'s rows, row-major `f32`, to `out` (empty), and
    /// (with [`MatrixOptions::drop_null`]) records its nulls in `nulls`.
    fn decode(&self, unit: usize, out: &mut Vec<f32>, nulls: &mut UnitNulls) -> Result<()>;

    /// The converter, which knows the chosen columns.
    fn converter(&self) -> &BatchConverter;
}

type Slot = Arc<Mutex<Option<Arc<Vec<f32>>>>>;

/// The chosen numeric columns of a columnar file, Parquet
/// ([`Columnar::open_parquet`]) or Arrow IPC ([`Columnar::open_arrow_ipc`]),
/// read as an n × d `f32` matrix: rows of a file made of units, served from
/// a bounded cache of decoded units.
///
/// With [`MatrixOptions::drop_null`], the matrix's rows are the file's rows
/// without a null in a chosen column: the cache holds units with those rows
/// left out, and a map of the rows kept (per unit, the rows left out) turns a
/// matrix row into a unit and a place in it. The map is O(rows left out).
#[derive(Debug)]
pub struct Columnar {
    decoder: Box<dyn UnitDecoder>,
    format: ColumnarFormat,
    /// Row groups (Parquet) or record batches (Arrow IPC), empty ones included.
    parts: usize,
    path: PathBuf,
    n_cols: usize,
    file_len: u64,
    /// First file row of each unit, and the file's row count at the end.
    starts: Vec<usize>,
    /// First matrix row of each unit (its kept rows), and the count at the end.
    kept_starts: Vec<usize>,
    /// Per unit, its rows (within it) left out for a null, sorted.
    dropped: Vec<Vec<usize>>,
    /// Nulls per chosen column, in the units decoded on open.
    null_counts: Vec<u64>,
    /// The decoded units, most recently used last in `clock` order.
    cache: Mutex<Vec<(usize, u64, Slot)>>,
    capacity: usize,
    clock: AtomicU64,
}

/// The formats [`Columnar`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnarFormat {
    /// A `.parquet` file.
    Parquet,
    /// An Arrow IPC file (`.arrow`, `.feather`).
    ArrowIpc,
}

impl Columnar {
    /// `starts`: the first row of each unit and the row count at the end.
    /// Every unit for which `may_hold_nulls` says so is decoded now: a null is
    /// then an error before any pass, or (with `drop_null`) its row is left
    /// out of the matrix.
    ///
    /// # Errors
    /// Those of decoding; [`FormatProblem::Empty`] for a file without rows;
    /// [`FormatProblem::AllNull`] when every row holds a null.
    pub(crate) fn new(
        path: &Path,
        format: ColumnarFormat,
        (decoder, parts): (Box<dyn UnitDecoder>, usize),
        starts: Vec<usize>,
        file_len: u64,
        may_hold_nulls: impl Fn(usize) -> bool,
    ) -> Result<Self> {
        let n_cols = decoder.converter().n_cols();
        let n_units = starts.len() - 1;
        let rows = *starts.last().unwrap_or(&0);
        if rows == 0 {
            return Err(format_err(
                path,
                FormatProblem::Empty {
                    rows: 0,
                    cols: n_cols,
                },
            ));
        }
        let mut dropped = vec![Vec::new(); n_units];
        let mut null_counts = vec![0u64; n_cols];
        let mut scratch = Vec::new();
        let mut nulls = UnitNulls::default();
        for (u, dropped) in dropped.iter_mut().enumerate() {
            if may_hold_nulls(u) {
                scratch.clear();
                decoder.decode(u, &mut scratch, &mut nulls)?;
                for (total, n) in null_counts.iter_mut().zip(&nulls.per_column) {
                    *total += n;
                }
                *dropped = std::mem::take(&mut nulls.rows);
            }
        }
        let mut kept_starts = Vec::with_capacity(starts.len());
        kept_starts.push(0);
        for (u, w) in starts.windows(2).enumerate() {
            let kept = w[1] - w[0] - dropped[u].len();
            kept_starts.push(kept_starts[u] + kept);
        }
        if *kept_starts.last().unwrap_or(&0) == 0 {
            return Err(format_err(
                path,
                FormatProblem::AllNull {
                    rows,
                    columns: decoder.converter().columns.len(),
                },
            ));
        }
        Ok(Columnar {
            decoder,
            format,
            parts,
            path: path.to_path_buf(),
            n_cols,
            file_len,
            starts,
            kept_starts,
            dropped,
            null_counts,
            cache: Mutex::new(Vec::new()),
            capacity: cache_capacity(),
            clock: AtomicU64::new(0),
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(rows, columns)` of the matrix (rows left out by
    /// [`MatrixOptions::drop_null`] not counted).
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.n_rows(), self.n_cols)
    }

    /// The chosen columns' names, in matrix order.
    #[must_use]
    pub fn column_names(&self) -> Vec<String> {
        self.columns().iter().map(|c| c.name.clone()).collect()
    }

    /// The chosen columns' Arrow types (`Float32`, `Int64`, `Decimal128(10, 2)`, …).
    #[must_use]
    pub fn column_types(&self) -> Vec<String> {
        self.columns()
            .iter()
            .map(|c| c.data_type.to_string())
            .collect()
    }

    /// Nulls per chosen column (all zero unless opened with
    /// [`MatrixOptions::drop_null`]: otherwise a null is an error on open).
    #[must_use]
    pub fn null_counts(&self) -> &[u64] {
        &self.null_counts
    }

    /// The file rows left out of the matrix for a null
    /// ([`MatrixOptions::drop_null`]; none without it).
    #[must_use]
    pub fn dropped_rows(&self) -> DroppedRows {
        let rows = self
            .dropped
            .iter()
            .zip(&self.starts)
            .flat_map(|(rows, &start)| rows.iter().map(move |&r| start + r))
            .collect();
        DroppedRows::new(self.file_rows(), rows)
    }

    /// The file's rows, those left out for a null included.
    #[must_use]
    pub fn file_rows(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    /// The units rows are decoded and cached in.
    #[must_use]
    pub fn units(&self) -> usize {
        self.starts.len() - 1
    }

    /// The file's row groups (Parquet) or record batches (Arrow IPC), empty
    /// ones included.
    #[must_use]
    pub fn parts(&self) -> usize {
        self.parts
    }

    /// The file's format.
    #[must_use]
    pub fn file_format(&self) -> ColumnarFormat {
        self.format
    }

    /// `"parquet"` or `"arrow"`.
    #[must_use]
    pub fn format(&self) -> &'static str {
        match self.format {
            ColumnarFormat::Parquet => "parquet",
            ColumnarFormat::ArrowIpc => "arrow",
        }
    }

    /// The file's length in bytes.
    #[must_use]
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    fn columns(&self) -> &[Column] {
        &self.decoder.converter().columns
    }

    /// Unit `unit`'s kept rows, decoded now or taken from the cache.
    fn unit(&self, unit: usize) -> Result<Arc<Vec<f32>>> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let now = self.clock.fetch_add(1, Ordering::Relaxed);
            if let Some(entry) = cache.iter_mut().find(|e| e.0 == unit) {
                entry.1 = now;
                entry.2.clone()
            } else {
                if cache.len() >= self.capacity
                    && let Some(oldest) = (0..cache.len()).min_by_key(|&i| cache[i].1)
                {
                    cache.swap_remove(oldest);
                }
                let slot = Slot::default();
                cache.push((unit, now, slot.clone()));
                slot
            }
        };
        // One decoder per unit: the others wait on the slot and share it.
        let mut data = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(d) = &*data {
            return Ok(d.clone());
        }
        let mut values = Vec::new();
        let mut nulls = UnitNulls::default();
        self.decoder.decode(unit, &mut values, &mut nulls)?;
        let (start, end) = (self.starts[unit], self.starts[unit + 1]);
        let want = (end - start) * self.n_cols;
        if values.len() != want {
            return Err(self.decoder.converter().corrupt(format!(
                "rows {start}..{end} decode to {} values, not the {want} the metadata promises",
                values.len()
            )));
        }
        let dropped = &self.dropped[unit];
        if nulls.rows != *dropped {
            return Err(self.decoder.converter().corrupt(format!(
                "rows {start}..{end} hold {} rows with nulls where the metadata counted {}",
                nulls.rows.len(),
                dropped.len()
            )));
        }
        if !dropped.is_empty() {
            values = without_rows(&values, self.n_cols, dropped);
        }
        let values = Arc::new(values);
        *data = Some(values.clone());
        Ok(values)
    }
}

/// The rows of row-major `values` (`width` values a row) but those in
/// `dropped` (sorted row indices).
fn without_rows<T: Copy>(values: &[T], width: usize, dropped: &[usize]) -> Vec<T> {
    let rows = values.len() / width.max(1);
    let mut kept = Vec::with_capacity((rows - dropped.len()) * width);
    let mut from = 0;
    for &r in dropped.iter().chain(std::iter::once(&rows)) {
        kept.extend_from_slice(&values[from * width..r * width]);
        from = r + 1;
    }
    kept
}

impl DataSource for Columnar {
    fn n_rows(&self) -> usize {
        *self.kept_starts.last().unwrap_or(&0)
    }

    fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Always copies: rows are decoded and converted from the file's columns.
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        super::npy::check_range(&|| self.name(), &range, self.n_rows())?;
        let d = self.n_cols;
        scratch.clear();
        scratch.reserve(range.len() * d);
        let mut row = range.start;
        while row < range.end {
            // The last unit starting at or before `row`: units without kept
            // rows share their start with the next one, so it has `row`.
            let u = self.kept_starts.partition_point(|&s| s <= row) - 1;
            let (start, end) = (self.kept_starts[u], self.kept_starts[u + 1]);
            let take = end.min(range.end) - row;
            let values = self.unit(u)?;
            scratch.extend_from_slice(&values[(row - start) * d..(row - start + take) * d]);
            row += take;
        }
        Ok(&scratch[..])
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// The file rows a read with [`MatrixOptions::drop_null`] left out of a
/// matrix, so that per-row outputs can keep the file's row count (a label
/// −1, a NaN, at each row left out): O(rows left out) memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DroppedRows {
    file_rows: usize,
    rows: Vec<usize>,
}

impl DroppedRows {
    /// `rows` (sorted, each once, each below `file_rows`) of a file of
    /// `file_rows` rows.
    #[must_use]
    pub fn new(file_rows: usize, rows: Vec<usize>) -> Self {
        debug_assert!(rows.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(rows.last().is_none_or(|&r| r < file_rows));
        DroppedRows { file_rows, rows }
    }

    /// No row left out of `file_rows`.
    #[must_use]
    pub fn none(file_rows: usize) -> Self {
        DroppedRows::new(file_rows, Vec::new())
    }

    /// The file's rows, those left out included.
    #[must_use]
    pub fn file_rows(&self) -> usize {
        self.file_rows
    }

    /// The rows left out, 0-based file rows, ascending.
    #[must_use]
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// How many rows were left out.
    #[must_use]
    pub fn count(&self) -> usize {
        self.rows.len()
    }

    /// `next`'s rows after these (files read one after the other, as shards).
    pub fn append(&mut self, next: &DroppedRows) {
        let base = self.file_rows;
        self.rows.extend(next.rows.iter().map(|&r| base + r));
        self.file_rows += next.file_rows;
    }

    /// The values of a per-file-row vector (one per file row) at the rows
    /// kept, in order: what a per-row input (weights) becomes.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] when `values` does not have one value
    /// per file row (`what` names it).
    pub fn keep<T: Copy>(&self, values: &[T], what: &'static str) -> Result<Vec<T>> {
        if values.len() != self.file_rows {
            return Err(CoreError::param(
                what,
                format!(
                    "holds {} values but the data file has {} rows ({} left out for nulls); give one per file row",
                    values.len(),
                    self.file_rows,
                    self.rows.len()
                ),
            ));
        }
        Ok(without_rows(values, 1, &self.rows))
    }
}

/// Row starts of units: `sizes` in order, each split into pieces of
/// `max_rows` (the last one of each size shorter), so that a reader of
/// batches of `max_rows` rows from a unit's start yields the next units in
/// turn; empty sizes give no unit. Returns the
/// starts (with the total at the end) and, per unit, the index of its size
/// and the unit's first row within it.
pub(crate) fn split_units(sizes: &[usize], max_rows: usize) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut starts = vec![0];
    let mut owners = Vec::new();
    let mut total = 0;
    for (i, &n) in sizes.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let step = max_rows.max(1);
        for a in (0..n).step_by(step) {
            let b = (a + step).min(n);
            owners.push((i, a));
            total += b - a;
            starts.push(total);
        }
    }
    (starts, owners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_split_evenly_and_skip_empty_groups() {
        let (starts, owners) = split_units(&[10, 0, 3], 4);
        assert_eq!(starts, vec![0, 4, 8, 10, 13]);
        assert_eq!(owners, vec![(0, 0), (0, 4), (0, 8), (2, 0)]);
        let (starts, owners) = split_units(&[], 4);
        assert_eq!((starts, owners), (vec![0], vec![]));
    }

    #[test]
    fn projection_sorts_fields_and_maps_columns() {
        let col = |name: &str, field| Column {
            name: name.into(),
            field,
            data_type: DataType::Float32,
        };
        let (fields, pos) = projection(&[col("c", 2), col("a", 0), col("c", 2)]);
        assert_eq!(fields, vec![0, 2]);
        assert_eq!(pos, vec![1, 0, 1]);
    }
}
