//! A streaming reader for numeric CSV files, over the `csv` crate.
//!
//! CSV is accepted where inputs are small (demo data, centres given by hand):
//! it is text, so it cannot be memory-mapped as a matrix; [`super::open_matrix`]
//! reads it into memory. The reader itself streams, a batch of rows at a time.
//!
//! What it accepts: records ended by `\n` or `\r\n` (the last with or without
//! one); cells separated by a one-byte delimiter, trimmed of spaces, tabs and
//! line breaks, optionally wrapped in double quotes (`""` is a quote inside; a
//! quoted cell may span lines; a quote opens one only as the cell's first
//! byte, so in `1, "2"` the crate keeps it, and `cell` removes the pair); a UTF-8 byte-order mark at the start; blank lines
//! (skipped). Every data cell must parse as an `f32` (`1`, `-2.5e3`, `inf`, and
//! `nan`/`NaN` for a missing value); an empty cell is an error, not a silent
//! NaN.
//!
//! The first record is a header when `has_header` says so, or, by default,
//! when any of its non-empty cells is not a number.
//!
//! The `csv` crate splits records; this module adds what it does not do:
//! errors that name the line (where a record starts, counting the lines inside
//! quoted cells and the blank lines it skips) and the column, and an error for
//! a quote left open at the end of the file, which the crate would read as a
//! cell running to the end (see [`QuoteWatch`]).

use std::fs::File;
use std::io::Read;
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
    reader: csv::Reader<QuoteWatch<File>>,
    header: Option<Vec<String>>,
    n_cols: usize,
    /// Line (1-based) where the current record starts.
    line: u64,
    /// The first line's values when it was data.
    pending: Option<Vec<f32>>,
    record: csv::ByteRecord,
    rows_read: u64,
}

impl CsvReader {
    /// Opens `path` and reads its first non-blank record (header or first row).
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
        // `\n` alone ends a record: a `\r` before it is trimmed with the
        // cell, which keeps the line arithmetic in `next_record` exact.
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(options.delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(256 * 1024)
            .from_reader(QuoteWatch::new(file, options.delimiter));
        let mut reader = CsvReader {
            path: path.to_path_buf(),
            reader,
            header: None,
            n_cols: 0,
            line: 0,
            pending: None,
            record: csv::ByteRecord::new(),
            rows_read: 0,
        };
        if !reader.next_record()? {
            return Err(reader.error(FormatProblem::Empty { rows: 0, cols: 0 }));
        }
        reader.n_cols = reader.record.len();
        let is_header = match options.has_header {
            Some(h) => h,
            // A header has a non-empty cell that is not a number; an empty cell
            // in a numeric first line is a data error, reported as such.
            None => reader
                .cells()
                .any(|cell| !cell.is_empty() && parse_cell(cell).is_none()),
        };
        if is_header {
            reader.header = Some(
                reader
                    .cells()
                    .map(|cell| String::from_utf8_lossy(cell).into_owned())
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
    /// [`FormatProblem::CsvMalformed`] for a quote never closed;
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

    /// The current record's cells, trimmed (and unquoted, see `cell`).
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        self.record.iter().map(cell)
    }

    /// Reads the next record that is not blank into `record` and sets `line`
    /// to the line it starts on. Returns false at the end of the file.
    fn next_record(&mut self) -> Result<bool> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| self.csv_error(e))?;
            if !more {
                return Ok(false);
            }
            let watch = self.reader.get_ref();
            let end = self.reader.position();
            let consumed_all = watch.eof && end.byte() == watch.bytes;
            if consumed_all && let Some(line) = watch.unclosed_quote() {
                return Err(self.error(FormatProblem::CsvMalformed {
                    line,
                    detail: "a quoted cell opened on this line is never closed".to_string(),
                }));
            }
            // `position().line()` is 1 + the `\n`s consumed so far: those
            // inside the record's quoted cells, and its terminator.
            // The record ended at the end of the file, not at a `\n`.
            let at_eof = consumed_all && watch.last != Some(b'\n');
            let inside = self
                .record
                .as_slice()
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.line = end.line() - inside - u64::from(!at_eof);
            let blank = self.record.len() == 1 && trim(&self.record[0]).is_empty();
            if !blank {
                return Ok(true);
            }
        }
    }

    /// A read error: I/O, or (not expected for byte records read flexibly)
    /// one the `csv` crate reports itself.
    fn csv_error(&self, e: csv::Error) -> CoreError {
        let detail = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(e) => CoreError::io(&self.path, "read", e),
            _ => self.error(FormatProblem::CsvMalformed {
                line: self.reader.position().line(),
                detail,
            }),
        }
    }

    /// Parses the current record's cells, appending to `out`.
    fn parse_record(&self, out: &mut Vec<f32>) -> Result<()> {
        if self.record.len() != self.n_cols {
            return Err(self.error(FormatProblem::CsvRaggedRow {
                line: self.line,
                expected: self.n_cols,
                found: self.record.len(),
            }));
        }
        for (i, cell) in self.cells().enumerate() {
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

/// Where the quoting state machine stands (the `csv` crate's, for a `"`
/// quote, doubled quotes and `\n` records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a cell.
    CellStart,
    /// Inside an unquoted cell (a `"` here is a plain byte).
    Plain,
    /// Inside a quoted cell.
    Quoted,
    /// Just after a `"` inside a quoted cell: a closing quote, or the first
    /// half of `""`.
    QuoteInQuoted,
}

/// The file under the `csv` crate's reader, watched as the crate reads it
/// ahead: how many bytes and which last byte it has seen, whether it reached
/// the end, and the line of a quote that is still open. The crate ends a
/// quoted cell at the end of the file without a word; with this, a quote
/// never closed is an error naming its line.
#[derive(Debug)]
struct QuoteWatch<R> {
    inner: R,
    delimiter: u8,
    state: Quoting,
    /// Lines seen so far, 1-based: the line of the next byte.
    line: u64,
    bytes: u64,
    last: Option<u8>,
    eof: bool,
    /// The line of the last quote that opened a cell, while in that cell.
    open_quote: Option<u64>,
}

impl<R> QuoteWatch<R> {
    fn new(inner: R, delimiter: u8) -> Self {
        QuoteWatch {
            inner,
            delimiter,
            state: Quoting::CellStart,
            line: 1,
            bytes: 0,
            last: None,
            eof: false,
            open_quote: None,
        }
    }

    /// The line of a quote still open after the bytes seen so far.
    fn unclosed_quote(&self) -> Option<u64> {
        self.open_quote.filter(|_| self.state == Quoting::Quoted)
    }

    fn watch(&mut self, mut data: &[u8]) {
        // The crate drops a byte-order mark at the start of the file.
        if self.bytes == 0 && data.starts_with(b"\xef\xbb\xbf") {
            data = &data[3..];
            self.bytes = 3;
        }
        for &b in data {
            let ends_cell = b == self.delimiter || b == b'\n';
            self.state = match self.state {
                Quoting::CellStart if b == b'"' => {
                    self.open_quote = Some(self.line);
                    Quoting::Quoted
                }
                Quoting::Quoted if b == b'"' => Quoting::QuoteInQuoted,
                Quoting::Quoted => Quoting::Quoted,
                Quoting::QuoteInQuoted if b == b'"' => Quoting::Quoted,
                _ if ends_cell => Quoting::CellStart,
                _ => Quoting::Plain,
            };
            if self.state != Quoting::Quoted && self.state != Quoting::QuoteInQuoted {
                self.open_quote = None;
            }
            self.line += u64::from(b == b'\n');
        }
        self.bytes += data.len() as u64;
        if let Some(&b) = data.last() {
            self.last = Some(b);
        }
    }
}

impl<R: Read> Read for QuoteWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.watch(&buf[..n]);
        Ok(n)
    }
}

/// A cell without the spaces, tabs and line breaks around it (a line break
/// can end a quoted cell, and `\r` ends every cell before a `\r\n`).
fn trim(cell: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = cell.iter().position(|b| !blank(b)).unwrap_or(cell.len());
    let end = cell
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &cell[start..end]
}

/// A cell's content: trimmed, and without the quotes of a quoted cell that
/// follows spaces (`1, "2"`), which the `csv` crate leaves as plain bytes (a
/// quote opens a quoted cell only as a cell's first byte there); such a cell
/// reads as it did before the crate, and as a user means it.
fn cell(raw: &[u8]) -> &[u8] {
    let t = trim(raw);
    match t {
        [b'"', inner @ .., b'"'] if !inner.contains(&b'"') => trim(inner),
        _ => t,
    }
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

    #[test]
    fn trims_spaces_tabs_and_carriage_returns() {
        assert_eq!(trim(b" \t1.5\r"), b"1.5");
        assert_eq!(trim(b"2\n\n"), b"2");
        assert_eq!(trim(b" a b "), b"a b");
        assert_eq!(trim(b" \r\t "), b"");
        assert_eq!(trim(b""), b"");
    }

    #[test]
    fn a_quoted_cell_after_spaces_is_unquoted() {
        assert_eq!(cell(b" \"2\""), b"2");
        assert_eq!(cell(b"\t\" 1.5 \" "), b"1.5");
        assert_eq!(cell(b"3"), b"3");
        assert_eq!(
            cell(b" \"a\"\"b\""),
            b"\"a\"\"b\"",
            "inner quotes: left as it is"
        );
        assert_eq!(cell(b"\""), b"\"");
    }

    #[test]
    fn the_watch_follows_quotes_across_reads() {
        let mut w = QuoteWatch::new(std::io::empty(), b',');
        w.watch(b"a,\"b\n");
        assert_eq!(w.unclosed_quote(), Some(1));
        w.watch(b"c\"\"d");
        assert_eq!(w.unclosed_quote(), Some(1), "a doubled quote keeps it open");
        w.watch(b"\",1\n\"x");
        assert_eq!(w.unclosed_quote(), Some(3));
        w.watch(b"\"");
        assert_eq!(
            w.unclosed_quote(),
            None,
            "closed, or the first half of a doubled quote"
        );
        w.watch(b"\n2,x\"y\n");
        assert_eq!(
            w.unclosed_quote(),
            None,
            "a quote inside a plain cell is a byte"
        );
        assert_eq!(w.line, 5);
    }
}
