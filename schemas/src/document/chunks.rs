//! A look at automerge bytes from outside before automerge loads them.
//!
//! automerge 0.12 inflates compressed chunks and deflated columns with an
//! unbounded `read_to_end` before it checks anything: 261 KB that inflate to
//! 256 MiB took a server from 17 MB to 800 MB. Sprechtag saves without
//! compression (`save_nocompress`, `save_after`), so bytes from a device may
//! only hold plain document and change chunks, end to end: no compressed
//! change (type 2), no bundle (type 3), no deflated column, nothing after
//! the last chunk. This walks the chunk headers and column tables only — it
//! allocates nothing and reads each byte at most once.

/// Why bytes are not plain automerge chunks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("byte {0}: not the start of an automerge chunk")]
    NotAChunk(usize),
    #[error("byte {0}: the chunk is cut off")]
    Truncated(usize),
    #[error("byte {0}: a compressed chunk (only uncompressed saves are taken)")]
    Compressed(usize),
    #[error("byte {0}: a chunk of type {1} (only documents and changes are taken)")]
    UnknownType(usize, u8),
    #[error("byte {0}: a deflated column (only uncompressed saves are taken)")]
    DeflatedColumn(usize),
    #[error("byte {0}: a column table that does not fit its chunk")]
    BadColumns(usize),
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED_CHANGE: u8 = 2;
/// Bit of a column specification that marks its data as deflated.
const DEFLATE: u64 = 0b1000;

/// Checks that `bytes` are one or more plain document or change chunks
/// one after another, with no deflated column and nothing else.
pub fn check_plain_chunks(bytes: &[u8]) -> Result<(), ChunkError> {
    let mut at = 0;
    if bytes.is_empty() {
        return Err(ChunkError::NotAChunk(0));
    }
    while at < bytes.len() {
        let start = at;
        let mut reader = Reader { bytes, at };
        if reader.take(4).ok_or(ChunkError::Truncated(start))? != MAGIC {
            return Err(ChunkError::NotAChunk(start));
        }
        reader.take(4).ok_or(ChunkError::Truncated(start))?; // checksum
        let kind = reader.byte().ok_or(ChunkError::Truncated(start))?;
        let length = reader.uleb().ok_or(ChunkError::Truncated(start))?;
        let length = usize::try_from(length).map_err(|_| ChunkError::Truncated(start))?;
        let data_start = reader.at;
        let end = data_start
            .checked_add(length)
            .filter(|end| *end <= bytes.len())
            .ok_or(ChunkError::Truncated(start))?;
        let data = &bytes[data_start..end];
        match kind {
            DOCUMENT => check_document(data, data_start)?,
            CHANGE => check_change(data, data_start)?,
            COMPRESSED_CHANGE => return Err(ChunkError::Compressed(start)),
            other => return Err(ChunkError::UnknownType(start, other)),
        }
        at = end;
    }
    Ok(())
}

/// Actors, heads, then the change and op column tables.
fn check_document(data: &[u8], offset: usize) -> Result<(), ChunkError> {
    let bad = ChunkError::BadColumns(offset);
    let mut reader = Reader { bytes: data, at: 0 };
    let actors = reader.uleb().ok_or(bad.clone())?;
    for _ in 0..actors {
        let length = reader.uleb().ok_or(bad.clone())?;
        reader.skip(length).ok_or(bad.clone())?;
    }
    let heads = reader.uleb().ok_or(bad.clone())?;
    reader
        .skip(heads.checked_mul(32).ok_or(bad.clone())?)
        .ok_or(bad.clone())?;
    let change_columns = reader.columns(offset)?;
    let op_columns = reader.columns(offset)?;
    let column_bytes = change_columns.checked_add(op_columns).ok_or(bad.clone())?;
    reader.skip(column_bytes).ok_or(bad)?;
    Ok(())
}

/// Dependencies, actor, sequence, start op, time, message, other actors,
/// then the op column table.
fn check_change(data: &[u8], offset: usize) -> Result<(), ChunkError> {
    let bad = ChunkError::BadColumns(offset);
    let mut reader = Reader { bytes: data, at: 0 };
    let deps = reader.uleb().ok_or(bad.clone())?;
    reader
        .skip(deps.checked_mul(32).ok_or(bad.clone())?)
        .ok_or(bad.clone())?;
    let actor = reader.uleb().ok_or(bad.clone())?;
    reader.skip(actor).ok_or(bad.clone())?;
    reader.uleb().ok_or(bad.clone())?; // seq
    reader.uleb().ok_or(bad.clone())?; // start op
    reader.uleb().ok_or(bad.clone())?; // time (signed LEB, same length rules)
    let message = reader.uleb().ok_or(bad.clone())?;
    reader.skip(message).ok_or(bad.clone())?;
    let others = reader.uleb().ok_or(bad.clone())?;
    for _ in 0..others {
        let length = reader.uleb().ok_or(bad.clone())?;
        reader.skip(length).ok_or(bad.clone())?;
    }
    let op_columns = reader.columns(offset)?;
    reader.skip(op_columns).ok_or(bad)?;
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        self.take(usize::try_from(n).ok()?).map(|_| ())
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// An unsigned LEB128 of at most ten bytes.
    fn uleb(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            value |= bits.checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// A column table: a count, then (specification, length) pairs.
    /// Returns the total length of the columns' data.
    fn columns(&mut self, offset: usize) -> Result<u64, ChunkError> {
        let bad = ChunkError::BadColumns(offset);
        let count = self.uleb().ok_or(bad.clone())?;
        let mut total: u64 = 0;
        for _ in 0..count {
            let spec = self.uleb().ok_or(bad.clone())?;
            let length = self.uleb().ok_or(bad.clone())?;
            if spec & DEFLATE != 0 {
                return Err(ChunkError::DeflatedColumn(offset));
            }
            total = total.checked_add(length).ok_or(bad.clone())?;
        }
        Ok(total)
    }
}
