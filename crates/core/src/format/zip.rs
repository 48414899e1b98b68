//! The little of the zip format that `.npz` files need: reading the central
//! directory (zip64 included) and finding each member's bytes, and writing a
//! zip of stored or deflated members.
//!
//! Written here rather than taken from a zip crate: an `.npz` uses two
//! methods (stored, deflate) and no encryption, and the reader must map a
//! stored member in place at its offset, which is a few dozen lines; `flate2`
//! (already in the build) does the deflating.
//!
//! Layout (PKWARE APPNOTE 6.3): local file headers each followed by a member's
//! bytes, then the central directory (one record per member, with its sizes
//! and its local header's offset), then, for archives over the 32-bit limits,
//! the zip64 end record and its locator, and last the end-of-central-directory
//! record. The central directory is the truth for sizes (a streamed writer
//! leaves them out of the local header); the local header only says how long
//! its name and extra field are, so where the data starts.

use std::io::{Seek, SeekFrom, Write};

/// The zip methods an `.npz` member may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Method 0: the member's bytes as they are.
    Stored,
    /// Method 8: raw deflate.
    Deflated,
}

/// One member of the archive, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) method: Method,
    pub(crate) crc32: u32,
    /// Offset in the archive of the member's (possibly compressed) bytes.
    pub(crate) data_offset: u64,
    pub(crate) compressed_size: u64,
    pub(crate) size: u64,
}

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const EOCD_LEN: usize = 22;
/// Most members an `.npz` of ours has; a directory promising more is not one.
const MAX_MEMBERS: u64 = 1024;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn to_usize(v: u64, what: &str) -> Result<usize, String> {
    usize::try_from(v).map_err(|_| format!("{what} {v} is beyond this machine's address space"))
}

/// The archive's members, read from its central directory and checked
/// against the archive's length. The message of an error says what is wrong
/// (a truncated file, a corrupt directory, encryption, a method other than
/// stored or deflate).
pub(crate) fn read_directory(bytes: &[u8]) -> Result<Vec<Member>, String> {
    let truncated = || {
        "not a complete zip archive (no end-of-directory record): truncated, or not an .npz written by numpy or scipy".to_string()
    };
    if bytes.len() < EOCD_LEN {
        return Err(truncated());
    }
    // The end record sits in the last 22 + 65 535 (comment) bytes.
    let lowest = bytes.len().saturating_sub(EOCD_LEN + 0xffff);
    let eocd = (lowest..=bytes.len() - EOCD_LEN)
        .rev()
        .find(|&at| {
            u32_at(bytes, at) == Some(EOCD_SIG)
                && u16_at(bytes, at + 20).map(|c| at + EOCD_LEN + usize::from(c))
                    == Some(bytes.len())
        })
        .ok_or_else(truncated)?;
    let bad = |what: &str| format!("corrupt zip directory: {what}");
    let mut entries = u64::from(u16_at(bytes, eocd + 10).ok_or_else(truncated)?);
    let mut cd_size = u64::from(u32_at(bytes, eocd + 12).ok_or_else(truncated)?);
    let mut cd_offset = u64::from(u32_at(bytes, eocd + 16).ok_or_else(truncated)?);
    if entries == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        let loc = eocd
            .checked_sub(20)
            .filter(|&at| u32_at(bytes, at) == Some(ZIP64_LOCATOR_SIG))
            .ok_or_else(|| bad("a zip64 archive without its zip64 locator"))?;
        let at = to_usize(
            u64_at(bytes, loc + 8).unwrap_or(u64::MAX),
            "zip64 record offset",
        )?;
        if u32_at(bytes, at) != Some(ZIP64_EOCD_SIG) {
            return Err(bad("the zip64 end record is not where its locator points"));
        }
        entries = u64_at(bytes, at + 32).ok_or_else(truncated)?;
        cd_size = u64_at(bytes, at + 40).ok_or_else(truncated)?;
        cd_offset = u64_at(bytes, at + 48).ok_or_else(truncated)?;
    }
    if entries > MAX_MEMBERS {
        return Err(bad(&format!("{entries} members (an .npz has a handful)")));
    }
    let start = to_usize(cd_offset, "directory offset")?;
    let end = start
        .checked_add(to_usize(cd_size, "directory size")?)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("the directory lies past the end of the file (truncated?)"))?;
    let dir = &bytes[start..end];
    let mut members = Vec::new();
    let mut at = 0usize;
    for _ in 0..entries {
        members.push(
            central_record(bytes, dir, &mut at).ok_or_else(|| bad("a record is cut short"))??,
        );
    }
    Ok(members)
}

/// Reads the central directory record at `*at` of `dir` and the local header
/// it points to in `bytes`; `None` when a record runs past its end.
fn central_record(bytes: &[u8], dir: &[u8], at: &mut usize) -> Option<Result<Member, String>> {
    let r = *at;
    if u32_at(dir, r)? != CENTRAL_SIG {
        return Some(Err("corrupt zip directory: bad record signature".into()));
    }
    let flags = u16_at(dir, r + 8)?;
    let method = u16_at(dir, r + 10)?;
    let crc32 = u32_at(dir, r + 16)?;
    let mut compressed_size = u64::from(u32_at(dir, r + 20)?);
    let mut size = u64::from(u32_at(dir, r + 24)?);
    let name_len = usize::from(u16_at(dir, r + 28)?);
    let extra_len = usize::from(u16_at(dir, r + 30)?);
    let comment_len = usize::from(u16_at(dir, r + 32)?);
    let mut local = u64::from(u32_at(dir, r + 42)?);
    let name_bytes = dir.get(r + 46..r + 46 + name_len)?;
    let name = String::from_utf8_lossy(name_bytes).into_owned();
    let extra = dir.get(r + 46 + name_len..r + 46 + name_len + extra_len)?;
    *at = r + 46 + name_len + extra_len + comment_len;
    // The zip64 extra holds, in this order, only the fields whose 32-bit
    // slots are saturated.
    let mut e = 0;
    while e + 4 <= extra.len() {
        let id = u16_at(extra, e)?;
        let len = usize::from(u16_at(extra, e + 2)?);
        let body = extra.get(e + 4..e + 4 + len)?;
        if id == ZIP64_EXTRA_ID {
            let mut f = 0;
            for field in [&mut size, &mut compressed_size, &mut local] {
                if *field == 0xffff_ffff {
                    *field = u64_at(body, f)?;
                    f += 8;
                }
            }
        }
        e += 4 + len;
    }
    if flags & 1 != 0 {
        return Some(Err(format!(
            "member {name} is encrypted; save it without encryption"
        )));
    }
    let method = match method {
        0 => Method::Stored,
        8 => Method::Deflated,
        m => {
            return Some(Err(format!(
                "member {name} uses zip method {m}; only stored (0) and deflate (8), what numpy and scipy write, are read"
            )));
        }
    };
    if method == Method::Stored && compressed_size != size {
        return Some(Err(format!(
            "corrupt zip directory: stored member {name} has sizes {compressed_size} and {size}"
        )));
    }
    // The local header: fixed 30 bytes, then its own name and extra lengths.
    let located = (|| {
        let l = usize::try_from(local).ok()?;
        if u32_at(bytes, l)? != LOCAL_SIG {
            return None;
        }
        let skip = 30 + usize::from(u16_at(bytes, l + 26)?) + usize::from(u16_at(bytes, l + 28)?);
        let data_offset = (l + skip) as u64;
        let end = data_offset.checked_add(compressed_size)?;
        (end <= bytes.len() as u64).then_some(data_offset)
    })();
    Some(match located {
        Some(data_offset) => Ok(Member {
            name,
            method,
            crc32,
            data_offset,
            compressed_size,
            size,
        }),
        None => Err(format!(
            "member {name} lies past the end of the file or its local header is missing (truncated?)"
        )),
    })
}

/// Writes a zip archive member by member to a seekable output (the local
/// headers are completed by seeking back once a member's sizes are known).
/// Every local header carries a zip64 extra field, as numpy's `savez` writes
/// (`force_zip64`), so a member may exceed 4 GiB; the directory uses zip64
/// records only where a value needs them.
pub(crate) struct ZipWriter<W: Write + Seek> {
    out: W,
    offset: u64,
    members: Vec<(String, Method, u32, u64, u64, u64)>,
}

impl<W: Write + Seek> ZipWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        ZipWriter {
            out,
            offset: 0,
            members: Vec::new(),
        }
    }

    /// Writes member `name`, whose bytes `fill` writes into the writer it is
    /// given (plain for [`Method::Stored`], a deflater for
    /// [`Method::Deflated`]); returns what `fill` returns.
    pub(crate) fn member<T>(
        &mut self,
        name: &str,
        method: Method,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let header_at = self.offset;
        let header = local_header(name, method, 0, 0, 0);
        self.out.write_all(&header)?;
        let mut raw = Counted {
            out: &mut self.out,
            crc: flate2::Crc::new(),
            len: 0,
        };
        let (value, crc, size) = match method {
            Method::Stored => {
                let v = fill(&mut raw)?;
                (v, raw.crc.sum(), raw.len)
            }
            Method::Deflated => {
                let mut z = Counted {
                    out: flate2::write::DeflateEncoder::new(
                        &mut raw,
                        flate2::Compression::default(),
                    ),
                    crc: flate2::Crc::new(),
                    len: 0,
                };
                let v = fill(&mut z)?;
                let (crc, size) = (z.crc.sum(), z.len);
                z.out.finish()?;
                (v, crc, size)
            }
        };
        let written = raw.len;
        let end = header_at + header.len() as u64 + written;
        self.out.seek(SeekFrom::Start(header_at))?;
        self.out
            .write_all(&local_header(name, method, crc, written, size))?;
        self.out.seek(SeekFrom::Start(end))?;
        self.offset = end;
        self.members
            .push((name.to_string(), method, crc, written, size, header_at));
        Ok(value)
    }

    /// Writes the central directory and the end records; returns the output.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        let cd_start = self.offset;
        let mut cd = Vec::new();
        for (name, method, crc, csize, size, local) in &self.members {
            let mut extra = Vec::new();
            let mut field = |v: u64| {
                if v >= 0xffff_ffff {
                    extra.extend_from_slice(&v.to_le_bytes());
                    0xffff_ffff
                } else {
                    v as u32
                }
            };
            let (size32, csize32, local32) = (field(*size), field(*csize), field(*local));
            let extra = if extra.is_empty() {
                extra
            } else {
                let mut e = ZIP64_EXTRA_ID.to_le_bytes().to_vec();
                e.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                e.extend_from_slice(&extra);
                e
            };
            cd.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
            cd.extend_from_slice(&45u16.to_le_bytes()); // made by: 4.5
            cd.extend_from_slice(&45u16.to_le_bytes()); // needed: 4.5 (zip64)
            cd.extend_from_slice(&0u16.to_le_bytes()); // flags
            cd.extend_from_slice(&method_code(*method).to_le_bytes());
            cd.extend_from_slice(&DOS_TIME.to_le_bytes());
            cd.extend_from_slice(&crc.to_le_bytes());
            cd.extend_from_slice(&csize32.to_le_bytes());
            cd.extend_from_slice(&size32.to_le_bytes());
            cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
            cd.extend_from_slice(&0o644u32.wrapping_shl(16).to_le_bytes());
            cd.extend_from_slice(&local32.to_le_bytes());
            cd.extend_from_slice(name.as_bytes());
            cd.extend_from_slice(&extra);
        }
        let entries = self.members.len() as u64;
        let cd_size = cd.len() as u64;
        let cd_end = cd_start + cd_size;
        if cd_start >= 0xffff_ffff || cd_size >= 0xffff_ffff {
            cd.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
            cd.extend_from_slice(&44u64.to_le_bytes());
            cd.extend_from_slice(&45u16.to_le_bytes());
            cd.extend_from_slice(&45u16.to_le_bytes());
            cd.extend_from_slice(&[0; 8]); // this disk, directory's disk
            cd.extend_from_slice(&entries.to_le_bytes());
            cd.extend_from_slice(&entries.to_le_bytes());
            cd.extend_from_slice(&cd_size.to_le_bytes());
            cd.extend_from_slice(&cd_start.to_le_bytes());
            cd.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            cd.extend_from_slice(&0u32.to_le_bytes());
            cd.extend_from_slice(&cd_end.to_le_bytes());
            cd.extend_from_slice(&1u32.to_le_bytes());
        }
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        cd.extend_from_slice(&EOCD_SIG.to_le_bytes());
        cd.extend_from_slice(&[0; 4]);
        let n16 = u16::try_from(entries).unwrap_or(0xffff);
        cd.extend_from_slice(&n16.to_le_bytes());
        cd.extend_from_slice(&n16.to_le_bytes());
        cd.extend_from_slice(&sat(cd_size).to_le_bytes());
        cd.extend_from_slice(&sat(cd_start).to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        self.out.write_all(&cd)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// 1980-01-01 00:00 as DOS date and time (the earliest zip can say): the
/// output does not depend on the clock.
const DOS_TIME: u32 = (1 << 5 | 1) << 16;

fn method_code(m: Method) -> u16 {
    match m {
        Method::Stored => 0,
        Method::Deflated => 8,
    }
}

fn local_header(name: &str, method: Method, crc: u32, csize: u64, size: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(30 + name.len() + 20);
    h.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    h.extend_from_slice(&45u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&method_code(method).to_le_bytes());
    h.extend_from_slice(&DOS_TIME.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&csize.to_le_bytes());
    h
}

/// A writer that counts and checksums what passes through it.
struct Counted<W: Write> {
    out: W,
    crc: flate2::Crc,
    len: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
