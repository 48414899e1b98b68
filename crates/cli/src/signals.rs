//! Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly: the first signal
//! sets a flag that long runs poll (mini-batch K-means then writes a last
//! checkpoint and exits 130); a second one exits 130 at once, leaving only
//! temporary files (outputs are renamed into place only when complete).
//!
//! The handlers are installed with `sigaction(2)` and `SA_RESTART`, not
//! `signal(2)`, whose semantics vary between systems (System V resets the
//! handler after one delivery, and whether an interrupted `read`/`write` is
//! restarted depends on the libc): with `SA_RESTART` a signal during file I/O
//! restarts the call instead of failing it with `EINTR`, so the run reaches
//! its next poll of the flag and stops there. `signal-hook` would do the same
//! through an `Arc<AtomicBool>` and a second thread-safe registry; one
//! `sigaction` call over the `libc` we already use is enough for a flag and
//! an `_exit`.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first SIGINT or SIGTERM.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

/// The exit status of a run stopped by a signal (128 + SIGINT), as a shell
/// reports Ctrl-C.
const INTERRUPTED: libc::c_int = 130;

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe and ends the process at once.
        unsafe { libc::_exit(INTERRUPTED) };
    }
}

/// Installs the handlers (once per process).
pub(crate) fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed `sigaction` is a valid value (no flags, empty
        // mask once `sigemptyset` has run); the handler has the plain
        // `sa_handler` signature (no SA_SIGINFO) and only swaps an atomic and
        // calls `_exit`, both async-signal-safe; the pointers passed are to a
        // live local and null.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
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
