//! Per-row scratch state (labels, distances, bounds) that may not fit in RAM.
//!
//! Some algorithms truly need O(n) state per point: Lloyd's labels (to count
//! the labels that changed), k-means++'s distance to the nearest chosen centre.
//! [`RowBuffer`] keeps it in memory while it is small and in a memory-mapped
//! temporary file when it is large, so the same code runs on a laptop-sized
//! input and on one far larger than RAM. The file is unlinked when the buffer
//! is dropped, on success and on error alike.
//!
//! A spill file's blocks are reserved with `fallocate(2)` when it is created,
//! so a full disk is an error then, naming the folder and the bytes needed,
//! and not a `SIGBUS` at some page in the middle of a pass. Where the file
//! system cannot reserve (no `fallocate`), the file is sized sparse and the
//! caller is told ([`ScratchNotice::NotReserved`]); its mapping is registered
//! with [`crate::sigbus`], so a fault in it still ends the run with one line
//! naming the folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::MmapMut;

use crate::error::{CoreError, Result};

/// Below this many bytes a [`RowBuffer`] lives on the heap (256 MiB).
pub const DEFAULT_IN_MEMORY_LIMIT: usize = 256 << 20;

/// Plain numeric types a [`RowBuffer`] may hold: every bit pattern is a valid
/// value and the alignment is at most 8, so a page-aligned mapping may be
/// viewed as a slice of them.
///
/// # Safety
/// Implement only for types with no invalid bit patterns, no padding, and an
/// alignment dividing 4096.
pub unsafe trait PlainValue: Copy + Send + Sync + 'static {}
// SAFETY: primitive integers and floats have no invalid bit patterns or padding.
unsafe impl PlainValue for u32 {}
// SAFETY: as above.
unsafe impl PlainValue for f32 {}
// SAFETY: as above.
unsafe impl PlainValue for f64 {}
// SAFETY: as above.
unsafe impl PlainValue for u64 {}

/// What a caller may want to tell its user about a spill file (the library
/// never prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScratchNotice {
    /// A spill file of `bytes` was created (and reserved) in `dir`; `tmpfs`
    /// when that folder is in memory (a `tmpfs`), where the file takes RAM or
    /// swap instead of disk.
    Created {
        dir: PathBuf,
        bytes: u64,
        tmpfs: bool,
    },
    /// The file system of `dir` cannot reserve blocks up front (`fallocate`
    /// is not supported): the file was sized sparse, so a disk that fills up
    /// during the run ends it at the page that cannot be written.
    NotReserved { dir: PathBuf, bytes: u64 },
}

/// A receiver of [`ScratchNotice`]s.
pub type ScratchNotify = Arc<dyn Fn(&ScratchNotice) + Send + Sync>;

/// Where large [`RowBuffer`]s spill.
#[derive(Clone)]
pub struct ScratchConfig {
    /// Buffers up to this many bytes stay on the heap.
    pub in_memory_limit: usize,
    /// Folder for spill files (default: the system's temporary folder).
    pub dir: Option<PathBuf>,
    /// Told when a spill file is created, and when its space could not be
    /// reserved.
    pub notify: Option<ScratchNotify>,
}

impl std::fmt::Debug for ScratchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScratchConfig")
            .field("in_memory_limit", &self.in_memory_limit)
            .field("dir", &self.dir)
            .field("notify", &self.notify.is_some())
            .finish()
    }
}

impl Default for ScratchConfig {
    fn default() -> Self {
        ScratchConfig {
            in_memory_limit: DEFAULT_IN_MEMORY_LIMIT,
            dir: None,
            notify: None,
        }
    }
}

impl ScratchConfig {
    fn tell(&self, notice: ScratchNotice) {
        if let Some(f) = &self.notify {
            f(&notice);
        }
    }
}

enum Storage<T> {
    Heap(Vec<T>),
    Mapped {
        // Declared first, so dropped first: unregistered before the unmap.
        _registration: crate::sigbus::Registration,
        map: MmapMut,
        len: usize,
        // Keeps the (already unlinked) file alive as long as the mapping.
        _file: std::fs::File,
    },
}

/// `len` values of `T`, on the heap or in a memory-mapped temporary file.
pub struct RowBuffer<T: PlainValue> {
    storage: Storage<T>,
}

impl<T: PlainValue> std::fmt::Debug for RowBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowBuffer")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl<T: PlainValue> RowBuffer<T> {
    /// `len` copies of `fill`.
    ///
    /// # Errors
    /// [`CoreError::Io`] when the spill file cannot be created or mapped.
    pub fn new(len: usize, fill: T, config: &ScratchConfig) -> Result<Self> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or_else(|| CoreError::param("rows", format!("{len} rows overflow memory")))?;
        if bytes <= in_memory_limit(config) {
            return Ok(RowBuffer {
                storage: Storage::Heap(vec![fill; len]),
            });
        }
        let dir = config.dir.clone().unwrap_or_else(std::env::temp_dir);
        let file = tempfile::tempfile_in(&dir)
            .map_err(|e| CoreError::io(&dir, "create a scratch file", e))?;
        let bytes = bytes as u64;
        if reserve(&file, bytes).map_err(|e| reserve_error(&dir, bytes, e))? {
            config.tell(ScratchNotice::Created {
                dir: dir.clone(),
                bytes,
                tmpfs: is_tmpfs(&file),
            });
        } else {
            file.set_len(bytes)
                .map_err(|e| CoreError::io(&dir, format!("size a {bytes}-byte scratch file"), e))?;
            config.tell(ScratchNotice::NotReserved {
                dir: dir.clone(),
                bytes,
            });
        }
        let map = map_scratch(&file, &dir)?;
        let registration = crate::sigbus::register_scratch(map.as_ptr(), map.len(), &dir);
        let mut buf = RowBuffer {
            storage: Storage::Mapped {
                _registration: registration,
                map,
                len,
                _file: file,
            },
        };
        buf.as_mut_slice().fill(fill);
        Ok(buf)
    }

    /// Number of values.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.storage {
            Storage::Heap(v) => v.len(),
            Storage::Mapped { len, .. } => *len,
        }
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the values live in a memory-mapped file.
    #[must_use]
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// The values.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        match &self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped { map, len, .. } => {
                // SAFETY: the mapping is page-aligned (so aligned for T, see
                // PlainValue), holds len * size_of::<T>() bytes (set_len above),
                // every bit pattern is a valid T, and the borrow of `self` keeps
                // the mapping alive and unaliased by writers.
                unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<T>(), *len) }
            }
        }
    }

    /// The values, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped { map, len, .. } => {
                // SAFETY: as in `as_slice`; the mutable borrow of `self` makes
                // this the only view of the mapping.
                unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<T>(), *len) }
            }
        }
    }
}

/// Environment variable overriding every in-memory limit, in bytes, so that
/// tests of the binary can spill small runs. Read only in builds with the
/// `test-hooks` feature.
#[cfg(feature = "test-hooks")]
pub const IN_MEMORY_LIMIT_ENV: &str = "MMCLUST_TEST_SCRATCH_IN_MEMORY_LIMIT";

#[cfg(feature = "test-hooks")]
fn in_memory_limit(config: &ScratchConfig) -> usize {
    std::env::var(IN_MEMORY_LIMIT_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(config.in_memory_limit)
}

#[cfg(not(feature = "test-hooks"))]
fn in_memory_limit(config: &ScratchConfig) -> usize {
    config.in_memory_limit
}

/// Reserves the blocks of the first `bytes` of `file` (and sets its length):
/// `Ok(false)` where the file system cannot (no `fallocate`).
#[cfg(target_os = "linux")]
fn reserve(file: &std::fs::File, bytes: u64) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let len =
        libc::off_t::try_from(bytes).map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
    loop {
        // SAFETY: fallocate(2) on a file descriptor this function borrows
        // for the call; no memory is passed.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EOPNOTSUPP) => return Ok(false),
            _ => return Err(e),
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &std::fs::File, _bytes: u64) -> std::io::Result<bool> {
    Ok(false)
}

/// True when `file` lives on a `tmpfs` (memory, not disk).
#[cfg(target_os = "linux")]
fn is_tmpfs(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs(2) writes a whole `statfs` into the buffer it is
    // given, which is that size; it is read only when the call succeeded.
    unsafe {
        libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) == 0
            && st.assume_init().f_type == libc::TMPFS_MAGIC
    }
}

#[cfg(not(target_os = "linux"))]
fn is_tmpfs(_file: &std::fs::File) -> bool {
    false
}

/// The error of a failed reservation: a full disk says so and what to do.
fn reserve_error(dir: &Path, bytes: u64, e: std::io::Error) -> CoreError {
    #[allow(clippy::cast_precision_loss)]
    let size = if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / f64::from(1u32 << 30))
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    };
    let why = match e.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ENOSPC | libc::EDQUOT) => {
            "; the disk is full or over quota: free space there or choose another folder for scratch files (--scratch-dir)"
        }
        #[cfg(unix)]
        Some(libc::EFBIG) => "; the file-size limit is too small (see `ulimit -f`)",
        _ => "",
    };
    CoreError::io(
        dir,
        format!(
            "reserve {bytes} bytes ({size}) for a scratch file of per-row state (labels, bounds){why}"
        ),
        e,
    )
}

/// Maps a scratch file read-write.
///
/// # Safety (of the unsafe block inside)
/// The file is a fresh, unlinked temporary file that no other process can
/// open, so nothing can truncate or modify it behind the mapping.
fn map_scratch(file: &std::fs::File, dir: &Path) -> Result<MmapMut> {
    // SAFETY: see the function's documentation: the file is private to us.
    unsafe { MmapMut::map_mut(file) }.map_err(|e| CoreError::io(dir, "map a scratch file", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_and_mapped_buffers_behave_alike() {
        for limit in [usize::MAX, 0] {
            let cfg = ScratchConfig {
                in_memory_limit: limit,
                ..ScratchConfig::default()
            };
            let mut b = RowBuffer::<u32>::new(10_000, 7, &cfg).unwrap();
            assert_eq!(b.is_mapped(), limit == 0);
            assert_eq!(b.len(), 10_000);
            assert!(b.as_slice().iter().all(|&v| v == 7));
            b.as_mut_slice()[9_999] = 3;
            assert_eq!(b.as_slice()[9_999], 3);
        }
    }

    #[test]
    fn spill_folder_that_does_not_exist_is_named() {
        let cfg = ScratchConfig {
            in_memory_limit: 0,
            dir: Some(PathBuf::from("/nonexistent/mmclust-scratch")),
            notify: None,
        };
        let err = RowBuffer::<f32>::new(10, 0.0, &cfg).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/mmclust-scratch"),
            "{err}"
        );
    }

    #[test]
    fn a_spill_file_is_reserved_and_told() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let cfg = ScratchConfig {
            in_memory_limit: 0,
            dir: Some(dir.path().to_path_buf()),
            notify: Some(Arc::new(move |n: &ScratchNotice| {
                sink.lock().unwrap().push(n.clone());
            })),
        };
        let b = RowBuffer::<u64>::new(1000, 5, &cfg).unwrap();
        assert!(b.as_slice().iter().all(|&v| v == 5));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        match &seen[0] {
            ScratchNotice::Created { dir: d, bytes, .. }
            | ScratchNotice::NotReserved { dir: d, bytes } => {
                assert_eq!((d.as_path(), *bytes), (dir.path(), 8000));
            }
        }
        // On the heap nothing is told.
        let heap = ScratchConfig {
            in_memory_limit: usize::MAX,
            ..cfg.clone()
        };
        RowBuffer::<u64>::new(1000, 5, &heap).unwrap();
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn a_full_disk_error_names_the_folder_and_the_bytes() {
        let err = reserve_error(
            Path::new("/data/scratch"),
            3 << 30,
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        )
        .to_string();
        for want in [
            "/data/scratch",
            "3221225472 bytes",
            "3.00 GiB",
            "disk is full",
            "--scratch-dir",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
