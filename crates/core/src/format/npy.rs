//! Reading `.npy` files: [`NpyFile`], a memory-mapped 2-D matrix, and the small
//! 1-D readers for labels and weights.
//!
//! `<f4` data whose first byte is 4-byte aligned in memory (numpy aligns the
//! data to 64 bytes in the file, and a map starts on a page) is served straight
//! from the map. Everything else (`<f8`, `|u1`, `<i4`, and `<f4` at an odd
//! offset) is converted with `from_le_bytes` into the caller's scratch buffer,
//! one requested row range at a time: never an unaligned reference, never the
//! whole file. `<f2` (float16) and `|i1` (int8) are converted the same way:
//! both convert to `f32` exactly, and they halve or quarter the bytes a pass
//! reads from disk, which is what a pass over a file larger than RAM costs.

use std::ops::Range;
use std::path::Path;

use super::mapped::{FileBytes, RowBytes, forward_to_row_bytes};
use super::npy_header::{self, Elem, NpyHeader};
use super::{FormatError, FormatProblem};
use crate::error::{CoreError, Result};
use crate::source::DataSource;

/// The element types of a matrix file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// `<f4`, little-endian IEEE single precision.
    F32,
    /// `<f2`, little-endian IEEE half precision (exact in `f32`, subnormals,
    /// infinities and NaN payloads included).
    F16,
    /// `<f8`, little-endian IEEE double precision (rounded to `f32` on read).
    F64,
    /// `|u1`, unsigned bytes.
    U8,
    /// `|i1`, signed bytes.
    I8,
    /// `<i4`, little-endian 32-bit integers (exact in `f32` up to ±2²⁴).
    I32,
}

impl Dtype {
    /// The numpy dtype string: `"<f4"`, `"<f2"`, `"<f8"`, `"|u1"`, `"|i1"` or `"<i4"`.
    #[must_use]
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F16 => "<f2",
            Dtype::F64 => "<f8",
            Dtype::U8 => "|u1",
            Dtype::I8 => "|i1",
            Dtype::I32 => "<i4",
        }
    }

    /// Bytes per element.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::F16 => 2,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// The numpy name: `"float32"`, `"float16"`, `"float64"`, `"uint8"`,
    /// `"int8"`, `"int32"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F16 => "float16",
            Dtype::F64 => "float64",
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::I32 => "int32",
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.descr())
    }
}

/// A memory-mapped 2-D, C-order `.npy` matrix of `<f4`, `<f2`, `<f8`, `|u1`,
/// `|i1` or `<i4`.
///
/// Everything the header promises is checked against the file's length in
/// [`NpyFile::open`], so reading rows never touches a page past the end.
#[derive(Debug)]
pub struct NpyFile {
    /// The data: its rows from the header's end.
    data: RowBytes,
    dtype: Dtype,
    version: (u8, u8),
    data_offset: usize,
    /// `<f4` on a little-endian machine with 4-byte aligned data in memory.
    zero_copy: bool,
}

fn format_err(path: &Path, problem: FormatProblem) -> CoreError {
    CoreError::Format(FormatError::new(path, problem))
}

/// Opens `path` and parses its header.
fn open_with_header(path: &Path) -> Result<(FileBytes, NpyHeader)> {
    let bytes = FileBytes::open(path)?;
    let header = npy_header::parse_header(bytes.bytes()).map_err(|p| format_err(path, p))?;
    Ok((bytes, header))
}

impl NpyFile {
    /// Opens and validates a 2-D `.npy` matrix.
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty path;
    /// [`CoreError::Format`] naming the file for a bad magic, an unsupported
    /// version, a truncated, oversized or malformed header, an unsupported or
    /// big-endian dtype, Fortran order, a shape that is not 2-D or has no rows
    /// or columns, and a length that is not what the header promises;
    /// [`CoreError::Io`] when the file cannot be opened or mapped.
    pub fn open(path: impl AsRef<Path>) -> Result<NpyFile> {
        let path = path.as_ref();
        let (bytes, header) = open_with_header(path)?;
        Self::from_parts(path, bytes, &header)
    }

    /// Like [`NpyFile::open`] but reads the file into memory instead of
    /// mapping it (the fallback path, tested with unaligned buffers).
    #[cfg(test)]
    pub(crate) fn open_read(path: &Path) -> Result<NpyFile> {
        let bytes = FileBytes::read(path)?;
        let header = npy_header::parse_header(bytes.bytes()).map_err(|p| format_err(path, p))?;
        Self::from_parts(path, bytes, &header)
    }

    fn from_parts(path: &Path, bytes: FileBytes, header: &NpyHeader) -> Result<NpyFile> {
        let err = |p| format_err(path, p);
        let dtype = match npy_header::classify_descr(header).map_err(err)? {
            Elem::F4 => Dtype::F32,
            Elem::F2 => Dtype::F16,
            Elem::F8 => Dtype::F64,
            Elem::U1 => Dtype::U8,
            Elem::I1 => Dtype::I8,
            Elem::I4 => Dtype::I32,
            Elem::I8 => {
                return Err(err(FormatProblem::UnsupportedDtype {
                    descr: header.descr.clone(),
                }));
            }
        };
        if header.fortran_order {
            return Err(err(FormatProblem::FortranOrder));
        }
        let &[rows, cols] = header.shape.as_slice() else {
            return Err(err(FormatProblem::NotTwoD {
                shape: npy_header::shape_text(&header.shape),
            }));
        };
        if rows == 0 || cols == 0 {
            return Err(err(FormatProblem::Empty { rows, cols }));
        }
        npy_header::check_data_len(header, dtype.size(), bytes.bytes().len()).map_err(err)?;
        let data_ptr = bytes.bytes()[header.data_offset..].as_ptr();
        let zero_copy = dtype == Dtype::F32
            && cfg!(target_endian = "little")
            && data_ptr.cast::<f32>().is_aligned();
        let data = RowBytes::new(
            path,
            bytes,
            (rows, cols),
            header.data_offset,
            cols * dtype.size(),
        );
        Ok(NpyFile {
            data,
            dtype,
            version: header.version,
            data_offset: header.data_offset,
            zero_copy,
        })
    }

    /// The file's path, as given to [`NpyFile::open`].
    #[must_use]
    pub fn path(&self) -> &Path {
        self.data.path()
    }

    /// The element type on disk.
    #[must_use]
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// `(rows, columns)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.data.n_rows(), self.data.n_cols())
    }

    /// The format version, `(1, 0)`, `(2, 0)` or `(3, 0)`.
    #[must_use]
    pub fn version(&self) -> (u8, u8) {
        self.version
    }

    /// Offset of the first data byte in the file.
    #[must_use]
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The file's length in bytes.
    #[must_use]
    pub fn file_len(&self) -> u64 {
        self.data.file_len()
    }

    /// True when `<f4` rows are served without copying (little-endian machine,
    /// 4-byte aligned data).
    #[must_use]
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }
}

/// Checks a requested row range against the row count.
pub(crate) fn check_range(name: &dyn Fn() -> String, range: &Range<usize>, n: usize) -> Result<()> {
    if range.start > range.end || range.end > n {
        return Err(CoreError::param(
            "rows",
            format!(
                "{}: row range {}..{} is outside 0..{n}",
                name(),
                range.start,
                range.end
            ),
        ));
    }
    Ok(())
}

#[inline]
fn le2(c: &[u8]) -> [u8; 2] {
    [c[0], c[1]]
}

#[inline]
fn le4(c: &[u8]) -> [u8; 4] {
    [c[0], c[1], c[2], c[3]]
}

#[inline]
fn le8(c: &[u8]) -> [u8; 8] {
    [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]
}

/// The `f32` with the value of the IEEE half-precision number whose bits are
/// `h`: exact for every input, as numpy's `astype(np.float32)` (subnormals
/// become normal `f32`s, infinities stay infinite, a NaN keeps its sign and
/// payload, shifted into the top of the `f32` mantissa, quiet or not).
///
/// Branch-free selects, so the loop over a row converts in vector registers.
#[inline]
#[must_use]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    // 2^-14, the smallest normal half, as an f32: exponent 127 - 14 = 113.
    const MIN_NORMAL: u32 = 113 << 23;
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    // Exponent and mantissa moved to their f32 places; the exponent is still
    // biased by 15 (half) instead of 127 (single).
    let body = (h & 0x7fff) << 13;
    let exponent = body & (0x1f << 23);
    let normal = body + ((127 - 15) << 23);
    let bits = if exponent == 0x1f << 23 {
        // Infinity or NaN: the f32 exponent is all ones too.
        body | (0xff << 23)
    } else if exponent == 0 {
        // Zero or subnormal, m · 2^-24: read the mantissa as 1.m · 2^-14 and
        // take 2^-14 away (exact: Sterbenz), which leaves m · 2^-24, or +0.
        (f32::from_bits(body + MIN_NORMAL) - f32::from_bits(MIN_NORMAL)).to_bits()
    } else {
        normal
    };
    f32::from_bits(bits | sign)
}

/// Converts little-endian elements of `dtype` in `src` to `f32`, appending to `out`.
pub(crate) fn extend_f32(dtype: Dtype, src: &[u8], out: &mut Vec<f32>) {
    match dtype {
        Dtype::F32 => out.extend(src.chunks_exact(4).map(|c| f32::from_le_bytes(le4(c)))),
        Dtype::F16 => out.extend(
            src.chunks_exact(2)
                .map(|c| f16_bits_to_f32(u16::from_le_bytes(le2(c)))),
        ),
        Dtype::I8 => out.extend(src.iter().map(|&b| f32::from(i8::from_ne_bytes([b])))),
        // Rounding to the nearest f32 is the documented behaviour for f64 input.
        #[allow(clippy::cast_possible_truncation)]
        Dtype::F64 => out.extend(
            src.chunks_exact(8)
                .map(|c| f64::from_le_bytes(le8(c)) as f32),
        ),
        Dtype::U8 => out.extend(src.iter().map(|&b| f32::from(b))),
        // Exact up to ±2^24; larger magnitudes round, as numpy's astype does.
        #[allow(clippy::cast_precision_loss)]
        Dtype::I32 => out.extend(
            src.chunks_exact(4)
                .map(|c| i32::from_le_bytes(le4(c)) as f32),
        ),
    }
}

impl DataSource for NpyFile {
    forward_to_row_bytes!(data);

    fn rows<'a>(&'a self, range: Range<usize>, scratch: &'a mut Vec<f32>) -> Result<&'a [f32]> {
        // In bounds: open checked data_offset + rows * row_bytes == file length.
        let src = self.data.rows(&range)?;
        if self.zero_copy {
            let ptr = src.as_ptr().cast::<f32>();
            if ptr.is_aligned() {
                // SAFETY: `ptr` is aligned for f32 (checked just above), points
                // to `src.len()` initialised bytes, of which we view
                // `src.len() / 4` whole f32 values (every bit pattern is a valid
                // f32); the bytes are borrowed from `self.data` for `'a` and
                // nothing in this process writes them (read-only map or owned
                // buffer; see `mapped::map_file` for other processes).
                let values = unsafe { std::slice::from_raw_parts(ptr, src.len() / 4) };
                return Ok(values);
            }
        }
        scratch.clear();
        scratch.reserve(range.len() * self.data.n_cols());
        extend_f32(self.dtype, src, scratch);
        Ok(&scratch[..])
    }
}

/// Opens a 1-D `.npy` vector and returns its element type and data bytes.
fn open_vector(path: &Path) -> Result<(FileBytes, Elem, usize, usize)> {
    let (bytes, header) = open_with_header(path)?;
    let err = |p| format_err(path, p);
    let elem = npy_header::classify_descr(&header).map_err(err)?;
    let &[n] = header.shape.as_slice() else {
        return Err(err(FormatProblem::NotOneD {
            shape: npy_header::shape_text(&header.shape),
        }));
    };
    npy_header::check_data_len(&header, elem.size(), bytes.bytes().len()).map_err(err)?;
    Ok((bytes, elem, header.data_offset, n))
}

/// Reads a 1-D integer `.npy` vector (labels): `<i4`, `|i1`, or `<i8` when
/// every value fits in an `i32`. Read into memory (labels are O(n), not O(n·d)).
///
/// # Errors
/// As [`NpyFile::open`], plus [`FormatProblem::NotOneD`],
/// [`FormatProblem::UnsupportedVectorDtype`] for other dtypes and
/// [`FormatProblem::ValueOutOfRange`] for an `<i8` value outside `i32`.
pub fn read_npy_vector_i32(path: impl AsRef<Path>) -> Result<Vec<i32>> {
    let path = path.as_ref();
    let (bytes, elem, offset, n) = open_vector(path)?;
    let data = &bytes.bytes()[offset..];
    match elem {
        Elem::I4 => Ok(data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(le4(c)))
            .collect()),
        Elem::I1 => Ok(data
            .iter()
            .map(|&b| i32::from(i8::from_ne_bytes([b])))
            .collect()),
        Elem::I8 => data
            .chunks_exact(8)
            .enumerate()
            .map(|(index, c)| {
                let value = i64::from_le_bytes(le8(c));
                i32::try_from(value)
                    .map_err(|_| format_err(path, FormatProblem::ValueOutOfRange { index, value }))
            })
            .collect(),
        _ => Err(format_err(
            path,
            FormatProblem::UnsupportedVectorDtype {
                descr: elem_descr(elem).to_string(),
                expected: "'<i4' (int32), '<i8' (int64) or '|i1' (int8)",
            },
        )),
    }
    .inspect(|v: &Vec<i32>| debug_assert_eq!(v.len(), n))
}

/// Reads a 1-D floating-point `.npy` vector (weights): `<f4`, `<f2`, or `<f8`
/// rounded to `f32`. Read into memory.
///
/// # Errors
/// As [`read_npy_vector_i32`], with `<f4`/`<f2`/`<f8` as the accepted dtypes.
pub fn read_npy_vector_f32(path: impl AsRef<Path>) -> Result<Vec<f32>> {
    let path = path.as_ref();
    let (bytes, elem, offset, n) = open_vector(path)?;
    let data = &bytes.bytes()[offset..];
    let dtype = match elem {
        Elem::F4 => Dtype::F32,
        Elem::F2 => Dtype::F16,
        Elem::F8 => Dtype::F64,
        _ => {
            return Err(format_err(
                path,
                FormatProblem::UnsupportedVectorDtype {
                    descr: elem_descr(elem).to_string(),
                    expected: "'<f4' (float32), '<f8' (float64) or '<f2' (float16)",
                },
            ));
        }
    };
    let mut out = Vec::with_capacity(n);
    extend_f32(dtype, data, &mut out);
    Ok(out)
}

pub(crate) fn elem_descr(elem: Elem) -> &'static str {
    match elem {
        Elem::F4 => "<f4",
        Elem::F2 => "<f2",
        Elem::F8 => "<f8",
        Elem::U1 => "|u1",
        Elem::I1 => "|i1",
        Elem::I4 => "<i4",
        Elem::I8 => "<i8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A v1.0 file whose data starts at `offset` (any value ≥ the minimal
    /// header), holding `values` as `<f4` in a `rows × cols` matrix.
    fn f4_file_at_offset(offset: usize, rows: usize, cols: usize, values: &[f32]) -> Vec<u8> {
        let dict =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        let hlen = offset - 10;
        let mut v = npy_header::MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&u16::try_from(hlen).unwrap().to_le_bytes());
        v.extend_from_slice(dict.as_bytes());
        v.resize(offset - 1, b' ');
        v.push(b'\n');
        for x in values {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    #[test]
    fn misaligned_f32_is_copied_in_the_read_fallback_too() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        for offset in [80, 81, 82, 83] {
            let path = dir.path().join(format!("m{offset}.npy"));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(&f4_file_at_offset(offset, 4, 3, &values))
                .unwrap();
            for file in [
                NpyFile::open(&path).unwrap(),
                NpyFile::open_read(&path).unwrap(),
            ] {
                assert_eq!(file.data_offset(), offset);
                let mut scratch = Vec::new();
                for start in 0..4 {
                    let rows = file.rows(start..4, &mut scratch).unwrap().to_vec();
                    assert_eq!(rows, values[start * 3..], "offset {offset}");
                }
                assert!(file.rows(3..5, &mut scratch).is_err());
            }
            assert_eq!(
                NpyFile::open(&path).unwrap().is_zero_copy(),
                offset % 4 == 0
            );
        }
    }

    /// The value of half-precision bits by the definition, in f64 arithmetic:
    /// (-1)^s · 2^(e - 15) · (1 + m / 1024), or 2^-14 · m / 1024 when e = 0.
    fn half_by_definition(h: u16) -> f64 {
        let sign = if h & 0x8000 == 0 { 1.0 } else { -1.0 };
        let e = i32::from((h >> 10) & 0x1f);
        let m = f64::from(h & 0x3ff);
        match e {
            0 => sign * m * 2f64.powi(-24),
            31 if m == 0.0 => sign * f64::INFINITY,
            31 => f64::NAN,
            _ => sign * (1.0 + m / 1024.0) * 2f64.powi(e - 15),
        }
    }

    #[test]
    fn every_half_converts_exactly() {
        for h in 0..=u16::MAX {
            let got = f16_bits_to_f32(h);
            let want = half_by_definition(h);
            if want.is_nan() {
                assert!(got.is_nan(), "{h:#06x}");
                // Sign and payload kept, shifted into the top of the mantissa.
                let bits = got.to_bits();
                assert_eq!(bits >> 31, u32::from(h >> 15), "{h:#06x}");
                assert_eq!(bits & 0x007f_ffff, u32::from(h & 0x3ff) << 13, "{h:#06x}");
            } else {
                // Every half is an f32: the cast from the exact f64 is exact.
                #[allow(clippy::cast_possible_truncation)]
                let want32 = want as f32;
                assert_eq!(f64::from(want32), want, "{h:#06x}");
                assert_eq!(got.to_bits(), want32.to_bits(), "{h:#06x}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn int8_and_float16_rows_convert_in_place_of_the_requested_range() {
        let mut out = vec![9.0];
        extend_f32(Dtype::I8, &[0x80, 0xff, 0x00, 0x7f], &mut out);
        assert_eq!(out, [9.0, -128.0, -1.0, 0.0, 127.0]);
        out.clear();
        // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal), -0.
        let halves: [u16; 5] = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000];
        let bytes: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
        extend_f32(Dtype::F16, &bytes, &mut out);
        assert_eq!(out[..4], [1.0, -2.0, 65504.0, 2f32.powi(-24)]);
        assert_eq!(out[4].to_bits(), (-0.0f32).to_bits());
    }
}
