//! A clear message instead of a bare "Bus error" when a memory-mapped input
//! shrinks under a run.
//!
//! Readers check every length against the file's size at mapping time, so a
//! well-formed or malformed file never makes mmclust read past its end. What
//! they cannot prevent is another process truncating an input *while* it is
//! mapped: the pages past the new end then raise `SIGBUS` when touched. This
//! module keeps a small table of the live input mappings (address range and
//! path, filled in before any page is read) and, once [`install`] has been
//! called, a `SIGBUS` handler that looks the faulting address up, writes one
//! line naming the file with async-signal-safe `write(2)` and ends the
//! process with `_exit(1)` (a run-time failure: the input changed during the
//! run). Outputs are unaffected: they are temporaries until renamed, and an
//! interrupted run leaves no file under an output's final name.
//!
//! A fault at an address that is not one of these mappings is not ours: the
//! handler restores the default action and returns, so the fault recurs and
//! the process dies of `SIGBUS` as it would have without the handler.
//!
//! Libraries do not print: only a binary that calls [`install`] gets the
//! handler (the `mmclust` CLI does, first thing in `main`). Registration is
//! always on and costs two atomic stores per opened file.

#[cfg(unix)]
mod imp {
    use std::cell::UnsafeCell;
    use std::path::Path;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    const SLOTS: usize = 64;
    const PATH_BYTES: usize = 1024;
    const FREE: u8 = 0;
    const BUSY: u8 = 1;
    const READY: u8 = 2;

    struct Slot {
        state: AtomicU8,
        start: AtomicUsize,
        len: AtomicUsize,
        path_len: AtomicUsize,
        path: UnsafeCell<[u8; PATH_BYTES]>,
    }

    // SAFETY: `path` is written only by the thread that moved `state` from
    // FREE to BUSY (a compare-exchange gives it exclusive access) and read
    // only while `state` is READY, which is published with Release after the
    // write and observed with Acquire.
    unsafe impl Sync for Slot {}

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot = Slot {
        state: AtomicU8::new(FREE),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        path_len: AtomicUsize::new(0),
        path: UnsafeCell::new([0; PATH_BYTES]),
    };

    static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

    /// A registered mapping; unregisters itself when dropped.
    #[derive(Debug)]
    pub(crate) struct Registration(Option<usize>);

    impl Drop for Registration {
        fn drop(&mut self) {
            if let Some(i) = self.0 {
                TABLE[i].state.store(FREE, Ordering::Release);
            }
        }
    }

    /// Records that bytes `start..start + len` map `path`. With all slots in
    /// use (more than 64 inputs open at once) the mapping is simply not
    /// recorded: a fault in it then ends the process as a plain `SIGBUS`.
    pub(crate) fn register(start: *const u8, len: usize, path: &Path) -> Registration {
        let bytes = path.as_os_str().as_encoded_bytes();
        for (i, slot) in TABLE.iter().enumerate() {
            if slot
                .state
                .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                let n = bytes.len().min(PATH_BYTES);
                // SAFETY: this thread owns the slot (state BUSY), see `Slot`.
                unsafe { (&mut *slot.path.get())[..n].copy_from_slice(&bytes[..n]) };
                slot.path_len.store(n, Ordering::Relaxed);
                slot.start.store(start as usize, Ordering::Relaxed);
                slot.len.store(len, Ordering::Relaxed);
                slot.state.store(READY, Ordering::Release);
                return Registration(Some(i));
            }
        }
        Registration(None)
    }

    fn write_all(bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            // SAFETY: write(2) on stderr with a valid buffer; async-signal-safe.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                return;
            }
            rest = &rest[n as usize..];
        }
    }

    extern "C" fn on_sigbus(
        _sig: libc::c_int,
        info: *mut libc::siginfo_t,
        _ctx: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        for slot in &TABLE {
            if slot.state.load(Ordering::Acquire) != READY {
                continue;
            }
            let start = slot.start.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            if addr >= start && addr - start < len {
                let n = slot.path_len.load(Ordering::Relaxed);
                write_all(b"error: input file ");
                // SAFETY: READY slots are not written (see `Slot`).
                write_all(unsafe { &(&*slot.path.get())[..n] });
                write_all(
                    b" changed size while being read (truncated or rewritten by another process?); \
                      the run stopped; outputs not yet complete were not written under their final names: rerun once the file is complete\n",
                );
                // SAFETY: _exit is async-signal-safe and ends the process.
                unsafe { libc::_exit(1) };
            }
        }
        // Not one of our mappings: default action, and the fault recurs.
        // SAFETY: signal(2) with SIG_DFL is async-signal-safe.
        unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
    }

    pub(crate) fn install() {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler
        // has the SA_SIGINFO signature and only calls async-signal-safe
        // functions (write, _exit, signal) and reads atomics.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    #[derive(Debug)]
    pub(crate) struct Registration;

    pub(crate) fn register(_start: *const u8, _len: usize, _path: &Path) -> Registration {
        Registration
    }

    pub(crate) fn install() {}
}

pub(crate) use imp::{Registration, register};

/// Installs the `SIGBUS` handler described in the module documentation
/// (Unix; a no-op elsewhere). Call once, early in `main`, from a binary.
pub fn install() {
    imp::install();
}
