//! [`Columnar::open_arrow_ipc`]: the numeric columns of an Arrow IPC file (Feather v2,
//! `.arrow` / `.feather`) as a matrix.
//!
//! The file is memory-mapped; its footer lists the record batches, whose
//! metadata (row counts, null counts) is read on open. A batch is decoded
//! from the map (zero-copy when uncompressed and aligned; LZ4 or ZSTD
//! buffers are decompressed), and the rows of one unit, a run of at most
//! [`super::columnar::UNIT_BYTES`] of `f32` within a batch, are converted to
//! row-major `f32` into the bounded cache of [`super::columnar`]. Batches
//! whose metadata counts nulls in a chosen column are decoded on open: a null
//! is an error, or with [`MatrixOptions::drop_null`] its row is left out.

use std::path::Path;
use std::sync::Arc;

use arrow_buffer::Buffer;
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_ipc::{Block, root_as_footer, root_as_message};
use arrow_schema::DataType;

use super::FormatProblem;
use super::columnar::{
    BatchConverter, Columnar, ColumnarFormat, MatrixOptions, UnitDecoder, UnitNulls, format_err,
    select_columns, split_units,
};
use super::mapped::FileBytes;
use crate::error::{CoreError, Result};

const MAGIC: &[u8; 6] = b"ARROW1";

#[derive(Debug)]
struct IpcDecoder {
    buffer: Buffer,
    decoder: FileDecoder,
    blocks: Vec<Block>,
    convert: BatchConverter,
    /// Per unit: batch, first row within it, rows, first row in the file.
    units: Vec<(usize, usize, usize, usize)>,
}

fn ipc_err(path: &Path, detail: impl std::fmt::Display) -> CoreError {
    format_err(
        path,
        FormatProblem::ArrowIpc {
            detail: detail.to_string(),
        },
    )
}

/// Bytes `offset..offset + len` of `buffer`, checked against its length.
fn block_bytes(path: &Path, buffer: &Buffer, block: &Block) -> Result<Buffer> {
    let range = usize::try_from(block.offset()).ok().and_then(|offset| {
        let len = usize::try_from(block.metaDataLength()).ok()?
            + usize::try_from(block.bodyLength()).ok()?;
        (offset.checked_add(len)? <= buffer.len()).then_some((offset, len))
    });
    let Some((offset, len)) = range else {
        return Err(ipc_err(
            path,
            format_args!(
                "a block at byte {} of {} + {} bytes lies outside the {}-byte file; it is truncated or corrupt",
                block.offset(),
                block.metaDataLength(),
                block.bodyLength(),
                buffer.len()
            ),
        ));
    };
    Ok(buffer.slice_with_length(offset, len))
}

/// The row count a record batch block's message declares, and whether any of
/// the field nodes `nodes` counts nulls.
fn batch_meta(
    path: &Path,
    bytes: &[u8],
    meta_len: usize,
    nodes: &[usize],
) -> Result<(usize, bool)> {
    let meta = &bytes[..meta_len.min(bytes.len())];
    // An IPC message: optionally the continuation marker 0xFFFFFFFF, then a
    // 4-byte length, then the flatbuffer.
    let start = if meta.starts_with(&[0xff; 4]) { 8 } else { 4 };
    let message = meta
        .get(start..)
        .and_then(|m| root_as_message(m).ok())
        .ok_or_else(|| ipc_err(path, "a record batch's metadata is corrupt"))?;
    let batch = message.header_as_record_batch().ok_or_else(|| {
        ipc_err(
            path,
            "a block listed as a record batch holds another message",
        )
    })?;
    let rows = usize::try_from(batch.length()).map_err(|_| {
        ipc_err(
            path,
            format_args!("a record batch declares {} rows", batch.length()),
        )
    })?;
    let field_nodes = batch.nodes();
    // A node the metadata lacks: let the decoder find out (and say so).
    let nulls = nodes.iter().any(|&i| {
        field_nodes
            .filter(|n| i < n.len())
            .is_none_or(|n| n.get(i).null_count() != 0)
    });
    Ok((rows, nulls))
}

/// How many field nodes (one per array, children included) a column of type
/// `t` has in an IPC record batch.
fn field_nodes(t: &DataType) -> usize {
    1 + match t {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => field_nodes(f.data_type()),
        DataType::Struct(fs) => fs.iter().map(|f| field_nodes(f.data_type())).sum(),
        DataType::Union(fs, _) => fs.iter().map(|(_, f)| field_nodes(f.data_type())).sum(),
        DataType::RunEndEncoded(r, v) => field_nodes(r.data_type()) + field_nodes(v.data_type()),
        _ => 0,
    }
}

impl Columnar {
    /// Opens an Arrow IPC file and chooses its columns.
    ///
    /// # Errors
    /// [`CoreError::InputFile`] for a missing, directory or empty path;
    /// [`FormatProblem::ArrowIpc`] for a file that is not an Arrow IPC file
    /// (an IPC stream and Feather v1 are not read) or whose footer, schema or
    /// batch metadata is corrupt; the column errors of [`MatrixOptions`];
    /// [`FormatProblem::Empty`] for a file without rows;
    /// [`FormatProblem::NullValue`] for a null in a chosen column (without
    /// [`MatrixOptions::drop_null`]), [`FormatProblem::AllNull`] when every
    /// row holds one (with it).
    pub fn open_arrow_ipc(path: impl AsRef<Path>, options: &MatrixOptions) -> Result<Columnar> {
        let path = path.as_ref();
        let buffer = Buffer::from(FileBytes::open(path)?.into_shared());
        let len = buffer.len();
        if len < 18 || &buffer[..6] != MAGIC || &buffer[len - 6..] != MAGIC {
            return Err(ipc_err(
                path,
                "not an Arrow IPC file: it must start and end with ARROW1 (Feather v2 / pyarrow.feather, \
                 or pyarrow.ipc.new_file; IPC streams and Feather v1 are not read)",
            ));
        }
        let trailer: [u8; 10] = buffer[len - 10..].try_into().expect("10 bytes");
        let footer_len = read_footer_length(trailer)
            .ok()
            .filter(|&f| f <= len - 18)
            .ok_or_else(|| ipc_err(path, "the footer's length is corrupt"))?;
        let footer = root_as_footer(&buffer[len - 10 - footer_len..len - 10])
            .map_err(|e| ipc_err(path, format_args!("cannot read the footer: {e}")))?;
        let schema = footer
            .schema()
            .ok_or_else(|| ipc_err(path, "the footer has no schema"))?;
        let schema = arrow_ipc::convert::try_fb_to_schema(schema)
            .map_err(|e| ipc_err(path, format_args!("cannot read the schema: {e}")))?;
        let columns = select_columns(path, &schema, options)?;
        let schema_fields = schema.fields().clone();
        let d = columns.len();
        let convert = BatchConverter::new(path, columns, options.drop_null);
        let mut decoder =
            FileDecoder::new(Arc::new(schema), footer.version()).with_projection(convert.fields());
        for block in footer.dictionaries().iter().flatten() {
            let data = block_bytes(path, &buffer, block)?;
            decoder
                .read_dictionary(block, &data)
                .map_err(|e| ipc_err(path, format_args!("cannot read a dictionary: {e}")))?;
        }
        let blocks: Vec<Block> = footer
            .recordBatches()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        // The field node of each chosen column: nodes are numbered depth-first
        // over the schema's fields.
        let node_starts: Vec<usize> = schema_fields
            .iter()
            .scan(0, |next, f| {
                let first = *next;
                *next += field_nodes(f.data_type());
                Some(first)
            })
            .collect();
        let nodes: Vec<usize> = convert
            .columns
            .iter()
            .map(|c| node_starts[c.field])
            .collect();
        let (sizes, with_nulls): (Vec<usize>, Vec<bool>) = blocks
            .iter()
            .map(|block| {
                let data = block_bytes(path, &buffer, block)?;
                batch_meta(
                    path,
                    &data,
                    usize::try_from(block.metaDataLength()).unwrap_or(0),
                    &nodes,
                )
            })
            .collect::<Result<Vec<(usize, bool)>>>()?
            .into_iter()
            .unzip();
        let (starts, owners) = split_units(&sizes, options.unit_rows(d));
        let units: Vec<(usize, usize, usize, usize)> = owners
            .iter()
            .zip(starts.windows(2))
            .map(|(&(batch, offset), w)| (batch, offset, w[1] - w[0], w[0]))
            .collect();
        let unit_nulls: Vec<bool> = units.iter().map(|u| with_nulls[u.0]).collect();
        let batches = blocks.len();
        let decoder = IpcDecoder {
            buffer,
            decoder,
            blocks,
            convert,
            units,
        };
        Columnar::new(
            path,
            ColumnarFormat::ArrowIpc,
            (Box::new(decoder), batches),
            starts,
            len as u64,
            |u| unit_nulls[u],
        )
    }
}

impl UnitDecoder for IpcDecoder {
    fn converter(&self) -> &BatchConverter {
        &self.convert
    }

    fn decode(&self, unit: usize, out: &mut Vec<f32>, nulls: &mut UnitNulls) -> Result<()> {
        let (batch, offset, len, first_row) = self.units[unit];
        let path = &self.convert.path;
        let block = &self.blocks[batch];
        let data = block_bytes(path, &self.buffer, block)?;
        let decoded = self
            .decoder
            .read_record_batch(block, &data)
            .map_err(|e| ipc_err(path, format_args!("record batch {batch}: {e}")))?
            .ok_or_else(|| ipc_err(path, format_args!("record batch {batch} is empty")))?;
        if decoded.num_rows() < offset + len {
            return Err(ipc_err(
                path,
                format_args!(
                    "record batch {batch} holds {} rows, not the {} its metadata declares",
                    decoded.num_rows(),
                    offset + len
                ),
            ));
        }
        out.reserve(len * self.convert.n_cols());
        self.convert
            .append(&decoded.slice(offset, len), first_row, out, nulls)
    }
}
