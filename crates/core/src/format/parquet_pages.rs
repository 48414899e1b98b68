//! Page locations for a Parquet file written without an offset index.
//!
//! A unit of rows inside a row group starts at its own pages when the reader
//! knows where each page starts and which row it begins with: the offset
//! index. pyarrow writes none by default. Without it, the reader decodes
//! every page before the unit to find it (its v1 page headers do not count
//! rows), so random access into a large row group (mini-batch blocks,
//! samples, silhouette tiles) decodes up to the whole group for each unit;
//! from a file larger than memory it also rereads that group from disk.
//!
//! The locations are in the file: each page starts with a Thrift (compact
//! protocol) header giving its type, its compressed size and its value count
//! (v1) or row count (v2). Walking a column chunk's headers, skipping each
//! page's bytes unread, gives exactly what an offset index holds. For the
//! flat (unrepeated) columns read here a v1 data page's value count is its
//! row count, nulls included. Any header that does not parse, or a walk that
//! does not end at the chunk's end with the row group's row count, gives no
//! locations for that file, and the reader works as before.

use parquet::file::metadata::ParquetMetaData;
use parquet::file::metadata::page_index::PageIndexBuilder;
use parquet::file::page_index::offset_index::{OffsetIndexMetaData, PageLocation};

/// Page types of the Parquet format.
const DATA_PAGE: i64 = 0;
const DATA_PAGE_V2: i64 = 3;

/// Nesting deeper than this in a page header is refused (a page header nests
/// two levels: its page-type header, then statistics).
const MAX_DEPTH: u32 = 16;

/// A Thrift compact-protocol reader over a byte slice: only what skipping
/// through a page header needs.
struct Compact<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn advance(&mut self, n: u64) -> Option<()> {
        let n = usize::try_from(n).ok()?;
        self.pos = self.pos.checked_add(n).filter(|&p| p <= self.buf.len())?;
        Some(())
    }

    /// Skips one value of compact type `ty`.
    fn skip(&mut self, ty: u8, depth: u32) -> Option<()> {
        match ty {
            1 | 2 => Some(()),    // a boolean field: the value is in the type
            3 => self.advance(1), // byte
            4..=6 => self.varint().map(drop),
            7 => self.advance(8), // double
            8 => {
                let len = self.varint()?;
                self.advance(len)
            }
            9 | 10 => {
                let head = self.byte()?;
                let size = match head >> 4 {
                    15 => self.varint()?,
                    s => u64::from(s),
                };
                let elem = head & 0x0f;
                for _ in 0..size {
                    // Booleans in a list take a byte each.
                    if elem == 1 || elem == 2 {
                        self.advance(1)?;
                    } else {
                        self.skip(elem, depth + 1)?;
                    }
                }
                Some(())
            }
            11 => {
                let size = self.varint()?;
                if size > 0 {
                    let kv = self.byte()?;
                    for _ in 0..size {
                        self.skip(kv >> 4, depth + 1)?;
                        self.skip(kv & 0x0f, depth + 1)?;
                    }
                }
                Some(())
            }
            12 => self.fields(depth + 1, |_, _, _| Ok(false)),
            _ => None,
        }
    }

    /// Reads a struct's fields up to its stop byte: `f(self, id, type)`
    /// reads the fields it wants (returning `Ok(true)`); the others are
    /// skipped.
    fn fields(
        &mut self,
        depth: u32,
        mut f: impl FnMut(&mut Self, i16, u8) -> Result<bool, ()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut last = 0i16;
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Some(());
            }
            let ty = head & 0x0f;
            let id = match head >> 4 {
                0 => i16::try_from(self.zigzag()?).ok()?,
                delta => last.checked_add(i16::from(delta))?,
            };
            last = id;
            if !f(self, id, ty).ok()? {
                self.skip(ty, depth)?;
            }
        }
    }
}

/// What a page header says: its type, its header's length, its compressed
/// size, and its rows (v2) or values (v1).
struct PageHead {
    page_type: i64,
    header_len: usize,
    compressed: i64,
    rows: Option<i64>,
}

/// Reads the struct at `c`, keeping its i32 field `want` in `out`.
fn int_field(c: &mut Compact<'_>, want: i16, out: &mut Option<i64>) -> Option<()> {
    c.fields(1, |c, id, ty| {
        if id == want && ty == 5 {
            *out = Some(c.zigzag().ok_or(())?);
            return Ok(true);
        }
        Ok(false)
    })
}

/// Parses the page header at the start of `buf`.
fn page_head(buf: &[u8]) -> Option<PageHead> {
    let mut c = Compact { buf, pos: 0 };
    let (mut page_type, mut compressed, mut rows) = (None, None, None);
    c.fields(0, |c, id, ty| {
        let int = ty == 5;
        match (id, int) {
            (1, true) => page_type = Some(c.zigzag().ok_or(())?),
            (3, true) => compressed = Some(c.zigzag().ok_or(())?),
            // DataPageHeader: field 1, num_values.
            (5, _) if ty == 12 => int_field(c, 1, &mut rows).ok_or(())?,
            // DataPageHeaderV2: field 3, num_rows.
            (8, _) if ty == 12 => int_field(c, 3, &mut rows).ok_or(())?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Some(PageHead {
        page_type: page_type?,
        header_len: c.pos,
        compressed: compressed.filter(|&s| s >= 0)?,
        rows,
    })
}

/// The page locations of one column chunk: `bytes` is the whole file,
/// `start..start + len` the chunk, `rows` its row group's rows.
fn chunk_locations(bytes: &[u8], start: u64, len: u64, rows: i64) -> Option<Vec<PageLocation>> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let chunk = bytes.get(start..end)?;
    let mut pos = 0usize;
    let mut first_row = 0i64;
    let mut pages = Vec::new();
    while pos < chunk.len() {
        let head = page_head(&chunk[pos..])?;
        let size = head
            .header_len
            .checked_add(usize::try_from(head.compressed).ok()?)?;
        if head.page_type == DATA_PAGE || head.page_type == DATA_PAGE_V2 {
            let page_rows = head.rows.filter(|&r| r > 0)?;
            pages.push(PageLocation {
                offset: i64::try_from(start + pos).ok()?,
                compressed_page_size: i32::try_from(size).ok()?,
                first_row_index: first_row,
            });
            first_row = first_row.checked_add(page_rows)?;
        }
        pos = pos.checked_add(size)?;
    }
    (pos == chunk.len() && first_row == rows && !pages.is_empty()).then_some(pages)
}

/// The offset index of the chosen leaf columns (`leaves`) of every row
/// group, built from the page headers, as a [`PageIndexBuilder`] ready for
/// the file's metadata; `None` when any chunk's headers do not add up.
pub(super) fn build_offset_index(
    bytes: &[u8],
    meta: &ParquetMetaData,
    leaves: &[usize],
) -> Option<PageIndexBuilder> {
    let groups = meta.row_groups();
    let n_columns = meta.file_metadata().schema_descr().num_columns();
    let mut index = PageIndexBuilder::new(groups.len(), n_columns);
    for (g, rg) in groups.iter().enumerate() {
        for &leaf in leaves {
            let col = rg.column(leaf);
            let (start, len) = col.byte_range();
            let pages = chunk_locations(bytes, start, len, rg.num_rows())?;
            index.put_offset_index(
                OffsetIndexMetaData {
                    page_locations: pages,
                    unencoded_byte_array_data_bytes: None,
                },
                g,
                leaf,
            );
        }
    }
    Some(index)
}

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use parquet::file::metadata::PageIndexPolicy;
    use parquet::file::metadata::page_index::PageIndexProvider;

    use super::*;

    fn load(name: &str) -> (bytes::Bytes, ArrowReaderMetadata) {
        let path = crate::testing::fixture(env!("CARGO_MANIFEST_DIR"), "columnar").join(name);
        let bytes = bytes::Bytes::from(std::fs::read(&path).unwrap());
        let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load(&bytes, options).unwrap();
        (bytes, meta)
    }

    /// Built from the page headers of the file pyarrow wrote with an offset
    /// index, the locations are that index, exactly; built from the same
    /// table written without one, the pages start at the same rows (their
    /// offsets differ: without a column index pyarrow puts each page's
    /// statistics in its header).
    #[test]
    fn the_locations_from_the_headers_are_pyarrows_offset_index() {
        let leaves: Vec<usize> = (0..5).collect();
        let (indexed_bytes, indexed) = load("blobs_pages_v1_indexed.parquet");
        let pyarrow = indexed.metadata().page_index_for_row_group(0);
        let from_indexed = build_offset_index(&indexed_bytes, indexed.metadata(), &leaves)
            .unwrap()
            .build();
        let (bytes, meta) = load("blobs_pages_v1.parquet");
        assert!(meta.metadata().page_index().is_none());
        let built = build_offset_index(&bytes, meta.metadata(), &leaves)
            .unwrap()
            .build();
        for leaf in leaves {
            let want = pyarrow.page_locations(leaf).unwrap();
            assert!(want.len() > 10, "pages of column {leaf}: {}", want.len());
            let got = from_indexed.offset_index(0, leaf).unwrap().page_locations();
            assert_eq!(got, want, "column {leaf}");
            let rows =
                |p: &Vec<PageLocation>| p.iter().map(|l| l.first_row_index).collect::<Vec<_>>();
            let got = built.offset_index(0, leaf).unwrap().page_locations();
            assert_eq!(rows(got), rows(want), "column {leaf}");
        }
    }

    /// v2 data pages count rows in their headers; the walk ends at each
    /// chunk's end with the group's rows, first rows increasing.
    #[test]
    fn v2_pages_give_locations_too() {
        let (bytes, meta) = load("blobs_pages_v2.parquet");
        let built = build_offset_index(&bytes, meta.metadata(), &[0, 4])
            .unwrap()
            .build();
        for leaf in [0, 4] {
            let pages = built.offset_index(0, leaf).unwrap().page_locations();
            assert!(pages.len() > 10);
            assert_eq!(pages[0].first_row_index, 0);
            assert!(
                pages
                    .windows(2)
                    .all(|w| w[0].first_row_index < w[1].first_row_index
                        && w[0].offset + i64::from(w[0].compressed_page_size) <= w[1].offset)
            );
        }
        // Cut short, a chunk gives no locations (nor a panic).
        let cut = bytes.slice(..bytes.len() / 2);
        assert!(build_offset_index(&cut, meta.metadata(), &[4]).is_none());
    }

    #[test]
    fn the_compact_reader_refuses_what_does_not_parse() {
        // Empty, a truncated varint, a field of an unknown type.
        assert!(page_head(&[]).is_none());
        assert!(page_head(&[0x15, 0x80]).is_none());
        assert!(page_head(&[0x1d, 0x00]).is_none());
        // Type 0 (data page), compressed size 4, no data page header: no
        // row count, so no location.
        let head = page_head(&[0x15, 0x00, 0x25, 0x08, 0x00]).unwrap();
        assert_eq!(
            (head.page_type, head.compressed, head.header_len),
            (0, 4, 5)
        );
        assert!(head.rows.is_none());
    }
}
