//! The framing of a compressed layer blob, and what hides in it: the optional fields of every
//! gzip member's header, zstd skippable frames (which decoders skip by design), and bytes after
//! the last member or frame that are neither (which decoders stop at, or fail on).

use std::io::{self, BufRead, Read};
use std::ops::Range;

use flate2::bufread::GzDecoder;

use crate::image::ReleasingReader;
use crate::vocab::{GzipField, Structure};

/// Hidden data found in a blob's framing, with its range in the blob, and its bytes when the
/// blob is a stream that cannot be read again (a mapped blob's are read from the map).
pub(super) type Found = Vec<(Structure, Range<usize>, Option<Vec<u8>>)>;

/// What the gzip members are read from: a mapped blob, or a stream.
pub(super) trait Framed: BufRead {
    /// The offset in the blob of the next byte to be read.
    fn position(&self) -> usize;
    /// A copy of `range` of what `fill_buf` holds now, when the bytes cannot be had later.
    fn keep(&mut self, range: Range<usize>) -> Option<Vec<u8>>;
}

impl Framed for ReleasingReader<'_> {
    fn position(&self) -> usize {
        ReleasingReader::position(self)
    }

    fn keep(&mut self, _: Range<usize>) -> Option<Vec<u8>> {
        None
    }
}

/// The gzip members of a blob decompressed one after another, as one stream (RFC 1952 section
/// 2.2: a gzip file is a series of members), noting each member's hidden header fields and what
/// follows the last member when it is no member.
pub(super) struct GzipMembers<S> {
    state: Option<Member<S>>,
    member: u64,
    pub(super) found: Found,
}

enum Member<S> {
    Decoding(Box<GzDecoder<S>>),
    Done(S),
}

impl<S: Framed> GzipMembers<S> {
    /// The members of `source`, from its start; the first member's header fields are noted by
    /// the caller (they are read before decompression starts).
    pub(super) fn new(source: S) -> GzipMembers<S> {
        GzipMembers { state: Some(Member::Decoding(Box::new(GzDecoder::new(source)))), member: 0, found: Vec::new() }
    }

    /// The blob's reader back (to finish its digest).
    pub(super) fn into_source(self) -> Option<S> {
        match self.state? {
            Member::Decoding(d) => Some(d.into_inner()),
            Member::Done(r) => Some(r),
        }
    }

    /// One member ended: start the next, or note what follows when it is not one.
    fn next_member(&mut self, mut source: S) -> io::Result<bool> {
        let at = source.position();
        let rest = source.fill_buf()?;
        if rest.is_empty() {
            self.state = Some(Member::Done(source));
            return Ok(false);
        }
        if rest.starts_with(&[0x1f, 0x8b]) {
            self.member += 1;
            let fields = gzip_header_fields(rest);
            for (field, range) in fields {
                let structure = Structure::GzipHeader {
                    member: self.member,
                    field,
                    offset: (at + range.start) as u64,
                    bytes: range.len() as u64,
                };
                let kept = source.keep(range.clone());
                self.found.push((structure, at + range.start..at + range.end, kept));
            }
            self.state = Some(Member::Decoding(Box::new(GzDecoder::new(source))));
            return Ok(true);
        }
        // Zeros after the last member are padding some writers add; anything else is hidden.
        if rest.iter().any(|&b| b != 0) {
            let len = rest.len();
            let kept = source.keep(0..len);
            self.found.push((
                Structure::CompressedTrailing { offset: at as u64, bytes: len as u64 },
                at..at + len,
                kept,
            ));
        }
        self.state = Some(Member::Done(source));
        Ok(false)
    }
}

impl<S: Framed> Read for GzipMembers<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                Some(Member::Decoding(d)) => {
                    let n = d.read(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(n);
                    }
                    let Some(Member::Decoding(d)) = self.state.take() else { return Ok(0) };
                    if !self.next_member(d.into_inner())? {
                        return Ok(0);
                    }
                }
                Some(Member::Done(_)) | None => return Ok(0),
            }
        }
    }
}

/// Where a zstd blob's frames end and what hides among them (RFC 8878 section 3.1): skippable
/// frames' content, and bytes after the last frame that are no frame. Read from the frame and
/// block headers only (a few bytes per 128 KiB block), not the compressed data. `end` is where
/// the decoder should stop; `None` when a frame's header does not parse (the decoder then
/// reports it).
pub(super) fn zstd_frames(blob: &[u8]) -> (Option<usize>, Found) {
    const FRAME: u32 = 0xFD2F_B528;
    let mut found = Vec::new();
    let mut at = 0usize;
    while at < blob.len() {
        let Some(magic) = blob.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) else { break };
        if magic == FRAME {
            match zstd::zstd_safe::find_frame_compressed_size(&blob[at..]) {
                Ok(n) if n > 0 => at += n,
                _ => return (None, found),
            }
        } else if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let Some(len) = blob.get(at + 4..at + 8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            else {
                break;
            };
            let start = at + 8;
            let end = start.saturating_add(len).min(blob.len());
            if end > start {
                found.push((
                    Structure::SkippableFrame { offset: start as u64, bytes: (end - start) as u64 },
                    start..end,
                    None,
                ));
            }
            at = end;
        } else {
            break;
        }
    }
    if at < blob.len() && blob[at..].iter().any(|&b| b != 0) {
        let len = blob.len() - at;
        found.push((Structure::CompressedTrailing { offset: at as u64, bytes: len as u64 }, at..blob.len(), None));
    }
    (Some(at.min(blob.len())), found)
}

/// The optional fields of a gzip member's header (RFC 1952 section 2.3), at the start of `blob`, that are hidden
/// data: FEXTRA and FCOMMENT whenever present and not empty, FNAME only when it is no file name
/// (over 255 bytes, or holding bytes that are not printable ASCII). Ranges are in `blob`; a
/// header cut short yields what was whole.
pub(super) fn gzip_header_fields(blob: &[u8]) -> Vec<(GzipField, std::ops::Range<usize>)> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let mut out = Vec::new();
    if blob.len() < 10 || blob[..3] != [0x1f, 0x8b, 0x08] {
        return out;
    }
    let flags = blob[3];
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let Some(len) = blob.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))) else {
            return out;
        };
        let start = at + 2;
        if start + len > blob.len() {
            return out;
        }
        if len > 0 {
            out.push((GzipField::Extra, start..start + len));
        }
        at = start + len;
    }
    let zero_terminated = |at: &mut usize| -> Option<std::ops::Range<usize>> {
        let end = *at + blob.get(*at..)?.iter().position(|&b| b == 0)?;
        let range = *at..end;
        *at = end + 1;
        Some(range)
    };
    if flags & FNAME != 0 {
        let Some(name) = zero_terminated(&mut at) else { return out };
        let text = &blob[name.clone()];
        if text.len() > 255 || !text.iter().all(|b| (0x20..0x7f).contains(b)) {
            out.push((GzipField::Name, name));
        }
    }
    if flags & FCOMMENT != 0 {
        let Some(comment) = zero_terminated(&mut at) else { return out };
        if !comment.is_empty() {
            out.push((GzipField::Comment, comment));
        }
    }
    out
}

#[cfg(test)]
mod gzip_header_tests {
    use super::*;

    #[test]
    fn extra_and_comment_are_hidden_and_a_plain_name_is_not() {
        let mut b = vec![0x1f, 0x8b, 0x08, 4 | 8 | 16, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(b"AB\x02\x00z");
        b.extend_from_slice(b"layer.tar\0");
        b.extend_from_slice(b"token=abc\0");
        b.extend_from_slice(&[0x03, 0x00]);
        let fields = gzip_header_fields(&b);
        let got: Vec<(GzipField, &[u8])> = fields.iter().map(|(f, r)| (*f, &b[r.clone()])).collect();
        assert_eq!(got, vec![(GzipField::Extra, &b"AB\x02\x00z"[..]), (GzipField::Comment, &b"token=abc"[..])]);
        // A name that is not a file name is.
        let mut b = vec![0x1f, 0x8b, 0x08, 8, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(b"\x01\x02secret\0");
        assert_eq!(gzip_header_fields(&b).len(), 1);
        // Cut short: nothing past the cut, no panic.
        assert!(gzip_header_fields(&b[..12]).is_empty());
        assert!(gzip_header_fields(&[0x1f, 0x8b, 0x08, 4, 0, 0, 0, 0, 0, 3, 0xff]).is_empty());
    }
}
