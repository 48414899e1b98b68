//! Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly: the first signal
//! sets a flag that long runs poll (mini-batch K-means then writes a last
//! checkpoint and exits); a second one exits at once, leaving only temporary
//! files (outputs are renamed into place only when complete).

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT or SIGTERM.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handlers (once per process).
pub(crate) fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit, both
        // async-signal-safe; `signal` with a valid function pointer is sound.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Signals that would otherwise kill the process without a word:
///
/// * `SIGBUS` from an input truncated while mapped: a handler that names the
///   file and exits 1 ([`mmclust_core::sigbus`]);
/// * `SIGXFSZ` from a write past a file-size limit (`ulimit -f`): ignored, so
///   the write fails with `EFBIG` and the run reports it like a full disk
///   (exit 1, the temporary removed).
pub(crate) fn install_fault_handlers() {
    mmclust_core::sigbus::install();
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN is always sound.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
