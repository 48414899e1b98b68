//! What every model's fit shares, written once: the observers of a fit, the
//! statistics pass a fit starts with (the NaN/inf check naming the first bad
//! cell, and the z-score transform when asked), and passes over new data in
//! the space the model was fitted in (after checking its columns).
//!
//! ```
//! use mmclust_core::fitting::{checked_stats, in_fit_space};
//! use mmclust_core::parallel::{Chunking, PassOptions};
//! use mmclust_core::source::ArraySource;
//! use mmclust_core::stats::Standardizer;
//! use mmclust_core::DataSource;
//!
//! let data = [1.0f32, 10.0, 3.0, 30.0];
//! let source = ArraySource::from_slice(&data, 2, 2).unwrap();
//! let stats = checked_stats(&source, Chunking::for_dim(2), PassOptions::default()).unwrap();
//! assert_eq!(stats.mean, vec![2.0, 20.0]);
//! let z = Standardizer::from_stats(&stats, "example").unwrap();
//! // A model fitted on standardised data sees new rows through its transform.
//! let first = in_fit_space(&source, 2, Some(&z), |s: &dyn DataSource| {
//!     let mut scratch = Vec::new();
//!     Ok::<_, mmclust_core::CoreError>(s.rows(0..1, &mut scratch)?.to_vec())
//! })
//! .unwrap();
//! assert_eq!(first, vec![-1.0, -1.0]);
//! // Data of other columns is refused, naming the columns.
//! let three = ArraySource::from_slice(&[0.0f32; 3], 1, 3).unwrap();
//! let err = in_fit_space(&three, 2, None, |_| Ok::<_, mmclust_core::CoreError>(())).unwrap_err();
//! assert!(err.to_string().contains("3 columns but 2 are expected"), "{err}");
//! ```

use crate::error::{CoreError, Result};
use crate::parallel::{Chunk, Chunking, PassOptions, map_ordered};
use crate::source::DataSource;
use crate::stats::{ColumnStats, Standardized, Standardizer};

/// The observers of a fit: a model's events (`E`: its own event type, for
/// progress displays; the library never prints) and row counts as passes
/// progress.
pub trait FitObserver<E> {
    /// Called after each phase and iteration.
    fn on_event(&self) -> Option<&(dyn Fn(&E) + Sync)>;
    /// Called with row counts as passes progress (from worker threads).
    fn progress(&self) -> Option<&(dyn Fn(usize) + Sync)>;

    /// Reports `event` to the observer, if there is one.
    fn emit(&self, event: E) {
        if let Some(f) = self.on_event() {
            f(&event);
        }
    }

    /// The options of a pass that reports its progress here.
    fn pass(&self) -> PassOptions<'_> {
        PassOptions {
            progress: self.progress(),
            ..PassOptions::default()
        }
    }
}

/// The column statistics of `source` (one streaming pass), or an error naming
/// the first NaN or infinite cell (row and column) and how many there are.
///
/// # Errors
/// Read errors, or [`CoreError::NonFinite`].
pub fn checked_stats<S: DataSource + ?Sized>(
    source: &S,
    chunking: Chunking,
    options: PassOptions<'_>,
) -> Result<ColumnStats> {
    let stats = ColumnStats::compute(source, chunking, options)?;
    stats.check_finite(&source.name())?;
    Ok(stats)
}

/// The checks every model's parameters share against data of `n` rows and
/// `d` columns: at least one row and one column, and `k` from 1 to `n`.
/// `invalid` makes the model's parameter error from the parameter's name and
/// the message.
///
/// # Errors
/// The first check that fails, through `invalid`.
pub fn check_data_and_k<E>(
    n: usize,
    d: usize,
    k: usize,
    invalid: impl Fn(&'static str, String) -> E,
) -> std::result::Result<(), E> {
    if n == 0 || d == 0 {
        return Err(invalid(
            "data",
            format!("the data has {n} rows and {d} columns; at least one of each is needed"),
        ));
    }
    if k == 0 {
        return Err(invalid("k", "must be at least 1".into()));
    }
    if k > n {
        return Err(invalid(
            "k",
            format!("k = {k} is more than the {n} rows of the data; choose k ≤ {n}"),
        ));
    }
    Ok(())
}

/// Checks that parameter `name` (a tolerance, a regularisation) is a finite
/// number ≥ 0.
///
/// # Errors
/// Through `invalid`, as [`check_data_and_k`].
pub fn check_non_negative<E>(
    name: &'static str,
    value: f64,
    invalid: impl Fn(&'static str, String) -> E,
) -> std::result::Result<(), E> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(invalid(
            name,
            format!("{value} must be a finite number ≥ 0"),
        ));
    }
    Ok(())
}

/// New data whose columns are not those of the data a model was fitted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} has {found} columns but {expected} are expected; {COLUMNS_HINT}")]
pub struct ColumnMismatch {
    /// The data's name.
    pub what: String,
    /// The model's columns.
    pub expected: usize,
    /// The data's columns.
    pub found: usize,
}

const COLUMNS_HINT: &str = "use data shaped like the data the model was fitted on";

/// For callers whose errors are [`CoreError`]s: a shape mismatch.
impl From<ColumnMismatch> for CoreError {
    fn from(e: ColumnMismatch) -> Self {
        CoreError::ShapeMismatch {
            what: e.what,
            message: format!(
                "{} columns but {} are expected; {COLUMNS_HINT}",
                e.found, e.expected
            ),
        }
    }
}

/// Runs `pass` over `source` in the space a model of `d` columns was fitted
/// in: through the model's z-score transform when its fit standardised, as
/// it is otherwise. Data of other columns is refused.
///
/// # Errors
/// [`ColumnMismatch`] when `source` does not have `d` columns, or `pass`'s
/// own error.
pub fn in_fit_space<S, R, E>(
    source: &S,
    d: usize,
    standardizer: Option<&Standardizer>,
    pass: impl FnOnce(&dyn DataSource) -> std::result::Result<R, E>,
) -> std::result::Result<R, E>
where
    S: DataSource + ?Sized,
    E: From<CoreError> + From<ColumnMismatch>,
{
    if source.n_cols() != d {
        return Err(ColumnMismatch {
            what: source.name(),
            expected: d,
            found: source.n_cols(),
        }
        .into());
    }
    match standardizer {
        Some(t) => pass(&Standardized::new(source, t.clone())?),
        None => pass(&source),
    }
}

/// A fitted model's per-row pass over new data: `map` each chunk in
/// parallel, and hand the results to `sink` in row order, a few chunks per
/// worker at a time (memory stays bounded whatever the data's size).
///
/// # Errors
/// As [`map_ordered`].
pub fn map_rows_ordered<S, T, M, K, E>(
    source: &S,
    options: PassOptions<'_>,
    map: M,
    sink: K,
) -> std::result::Result<(), E>
where
    S: DataSource + ?Sized,
    T: Send,
    M: Fn(Chunk<'_>) -> Result<T> + Sync,
    K: FnMut(T) -> std::result::Result<(), E>,
    E: From<CoreError>,
{
    map_ordered(
        source,
        Chunking::for_dim(source.n_cols()),
        options,
        4 * rayon::current_num_threads(),
        map,
        sink,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ArraySource;
    use std::sync::Mutex;

    type OnEvent<'a> = Option<&'a (dyn Fn(&u32) + Sync)>;

    struct Hooks<'a>(OnEvent<'a>);

    impl FitObserver<u32> for Hooks<'_> {
        fn on_event(&self) -> Option<&(dyn Fn(&u32) + Sync)> {
            self.0
        }
        fn progress(&self) -> Option<&(dyn Fn(usize) + Sync)> {
            None
        }
    }

    #[test]
    fn an_observer_receives_events_and_none_is_silent() {
        let seen = Mutex::new(Vec::new());
        let record = |e: &u32| seen.lock().unwrap().push(*e);
        let hooks = Hooks(Some(&record));
        hooks.emit(3);
        hooks.emit(5);
        assert_eq!(*seen.lock().unwrap(), vec![3, 5]);
        assert!(hooks.pass().progress.is_none());
        let silent = Hooks(None);
        silent.emit(7);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn the_shared_parameter_checks_name_the_parameter() {
        let invalid = |name: &'static str, m: String| format!("{name}: {m}");
        assert_eq!(check_data_and_k(4, 2, 4, invalid), Ok(()));
        assert!(
            check_data_and_k(0, 2, 1, invalid)
                .unwrap_err()
                .starts_with("data: ")
        );
        assert_eq!(
            check_data_and_k(4, 2, 0, invalid).unwrap_err(),
            "k: must be at least 1"
        );
        assert!(
            check_data_and_k(4, 2, 5, invalid)
                .unwrap_err()
                .contains("choose k ≤ 4")
        );
        assert_eq!(check_non_negative("tol", 0.0, invalid), Ok(()));
        assert_eq!(
            check_non_negative("tol", f64::NAN, invalid).unwrap_err(),
            "tol: NaN must be a finite number ≥ 0"
        );
    }

    #[test]
    fn checked_stats_names_the_first_non_finite_cell() {
        let data = [1.0f32, 2.0, 3.0, f32::NAN, 5.0, f32::INFINITY];
        let source = ArraySource::from_slice(&data, 3, 2).unwrap();
        let err = checked_stats(&source, Chunking::for_dim(2), PassOptions::default())
            .expect_err("NaN must be refused");
        match err {
            CoreError::NonFinite {
                count, row, col, ..
            } => assert_eq!((count, row, col), (2, 1, 1)),
            other => panic!("expected NonFinite, got {other:?}"),
        }
        let fine = [1.0f32, 2.0, 3.0, 4.0];
        let ok = ArraySource::from_slice(&fine, 2, 2).unwrap();
        let stats = checked_stats(&ok, Chunking::for_dim(2), PassOptions::default()).unwrap();
        assert_eq!(stats.mean, vec![2.0, 3.0]);
    }

    #[test]
    fn in_fit_space_applies_the_transform_only_when_there_is_one() {
        let data = [0.0f32, 4.0, 2.0, 8.0];
        let source = ArraySource::from_slice(&data, 2, 2).unwrap();
        let stats = checked_stats(&source, Chunking::for_dim(2), PassOptions::default()).unwrap();
        let z = Standardizer::from_stats(&stats, "t").unwrap();
        let read = |s: &dyn DataSource| -> Result<Vec<f32>> {
            let mut scratch = Vec::new();
            Ok(s.rows(0..2, &mut scratch)?.to_vec())
        };
        assert_eq!(in_fit_space(&source, 2, None, read).unwrap(), data.to_vec());
        assert_eq!(
            in_fit_space(&source, 2, Some(&z), read).unwrap(),
            vec![-1.0, -1.0, 1.0, 1.0]
        );
    }
}
