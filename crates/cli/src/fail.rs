//! Turning errors into one line on stderr and an exit code.
//!
//! 2: the user can fix it (bad flag, bad file, bad value); 1: the run failed;
//! a broken pipe on stdout (`mmclust info x | head`) is not a failure: 0.

use std::io;
use std::process::ExitCode;

use mmclust_core::CoreError;

/// A usage or input error raised by the command line itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// A run stopped by Ctrl-C / SIGTERM after saving what it could (exit 130,
/// the shell's convention for SIGINT).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Interrupted(pub(crate) String);

/// Exit code for an error chain.
pub(crate) fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<Interrupted>().is_some() {
            return 130;
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
        if let Some(core) = cause.downcast_ref::<CoreError>() {
            if matches!(core, CoreError::Interrupted { .. }) {
                return 130;
            }
            return if core.is_input_error() { 2 } else { 1 };
        }
        if let Some(km) = cause.downcast_ref::<mmclust_kmeans::KMeansError>() {
            return if km.is_input_error() { 2 } else { 1 };
        }
        if let Some(gm) = cause.downcast_ref::<mmclust_gmm::GmmError>() {
            return if gm.is_input_error() { 2 } else { 1 };
        }
        if let Some(ke) = cause.downcast_ref::<mmclust_kernel::KernelError>() {
            return if ke.is_input_error() { 2 } else { 1 };
        }
        if cause
            .downcast_ref::<mmclust_core::format::FormatError>()
            .is_some()
        {
            return 2;
        }
    }
    1
}

/// Prints `e` as one line and returns its exit code.
pub(crate) fn report(e: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(e) {
        return ExitCode::SUCCESS;
    }
    let mut line = String::from("error: ");
    let mut first = true;
    for cause in e.chain() {
        let text = cause.to_string();
        if !first && line.contains(&text) {
            continue;
        }
        if !first {
            line.push_str(": ");
        }
        line.push_str(&text);
        first = false;
    }
    eprintln!("{line}");
    ExitCode::from(exit_code(e))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A usage error (exit code 2).
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the user can fix exits 2; a failed exchange between processes, a
    /// broken invariant or a stopped run is not the user's input (issue 18:
    /// an MPI mismatch exits 1, not 2).
    #[test]
    fn exit_codes_of_core_errors() {
        let code = |e: CoreError| exit_code(&anyhow::Error::new(e));
        assert_eq!(code(CoreError::param("k", "must be at least 1")), 2);
        assert_eq!(
            code(CoreError::communication(
                "all-gather returned 1 buffers for 2 processes"
            )),
            1
        );
        assert_eq!(code(CoreError::internal("a sum of 3 lanes")), 1);
        assert_eq!(
            code(CoreError::Interrupted {
                message: "by SIGINT".into()
            }),
            130
        );
        let wrapped = anyhow::Error::new(CoreError::communication("x")).context("kmeans");
        assert_eq!(exit_code(&wrapped), 1);
    }
}
