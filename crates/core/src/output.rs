//! Atomic output files (temporary name in the target folder, renamed when complete).
//!
//! An output is written to `.<name>.mmclust-tmp-<pid>-<n>` beside its final
//! path, flushed and `fsync`ed, then renamed over the final path. A reader
//! therefore sees either the old file or the complete new one, never a half
//! write; a run that fails or is interrupted leaves no file under the final
//! name (an interrupted process can leave the hidden temporary behind; a
//! dropped [`AtomicOutput`] removes it). Renaming also means that a run never
//! modifies the inode of a file another process has memory-mapped.
//!
//! Before creating anything, [`AtomicOutput::create`] refuses an output path
//! that is one of the run's inputs, compared by canonical path (so `./d/../x`
//! and symlinks are seen through) and, on Unix, by device and inode (hard
//! links).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CoreError, Result};

/// Buffer size of the writer [`AtomicOutput::file`] returns (1 MiB): large
/// sequential writes, bounded memory.
pub const OUTPUT_BUFFER_BYTES: usize = 1 << 20;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An output file being written under a temporary name.
///
/// Write through [`AtomicOutput::file`], then [`AtomicOutput::commit`]. Dropping
/// it without committing removes the temporary file.
#[derive(Debug)]
pub struct AtomicOutput {
    path: PathBuf,
    temp_path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicOutput {
    /// Creates the temporary file for an output at `path`.
    ///
    /// # Errors
    /// [`CoreError::OutputIsInput`] when `path` is one of `inputs`;
    /// [`CoreError::InvalidParameter`] when `path` has no file name or names a
    /// directory; [`CoreError::Io`] naming the folder when it is missing, not a
    /// folder, or not writable.
    pub fn create(path: impl AsRef<Path>, inputs: &[&Path]) -> Result<AtomicOutput> {
        let path = path.as_ref();
        let Some(file_name) = path.file_name() else {
            return Err(CoreError::param(
                "output",
                format!("{}: an output path must end in a file name", path.display()),
            ));
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let canonical_parent = std::fs::canonicalize(parent)
            .map_err(|e| CoreError::io(parent, "use as the output folder (does it exist?)", e))?;
        if !canonical_parent.is_dir() {
            return Err(CoreError::io(
                parent,
                "use as the output folder",
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        if path.is_dir() {
            return Err(CoreError::param(
                "output",
                format!(
                    "{} is a directory; give a file name for the output",
                    path.display()
                ),
            ));
        }
        if is_one_of_inputs(path, &canonical_parent.join(file_name), inputs) {
            return Err(CoreError::OutputIsInput {
                path: path.to_path_buf(),
            });
        }

        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(
            ".mmclust-tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp_path = parent.join(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .map_err(|e| {
                CoreError::io(
                    parent,
                    "create a temporary output file in this folder (is it writable?)",
                    e,
                )
            })?;
        Ok(AtomicOutput {
            path: path.to_path_buf(),
            temp_path,
            writer: Some(BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, file)),
        })
    }

    /// The final path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary path being written.
    #[must_use]
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// The writer: a [`BufWriter`] of [`OUTPUT_BUFFER_BYTES`] over the
    /// temporary file. It implements `Write` and `Seek` (seeking flushes).
    ///
    /// # Panics
    /// Never: the writer is present until `commit` consumes `self`.
    pub fn file(&mut self) -> &mut BufWriter<File> {
        self.writer
            .as_mut()
            .expect("writer is present until commit consumes the output")
    }

    /// Wraps an I/O error on the temporary file, naming the final path.
    pub(crate) fn write_error(&self, e: std::io::Error) -> CoreError {
        CoreError::io(&self.path, write_action(&e), e)
    }

    /// Flushes, `fsync`s and renames the temporary file into place, then syncs
    /// the folder (best effort) so the rename itself is durable.
    ///
    /// # Errors
    /// [`CoreError::Io`] naming the output when any step fails; the temporary
    /// file is then removed and nothing is left under the final name.
    pub fn commit(mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer.into_inner().map_err(|e| {
            let e = e.into_error();
            CoreError::io(&self.path, write_action(&e), e)
        })?;
        file.sync_all()
            .map_err(|e| CoreError::io(&self.path, write_action(&e), e))?;
        drop(file);
        pause_before_rename();
        std::fs::rename(&self.temp_path, &self.path).map_err(|e| {
            CoreError::io(
                &self.path,
                format!("rename {} to", self.temp_path.display()),
                e,
            )
        })?;
        // Renamed: nothing left for Drop to remove.
        self.temp_path = PathBuf::new();
        if let Some(parent) = self.path.parent() {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        self.writer = None;
        if !self.temp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// Environment variable naming a pause, in milliseconds, between a complete,
/// synced temporary and its rename. For fault-injection tests only
/// (`crates/cli/tests/faults.rs` kills the process in that window to show an
/// earlier file under the final name survives); unset, nothing happens.
/// Read only in builds with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
pub const PAUSE_BEFORE_RENAME_ENV: &str = "MMCLUST_TEST_PAUSE_BEFORE_RENAME_MS";

#[cfg(not(feature = "test-hooks"))]
fn pause_before_rename() {}

#[cfg(feature = "test-hooks")]
fn pause_before_rename() {
    static PAUSE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let pause = PAUSE.get_or_init(|| {
        std::env::var(PAUSE_BEFORE_RENAME_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(ms) = *pause {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// The verb phrase of a write error: a full disk or a file-size limit says
/// so and what to do (the temporary is removed when the output is dropped).
fn write_action(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
            "write (the disk is full or over quota; the partial file was removed: free space and rerun)"
        }
        #[cfg(unix)]
        Some(libc::EFBIG) => {
            "write (the file-size limit was reached, see `ulimit -f`; the partial file was removed)"
        }
        _ => "write",
    }
}

/// True when the output (given as typed and as canonical parent + file name)
/// is the same file as one of `inputs`.
fn is_one_of_inputs(path: &Path, canonical: &Path, inputs: &[&Path]) -> bool {
    // If the output exists (possibly as a symlink), its full canonical path.
    let resolved = std::fs::canonicalize(path).ok();
    let out_meta = std::fs::metadata(path).ok();
    inputs.iter().any(|input| {
        if let Ok(input_canonical) = std::fs::canonicalize(input) {
            if input_canonical == canonical || resolved.as_ref() == Some(&input_canonical) {
                return true;
            }
        } else if *input == path {
            return true;
        }
        same_inode(out_meta.as_ref(), input)
    })
}

#[cfg(unix)]
fn same_inode(out: Option<&std::fs::Metadata>, input: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (out, std::fs::metadata(input)) {
        (Some(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_out: Option<&std::fs::Metadata>, _input: &Path) -> bool {
    false
}

/// Refuses `path` as an output when it is one of `inputs` (the check
/// [`AtomicOutput::create`] makes), for outputs written later in a run, such
/// as checkpoints, so the mistake is reported before any work is done.
///
/// # Errors
/// [`CoreError::OutputIsInput`].
pub fn check_not_input(path: impl AsRef<Path>, inputs: &[&Path]) -> Result<()> {
    let path = path.as_ref();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let canonical = match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    };
    if is_one_of_inputs(path, &canonical, inputs) {
        return Err(CoreError::OutputIsInput {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Writes a small output (JSON, text) atomically.
///
/// # Errors
/// As [`AtomicOutput::create`] and [`AtomicOutput::commit`].
pub fn write_atomic(path: impl AsRef<Path>, inputs: &[&Path], bytes: &[u8]) -> Result<()> {
    let mut out = AtomicOutput::create(path, inputs)?;
    let result = out.file().write_all(bytes);
    result.map_err(|e| out.write_error(e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.json");
        let a = AtomicOutput::create(&target, &[]).unwrap();
        let b = AtomicOutput::create(&target, &[]).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
        let name = a
            .temp_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.starts_with(".a.json.mmclust-tmp-"), "{name}");
        assert!(a.temp_path().exists());
        drop(a);
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn relative_path_in_current_folder_has_a_parent() {
        // `Path::new("x").parent()` is Some(""), which must mean ".".
        let out = AtomicOutput::create("mmclust-unit-test-output.tmp", &[]).unwrap();
        assert_eq!(out.temp_path().parent(), Some(Path::new(".")));
        drop(out);
        assert!(!Path::new("mmclust-unit-test-output.tmp").exists());
    }
}
