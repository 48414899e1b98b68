//! A streaming reader for numeric CSV files.
//!
//! CSV is accepted where inputs are small (demo data, centres given by hand):
//! it is text, so it cannot be memory-mapped as a matrix; [`super::open_matrix`]
//! reads it into memory. The reader itself streams, a batch of rows at a time.
//!
//! What it accepts: one record per line (`\n` or `\r\n`, last line with or
//! without a newline); cells separated by a one-byte delimiter, trimmed of
//! spaces and tabs, optionally wrapped in double quotes (`""` is a quote
//! inside); a UTF-8 byte-order mark at the start; blank lines (skipped). Every
//! data cell must parse as an `f32` (`1`, `-2.5e3`, `inf`, and `nan`/`NaN` for
//! a missing value); an empty cell is an error, not a silent NaN. A quoted cell
//! cannot span lines.
//!
//! The first line is a header when `has_header` says so, or, by default, when
//! any of its non-empty cells is not a number.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::mapped::open_input;
use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};

/// How to read a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// `Some(true)`: the first line is a header; `Some(false)`: it is data;
    /// `None`: a header when any of its non-empty cells is not a number.
    pub has_header: Option<bool>,
    /// The cell separator (`b','` by default; `b'\t'` or `b';'` also work).
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: None,
            delimiter: b',',
        }
    }
}

/// Reads rows of numbers from a CSV file, a batch at a time.
#[derive(Debug)]
pub struct CsvReader {
    path: PathBuf,
    reader: BufReader<File>,
    delimiter: u8,
    header: Option<Vec<String>>,
    n_cols: usize,
    /// Physical line number of the last line read (1-based).
    line: u64,
    /// The first line's values when it was data.
    pending: Option<Vec<f32>>,
    line_buf: Vec<u8>,
    cell_buf: Vec<u8>,
    cells: Vec<Range<usize>>,
    rows_read: u64,
}

impl CsvReader {
    /// Opens `path` and reads its first non-blank line (header or first row).
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty file;
    /// [`CoreError::InvalidParameter`] for a delimiter that is a quote, `\r` or
    /// `\n`; [`FormatProblem::Empty`] when the file holds only blank lines;
    /// the cell errors of [`CsvReader::next_rows`] for a first data line.
    pub fn open(path: impl AsRef<Path>, options: CsvOptions) -> Result<CsvReader> {
        let path = path.as_ref();
        if matches!(options.delimiter, b'"' | b'\r' | b'\n') {
            return Err(CoreError::param(
                "delimiter",
                "must not be a double quote or a line break",
            ));
        }
        let file = open_input(path)?;
        let mut reader = CsvReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(256 * 1024, file),
            delimiter: options.delimiter,
            header: None,
            n_cols: 0,
            line: 0,
            pending: None,
            line_buf: Vec::new(),
            cell_buf: Vec::new(),
            cells: Vec::new(),
            rows_read: 0,
        };
        if !reader.next_record()? {
            return Err(reader.error(FormatProblem::Empty { rows: 0, cols: 0 }));
        }
        if reader.line_buf.starts_with(b"\xef\xbb\xbf") {
            reader.line_buf.drain(..3);
            reader.split()?;
        }
        reader.n_cols = reader.cells.len();
        let is_header = match options.has_header {
            Some(h) => h,
            // A header has a non-empty cell that is not a number; an empty cell
            // in a numeric first line is a data error, reported as such.
            None => reader.cells.iter().any(|r| {
                let cell = &reader.cell_buf[r.clone()];
                !cell.is_empty() && parse_cell(cell).is_none()
            }),
        };
        if is_header {
            reader.header = Some(
                reader
                    .cells
                    .iter()
                    .map(|r| String::from_utf8_lossy(&reader.cell_buf[r.clone()]).into_owned())
                    .collect(),
            );
        } else {
            let mut row = Vec::with_capacity(reader.n_cols);
            reader.parse_record(&mut row)?;
            reader.pending = Some(row);
        }
        Ok(reader)
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's cells, when the first line was a header.
    #[must_use]
    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// Number of columns (cells of the first line).
    #[must_use]
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Data rows returned so far.
    #[must_use]
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Reads up to `max_rows` rows and **appends** their values (row-major,
    /// `n_cols()` per row) to `out`. Returns the number of rows read; 0 means
    /// the end of the file.
    ///
    /// # Errors
    /// [`FormatProblem::CsvRaggedRow`] for a line with a different number of
    /// cells, [`FormatProblem::CsvBadCell`] for a cell that is not a number
    /// (with 1-based line and column and the cell's text),
    /// [`FormatProblem::CsvMalformed`] for an unterminated quote;
    /// [`CoreError::Io`]. On error, `out` holds only the complete rows before
    /// the bad line.
    pub fn next_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        let mut count = 0;
        if max_rows == 0 {
            return Ok(0);
        }
        if let Some(row) = self.pending.take() {
            out.extend_from_slice(&row);
            count += 1;
        }
        while count < max_rows && self.next_record()? {
            let before = out.len();
            if let Err(e) = self.parse_record(out) {
                out.truncate(before);
                return Err(e);
            }
            count += 1;
        }
        self.rows_read += count as u64;
        Ok(count)
    }

    fn error(&self, problem: FormatProblem) -> CoreError {
        CoreError::Format(FormatError::new(&self.path, problem))
    }

    /// Reads the next non-blank line into `line_buf` and splits it. Returns
    /// false at the end of the file.
    fn next_record(&mut self) -> Result<bool> {
        loop {
            self.line_buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line_buf)
                .map_err(|e| CoreError::io(&self.path, "read", e))?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            while matches!(self.line_buf.last(), Some(b'\n' | b'\r')) {
                self.line_buf.pop();
            }
            if self.line_buf.iter().all(|b| matches!(b, b' ' | b'\t')) {
                continue;
            }
            self.split()?;
            return Ok(true);
        }
    }

    /// Splits `line_buf` into cells (unquoted and trimmed) in `cell_buf`.
    fn split(&mut self) -> Result<()> {
        self.cell_buf.clear();
        self.cells.clear();
        let mut start = 0;
        let mut in_quotes = false;
        let mut bytes = self.line_buf.iter().copied().peekable();
        while let Some(b) = bytes.next() {
            if in_quotes {
                if b == b'"' {
                    if bytes.peek() == Some(&b'"') {
                        bytes.next();
                        self.cell_buf.push(b'"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    self.cell_buf.push(b);
                }
            } else if b == self.delimiter {
                self.cells
                    .push(trim(&self.cell_buf, start..self.cell_buf.len()));
                start = self.cell_buf.len();
            } else if b == b'"' {
                in_quotes = true;
            } else {
                self.cell_buf.push(b);
            }
        }
        if in_quotes {
            return Err(self.error(FormatProblem::CsvMalformed {
                line: self.line,
                detail: "a quoted cell is not closed (quoted cells cannot span lines)".to_string(),
            }));
        }
        self.cells
            .push(trim(&self.cell_buf, start..self.cell_buf.len()));
        Ok(())
    }

    /// Parses the current record's cells, appending to `out`.
    fn parse_record(&self, out: &mut Vec<f32>) -> Result<()> {
        if self.cells.len() != self.n_cols {
            return Err(self.error(FormatProblem::CsvRaggedRow {
                line: self.line,
                expected: self.n_cols,
                found: self.cells.len(),
            }));
        }
        for (i, range) in self.cells.iter().enumerate() {
            let cell = &self.cell_buf[range.clone()];
            match parse_cell(cell) {
                Some(v) => out.push(v),
                None => {
                    return Err(self.error(FormatProblem::CsvBadCell {
                        line: self.line,
                        column: i + 1,
                        cell: String::from_utf8_lossy(cell).into_owned(),
                    }));
                }
            }
        }
        Ok(())
    }
}

fn trim(buf: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && matches!(buf[range.start], b' ' | b'\t') {
        range.start += 1;
    }
    while range.end > range.start && matches!(buf[range.end - 1], b' ' | b'\t') {
        range.end -= 1;
    }
    range
}

/// A cell as a number: anything `f32::from_str` accepts (which includes `nan`,
/// `NaN`, `inf`, `-infinity`, case-insensitively). Empty cells are not numbers.
fn parse_cell(cell: &[u8]) -> Option<f32> {
    if cell.is_empty() {
        return None;
    }
    std::str::from_utf8(cell).ok()?.parse::<f32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_nan_but_not_empty() {
        assert_eq!(parse_cell(b"1.5"), Some(1.5));
        assert_eq!(parse_cell(b"-2e3"), Some(-2000.0));
        assert!(parse_cell(b"nan").unwrap().is_nan());
        assert!(parse_cell(b"NaN").unwrap().is_nan());
        assert_eq!(parse_cell(b"inf"), Some(f32::INFINITY));
        assert_eq!(parse_cell(b""), None);
        assert_eq!(parse_cell(b"x"), None);
        assert_eq!(parse_cell(b"\xff"), None);
    }
}
