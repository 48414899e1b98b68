//! The library's error type.
//!
//! Every variant names what it is about (a file, a row and column, a parameter)
//! and says what to do, so that the command line can print it as one line.
//! [`CoreError::is_input_error`] tells a caller whether the user can fix it by
//! changing their input (exit code 2 in the CLI) or whether the run failed
//! (exit code 1).

use std::io;
use std::path::PathBuf;

use crate::format::FormatError;

/// Result alias for this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in mmclust-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A file is not a valid matrix of a supported format.
    #[error(transparent)]
    Format(#[from] FormatError),

    /// An I/O operation on `path` failed.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        path: PathBuf,
        /// What we were doing, as a verb phrase ("open", "write", "rename to ...").
        action: String,
        #[source]
        source: io::Error,
    },

    /// An input file does not exist, or is not a regular file.
    #[error("{path}: {problem}")]
    InputFile { path: PathBuf, problem: String },

    /// A parameter has a value that cannot work.
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// An output path is also one of the run's inputs.
    #[error("{path}: output would overwrite an input of this run; choose another output path")]
    OutputIsInput { path: PathBuf },

    /// Two inputs disagree on shape.
    #[error("{what}: {message}")]
    ShapeMismatch { what: String, message: String },

    /// The data holds NaN or infinite values where finite values are needed.
    #[error(
        "{source_name}: {count} non-finite value(s) (NaN or ±inf), first at row {row}, column {col} \
         (0-based); remove or impute them first"
    )]
    NonFinite {
        source_name: String,
        count: u64,
        row: usize,
        col: usize,
    },

    /// A non-finite value met while reading rows (see
    /// [`crate::source::FiniteSource`]): the pass stops at the first one read.
    #[error(
        "{source_name}: non-finite value (NaN or ±inf) at row {row}, column {col} (0-based); \
         remove or impute such values first"
    )]
    NonFiniteValue {
        source_name: String,
        row: usize,
        col: usize,
    },

    /// A row of norm 0 met by [`crate::normalize::Normalized`]: its direction,
    /// and so its cosine to anything, is undefined.
    #[error(
        "{source_name}: row {row} (0-based) is all zeros; cosine (spherical) clustering needs \
         rows of non-zero length: remove such rows first"
    )]
    ZeroRow { source_name: String, row: usize },

    /// `MMCLUST_ISA` names an unknown instruction-set path or one this CPU
    /// cannot run; the message names the paths it can (see [`crate::isa`]).
    #[error("{0}")]
    Isa(String),

    /// Processes of a distributed run could not exchange data, or received
    /// something they cannot use (an MPI failure, a mangled message). Not the
    /// user's input: the run failed (exit code 1).
    #[error("communication between processes failed: {message}")]
    Communication { message: String },

    /// The run was stopped (Ctrl-C, SIGTERM, a cancelled call) before it
    /// finished. The CLI exits 130.
    #[error("interrupted: {message}")]
    Interrupted { message: String },

    /// A broken internal invariant: a bug in mmclust, never the user's input.
    /// The message says what was expected.
    #[error("internal error (please report it): {message}")]
    Internal { message: String },
}

impl CoreError {
    /// True when the user can fix this by changing their input or parameters
    /// (exit code 2); false when the run itself failed (exit code 1).
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            CoreError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::AlreadyExists
                    | io::ErrorKind::IsADirectory
                    | io::ErrorKind::NotADirectory
                    | io::ErrorKind::ReadOnlyFilesystem
                    | io::ErrorKind::InvalidInput
            ),
            CoreError::Communication { .. }
            | CoreError::Interrupted { .. }
            | CoreError::Internal { .. } => false,
            _ => true,
        }
    }

    /// Wraps an I/O error with the path and the action that failed.
    pub fn io(path: impl Into<PathBuf>, action: impl Into<String>, source: io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            action: action.into(),
            source,
        }
    }

    /// A communication failure between the processes of a distributed run.
    pub fn communication(message: impl Into<String>) -> Self {
        CoreError::Communication {
            message: message.into(),
        }
    }

    /// A broken internal invariant (a bug, not the user's input).
    pub fn internal(message: impl Into<String>) -> Self {
        CoreError::Internal {
            message: message.into(),
        }
    }

    /// A parameter error.
    pub fn param(name: &'static str, message: impl Into<String>) -> Self {
        CoreError::InvalidParameter {
            name,
            message: message.into(),
        }
    }
}

/// Declares the error enum of an mmclust library crate, with the two variants
/// every library shares and the same messages everywhere:
///
/// - `Data(CoreError)`: reading the data failed, or the data is unusable
///   (shown as the [`CoreError`] itself, converted with `?`);
/// - `InvalidParameter { name, message }`: shown as `invalid {name}: {message}`,
///   built with the generated `pub(crate) fn param(name, message)`;
///
/// then the variants listed in `transparent { ... }`, each wrapping another
/// error whose message and source it forwards (thiserror's
/// `#[error(transparent)]` with `#[from]`), then the crate's own variants,
/// written as in any `thiserror` enum. Wrapping variants are listed apart
/// because the binding thiserror generates for a transparent variant takes
/// the hygiene of the `transparent` keyword, which must come from this macro
/// like the derive does. The macro also declares the crate's
/// `Result<T, E = TheError>` alias. The enum derives `Debug` and
/// `thiserror::Error` (the crate depends on `thiserror`) and is
/// `#[non_exhaustive]`; each crate writes its own `is_input_error`.
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("no luck")]
/// pub struct Unlucky;
///
/// mmclust_core::library_error! {
///     /// Everything that can stop a demo.
///     pub enum DemoError {
///         transparent {
///             /// The luck ran out.
///             Luck(Unlucky),
///         }
///         /// The demo gave up.
///         #[error("gave up after {tries} tries")]
///         GaveUp { tries: u32 },
///     }
/// }
///
/// let e = DemoError::param("k", "must be at least 1");
/// assert_eq!(e.to_string(), "invalid k: must be at least 1");
/// let r: Result<()> = Err(mmclust_core::CoreError::internal("oops").into());
/// assert!(matches!(r, Err(DemoError::Data(_))));
/// assert_eq!(DemoError::from(Unlucky).to_string(), "no luck");
/// ```
#[macro_export]
macro_rules! library_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            transparent {
                $(
                    $(#[doc = $wrap_doc:literal])*
                    $wrap:ident($wrapped:ty),
                )*
            }
            $($variants:tt)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            /// Reading the data failed, or the data is unusable (bad file,
            /// NaN, ...).
            #[error(transparent)]
            Data(#[from] $crate::CoreError),

            /// A parameter has a value that cannot work.
            #[error("invalid {name}: {message}")]
            InvalidParameter { name: &'static str, message: String },

            $(
                $(#[doc = $wrap_doc])*
                #[error(transparent)]
                $wrap(#[from] $wrapped),
            )*

            $($variants)*
        }

        impl $name {
            /// A parameter error: `invalid {name}: {message}`.
            pub(crate) fn param(name: &'static str, message: impl Into<String>) -> Self {
                $name::InvalidParameter {
                    name,
                    message: message.into(),
                }
            }
        }

        /// Result alias for this crate.
        pub type Result<T, E = $name> = ::std::result::Result<T, E>;
    };
}
