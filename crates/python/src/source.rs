//! Python inputs as [`DataSource`]s: NumPy arrays (any real dtype, any
//! layout, `np.memmap` included) and paths to matrix files.
//!
//! * A C-contiguous `float32` array is read in place: the engine sees the
//!   array's own memory, no copy.
//! * Any other dtype or layout is converted chunk by chunk as the engine
//!   reads it, into the per-worker scratch buffer the [`DataSource`] contract
//!   provides: memory stays O(chunk), whatever the size of the array.
//! * A path is opened by the engine itself ([`open_matrix`]): a `.npy` file is
//!   memory-mapped, so data larger than RAM never passes through Python.
//!
//! Every source is read through [`Interruptible`], which fails the next read
//! once the stop flag is set: that is how Ctrl-C ends a fit (see
//! `crate::run_detached`).

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use mmclust_core::format::{FormatProblem, Matrix, open_matrix};
use mmclust_core::source::convert_rows;
use mmclust_core::{ArraySource, CoreError, DataSource, forward_source};
use numpy::ndarray::ArrayView2;
use numpy::{PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A value that converts to the engine's `f32`.
pub(crate) trait ToF32: Copy + Sync + numpy::Element {
    fn to_f32(self) -> f32;
}

macro_rules! to_f32_as {
    ($($t:ty),*) => {$(
        impl ToF32 for $t {
            #[inline]
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f32(self) -> f32 {
                // Round to nearest, as NumPy's astype(np.float32) does.
                self as f32
            }
        }
    )*};
}
to_f32_as!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);

impl ToF32 for bool {
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(u8::from(self))
    }
}

/// An array of another dtype or layout, converted to `f32` chunk by chunk.
pub(crate) struct Converted<'a, T> {
    view: ArrayView2<'a, T>,
}

impl<T: ToF32> DataSource for Converted<'_, T> {
    fn n_rows(&self) -> usize {
        self.view.nrows()
    }

    fn n_cols(&self) -> usize {
        self.view.ncols()
    }

    fn rows<'a>(
        &'a self,
        range: Range<usize>,
        scratch: &'a mut Vec<f32>,
    ) -> mmclust_core::Result<&'a [f32]> {
        Ok(convert_rows(&self.view, range, scratch, ToF32::to_f32))
    }

    fn name(&self) -> String {
        "in-memory array".to_string()
    }
}

/// A source that fails its next read once `stop` is set.
pub(crate) struct Interruptible<'a> {
    pub(crate) inner: &'a dyn DataSource,
    pub(crate) stop: &'a AtomicBool,
}

/// The message of the error [`Interruptible`] returns (never shown: the
/// caller raises `KeyboardInterrupt` instead).
pub(crate) const INTERRUPTED: &str = "interrupted by a signal";

impl DataSource for Interruptible<'_> {
    forward_source!(inner => n_rows, n_cols, name, advise_sequential, advise_random, hint);
    fn rows<'a>(
        &'a self,
        range: Range<usize>,
        scratch: &'a mut Vec<f32>,
    ) -> mmclust_core::Result<&'a [f32]> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(CoreError::param("data", INTERRUPTED));
        }
        self.inner.rows(range, scratch)
    }
}

macro_rules! inputs {
    ($($variant:ident => $t:ty),* $(,)?) => {
        /// A Python input held for the duration of one call: a read-only
        /// borrow of a NumPy array (so nobody writes to it meanwhile), or an
        /// opened matrix file.
        pub(crate) enum Input<'py> {
            F32(PyReadonlyArray2<'py, f32>),
            $($variant(PyReadonlyArray2<'py, $t>),)*
            File(Matrix),
        }

        /// The message of an error opening a path. A null in a Parquet or Arrow
/// file: the engine's message names the command line's `--drop-null`, which
/// Python has no equivalent of; say instead what to do from Python.
fn path_error(e: &CoreError) -> String {
    match e {
        CoreError::Format(f) => match &f.problem {
            FormatProblem::NullValue { column, row } => format!(
                "{}: column '{column}' is null at row {row} (0-based); fill or drop the rows \
                 with nulls first (for example pyarrow.parquet.read_table(path).drop_null(), \
                 or DataFrame.dropna()) and pass the table or frame",
                f.path.display()
            ),
            _ => e.to_string(),
        },
        _ => e.to_string(),
    }
}

impl<'py> Input<'py> {
            fn from_array(x: &Bound<'py, PyAny>) -> PyResult<Option<Self>> {
                if let Ok(a) = x.cast::<numpy::PyArray2<f32>>() {
                    return Ok(Some(Input::F32(a.try_readonly()?)));
                }
                $(
                    if let Ok(a) = x.cast::<numpy::PyArray2<$t>>() {
                        return Ok(Some(Input::$variant(a.try_readonly()?)));
                    }
                )*
                Ok(None)
            }

            /// The engine's view of the input.
            pub(crate) fn source(&self) -> Box<dyn DataSource + '_> {
                match self {
                    // ndarray's `as_slice` is Some only for row-major (C)
                    // order; NumPy's would accept Fortran order too.
                    Input::F32(a) => match a.as_array().to_slice() {
                        Some(slice) => {
                            let (n, d) = (a.shape()[0], a.shape()[1]);
                            Box::new(
                                ArraySource::from_slice(slice, n, d)
                                    .expect("a 2-D array's slice has n·d values"),
                            )
                        }
                        None => Box::new(Converted { view: a.as_array() }),
                    },
                    $(Input::$variant(a) => Box::new(Converted { view: a.as_array() }),)*
                    Input::File(m) => Box::new(m),
                }
            }
        }
    };
}

inputs! {
    F64 => f64,
    I8 => i8,
    I16 => i16,
    I32 => i32,
    I64 => i64,
    U8 => u8,
    U16 => u16,
    U32 => u32,
    U64 => u64,
    Bool => bool,
}

impl<'py> Input<'py> {
    /// Reads `x`: a 2-D NumPy array of a real dtype (the Python layer turns
    /// lists and other array-likes into arrays first) or a `str` path.
    pub(crate) fn extract(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(path) = x.extract::<std::path::PathBuf>() {
            return open_matrix(&path)
                .map(Input::File)
                .map_err(|e| PyValueError::new_err(path_error(&e)));
        }
        if let Some(input) = Self::from_array(x)? {
            return Ok(input);
        }
        if let Ok(a) = x.cast::<PyUntypedArray>() {
            if a.ndim() != 2 {
                return Err(PyValueError::new_err(format!(
                    "expected a 2-D array (n_samples, n_features), got {} dimension(s); \
                     reshape a single feature with X.reshape(-1, 1) or a single sample with \
                     X.reshape(1, -1)",
                    a.ndim()
                )));
            }
            return Err(PyTypeError::new_err(format!(
                "arrays of dtype {} are not supported; convert to float32 (or another real dtype)",
                a.dtype()
            )));
        }
        Err(PyTypeError::new_err(format!(
            "expected a NumPy array or a path to a .npy file, got {}",
            x.get_type().name()?
        )))
    }
}
