//! Per-row scratch state (labels, distances, bounds) that may not fit in RAM.
//!
//! Some algorithms truly need O(n) state per point: Lloyd's labels (to count
//! the labels that changed), k-means++'s distance to the nearest chosen centre.
//! [`RowBuffer`] keeps it in memory while it is small and in a memory-mapped
//! temporary file when it is large, so the same code runs on a laptop-sized
//! input and on one far larger than RAM. The file is unlinked when the buffer
//! is dropped, on success and on error alike.

use std::path::{Path, PathBuf};

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

/// Where large [`RowBuffer`]s spill.
#[derive(Debug, Clone)]
pub struct ScratchConfig {
    /// Buffers up to this many bytes stay on the heap.
    pub in_memory_limit: usize,
    /// Folder for spill files (default: the system's temporary folder).
    pub dir: Option<PathBuf>,
}

impl Default for ScratchConfig {
    fn default() -> Self {
        ScratchConfig {
            in_memory_limit: DEFAULT_IN_MEMORY_LIMIT,
            dir: None,
        }
    }
}

enum Storage<T> {
    Heap(Vec<T>),
    Mapped {
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
        if bytes <= config.in_memory_limit {
            return Ok(RowBuffer {
                storage: Storage::Heap(vec![fill; len]),
            });
        }
        let dir = config.dir.clone().unwrap_or_else(std::env::temp_dir);
        let file = tempfile::tempfile_in(&dir)
            .map_err(|e| CoreError::io(&dir, "create a scratch file", e))?;
        file.set_len(bytes as u64)
            .map_err(|e| CoreError::io(&dir, format!("size a {bytes}-byte scratch file"), e))?;
        let map = map_scratch(&file, &dir)?;
        let mut buf = RowBuffer {
            storage: Storage::Mapped {
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
                dir: None,
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
        };
        let err = RowBuffer::<f32>::new(10, 0.0, &cfg).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/mmclust-scratch"),
            "{err}"
        );
    }
}
