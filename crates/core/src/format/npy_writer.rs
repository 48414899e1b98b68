//! Writing `.npy` files that `np.load` reads: [`NpyWriter`] streams rows of a
//! matrix (or a vector) whose length is not known up front.
//!
//! The header is reserved at creation with room for the largest possible row
//! count (20 digits), padded with spaces to a multiple of 64 bytes as numpy
//! does, and rewritten with the real shape, padded to the same length, when the
//! writer finishes. The file goes through [`AtomicOutput`]: a temporary name,
//! `fsync`, rename; an unfinished writer leaves nothing under the final name.

use std::io::{Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::Path;

use super::Dtype;
use super::columnar::DroppedRows;
use super::npy_header;
use crate::error::{CoreError, Result};
use crate::output::AtomicOutput;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for i32 {}
    impl Sealed for u8 {}
}

/// An element type [`NpyWriter`] can write: `f32`, `f64`, `i32`, `u8`.
pub trait NpyElement: Copy + sealed::Sealed {
    /// The dtype written to the header.
    const DTYPE: Dtype;
    /// Appends the little-endian bytes of `values` to `out`.
    fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($t:ty, $dtype:expr) => {
        impl NpyElement for $t {
            const DTYPE: Dtype = $dtype;
            fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(values.len() * std::mem::size_of::<$t>());
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    };
}

npy_element!(f32, Dtype::F32);
npy_element!(f64, Dtype::F64);
npy_element!(i32, Dtype::I32);
npy_element!(u8, Dtype::U8);

/// Values converted per batch before they go to the 1 MiB output buffer.
const BATCH: usize = 16 * 1024;

/// A streaming `.npy` writer (format 1.0, C order, little-endian).
#[derive(Debug)]
pub struct NpyWriter<T: NpyElement> {
    out: AtomicOutput,
    cols: Option<usize>,
    header_len: usize,
    values: u64,
    bytes: Vec<u8>,
    /// Rows to fill in between the rows written ([`NpyWriter::fill_dropped`]).
    fill: Option<Fill<T>>,
    _element: PhantomData<T>,
}

/// The rows a writer fills in: the rows left out of its input, and the value.
#[derive(Debug)]
struct Fill<T> {
    dropped: DroppedRows,
    /// Index in `dropped.rows()` of the next row to fill in.
    next: usize,
    value: T,
}

impl<T: NpyElement> NpyWriter<T> {
    /// Starts a `.npy` file at `path`: an n × `d` matrix for `cols = Some(d)`,
    /// a 1-D vector for `None`. The row count comes from what is written.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] for `Some(0)` columns; as
    /// [`AtomicOutput::create`] (including refusing to overwrite an input).
    pub fn create(path: impl AsRef<Path>, cols: Option<usize>, inputs: &[&Path]) -> Result<Self> {
        if cols == Some(0) {
            return Err(CoreError::param(
                "cols",
                "a matrix needs at least one column",
            ));
        }
        let mut out = AtomicOutput::create(path, inputs)?;
        let header_len = npy_header::header_total_len(T::DTYPE.descr(), &shape(u64::MAX, cols));
        let placeholder =
            npy_header::write_header(T::DTYPE.descr(), &shape(0, cols), header_len)
                .ok_or_else(|| CoreError::param("cols", "shape too large for a .npy header"))?;
        let result = out.file().write_all(&placeholder);
        result.map_err(|e| out.write_error(e))?;
        Ok(NpyWriter {
            out,
            cols,
            header_len,
            values: 0,
            bytes: Vec::new(),
            fill: None,
            _element: PhantomData,
        })
    }

    /// Keeps the rows of the file the input was read from: the rows written
    /// are the input's kept rows in order, and a row of `value`s (a label
    /// −1, a NaN) goes in at each row of `dropped` (rows left out for a null,
    /// [`super::MatrixOptions::drop_null`]), so that row `i` of the output is
    /// row `i` of the file. The file then has `dropped.file_rows()` rows when
    /// every kept row was written.
    #[must_use]
    pub fn fill_dropped(mut self, dropped: &DroppedRows, value: T) -> Self {
        self.fill = (dropped.count() > 0).then(|| Fill {
            dropped: dropped.clone(),
            next: 0,
            value,
        });
        self
    }

    /// Appends whole rows (for a matrix, `values.len()` must be a multiple of
    /// the column count). Buffered; memory stays bounded.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] for a partial row; [`CoreError::Io`].
    pub fn write(&mut self, values: &[T]) -> Result<()> {
        let width = self.cols.unwrap_or(1);
        if self.fill.is_none() || !values.len().is_multiple_of(width) {
            return self.write_rows(values);
        }
        let mut rest = values;
        loop {
            self.fill_to(Some(self.rows_written()))?;
            if rest.is_empty() {
                return Ok(());
            }
            // Kept rows up to the next row to fill in.
            let row = self.rows_written();
            let until = self.fill.as_ref().and_then(|f| {
                let next = *f.dropped.rows().get(f.next)?;
                usize::try_from(next as u64 - row).ok()
            });
            let take = until.map_or(rest.len(), |r| (r * width).min(rest.len()));
            self.write_rows(&rest[..take])?;
            rest = &rest[take..];
        }
    }

    /// Writes the fill rows due: those at the current row and right after it
    /// (`at = Some(row)`), or all left (`None`).
    fn fill_to(&mut self, at: Option<u64>) -> Result<()> {
        let Some(fill) = &mut self.fill else {
            return Ok(());
        };
        let rows = fill.dropped.rows();
        let mut end = fill.next;
        match at {
            // Consecutive dropped rows from the current one.
            Some(row) => {
                while end < rows.len() && rows[end] as u64 == row + (end - fill.next) as u64 {
                    end += 1;
                }
            }
            None => end = rows.len(),
        }
        let count = end - fill.next;
        fill.next = end;
        if count == 0 {
            return Ok(());
        }
        let width = self.cols.unwrap_or(1);
        let block = vec![fill.value; BATCH.max(width) / width * width];
        let mut left = count * width;
        while left > 0 {
            let n = left.min(block.len());
            self.write_rows(&block[..n])?;
            left -= n;
        }
        Ok(())
    }

    fn write_rows(&mut self, values: &[T]) -> Result<()> {
        if let Some(d) = self.cols
            && !values.len().is_multiple_of(d)
        {
            return Err(CoreError::param(
                "values",
                format!(
                    "{}: {} values are not whole rows of {d} columns",
                    self.out.path().display(),
                    values.len()
                ),
            ));
        }
        for batch in values.chunks(BATCH) {
            self.bytes.clear();
            T::extend_le_bytes(batch, &mut self.bytes);
            let result = self.out.file().write_all(&self.bytes);
            result.map_err(|e| self.out.write_error(e))?;
        }
        self.values += values.len() as u64;
        Ok(())
    }

    /// Rows written so far (elements for a vector).
    #[must_use]
    pub fn rows_written(&self) -> u64 {
        match self.cols {
            Some(d) => self.values / d as u64,
            None => self.values,
        }
    }

    /// Writes the final header, flushes, `fsync`s and renames into place.
    ///
    /// # Errors
    /// [`CoreError::Io`] naming the output; nothing is left under its name.
    pub fn finish(mut self) -> Result<()> {
        self.fill_to(None)?;
        let header = npy_header::write_header(
            T::DTYPE.descr(),
            &shape(self.rows_written(), self.cols),
            self.header_len,
        )
        .ok_or_else(|| CoreError::param("rows", "row count does not fit the reserved header"))?;
        let file = self.out.file();
        let result = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .and_then(|()| file.seek(SeekFrom::End(0)).map(|_| ()));
        result.map_err(|e| self.out.write_error(e))?;
        self.out.commit()
    }
}

/// The header [`NpyWriter`] writes for a finished `.npy` of `rows` rows (`cols`
/// as in [`NpyWriter::create`]), padded to the same reserved length: for a file
/// written in parts at known offsets (several processes, each writing its own
/// rows), byte for byte what the streaming writer produces. The data starts
/// right after it.
///
/// # Errors
/// [`CoreError::InvalidParameter`] when the shape does not fit a header.
pub fn npy_header_bytes<T: NpyElement>(rows: u64, cols: Option<usize>) -> Result<Vec<u8>> {
    let header_len = npy_header::header_total_len(T::DTYPE.descr(), &shape(u64::MAX, cols));
    npy_header::write_header(T::DTYPE.descr(), &shape(rows, cols), header_len)
        .ok_or_else(|| CoreError::param("rows", "shape too large for a .npy header"))
}

fn shape(rows: u64, cols: Option<usize>) -> Vec<u64> {
    match cols {
        Some(d) => vec![rows, d as u64],
        None => vec![rows],
    }
}

/// Writes a small `rows × cols` `f32` matrix (centres, means) atomically.
///
/// # Errors
/// [`CoreError::InvalidParameter`] when `data.len() != rows * cols`; as
/// [`NpyWriter`].
pub fn write_npy_f32(
    path: impl AsRef<Path>,
    data: &[f32],
    rows: usize,
    cols: usize,
    inputs: &[&Path],
) -> Result<()> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(CoreError::param(
            "data",
            format!("{} values are not {rows} rows × {cols} columns", data.len()),
        ));
    }
    let mut writer = NpyWriter::<f32>::create(path, Some(cols), inputs)?;
    writer.write(data)?;
    writer.finish()
}
