//! Sparse rows: a [`DataSource`](crate::DataSource) that can also hand out
//! its rows as column/value lists ([`SparseSource`]), so that a pass whose
//! arithmetic only needs the non-zeros (the spherical K-means of TF-IDF
//! documents, issue 22) does O(nnz) work and memory per row instead of
//! O(d).
//!
//! The contract that lets such a pass give the dense path's bits: the lists
//! are *canonical* ([`SparseRows`]): in each row the columns strictly
//! increase, and the value at a listed column is the `f32` value the dense
//! row ([`DataSource::rows`](crate::DataSource::rows)) holds there, bit for
//! bit; every column not listed holds `+0` in the dense row. Explicit zeros
//! may be listed.

use std::ops::Range;

use crate::error::Result;

/// Canonical sparse rows of a row range: row `i` holds the columns
/// `cols[ptr[i]..ptr[i + 1]]` (strictly increasing) and their values
/// `vals[..]` at the same positions.
#[derive(Debug, Clone, Default)]
pub struct SparseRows {
    /// First row of the range in its source.
    pub start: usize,
    /// `n_rows + 1` offsets into `cols` and `vals`, from 0.
    pub ptr: Vec<usize>,
    /// Column of each stored value.
    pub cols: Vec<u32>,
    /// The values.
    pub vals: Vec<f32>,
}

impl SparseRows {
    /// Empties the rows for a new range starting at row `start`.
    pub fn clear(&mut self, start: usize) {
        self.start = start;
        self.ptr.clear();
        self.ptr.push(0);
        self.cols.clear();
        self.vals.clear();
    }

    /// Number of rows held.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.ptr.len().saturating_sub(1)
    }

    /// Row `i` (0-based within the range): its columns and values.
    #[must_use]
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.ptr[i]..self.ptr[i + 1];
        (&self.cols[r.clone()], &self.vals[r])
    }

    /// Ends the row whose entries were pushed since the last call.
    pub fn end_row(&mut self) {
        self.ptr.push(self.cols.len());
    }

    /// Writes row `i` densely into `out` (`d` values): what the dense source
    /// holds for it.
    pub fn densify_row(&self, i: usize, d: usize, out: &mut Vec<f32>) {
        out.clear();
        out.resize(d, 0.0);
        let (cols, vals) = self.row(i);
        for (&c, &v) in cols.iter().zip(vals) {
            out[c as usize] = v;
        }
    }
}

/// Rows as canonical sparse lists (see the module documentation).
pub trait SparseSource: Sync {
    /// Fills `out` with rows `range` (which must lie within the source's
    /// rows), canonical: strictly increasing columns, the dense row's values.
    ///
    /// # Errors
    /// What reading the dense rows would report (e.g. a row of norm 0 under
    /// [`crate::normalize::Normalized`]).
    fn sparse_rows(&self, range: Range<usize>, out: &mut SparseRows) -> Result<()>;
}
