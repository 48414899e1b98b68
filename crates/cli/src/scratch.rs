//! Where per-row scratch files (labels, bounds, distances that do not fit in
//! memory) go, and what the user is told about them.
//!
//! The default is a folder the run already writes to or reads from: the
//! folder of the first output, else that of the input, else the system's
//! temporary folder. The system temporary folder is often a `tmpfs` (memory,
//! which the spill exists to spare) or a small disk; the data's own disk is
//! where there is room. A folder is taken only where a file can be created
//! in it (an input on a read-only mount is skipped).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mmclust_core::scratch::{ScratchConfig, ScratchNotice, ScratchNotify};

use crate::Global;

/// The folder of `path` (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// True when a file can be created in `dir` (created and removed at once).
fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".mmclust-scratch-probe-{}", std::process::id()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if made {
        let _ = std::fs::remove_file(&probe);
    }
    made
}

/// The scratch folder: `explicit` when given (`--scratch-dir`), else the
/// first writable one of the outputs' folders and the input's, else the
/// system's temporary folder.
pub(crate) fn folder(explicit: Option<&Path>, outputs: &[Option<&Path>], input: &Path) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    outputs
        .iter()
        .flatten()
        .map(|p| folder_of(p))
        .chain(std::iter::once(folder_of(input)))
        .find(|dir| writable(dir))
        .unwrap_or_else(std::env::temp_dir)
}

/// Sizes as people read them.
fn size_text(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b >= f64::from(1u32 << 30) {
        format!("{:.2} GiB", b / f64::from(1u32 << 30))
    } else {
        format!("{:.1} MiB", b / f64::from(1u32 << 20))
    }
}

/// The scratch configuration of a run: the folder as [`folder`] chooses it,
/// and notices printed on stderr (an info line where a spill file is made,
/// a warning where it is in memory or its space could not be reserved).
pub(crate) fn config(
    g: &Global,
    explicit: Option<&Path>,
    outputs: &[Option<&Path>],
    input: &Path,
) -> ScratchConfig {
    let quiet = g.quiet;
    // A fit may spill several buffers (distances, then labels): one warning.
    let warned = AtomicBool::new(false);
    let notify: ScratchNotify = Arc::new(move |notice: &ScratchNotice| {
        let warns = matches!(
            notice,
            ScratchNotice::Created { tmpfs: true, .. } | ScratchNotice::NotReserved { .. }
        );
        if !crate::dist::is_root() || (warns && warned.swap(true, Ordering::Relaxed)) {
            return;
        }
        match notice {
            ScratchNotice::Created { dir, bytes, tmpfs } => {
                if *tmpfs {
                    eprintln!(
                        "warning: the {} scratch file of per-row state is in {}, a tmpfs: it takes memory (or swap), not disk; give a folder on disk with --scratch-dir",
                        size_text(*bytes),
                        dir.display()
                    );
                } else if !quiet {
                    eprintln!(
                        "scratch: {} reserved in {} for per-row state",
                        size_text(*bytes),
                        dir.display()
                    );
                }
            }
            ScratchNotice::NotReserved { dir, bytes } => eprintln!(
                "warning: the file system of {} cannot reserve the {} scratch file up front (no fallocate): should it fill up during the run, the run stops with an error naming that folder",
                dir.display(),
                size_text(*bytes)
            ),
        }
    });
    ScratchConfig {
        dir: Some(folder(explicit, outputs, input)),
        notify: Some(notify),
        ..ScratchConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_first_writable_of_outputs_and_input() {
        let out = tempfile::tempdir().unwrap();
        let input = tempfile::tempdir().unwrap();
        let data = input.path().join("x.npy");
        let labels = out.path().join("labels.npy");
        let explicit = Path::new("/somewhere/else");
        assert_eq!(folder(Some(explicit), &[Some(&labels)], &data), explicit);
        assert_eq!(folder(None, &[None, Some(&labels)], &data), out.path());
        assert_eq!(folder(None, &[None], &data), input.path());
        let gone = Path::new("/nonexistent/mmclust/out.npy");
        assert_eq!(folder(None, &[Some(gone)], &data), input.path());
        assert_eq!(folder_of(Path::new("x.npy")), Path::new("."));
    }

    #[test]
    fn sizes_read_as_mib_or_gib() {
        assert_eq!(size_text(3 << 20), "3.0 MiB");
        assert_eq!(size_text(3 << 30), "3.00 GiB");
    }
}
