//! [`DataSource`]: rows of an n × d matrix, read chunk by chunk.
//!
//! One trait serves a memory-mapped file of any size and an ndarray in memory,
//! so library users, tests and the command line run the same code path. A source
//! hands out row ranges as row-major `f32` slices: zero-copy where the bytes are
//! already aligned little-endian `f32`, converted into a caller-provided scratch
//! buffer otherwise (other dtypes, misaligned data, `.fvecs` row prefixes,
//! non-contiguous arrays). Nothing ever materialises the whole matrix.

use std::ops::Range;

use ndarray::ArrayView2;

use crate::error::{CoreError, Result};
use crate::parallel::AllReduce;
use crate::sparse::SparseSource;

/// A row-major matrix of `f32` values readable in row ranges.
///
/// Implementations must be cheap to share between rayon workers (`Sync`) and
/// must return the same values for the same rows every time.
pub trait DataSource: Sync {
    /// Number of rows (points).
    fn n_rows(&self) -> usize;

    /// Number of columns (features).
    fn n_cols(&self) -> usize;

    /// Rows `range` as a row-major slice of `range.len() * n_cols()` values.
    ///
    /// Returns a view into the source where possible; otherwise fills `scratch`
    /// (growing it as needed) and returns a view into it. `range` must lie within
    /// `0..n_rows()`.
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]>;

    /// A short human name for messages: the file path, or "in-memory array".
    fn name(&self) -> String;

    /// Hints that a sequential pass over the whole source begins
    /// (`madvise(MADV_SEQUENTIAL)` for memory-mapped files). Default: nothing.
    fn advise_sequential(&self) {}

    /// Hints that upcoming reads are scattered (`madvise(MADV_RANDOM)`): the
    /// kernel then reads only the pages touched, not megabytes around each.
    fn advise_random(&self) {}

    /// Hints that rows `range` will be read soon (`madvise(MADV_WILLNEED)`):
    /// the kernel starts reading them in the background, so many scattered
    /// runs of rows are fetched in parallel instead of one fault at a time.
    /// The same as [`DataSource::hint`] with [`Hint::WillNeed`].
    fn will_need(&self, range: Range<usize>) {
        self.hint(range, Hint::WillNeed);
    }

    /// Tells a source backed by a file's pages about rows `range` (see
    /// [`Hint`]): speed only, never a value read. Default: nothing (a source
    /// in memory). Wrappers forward it, mapping their rows to the inner
    /// source's; this, not [`DataSource::will_need`], is the method to forward.
    fn hint(&self, _range: Range<usize>, _hint: Hint) {}

    /// The processes this source is shared between, in a distributed (MPI) run:
    /// passes over the global chunk grid ([`crate::parallel::map_reduce_global`])
    /// then compute only this process's chunks and combine partials through it.
    /// Default: `None`, a single process. Wrappers forward their inner source's.
    fn comm(&self) -> Option<&dyn AllReduce> {
        None
    }

    /// In a distributed run over node-local shards ([`NodeLocal`]): the first
    /// global row of each process's rows, then the total (`size + 1`
    /// entries). Process `r` holds rows `layout[r]..layout[r + 1]` and can read
    /// only those; passes then run a chunk grid per process and merge the
    /// processes' partials in rank order
    /// ([`crate::parallel::map_reduce_global`]). Default: `None`, every process
    /// can read every row. Forwarded with [`DataSource::comm`] by
    /// [`forward_source!`](crate::forward_source).
    fn node_layout(&self) -> Option<&[usize]> {
        None
    }

    /// The same rows as canonical sparse lists ([`crate::sparse`]), for the
    /// passes that need only the non-zeros: a CSR `.npz`, or a wrapper that
    /// maps its zeros to zeros (L2 normalisation). Default: `None`, so that
    /// a wrapper which changes values never hands out its inner source's
    /// lists by mistake; wrappers that keep the sparsity forward it.
    fn sparse(&self) -> Option<&dyn SparseSource> {
        None
    }
}

/// What a pass tells a source about rows it is about to read or has just
/// read ([`DataSource::hint`]). Hints change only speed, never a value read:
/// a page dropped is read again from the file if it is needed after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// The rows will be read soon: start reading them in the background
    /// (`madvise(MADV_WILLNEED)` on a mapped file).
    WillNeed,
    /// A pass walking forward (`backward: false`) or backward has read the
    /// rows and will not read them again: their pages may leave the page
    /// cache now (`MADV_DONTNEED`, then `POSIX_FADV_DONTNEED`), so that
    /// reading ahead over a file larger than memory finds free pages instead
    /// of waiting for reclaim, and the pages the next pass reads first stay
    /// cached. A mapped file drops whole 2 MiB blocks (the largest page-cache
    /// folios), those the walk has left behind: with `backward` the block
    /// ends round up, otherwise down, so the ranges of consecutive chunks of
    /// one walk tile the file.
    Passed {
        /// The walk's direction.
        backward: bool,
    },
}

/// Writes, inside an `impl DataSource for Wrapper`, the methods that a wrapper
/// passes unchanged to the source in its field `inner`: list the methods to
/// forward, and write the others (the ones the wrapper changes) by hand.
///
/// ```
/// use std::ops::Range;
/// use mmclust_core::{ArraySource, DataSource, Result, forward_source};
///
/// /// A source whose rows are read twice as often as needed.
/// struct Doubled<S> {
///     inner: S,
/// }
///
/// impl<S: DataSource> DataSource for Doubled<S> {
///     forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, hint, comm);
///
///     fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
///         let mut other = Vec::new();
///         self.inner.rows(range.clone(), &mut other)?;
///         self.inner.rows(range, scratch)
///     }
/// }
///
/// let data = [1.0f32, 2.0, 3.0, 4.0];
/// let src = Doubled { inner: ArraySource::from_slice(&data, 2, 2)? };
/// assert_eq!(src.rows(1..2, &mut Vec::new())?, &[3.0, 4.0]);
/// # Ok::<(), mmclust_core::CoreError>(())
/// ```
#[macro_export]
macro_rules! forward_source {
    ($inner:ident => $($method:ident),+ $(,)?) => {
        $($crate::forward_source!(@ $inner $method);)+
    };
    (@ $inner:ident n_rows) => {
        fn n_rows(&self) -> usize {
            $crate::DataSource::n_rows(&self.$inner)
        }
    };
    (@ $inner:ident n_cols) => {
        fn n_cols(&self) -> usize {
            $crate::DataSource::n_cols(&self.$inner)
        }
    };
    (@ $inner:ident rows) => {
        fn rows<'a>(
            &'a self,
            range: ::std::ops::Range<usize>,
            scratch: &'a mut ::std::vec::Vec<f32>,
        ) -> $crate::Result<&'a [f32]> {
            $crate::DataSource::rows(&self.$inner, range, scratch)
        }
    };
    (@ $inner:ident name) => {
        fn name(&self) -> ::std::string::String {
            $crate::DataSource::name(&self.$inner)
        }
    };
    (@ $inner:ident advise_sequential) => {
        fn advise_sequential(&self) {
            $crate::DataSource::advise_sequential(&self.$inner);
        }
    };
    (@ $inner:ident advise_random) => {
        fn advise_random(&self) {
            $crate::DataSource::advise_random(&self.$inner);
        }
    };
    (@ $inner:ident hint) => {
        fn hint(&self, range: ::std::ops::Range<usize>, hint: $crate::source::Hint) {
            $crate::DataSource::hint(&self.$inner, range, hint);
        }
    };
    (@ $inner:ident sparse) => {
        fn sparse(&self) -> ::std::option::Option<&dyn $crate::sparse::SparseSource> {
            $crate::DataSource::sparse(&self.$inner)
        }
    };
    (@ $inner:ident comm) => {
        fn comm(&self) -> ::std::option::Option<&dyn $crate::parallel::AllReduce> {
            $crate::DataSource::comm(&self.$inner)
        }
        fn node_layout(&self) -> ::std::option::Option<&[usize]> {
            $crate::DataSource::node_layout(&self.$inner)
        }
    };
}

impl<S: DataSource + ?Sized> DataSource for &S {
    fn n_rows(&self) -> usize {
        (**self).n_rows()
    }
    fn n_cols(&self) -> usize {
        (**self).n_cols()
    }
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        (**self).rows(range, scratch)
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn advise_sequential(&self) {
        (**self).advise_sequential();
    }
    fn advise_random(&self) {
        (**self).advise_random();
    }
    fn hint(&self, range: Range<usize>, hint: Hint) {
        (**self).hint(range, hint);
    }
    fn comm(&self) -> Option<&dyn AllReduce> {
        (**self).comm()
    }
    fn node_layout(&self) -> Option<&[usize]> {
        (**self).node_layout()
    }
    fn sparse(&self) -> Option<&dyn SparseSource> {
        (**self).sparse()
    }
}

/// Several sources with the same columns, one after another: the shards of a
/// data set (`part-0.npy`, `part-1.npy`, …) read as one matrix.
#[derive(Debug)]
pub struct Concat<S> {
    parts: Vec<S>,
    /// First global row of each part, and the total at the end.
    starts: Vec<usize>,
}

impl<S: DataSource> Concat<S> {
    /// Joins `parts` in order.
    ///
    /// # Errors
    /// [`crate::CoreError::InvalidParameter`] naming the first part whose column
    /// count differs from the first part's, or when there are no parts.
    pub fn new(parts: Vec<S>) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(crate::CoreError::param("shards", "no shards given"));
        };
        let d = first.n_cols();
        let mut starts = Vec::with_capacity(parts.len() + 1);
        let mut total = 0usize;
        for p in &parts {
            if p.n_cols() != d {
                return Err(crate::CoreError::param(
                    "shards",
                    format!(
                        "{} has {} columns but {} has {d}; every shard needs the same columns",
                        p.name(),
                        p.n_cols(),
                        first.name()
                    ),
                ));
            }
            starts.push(total);
            total += p.n_rows();
        }
        starts.push(total);
        Ok(Concat { parts, starts })
    }

    /// The parts.
    pub fn parts(&self) -> &[S] {
        &self.parts
    }

    /// The part holding global `row` and the row's index within it.
    fn locate(&self, row: usize) -> (usize, usize) {
        let p = self.starts.partition_point(|&s| s <= row) - 1;
        (p, row - self.starts[p])
    }
}

impl<S: DataSource> DataSource for Concat<S> {
    fn n_rows(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }
    fn n_cols(&self) -> usize {
        self.parts.first().map_or(0, DataSource::n_cols)
    }
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        if range.is_empty() {
            scratch.clear();
            return Ok(&scratch[..]);
        }
        let (first, local) = self.locate(range.start);
        let end_local = local + range.len();
        if end_local <= self.parts[first].n_rows() {
            return self.parts[first].rows(local..end_local, scratch);
        }
        // Straddles parts: copy each piece.
        let mut out = std::mem::take(scratch);
        out.clear();
        let mut piece = Vec::new();
        let mut row = range.start;
        while row < range.end {
            let (p, local) = self.locate(row);
            let take = (self.parts[p].n_rows() - local).min(range.end - row);
            out.extend_from_slice(self.parts[p].rows(local..local + take, &mut piece)?);
            row += take;
        }
        *scratch = out;
        Ok(&scratch[..])
    }
    fn name(&self) -> String {
        match self.parts.len() {
            1 => self.parts[0].name(),
            n => format!("{} (+{} more shards)", self.parts[0].name(), n - 1),
        }
    }
    fn advise_sequential(&self) {
        self.parts.iter().for_each(DataSource::advise_sequential);
    }
    fn advise_random(&self) {
        self.parts.iter().for_each(DataSource::advise_random);
    }
    fn hint(&self, range: Range<usize>, hint: Hint) {
        let mut row = range.start;
        while row < range.end {
            let (p, local) = self.locate(row);
            let take = (self.parts[p].n_rows() - local).min(range.end - row);
            self.parts[p].hint(local..local + take, hint);
            row += take;
        }
    }
    /// One part's lists (shards of sparse files are read densely).
    fn sparse(&self) -> Option<&dyn SparseSource> {
        match self.parts.as_slice() {
            [one] => one.sparse(),
            _ => None,
        }
    }
}

/// Rows `range` of another source, numbered from 0: the part of a file one
/// process of a distributed run predicts or writes. Not itself distributed.
#[derive(Debug)]
pub struct RowRange<S> {
    inner: S,
    range: Range<usize>,
}

impl<S: DataSource> RowRange<S> {
    /// Rows `range` of `inner`.
    ///
    /// # Errors
    /// [`crate::CoreError::InvalidParameter`] when `range` is not within the source.
    pub fn new(inner: S, range: Range<usize>) -> Result<Self> {
        if range.start > range.end || range.end > inner.n_rows() {
            return Err(crate::CoreError::param(
                "range",
                format!(
                    "rows {range:?} are not within the {} rows of {}",
                    inner.n_rows(),
                    inner.name()
                ),
            ));
        }
        Ok(RowRange { inner, range })
    }
}

impl<S: DataSource> DataSource for RowRange<S> {
    fn n_rows(&self) -> usize {
        self.range.len()
    }
    forward_source!(inner => n_cols, name, advise_sequential, advise_random);
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        let start = self.range.start;
        self.inner
            .rows(start + range.start..start + range.end, scratch)
    }
    fn hint(&self, range: Range<usize>, hint: Hint) {
        let start = self.range.start;
        self.inner
            .hint(start + range.start..start + range.end, hint);
    }
}

/// A source shared by the processes of a distributed run: every process sees
/// all `n` rows (a memory map of one file on a shared filesystem, or of every
/// shard), and passes over the global chunk grid split the chunks between them.
#[derive(Debug)]
pub struct Distributed<'c, S> {
    inner: S,
    comm: &'c dyn AllReduce,
}

impl<'c, S: DataSource> Distributed<'c, S> {
    /// Shares `inner` between the processes of `comm`.
    pub fn new(inner: S, comm: &'c dyn AllReduce) -> Self {
        Distributed { inner, comm }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for Distributed<'_, S> {
    forward_source!(inner => n_rows, n_cols, rows, name, advise_sequential, advise_random, hint);
    fn comm(&self) -> Option<&dyn AllReduce> {
        Some(self.comm)
    }
}

/// The rows of one process of a distributed run over node-local shards: each
/// process opened its own files (a disk only it sees), and the global matrix
/// is the processes' rows in rank order. Every process reports the global row
/// count, but reads only its own rows ([`DataSource::node_layout`]); a read of
/// another process's rows is an error naming both ranges. Passes run a chunk
/// grid per process and merge partials in rank order, so results are
/// reproducible bit for bit for one file-to-process layout (not across
/// layouts).
#[derive(Debug)]
pub struct NodeLocal<'c, S> {
    inner: S,
    comm: &'c dyn AllReduce,
    layout: Vec<usize>,
}

impl<'c, S: DataSource> NodeLocal<'c, S> {
    /// Joins this process's rows `inner` to the others' (collective: every
    /// process of `comm` calls it, with its own rows, any number including 0).
    ///
    /// # Errors
    /// A communication failure; [`CoreError::InvalidParameter`] when the
    /// processes disagree on the column count (naming the first that differs).
    pub fn new(inner: S, comm: &'c dyn AllReduce) -> Result<Self> {
        let mine = [inner.n_rows() as f64, inner.n_cols() as f64];
        let all = comm.all_gather_f64(&mine)?;
        let mut layout = Vec::with_capacity(all.len() + 1);
        let mut total = 0usize;
        for (r, b) in all.iter().enumerate() {
            let &[rows, cols] = b.as_slice() else {
                return Err(CoreError::communication(format!(
                    "node-local layout: process {r} sent {} values, not 2",
                    b.len()
                )));
            };
            if cols as usize != inner.n_cols() {
                return Err(CoreError::param(
                    "node-local",
                    format!(
                        "process {r}'s rows have {cols} columns but process {}'s ({}) have {}",
                        comm.rank(),
                        inner.name(),
                        inner.n_cols()
                    ),
                ));
            }
            layout.push(total);
            total += rows as usize;
        }
        layout.push(total);
        Ok(NodeLocal {
            inner,
            comm,
            layout,
        })
    }

    /// This process's rows `inner` in a layout already agreed between the
    /// processes (not collective): `layout[r]` is the first global row of
    /// process `r`, the last entry the total; `inner` must hold
    /// `layout[rank + 1] - layout[rank]` rows (reads past its end fail).
    pub fn with_layout(inner: S, comm: &'c dyn AllReduce, layout: Vec<usize>) -> Self {
        NodeLocal {
            inner,
            comm,
            layout,
        }
    }

    /// The global rows this process holds.
    #[must_use]
    pub fn held(&self) -> Range<usize> {
        let r = self.comm.rank();
        self.layout[r]..self.layout[r + 1]
    }

    /// The wrapped source (this process's rows, numbered from 0).
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for NodeLocal<'_, S> {
    fn n_rows(&self) -> usize {
        *self.layout.last().unwrap_or(&0)
    }
    forward_source!(inner => n_cols, name, advise_sequential, advise_random);
    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        let held = self.held();
        if range.is_empty() {
            scratch.clear();
            return Ok(&scratch[..]);
        }
        if range.start < held.start || range.end > held.end {
            return Err(CoreError::param(
                "node-local",
                format!(
                    "rows {range:?} are not on this process's disk: process {} holds rows {held:?} \
                     ({}); this step reads rows of other processes, which node-local shards do not allow",
                    self.comm.rank(),
                    self.inner.name()
                ),
            ));
        }
        self.inner
            .rows(range.start - held.start..range.end - held.start, scratch)
    }
    fn hint(&self, range: Range<usize>, hint: Hint) {
        let held = self.held();
        let (start, end) = (range.start.max(held.start), range.end.min(held.end));
        if start < end {
            self.inner.hint(start - held.start..end - held.start, hint);
        }
    }
    fn comm(&self) -> Option<&dyn AllReduce> {
        Some(self.comm)
    }
    fn node_layout(&self) -> Option<&[usize]> {
        Some(&self.layout)
    }
}

thread_local! {
    /// Buffers for [`with_inner_rows`]: a stack, so nested wrappers each
    /// reuse their own.
    static INNER_ROWS: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads rows `range` of `inner` and hands them to `f`, for a wrapper that
/// writes transformed rows into its caller's scratch: the inner source may
/// need a buffer of its own (a file that is not zero-copy), and this one is
/// kept per thread, so no pass allocates per chunk.
///
/// # Errors
/// The inner source's read errors.
pub fn with_inner_rows<S: DataSource + ?Sized, R>(
    inner: &S,
    range: Range<usize>,
    f: impl FnOnce(&[f32]) -> R,
) -> Result<R> {
    let mut own = INNER_ROWS
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_default();
    let result = inner.rows(range, &mut own).map(f);
    INNER_ROWS.with(|p| p.borrow_mut().push(own));
    result
}

/// An in-memory matrix (an ndarray view) as a [`DataSource`].
///
/// Standard-layout (C-order) views are served zero-copy; other layouts are
/// copied chunk by chunk.
#[derive(Debug, Clone)]
pub struct ArraySource<'a> {
    view: ArrayView2<'a, f32>,
}

impl<'a> ArraySource<'a> {
    /// Wraps a view.
    #[must_use]
    pub fn new(view: ArrayView2<'a, f32>) -> Self {
        ArraySource { view }
    }

    /// Wraps a row-major slice of `n_rows * n_cols` values.
    ///
    /// # Errors
    /// [`crate::CoreError::InvalidParameter`] when the length does not match.
    pub fn from_slice(data: &'a [f32], n_rows: usize, n_cols: usize) -> Result<Self> {
        let view = ArrayView2::from_shape((n_rows, n_cols), data).map_err(|_| {
            crate::CoreError::param(
                "data",
                format!(
                    "slice of {} values is not {n_rows} rows × {n_cols} columns",
                    data.len()
                ),
            )
        })?;
        Ok(ArraySource { view })
    }
}

impl DataSource for ArraySource<'_> {
    fn n_rows(&self) -> usize {
        self.view.nrows()
    }

    fn n_cols(&self) -> usize {
        self.view.ncols()
    }

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        let d = self.view.ncols();
        if let Some(all) = self.view.as_slice() {
            return Ok(&all[range.start * d..range.end * d]);
        }
        Ok(convert_rows(&self.view, range, scratch, |v| v))
    }

    fn name(&self) -> String {
        "in-memory array".to_string()
    }
}

/// Rows `range` of `view` (any layout, any element type), each value passed
/// through `convert`, written row-major into `scratch`: the read of a
/// [`DataSource`] over an in-memory array that cannot be served in place.
pub fn convert_rows<'s, T: Copy>(
    view: &ArrayView2<'_, T>,
    range: Range<usize>,
    scratch: &'s mut Vec<f32>,
    convert: impl Fn(T) -> f32,
) -> &'s [f32] {
    scratch.clear();
    scratch.reserve(range.len() * view.ncols());
    for row in view.slice(ndarray::s![range, ..]).rows() {
        scratch.extend(row.iter().map(|&v| convert(v)));
    }
    &scratch[..]
}

/// A [`DataSource`] that refuses non-finite values: every read of the wrapped
/// source is scanned, and the first NaN or ±inf in a read fails it with
/// [`CoreError::NonFiniteValue`] naming the row and column.
///
/// For passes that have no statistics pass of their own to catch such values
/// (prediction, scoring, silhouette): the scan is a linear pass over rows the
/// kernel is about to read anyway, so it costs no extra I/O. Where several
/// chunks hold bad values, which one is reported depends on scheduling; the
/// exit code and the kind of error do not.
#[derive(Debug)]
pub struct FiniteSource<S> {
    inner: S,
}

impl<S: DataSource> FiniteSource<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        FiniteSource { inner }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DataSource> DataSource for FiniteSource<S> {
    forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, hint, comm);

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        let start = range.start;
        let rows = self.inner.rows(range, scratch)?;
        if let Some(pos) = rows.iter().position(|v| !v.is_finite()) {
            let d = self.inner.n_cols().max(1);
            return Err(CoreError::NonFiniteValue {
                source_name: self.inner.name(),
                row: start + pos / d,
                col: pos % d,
            });
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn c_order_view_is_zero_copy_and_transposed_view_is_copied() {
        let a = Array2::from_shape_fn((5, 3), |(i, j)| (i * 10 + j) as f32);
        let src = ArraySource::new(a.view());
        let mut scratch = Vec::new();
        let rows = src.rows(1..3, &mut scratch).unwrap();
        assert_eq!(rows, &[10.0, 11.0, 12.0, 20.0, 21.0, 22.0]);
        assert!(scratch.is_empty());

        let t = a.t().to_owned();
        let tt = t.t();
        let src = ArraySource::new(tt);
        let rows = src.rows(3..5, &mut scratch).unwrap().to_vec();
        assert_eq!(rows, vec![30.0, 31.0, 32.0, 40.0, 41.0, 42.0]);
    }

    #[test]
    fn finite_source_names_the_first_bad_value_of_a_read() {
        let mut data = vec![1.0f32; 12];
        data[7] = f32::NEG_INFINITY;
        let src = FiniteSource::new(ArraySource::from_slice(&data, 4, 3).unwrap());
        let mut scratch = Vec::new();
        assert_eq!(src.rows(0..2, &mut scratch).unwrap().len(), 6);
        let err = src.rows(1..4, &mut scratch).unwrap_err();
        assert!(
            matches!(err, CoreError::NonFiniteValue { row: 2, col: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("row 2, column 1"), "{err}");
    }

    #[test]
    fn concatenated_parts_read_as_one_matrix() {
        let a: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let b: Vec<f32> = (10..16).map(|v| v as f32).collect();
        let c: Vec<f32> = (16..30).map(|v| v as f32).collect();
        let parts = vec![
            ArraySource::from_slice(&a, 5, 2).unwrap(),
            ArraySource::from_slice(&b, 3, 2).unwrap(),
            ArraySource::from_slice(&c, 7, 2).unwrap(),
        ];
        let cat = Concat::new(parts).unwrap();
        assert_eq!((cat.n_rows(), cat.n_cols()), (15, 2));
        let mut scratch = Vec::new();
        let all: Vec<f32> = (0..30).map(|v| v as f32).collect();
        for (s, e) in [(0, 15), (4, 9), (5, 8), (6, 7), (14, 15), (3, 3)] {
            assert_eq!(
                cat.rows(s..e, &mut scratch).unwrap(),
                &all[2 * s..2 * e],
                "{s}..{e}"
            );
        }
        let odd = [0.0f32; 3];
        let bad = Concat::new(vec![
            ArraySource::from_slice(&a, 5, 2).unwrap(),
            ArraySource::from_slice(&odd, 1, 3).unwrap(),
        ]);
        assert!(bad.unwrap_err().to_string().contains("3 columns"));
    }

    #[test]
    fn from_slice_checks_length() {
        let data = [0.0f32; 6];
        assert!(ArraySource::from_slice(&data, 2, 3).is_ok());
        let err = ArraySource::from_slice(&data, 4, 2).unwrap_err();
        assert!(err.to_string().contains("4 rows × 2 columns"), "{err}");
    }
}
