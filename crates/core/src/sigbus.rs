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
//! A fault at an address that is not one of these mappings is not ours: it
//! goes to the handler that was installed before ours (by the program that
//! embeds the library, a runtime, a sanitizer), called as it asked to be
//! (`SA_SIGINFO` or not). Where there was none (`SIG_DFL`), or it was
//! `SIG_IGN` and the fault is a real one (the kernel never lets a faulting
//! access be ignored: it would only recur), the default action is restored
//! and the signal raised again, so the process dies of `SIGBUS` as it would
//! have without the handler. A `SIGBUS` sent with `kill` to a process that
//! ignored it stays ignored.
//!
//! Per-row scratch files ([`crate::scratch`]) are registered too: their
//! blocks are reserved when they are created, but where the file system
//! cannot reserve, a page that cannot be written (a full disk) faults, and
//! the line then names the scratch folder instead.
//!
//! Libraries do not print: only a binary that calls [`install`] gets the
//! handler (the `mmclust` CLI does, first thing in `main`). Registration is
//! always on and costs two atomic stores per opened file.

#[cfg(unix)]
mod imp {
    use std::cell::UnsafeCell;
    use std::mem::MaybeUninit;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

    const SLOTS: usize = 64;
    const PATH_BYTES: usize = 1024;
    const FREE: u8 = 0;
    const BUSY: u8 = 1;
    const READY: u8 = 2;
    /// What a slot maps: an input file, or a scratch file in a folder.
    const INPUT: u8 = 0;
    const SCRATCH: u8 = 1;

    struct Slot {
        state: AtomicU8,
        kind: AtomicU8,
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
        kind: AtomicU8::new(INPUT),
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
        register_kind(start, len, path, INPUT)
    }

    /// Records that bytes `start..start + len` map a scratch file in `dir`.
    pub(crate) fn register_scratch(start: *const u8, len: usize, dir: &Path) -> Registration {
        register_kind(start, len, dir, SCRATCH)
    }

    fn register_kind(start: *const u8, len: usize, path: &Path, kind: u8) -> Registration {
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
                slot.kind.store(kind, Ordering::Relaxed);
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

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // Only a fault the kernel raised (si_code > 0) carries an address;
        // a SIGBUS sent with kill(2) is never one of ours.
        let slots = if code > 0 { &TABLE[..] } else { &[] };
        for slot in slots {
            if slot.state.load(Ordering::Acquire) != READY {
                continue;
            }
            let start = slot.start.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            if addr >= start && addr - start < len {
                let n = slot.path_len.load(Ordering::Relaxed);
                let scratch = slot.kind.load(Ordering::Relaxed) == SCRATCH;
                write_all(if scratch {
                    b"error: scratch file in "
                } else {
                    b"error: input file "
                });
                // SAFETY: READY slots are not written (see `Slot`).
                write_all(unsafe { &(&*slot.path.get())[..n] });
                if scratch {
                    write_all(
                        b": a page of it could not be stored (the file system is full or failing); \
                          the run stopped; outputs not yet complete were not written under their final names: \
                          free space there or choose another folder for scratch files (--scratch-dir)\n",
                    );
                } else {
                    write_all(
                        b" changed size while being read (truncated or rewritten by another process?); \
                          the run stopped; outputs not yet complete were not written under their final names: rerun once the file is complete\n",
                    );
                }
                // SAFETY: _exit is async-signal-safe and ends the process.
                unsafe { libc::_exit(1) };
            }
        }
        // SAFETY: as above, `info` is valid; `ctx` is passed on unchanged.
        unsafe { chain(sig, info, ctx) };
    }

    /// The `SIGBUS` action in place before [`install`], saved by the one
    /// `sigaction` call that installs ours; read only once `SAVED` is set.
    struct Previous(UnsafeCell<MaybeUninit<libc::sigaction>>);

    // SAFETY: written once, by `install` before it sets `SAVED` (Release), and
    // read only after `SAVED` is observed set (Acquire); `INSTALLED` makes
    // sure that there is only one writer, once.
    unsafe impl Sync for Previous {}

    static PREVIOUS: Previous = Previous(UnsafeCell::new(MaybeUninit::uninit()));
    static SAVED: AtomicBool = AtomicBool::new(false);
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    /// Hands a fault that is not ours to the previous action.
    ///
    /// # Safety
    /// Called from the `SIGBUS` handler only, with the `info` and `ctx` the
    /// kernel passed it.
    unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        if !SAVED.load(Ordering::Acquire) {
            // A fault inside `install` itself, before the old action was
            // saved: behave as if it was the default.
            // SAFETY: async-signal-safe calls with valid arguments.
            unsafe { die_by_default(sig) };
            return;
        }
        // SAFETY: `SAVED` is set, so `PREVIOUS` holds the initialised old
        // action and is no longer written (see `Previous`).
        let previous = unsafe { (*PREVIOUS.0.get()).assume_init_ref() };
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL {
            // SAFETY: async-signal-safe calls with valid arguments.
            unsafe { die_by_default(sig) };
        } else if handler == libc::SIG_IGN {
            // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO
            // handler.
            let sent = unsafe { (*info).si_code } <= 0;
            if !sent {
                // SAFETY: async-signal-safe calls with valid arguments.
                unsafe { die_by_default(sig) };
            }
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous action was installed with SA_SIGINFO, so
            // its `sa_sigaction` is a function of this signature, and it
            // gets the arguments the kernel gave us.
            let f = unsafe {
                std::mem::transmute::<
                    libc::sighandler_t,
                    extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void),
                >(handler)
            };
            f(sig, info, ctx);
        } else {
            // SAFETY: without SA_SIGINFO, the previous action's handler is a
            // plain `sa_handler` taking the signal number.
            let f = unsafe {
                std::mem::transmute::<libc::sighandler_t, extern "C" fn(libc::c_int)>(handler)
            };
            f(sig);
        }
    }

    /// Restores the default action and raises `sig` again: pending until our
    /// handler returns (the signal is blocked while it runs), then fatal.
    ///
    /// # Safety
    /// Async-signal-safe; call from a signal handler for `sig`.
    unsafe fn die_by_default(sig: libc::c_int) {
        // SAFETY: signal(2) with SIG_DFL and raise(3) are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }

    pub(crate) fn install() {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            // Once: a second call would save our own handler as the previous.
            return;
        }
        // SAFETY: a zeroed sigaction is a valid starting point; the handler
        // has the SA_SIGINFO signature and only calls async-signal-safe
        // functions (write, _exit, signal, raise, the previous handler) and
        // reads atomics. `PREVIOUS` is written here only, once (`INSTALLED`),
        // before `SAVED` publishes it.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            let previous = (*PREVIOUS.0.get()).as_mut_ptr();
            if libc::sigaction(libc::SIGBUS, &action, previous) == 0 {
                SAVED.store(true, Ordering::Release);
            }
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

    pub(crate) fn register_scratch(_start: *const u8, _len: usize, _dir: &Path) -> Registration {
        Registration
    }

    pub(crate) fn install() {}
}

pub(crate) use imp::{Registration, register, register_scratch};

/// Installs the `SIGBUS` handler described in the module documentation
/// (Unix; a no-op elsewhere). Call once, early in `main`, from a binary.
pub fn install() {
    imp::install();
}
