//! Opening an input file and getting at its bytes: a read-only memory map, or,
//! when mapping fails and the file is small, a copy read into memory.
//!
//! All `unsafe` of the readers that concerns the mapping lives in [`map_file`];
//! see its `# Safety` section. The input checks (missing file, directory, empty
//! file) happen here, before anything is mapped: a zero-length file cannot be
//! mapped at all, and a clear "file is empty" beats an `EINVAL`.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{CoreError, Result};
use crate::source::Hint;

/// Files below this size are read into memory when mapping them fails (for
/// instance on a filesystem that does not support `mmap`). Larger files return
/// the mapping error instead of quietly using that much memory.
pub(crate) const READ_FALLBACK_LIMIT: u64 = 64 * 1024 * 1024;

/// Memory-maps `file` read-only.
///
/// # Safety
///
/// The returned map aliases the file's pages. Rust's guarantees for the
/// returned `&[u8]` hold only while no one modifies or truncates the file:
/// a concurrent writer changes bytes under a shared reference, and a
/// truncation turns reads past the new end into `SIGBUS`. The caller must
/// accept that risk for the files it maps. mmclust maps only its inputs, which
/// it never writes (outputs go through [`crate::output::AtomicOutput`], which
/// refuses an output path that is an input and replaces files by rename, so an
/// existing mapping keeps the old inode); the remaining risk, another process
/// rewriting an input in place during a run, is the same one ripgrep and every
/// other mmap-based reader documents and accepts.
unsafe fn map_file(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: forwarded to the caller, see `# Safety` above.
    unsafe { Mmap::map(file) }
}

/// The bytes of an input file.
#[derive(Debug)]
pub(crate) enum FileBytes {
    /// A read-only memory map of the whole file (page-aligned start), and
    /// its entry in the `SIGBUS` table (see [`crate::sigbus`]); the entry is
    /// dropped after the map (field order), never before. The file stays
    /// open for `posix_fadvise` ([`FileBytes::advise_passed`]).
    Mapped(
        Mmap,
        #[allow(dead_code)] crate::sigbus::Registration,
        Option<File>,
    ),
    /// The whole file read into memory (mapping failed and the file is small).
    /// Its start has no alignment guarantee beyond 1 byte.
    Read(Vec<u8>),
}

impl FileBytes {
    /// Opens `path` after checking it is an existing, non-empty regular file,
    /// and maps it (or reads it, see [`READ_FALLBACK_LIMIT`]).
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing path, a directory, something that
    /// is not a regular file, or an empty file; [`CoreError::Io`] when opening,
    /// mapping or reading fails.
    pub(crate) fn open(path: &Path) -> Result<FileBytes> {
        let file = open_input(path)?;
        let len = file_len(path, &file)?;
        // SAFETY: `path` is an input of this run; mmclust never writes its
        // inputs (see `map_file`), and the length checks of every reader use
        // `bytes.len()`, the length at mapping time, so no read goes past it.
        match unsafe { map_file(&file) } {
            Ok(map) => {
                let entry = crate::sigbus::register(map.as_ptr(), map.len(), path);
                Ok(FileBytes::Mapped(map, entry, Some(file)))
            }
            // Mapping can fail where reading works (some network or FUSE
            // filesystems); a small file is then simply read.
            Err(_) if len < READ_FALLBACK_LIMIT => Self::read_all(path, file, len),
            Err(map_err) => Err(CoreError::io(path, "memory-map", map_err)),
        }
    }

    /// Maps `file`, a private scratch file this process created, unlinked and
    /// finished writing (an inflated `.npz` member); `name` names it in a
    /// `SIGBUS` message (the input it came from).
    ///
    /// # Errors
    /// [`CoreError::Io`] when mapping fails.
    pub(crate) fn map_scratch(file: &File, name: &Path) -> Result<FileBytes> {
        // SAFETY: the file is an unlinked temporary that only this process
        // holds, written completely before this call and never again, so no
        // one modifies or truncates it while mapped.
        let map = unsafe { map_file(file) }
            .map_err(|e| CoreError::io(name, "memory-map the inflated copy of", e))?;
        let entry = crate::sigbus::register(map.as_ptr(), map.len(), name);
        Ok(FileBytes::Mapped(map, entry, file.try_clone().ok()))
    }

    /// Reads `path` into memory without mapping it (the fallback path; also
    /// used by tests to exercise unaligned buffers).
    #[cfg(test)]
    pub(crate) fn read(path: &Path) -> Result<FileBytes> {
        let file = open_input(path)?;
        let len = file_len(path, &file)?;
        Self::read_all(path, file, len)
    }

    fn read_all(path: &Path, mut file: File, len: u64) -> Result<FileBytes> {
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut buf)
            .map_err(|e| CoreError::io(path, "read", e))?;
        Ok(FileBytes::Read(buf))
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map, ..) => map,
            FileBytes::Read(buf) => buf,
        }
    }

    /// The bytes as a shared, cheaply cloned [`bytes::Bytes`] (the map stays
    /// alive while any clone or slice does): what the Parquet and Arrow
    /// readers take, zero-copy.
    pub(crate) fn into_shared(self) -> bytes::Bytes {
        bytes::Bytes::from_owner(self)
    }

    /// `madvise(MADV_SEQUENTIAL)`; errors are ignored (it is only a hint).
    pub(crate) fn advise_sequential(&self) {
        #[cfg(unix)]
        if let FileBytes::Mapped(map, ..) = self {
            let _ = map.advise(memmap2::Advice::Sequential);
        }
    }

    /// `madvise(MADV_WILLNEED)` on bytes `offset..offset + len`: starts reading
    /// them in the background. Errors are ignored (it is only a hint).
    pub(crate) fn advise_will_need(&self, offset: usize, len: usize) {
        #[cfg(unix)]
        if let FileBytes::Mapped(map, ..) = self {
            let _ = map.advise_range(memmap2::Advice::WillNeed, offset, len);
        }
        #[cfg(not(unix))]
        let _ = (offset, len);
    }

    /// [`Hint::Passed`] on bytes `offset..offset + len`: the 2 MiB blocks
    /// of the file a walk has left behind leave this process's page tables
    /// (`MADV_DONTNEED`: the map is shared and read-only, so a later read
    /// faults the file's bytes in again) and then the page cache
    /// (`POSIX_FADV_DONTNEED`, which skips pages still mapped elsewhere).
    /// Errors are ignored (it is only a hint).
    pub(crate) fn advise_passed(&self, offset: usize, len: usize, backward: bool) {
        #[cfg(target_os = "linux")]
        if let FileBytes::Mapped(map, _, file) = self {
            const BLOCK: usize = 2 << 20;
            let round = |x: usize| {
                let x = if backward {
                    x.next_multiple_of(BLOCK)
                } else {
                    x / BLOCK * BLOCK
                };
                x.min(map.len())
            };
            let (start, end) = (round(offset), round(offset + len));
            if start < end {
                // SAFETY: a shared, read-only file mapping: dropping its page
                // table entries loses nothing (the next access reads the file
                // again), and no reference into the map is invalidated.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
                if let Some(file) = file {
                    use std::os::fd::AsRawFd;
                    // SAFETY: a plain system call on an open descriptor.
                    let _ = unsafe {
                        libc::posix_fadvise(
                            file.as_raw_fd(),
                            start as libc::off_t,
                            (end - start) as libc::off_t,
                            libc::POSIX_FADV_DONTNEED,
                        )
                    };
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (offset, len, backward);
    }

    /// `madvise(MADV_RANDOM)`; errors are ignored (it is only a hint).
    pub(crate) fn advise_random(&self) {
        #[cfg(unix)]
        if let FileBytes::Mapped(map, ..) = self {
            let _ = map.advise(memmap2::Advice::Random);
        }
    }
}

impl AsRef<[u8]> for FileBytes {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

/// The rows of a matrix file as bytes: `rows` rows of `cols` values stored
/// in `row_bytes` bytes each, the first at byte `offset` (an `.npy` file's data after its header, a vecs
/// file's rows with their dimension prefixes). What the mapped formats share
/// as data sources: the bytes of a checked range of rows, the name, and the
/// paging hints; each format decodes the bytes itself.
#[derive(Debug)]
pub(crate) struct RowBytes {
    path: PathBuf,
    bytes: FileBytes,
    rows: usize,
    cols: usize,
    offset: usize,
    row_bytes: usize,
}

impl RowBytes {
    /// `rows × cols` values in rows of `row_bytes` bytes from `offset` of
    /// `bytes`: the caller has checked that they lie within the file.
    pub(crate) fn new(
        path: &Path,
        bytes: FileBytes,
        (rows, cols): (usize, usize),
        offset: usize,
        row_bytes: usize,
    ) -> Self {
        debug_assert!(offset + rows * row_bytes <= bytes.bytes().len());
        RowBytes {
            path: path.to_path_buf(),
            bytes,
            rows,
            cols,
            offset,
            row_bytes,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn n_rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn n_cols(&self) -> usize {
        self.cols
    }

    /// The file's length in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.bytes.bytes().len() as u64
    }

    /// The bytes of rows `range`.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] for a range outside the rows.
    pub(crate) fn rows(&self, range: &Range<usize>) -> Result<&[u8]> {
        super::npy::check_range(&|| self.name(), range, self.rows)?;
        let start = self.offset + range.start * self.row_bytes;
        Ok(&self.bytes.bytes()[start..start + range.len() * self.row_bytes])
    }

    /// The source's name: the file's path.
    pub(crate) fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// See [`DataSource::advise_sequential`](crate::DataSource::advise_sequential).
    pub(crate) fn advise_sequential(&self) {
        self.bytes.advise_sequential();
    }

    /// See [`DataSource::advise_random`](crate::DataSource::advise_random).
    pub(crate) fn advise_random(&self) {
        self.bytes.advise_random();
    }

    /// See [`DataSource::hint`](crate::DataSource::hint): rows outside the
    /// file, or none, are ignored.
    pub(crate) fn hint(&self, range: Range<usize>, hint: Hint) {
        if range.end <= self.rows && range.start < range.end {
            let (offset, len) = (
                self.offset + range.start * self.row_bytes,
                range.len() * self.row_bytes,
            );
            match hint {
                Hint::WillNeed => self.bytes.advise_will_need(offset, len),
                Hint::Passed { backward } => self.bytes.advise_passed(offset, len, backward),
            }
        }
    }
}

/// Writes, inside the `impl DataSource` of a mapped format, the methods it
/// passes to its [`RowBytes`] in field `$rows`: the shape, the name and the
/// paging hints.
macro_rules! forward_to_row_bytes {
    ($rows:ident) => {
        fn n_rows(&self) -> usize {
            self.$rows.n_rows()
        }
        fn n_cols(&self) -> usize {
            self.$rows.n_cols()
        }
        fn name(&self) -> String {
            self.$rows.name()
        }
        fn advise_sequential(&self) {
            self.$rows.advise_sequential();
        }
        fn advise_random(&self) {
            self.$rows.advise_random();
        }
        fn hint(&self, range: std::ops::Range<usize>, hint: $crate::source::Hint) {
            self.$rows.hint(range, hint);
        }
    };
}
pub(crate) use forward_to_row_bytes;

fn input_problem(path: &Path, problem: &str) -> CoreError {
    CoreError::InputFile {
        path: PathBuf::from(path),
        problem: problem.to_string(),
    }
}

/// Opens an input for reading after the checks every reader shares.
///
/// # Errors
/// See [`FileBytes::open`].
pub(crate) fn open_input(path: &Path) -> Result<File> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(input_problem(
                path,
                "no such file; check the path (relative paths start at the current folder)",
            ));
        }
        Err(e) => return Err(CoreError::io(path, "read the metadata of", e)),
    };
    if meta.is_dir() {
        return Err(input_problem(
            path,
            "is a directory; pass a matrix file (.npy, .npz, .fvecs, .bvecs or .csv)",
        ));
    }
    if !meta.is_file() {
        return Err(input_problem(
            path,
            "is not a regular file (a pipe or device?); save the data to a file first",
        ));
    }
    let file = File::open(path).map_err(|e| CoreError::io(path, "open", e))?;
    file_len(path, &file)?;
    Ok(file)
}

/// The length of an opened input, refusing an empty one.
fn file_len(path: &Path, file: &File) -> Result<u64> {
    let len = file
        .metadata()
        .map_err(|e| CoreError::io(path, "read the metadata of", e))?
        .len();
    if len == 0 {
        return Err(input_problem(
            path,
            "file is empty (0 bytes); was it written completely?",
        ));
    }
    Ok(len)
}
