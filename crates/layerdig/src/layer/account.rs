//! Where every byte of a layer went: file content, tar metadata, padding, hidden data, or not
//! read. Kept as the tar entries go by (from the positions the tar reader gives each entry and
//! the hidden data the walk hands on), so it costs no second pass over the layer.

use serde::{Deserialize, Serialize};

/// A layer's bytes, accounted for. Of the uncompressed tar stream,
/// `content + metadata + padding + hidden + unread` is exactly its length; of a compressed blob,
/// `compressed + framing_hidden` is exactly the blob's size (an uncompressed blob is its tar
/// stream: both are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteAccount {
    /// The data of regular files (hard links have none).
    pub content: u64,
    /// Tar headers and extension records (PAX, GNU long names, sparse maps).
    pub metadata: u64,
    /// Zero padding: after entries' data to a 512-byte block, the end-of-archive blocks and
    /// the zeros after them.
    pub padding: u64,
    /// Hidden data: bytes that are neither content nor structure (see `Structure`), each also a
    /// finding.
    pub hidden: u64,
    /// Bytes of the stream that were not read as entries: after an error, a limit or an early
    /// stop.
    pub unread: u64,
    /// Bytes of a compressed blob that are its compressed stream (gzip members, zstd frames).
    pub compressed: u64,
    /// Bytes of a compressed blob hidden in its framing (gzip header fields, skippable frames,
    /// bytes after the last member or frame).
    pub framing_hidden: u64,
}

impl ByteAccount {
    /// The bytes of the uncompressed stream it accounts for.
    pub fn stream_total(&self) -> u64 {
        self.content + self.metadata + self.padding + self.hidden + self.unread
    }
}

/// Keeps a layer's [`ByteAccount`] as its tar entries are read.
#[derive(Debug, Default)]
pub(super) struct Accountant {
    pub(super) account: ByteAccount,
    /// Where the last entry's data, padded to a block, ends in the stream.
    end: u64,
    /// Hidden bytes after the tar's end.
    trailing: u64,
}

/// How a tar entry's data counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataIs {
    /// A regular file's content.
    Content,
    /// Hidden data (a whiteout's, a directory's).
    Hidden,
    /// Structure (the records of a global PAX header).
    Metadata,
}

impl Accountant {
    /// An entry whose header block is at `header_pos`, with `stored` bytes of data after it (its
    /// size in the archive, which for a sparse file is not its size). Everything between the
    /// last entry's end and this header (extension headers and their records) is metadata.
    pub(super) fn entry(&mut self, header_pos: u64, stored: u64, data: DataIs) {
        let a = &mut self.account;
        a.metadata += (header_pos + 512).saturating_sub(self.end);
        match data {
            DataIs::Content => a.content += stored,
            DataIs::Hidden => a.hidden += stored,
            DataIs::Metadata => a.metadata += stored,
        }
        let padded = stored.div_ceil(512).saturating_mul(512);
        a.padding += padded - stored;
        self.end = (header_pos + 512).saturating_add(padded).max(self.end);
    }

    /// Where the last entry's data, padded to a block, ends: where the next entry's headers
    /// start.
    pub(super) fn end(&self) -> u64 {
        self.end
    }

    /// `bytes` after the tar's end are hidden data.
    pub(super) fn trailing_hidden(&mut self, bytes: u64) {
        self.trailing += bytes;
    }

    /// `bytes` of metadata (a header's unused bytes, a PAX record's value) are hidden data.
    pub(super) fn metadata_hidden(&mut self, bytes: u64) {
        let moved = bytes.min(self.account.metadata);
        self.account.metadata -= moved;
        self.account.hidden += moved;
    }

    /// `bytes` of an entry's padding are not zeros: hidden data.
    pub(super) fn padding_hidden(&mut self, bytes: u64) {
        let moved = bytes.min(self.account.padding);
        self.account.padding -= moved;
        self.account.hidden += moved;
    }

    /// The stream ended after `total` bytes. When every entry was read (`complete`), what
    /// follows the last one is the end-of-archive padding, of which the bytes noted by
    /// [`Accountant::trailing_hidden`] are hidden data; otherwise it was not read. Data an entry
    /// declared but the stream does not hold is taken back off the content.
    pub(super) fn finish(&mut self, total: u64, complete: bool) {
        let trailing_hidden = self.trailing;
        let a = &mut self.account;
        let counted = a.stream_total();
        if counted > total {
            let over = counted - total;
            let from_content = over.min(a.content);
            a.content -= from_content;
            let from_padding = (over - from_content).min(a.padding);
            a.padding -= from_padding;
            a.metadata = a.metadata.saturating_sub(over - from_content - from_padding);
            return;
        }
        let rest = total - counted;
        if complete {
            let hidden = trailing_hidden.min(rest);
            a.hidden += hidden;
            a.padding += rest - hidden;
        } else {
            a.unread += rest;
        }
    }

    /// A compressed blob of `blob` bytes, of which `framing_hidden` are hidden in its framing.
    pub(super) fn blob(&mut self, blob: u64, framing_hidden: u64) {
        let hidden = framing_hidden.min(blob);
        self.account.framing_hidden = hidden;
        self.account.compressed = blob - hidden;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_adds_up() {
        // Two files of 10 and 600 bytes, then the two end-of-archive blocks.
        let mut a = Accountant::default();
        a.entry(0, 10, DataIs::Content);
        a.entry(1024, 600, DataIs::Content);
        a.metadata_hidden(7);
        a.padding_hidden(3);
        a.finish(1024 + 512 + 1024 + 1024, true);
        let acc = a.account;
        assert_eq!(acc.content, 610);
        assert_eq!(acc.metadata, 1024 - 7);
        assert_eq!(acc.hidden, 10);
        assert_eq!(acc.padding, (502 + 424 - 3) + 1024);
        assert_eq!(acc.stream_total(), 3584);
        // Cut short: the declared data beyond the end is not counted.
        let mut a = Accountant::default();
        a.entry(0, 4096, DataIs::Content);
        a.finish(1000, false);
        assert_eq!(a.account.stream_total(), 1000);
        assert_eq!(a.account.content, 488);
        // Stopped early: the rest is unread.
        let mut a = Accountant::default();
        a.entry(0, 0, DataIs::Content);
        a.finish(10_240, false);
        assert_eq!(a.account.unread, 10_240 - 512);
    }
}
