//! `mmclust_core::sigbus::install` chains the `SIGBUS` action that was there
//! before it: a fault outside our mappings reaches the previous handler (as
//! `SA_SIGINFO` or plain), or, with none, still kills the process with
//! `SIGBUS`; a fault inside one of our mappings is still ours.
//!
//! Signal dispositions belong to the whole process, so each test runs its body
//! in a child process (this test binary, run for that one test with
//! `MMCLUST_SIGBUS_CHILD` set) and judges the child's exit.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use mmclust_core::DataSource;
use mmclust_core::format::{NpyFile, write_npy_f32};

const CHILD: &str = "MMCLUST_SIGBUS_CHILD";

/// Runs `test` (this binary's test of that name) in a child process.
fn in_child(test: &str) -> Output {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    eprintln!(
        "child {test}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Installs `handler` for SIGBUS with `flags`.
fn install_previous(handler: libc::sighandler_t, flags: libc::c_int) {
    // SAFETY: a zeroed sigaction with an empty mask is valid; the handlers
    // passed in this file only touch atomics and call `_exit`, which are
    // async-signal-safe, and have the signature their flags declare.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Maps two pages of a file that is then truncated to nothing, without
/// telling mmclust (not one of its mappings), and reads the second page:
/// a real SIGBUS at an address that is not ours.
fn fault_outside_our_mappings(dir: &Path) {
    let path = dir.join("foreign.bin");
    let page = 4096 * 4;
    std::fs::write(&path, vec![1u8; 2 * page]).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: the file is this test's own; the read below is meant to fault.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    FAULT_START.store(map.as_ptr() as usize, Ordering::SeqCst);
    FAULT_LEN.store(map.len(), Ordering::SeqCst);
    truncate(&path);
    // SAFETY: in bounds of the live mapping; the page is gone, so it faults.
    let byte = unsafe { std::ptr::read_volatile(map.as_ptr().add(page + 7)) };
    panic!("the read of a truncated page returned {byte} instead of faulting");
}

static FAULT_START: AtomicUsize = AtomicUsize::new(0);
static FAULT_LEN: AtomicUsize = AtomicUsize::new(0);
static PLAIN_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn plain_handler(sig: libc::c_int) {
    if sig == libc::SIGBUS {
        PLAIN_CALLS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Exits 42 for a fault in the foreign mapping, 43 for anything else.
extern "C" fn siginfo_handler(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel (through the chaining handler) passes a valid
    // siginfo_t to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let start = FAULT_START.load(Ordering::SeqCst);
    let inside = addr >= start && addr - start < FAULT_LEN.load(Ordering::SeqCst);
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(if inside { 42 } else { 43 }) };
}

/// Runs `body` in a child process and judges its exit with `judge`.
fn in_child_judged(test: &str, body: impl FnOnce(), judge: impl FnOnce(&Output)) {
    if is_child() {
        body();
    } else {
        judge(&in_child(test));
    }
}

/// Installs `siginfo_handler`, then ours over it.
fn install_siginfo_then_ours() {
    let handler = siginfo_handler as *const () as libc::sighandler_t;
    install_previous(handler, libc::SA_SIGINFO);
    mmclust_core::sigbus::install();
}

/// Truncates `path` to nothing.
fn truncate(path: &Path) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(0).unwrap();
}

#[test]
fn a_sent_sigbus_reaches_the_previous_plain_handler() {
    let body = || {
        install_previous(plain_handler as *const () as libc::sighandler_t, 0);
        mmclust_core::sigbus::install();
        mmclust_core::sigbus::install(); // a second call must not chain to itself
        for want in 1..=2 {
            // SAFETY: raise(3) with a valid signal number.
            assert_eq!(unsafe { libc::raise(libc::SIGBUS) }, 0);
            assert_eq!(PLAIN_CALLS.load(Ordering::SeqCst), want);
        }
    };
    in_child_judged(
        "a_sent_sigbus_reaches_the_previous_plain_handler",
        body,
        |out| assert!(out.status.success(), "{:?}", out.status),
    );
}

#[test]
fn a_foreign_fault_reaches_the_previous_siginfo_handler_with_its_address() {
    let body = || {
        install_siginfo_then_ours();
        fault_outside_our_mappings(tempfile::tempdir().unwrap().path());
    };
    in_child_judged(
        "a_foreign_fault_reaches_the_previous_siginfo_handler_with_its_address",
        body,
        |out| assert_eq!(out.status.code(), Some(42), "{:?}", out.status),
    );
}

#[test]
fn with_no_previous_handler_a_foreign_fault_still_kills_with_sigbus() {
    let body = || {
        mmclust_core::sigbus::install();
        fault_outside_our_mappings(tempfile::tempdir().unwrap().path());
    };
    in_child_judged(
        "with_no_previous_handler_a_foreign_fault_still_kills_with_sigbus",
        body,
        |out| assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{:?}", out.status),
    );
}

#[test]
fn a_fault_in_our_mapping_is_ours_whatever_came_before() {
    let body = || {
        install_siginfo_then_ours();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrunk.npy");
        let n = 64 * 1024;
        write_npy_f32(&path, &vec![1.0; n], n, 1, &[]).unwrap();
        let npy = NpyFile::open(&path).unwrap();
        assert!(npy.is_zero_copy(), "the test needs a mapped file");
        truncate(&path);
        let mut scratch = Vec::new();
        let rows = npy.rows(n - 8..n, &mut scratch).unwrap();
        let sum: f32 = rows.iter().map(|v| std::hint::black_box(*v)).sum();
        panic!("read values summing to {sum} from a truncated file");
    };
    in_child_judged(
        "a_fault_in_our_mapping_is_ours_whatever_came_before",
        body,
        |out| {
            assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("shrunk.npy changed size"), "{stderr}");
        },
    );
}

/// Truncates the (unlinked) scratch file this process holds open in `dir`,
/// found through `/proc/self/fd`: as a full disk would, it leaves the pages
/// of the mapping with nothing behind them.
#[cfg(target_os = "linux")]
fn truncate_scratch_in(dir: &Path) {
    let mut found = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.starts_with(dir) && target.to_string_lossy().ends_with("(deleted)") {
            truncate(&entry.path());
            found += 1;
        }
    }
    assert_eq!(found, 1, "one scratch file open in {}", dir.display());
}

#[cfg(target_os = "linux")]
#[test]
fn a_fault_in_a_scratch_mapping_names_the_scratch_folder() {
    use mmclust_core::scratch::{RowBuffer, ScratchConfig};
    let body = || {
        install_siginfo_then_ours();
        let dir = tempfile::tempdir().unwrap();
        let config = ScratchConfig {
            in_memory_limit: 0,
            dir: Some(dir.path().join("")),
            notify: None,
        };
        let n = 64 * 1024;
        let buffer = RowBuffer::<u32>::new(n, 1, &config).unwrap();
        assert!(buffer.is_mapped(), "the test needs a mapped buffer");
        truncate_scratch_in(dir.path());
        let last = std::hint::black_box(buffer.as_slice()[n - 1]);
        panic!("read {last} from a truncated scratch file");
    };
    in_child_judged(
        "a_fault_in_a_scratch_mapping_names_the_scratch_folder",
        body,
        |out| {
            assert_eq!(out.status.code(), Some(1), "{:?}", out.status);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("error: scratch file in "), "{stderr}");
            assert!(stderr.contains("--scratch-dir"), "{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        },
    );
}
