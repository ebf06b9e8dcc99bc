//! rpm's header blob: the form a package's header takes in the `Packages` table, the on-disk
//! header without its 8-byte magic.
//!
//! ```text
//! il: u32 BE       how many index entries
//! dl: u32 BE       how many bytes of data
//! il × 16 bytes    tag u32, type u32, offset i32, count u32 (big-endian), offset into the data
//! dl bytes         the data store
//! ```
//!
//! Every offset and count is checked against the data store before it is read: a header that
//! lies about them is a [`HeaderProblem`], never a read out of bounds. Entries are looked up
//! by a scan of the index (a header has some sixty), the last entry of a tag winning as in
//! rpm, where entries added at installation follow the signed region.

use crate::ownership::HeaderProblem;

/// rpm's limit on the number of index entries (`HEADER_TAGS_MAX`).
const MAX_ENTRIES: usize = 0xffff;
/// rpm's limit on the size of the data store (`HEADER_DATA_MAX`).
const MAX_DATA: usize = 0x0fff_ffff;

/// The types of the entries read here.
const INT16: u32 = 3;
const INT32: u32 = 4;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// A parsed header blob: its index and data store, borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

/// One index entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

impl<'a> Header<'a> {
    /// Splits `blob` into its index and data store.
    pub(crate) fn parse(blob: &'a [u8]) -> Result<Header<'a>, HeaderProblem> {
        let (il, dl) = match blob {
            [a, b, c, d, e, f, g, h, ..] => {
                (u32::from_be_bytes([*a, *b, *c, *d]) as usize, u32::from_be_bytes([*e, *f, *g, *h]) as usize)
            }
            _ => return Err(HeaderProblem::Truncated),
        };
        if il > MAX_ENTRIES || dl > MAX_DATA {
            return Err(HeaderProblem::TooLarge);
        }
        // Both are bounded above, so neither sum overflows.
        let data_start = 8 + il * 16;
        let index = blob.get(8..data_start).ok_or(HeaderProblem::Truncated)?;
        let data = blob.get(data_start..data_start + dl).ok_or(HeaderProblem::Truncated)?;
        Ok(Header { index, data })
    }

    /// The last entry of `tag`, its offset checked to be inside the data store.
    fn entry(&self, tag: u32) -> Result<Option<Entry>, HeaderProblem> {
        let Some(raw) = self.index.chunks_exact(16).rev().find(|e| be32(&e[0..4]) == tag) else {
            return Ok(None);
        };
        let offset = be32(&raw[8..12]) as i32;
        let offset = usize::try_from(offset).ok().filter(|&o| o < self.data.len());
        let offset = offset.ok_or(HeaderProblem::OutOfRange(tag))?;
        Ok(Some(Entry { kind: be32(&raw[4..8]), offset, count: be32(&raw[12..16]) as usize }))
    }

    /// The bytes of `count` fixed-size values of `size` bytes at `entry`'s offset.
    fn fixed(&self, tag: u32, entry: Entry, size: usize) -> Result<&'a [u8], HeaderProblem> {
        let len = entry.count.checked_mul(size).ok_or(HeaderProblem::OutOfRange(tag))?;
        let end = entry.offset.checked_add(len).ok_or(HeaderProblem::OutOfRange(tag))?;
        self.data.get(entry.offset..end).ok_or(HeaderProblem::OutOfRange(tag))
    }

    /// The values of an INT32 entry.
    pub(crate) fn int32s(&self, tag: u32) -> Result<Option<Vec<u32>>, HeaderProblem> {
        let Some(entry) = self.typed(tag, &[INT32])? else { return Ok(None) };
        let bytes = self.fixed(tag, entry, 4)?;
        Ok(Some(bytes.chunks_exact(4).map(be32).collect()))
    }

    /// The values of an INT16 entry.
    pub(crate) fn int16s(&self, tag: u32) -> Result<Option<Vec<u16>>, HeaderProblem> {
        let Some(entry) = self.typed(tag, &[INT16])? else { return Ok(None) };
        let bytes = self.fixed(tag, entry, 2)?;
        Ok(Some(bytes.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect()))
    }

    /// The value of a STRING entry, or the first of an I18NSTRING (its untranslated text).
    pub(crate) fn string(&self, tag: u32) -> Result<Option<&'a [u8]>, HeaderProblem> {
        let Some(entry) = self.typed(tag, &[STRING, I18NSTRING])? else { return Ok(None) };
        let mut strings = self.strings_at(tag, entry.offset, entry.count.max(1));
        strings.next().transpose()
    }

    /// The values of a STRING_ARRAY entry.
    pub(crate) fn string_array(&self, tag: u32) -> Result<Option<Vec<&'a [u8]>>, HeaderProblem> {
        let Some(entry) = self.typed(tag, &[STRING_ARRAY])? else { return Ok(None) };
        // Each string takes at least its NUL: a count past the data left is a lie, and must not
        // size an allocation.
        if entry.count > self.data.len() - entry.offset {
            return Err(HeaderProblem::OutOfRange(tag));
        }
        self.strings_at(tag, entry.offset, entry.count).collect::<Result<Vec<_>, _>>().map(Some)
    }

    /// `count` NUL-terminated strings from `offset`.
    fn strings_at(
        &self,
        tag: u32,
        mut offset: usize,
        count: usize,
    ) -> impl Iterator<Item = Result<&'a [u8], HeaderProblem>> + use<'a> {
        let data = self.data;
        (0..count).map(move |_| {
            let rest = data.get(offset..).ok_or(HeaderProblem::OutOfRange(tag))?;
            let nul = rest.iter().position(|&b| b == 0).ok_or(HeaderProblem::OutOfRange(tag))?;
            offset += nul + 1;
            Ok(&rest[..nul])
        })
    }

    /// The entry of `tag` if it has one of the types `kinds`.
    fn typed(&self, tag: u32, kinds: &[u32]) -> Result<Option<Entry>, HeaderProblem> {
        match self.entry(tag)? {
            Some(entry) if !kinds.contains(&entry.kind) => Err(HeaderProblem::WrongType { tag, found: entry.kind }),
            found => Ok(found),
        }
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header blob of `entries` (tag, type, count, data), each entry's data placed in order.
    pub(crate) fn blob(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, count, bytes) in entries {
            for word in [*tag, *kind, data.len() as u32, *count] {
                index.extend_from_slice(&word.to_be_bytes());
            }
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn reads_each_type() {
        let b = blob(&[
            (1000, STRING, 1, b"name\0"),
            (1004, I18NSTRING, 2, b"summary\0resumen\0"),
            (1117, STRING_ARRAY, 3, b"a\0\0c\0"),
            (1030, INT16, 2, &[0x81, 0xa4, 0x41, 0xed]),
            (1037, INT32, 2, &[0, 0, 0, 1, 0, 0, 0, 0]),
        ]);
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(1000).unwrap(), Some(&b"name"[..]));
        assert_eq!(h.string(1004).unwrap(), Some(&b"summary"[..]));
        assert_eq!(h.string_array(1117).unwrap(), Some(vec![&b"a"[..], b"", b"c"]));
        assert_eq!(h.int16s(1030).unwrap(), Some(vec![0o100644, 0o40755]));
        assert_eq!(h.int32s(1037).unwrap(), Some(vec![1, 0]));
        assert_eq!(h.int32s(1003).unwrap(), None);
        assert_eq!(h.int32s(1000), Err(HeaderProblem::WrongType { tag: 1000, found: STRING }));
    }

    #[test]
    fn lies_are_problems() {
        let cases: &[(Vec<u8>, u32, HeaderProblem)] = &[
            // A count past the data.
            (blob(&[(1037, INT32, 3, &[0; 8])]), 1037, HeaderProblem::OutOfRange(1037)),
            // A huge count.
            (blob(&[(1037, INT32, u32::MAX, &[0; 8])]), 1037, HeaderProblem::OutOfRange(1037)),
            (blob(&[(1117, STRING_ARRAY, u32::MAX, b"a\0")]), 1117, HeaderProblem::OutOfRange(1117)),
            // Strings without their NUL.
            (blob(&[(1117, STRING_ARRAY, 2, b"a\0b")]), 1117, HeaderProblem::OutOfRange(1117)),
            (blob(&[(1000, STRING, 1, b"name")]), 1000, HeaderProblem::OutOfRange(1000)),
        ];
        for (b, tag, want) in cases {
            let h = Header::parse(b).unwrap();
            let got = match *tag {
                1037 => h.int32s(*tag).map(|_| ()),
                1117 => h.string_array(*tag).map(|_| ()),
                _ => h.string(*tag).map(|_| ()),
            };
            assert_eq!(got, Err(want.clone()), "{want}");
        }

        // Offsets outside the data, negative or past its end.
        let mut b = blob(&[(1000, STRING, 1, b"name\0")]);
        for offset in [5u32, 6, u32::MAX, i32::MAX as u32] {
            b[16..20].copy_from_slice(&offset.to_be_bytes());
            let h = Header::parse(&b).unwrap();
            assert_eq!(h.string(1000), Err(HeaderProblem::OutOfRange(1000)), "offset {offset}");
        }

        // A blob shorter than it says, or claiming more than rpm allows.
        let b = blob(&[(1000, STRING, 1, b"name\0")]);
        for end in 0..b.len() {
            assert_eq!(Header::parse(&b[..end]).map(|_| ()), Err(HeaderProblem::Truncated), "cut at {end}");
        }
        let mut huge = b.clone();
        huge[0..4].copy_from_slice(&0x10000u32.to_be_bytes());
        assert_eq!(Header::parse(&huge).map(|_| ()), Err(HeaderProblem::TooLarge));
        huge[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Header::parse(&huge).map(|_| ()), Err(HeaderProblem::TooLarge));
    }
}
