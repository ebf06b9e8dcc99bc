//! Decoders: encoded text turned back into what the detectors read, each decoded byte mapped
//! back to the encoded bytes it came from so a match reports the file's line, column and span.
//!
//! Decoding costs nothing on content without candidates: every decoder starts from something
//! the prefilter's one pass already found, or from the binary sniff that already ran.
//!
//! - **base64**: the values of a Kubernetes Secret's `data:` map (YAML, and JSON `"data": {…}`:
//!   markers `data:` and `"data"`), the value after `Basic ` (`Authorization: Basic …`), and
//!   the value of every secret-named assignment the entropy detector parsed (Docker `auth`,
//!   `token: …`, …). A value is decoded only when it is 16 or more base64 characters (8 after
//!   `Basic `) and decodes to printable UTF-8; random base64-looking strings decode to binary
//!   and give nothing. Docker `auth` and `Basic` values (`user:password`) are judged with the
//!   part after the colon as a password.
//! - **percent**: the password of a URL (around a `://` marker) and the value of a parsed
//!   secret-named assignment, when it holds a `%XX` escape (`postgres://user:p%40ss@host`,
//!   `token=abc%2Bdef`): the value alone is decoded and judged with its key.
//! - **UTF-16LE/BE**: a file whose head has a NUL byte (so the binary sniff already looked) and
//!   starts with a byte-order mark or has a NUL in every other byte: the whole window, in
//!   chunks of 512 KiB.
//! - **`\uXXXX`**: the line around a `\u` marker (JSON and JavaScript strings).
//!
//! Decoded text runs through the rules and the entropy detector, never through the decoders
//! again (one level: no base64 inside base64), and a window decodes at most [`MAX_DECODED`]
//! bytes.
//!
//! Spans: for percent, UTF-16 and `\u` escapes each decoded byte maps to the encoded bytes it
//! came from, exactly. For base64, where one decoded byte is not one encoded byte, a decoded
//! byte maps to the base64 character holding its first bit, and a span's end to the character
//! holding its last bit (or the encoded value's end, padding included, when the secret runs to
//! the end of the value): the reported span covers the encoded characters it came from.

use std::collections::HashSet;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::entropy::parse_url_password;
use crate::vocab::Encoding;

/// The prefilter keywords that start a decoder (besides the entropy detector's key words and
/// URL marker, whose hits the decoders also use).
pub(crate) const DECODE_WORDS: &[&str] = &["data:", "\"data\"", "basic ", "\\u"];

/// Most bytes decoded per window, all decoders together.
pub(crate) const MAX_DECODED: usize = 1 << 20;
/// Line segments (`\u` escapes) reach at most this far either side of their marker.
const LINE_REACH: usize = 2048;
/// Shortest base64 value decoded (after `Basic `: [`MIN_BASIC`]).
const MIN_BASE64: usize = 16;
const MIN_BASIC: usize = 8;
/// Longest base64 value decoded.
const MAX_BASE64: usize = 16 << 10;
/// Entries of a `data:` map looked at.
const MAX_ENTRIES: usize = 256;

/// A decoded run of text and where its bytes came from.
pub(crate) struct Segment {
    pub(crate) encoding: Encoding,
    pub(crate) text: Vec<u8>,
    map: Map,
    /// The key the decoded value was assigned to, and the span in `text` it is judged over
    /// (for the entropy detector, which cannot see the key in the decoded text).
    pub(crate) key: Option<(Vec<u8>, (usize, usize))>,
    /// Run the detectors with the source-code restrictions (line segments of code files).
    pub(crate) code: bool,
    /// The text is a URL's password: a judged value is a URL password, not an assignment.
    pub(crate) url_password: bool,
}

enum Map {
    /// `text` is the base64 decoding of `data[start..end]`.
    Base64 { start: usize, end: usize, len: usize },
    /// `at[i]` is the offset in `data` of decoded byte `i`; `at[text.len()]` the encoded end.
    Bytes(Vec<u32>),
}

impl Segment {
    /// The span in the scanned buffer of decoded bytes `s..e`.
    pub(crate) fn span(&self, s: usize, e: usize) -> (usize, usize) {
        match &self.map {
            Map::Base64 { start, end, len } => {
                let e = if e == *len { *end } else { (start + (e * 4).div_ceil(3)).min(*end) };
                ((start + s * 4 / 3).min(*end), e)
            }
            Map::Bytes(at) => (at[s] as usize, at[e] as usize),
        }
    }
}

/// A parsed assignment: the key's span and the value's.
pub(crate) type KeyValue = ((usize, usize), (usize, usize));

/// What the decoders start from: the prefilter's hits and the assignments the entropy
/// detector parsed (key span, value span).
pub(crate) struct Starts<'a> {
    pub(crate) decode_hits: &'a [usize],
    pub(crate) url_hits: &'a [usize],
    pub(crate) assignments: &'a [KeyValue],
}

/// Per-window bookkeeping: segments made, encoded starts already decoded, bytes spent.
struct Out<'a> {
    segments: &'a mut Vec<Segment>,
    seen: HashSet<(Encoding, usize)>,
    budget: usize,
}

impl Out<'_> {
    fn push(&mut self, at: usize, segment: Segment) {
        if segment.text.len() > self.budget || !self.seen.insert((segment.encoding, at)) {
            return;
        }
        self.budget -= segment.text.len();
        self.segments.push(segment);
    }
}

/// Decode what `starts` point at in `data` (a text file's window or a config string). Returns
/// how many bytes of `\u` lines were read (what [`super::ScanStats::escape_bytes`] counts).
pub(crate) fn decode(data: &[u8], starts: &Starts<'_>, code: bool, segments: &mut Vec<Segment>) -> u64 {
    let mut out = Out { segments, seen: HashSet::new(), budget: MAX_DECODED };
    let mut escape_bytes = 0u64;
    for &(key, value) in starts.assignments {
        let key = &data[key.0..key.1];
        // The value may be the secret as it is used (many keys are base64): the decoded text
        // goes through the rules, and only Docker's `auth` (`user:password`) is judged as a
        // value; the entropy detector judges the encoded value as before.
        if let Some(s) = base64_segment(data, value, MIN_BASE64, Some(key))
            .map(|s| if s.key.as_ref().is_some_and(|k| k.0 == b"password") { s } else { Segment { key: None, ..s } })
        {
            out.push(value.0, s);
        }
    }
    // The range the last `data:` map or `\u` line covered: hits inside it are done.
    let mut covered = (0, 0);
    for &hit in starts.decode_hits {
        if out.budget == 0 {
            return escape_bytes;
        }
        if (covered.0..covered.1).contains(&hit) {
            continue;
        }
        let word = &data[hit..];
        if starts_with_ignore_case(word, b"data:") {
            covered = (hit, yaml_data(data, hit, &mut out));
        } else if word.starts_with(b"\"data\"") || word.starts_with(b"\"DATA\"") {
            json_data(data, hit + 6, &mut out);
        } else if starts_with_ignore_case(word, b"basic ") {
            let s = hit + 6;
            let e = s + data[s..].iter().take(MAX_BASE64).take_while(|&&b| is_base64_byte(b)).count();
            if let Some(seg) = base64_segment(data, (s, e), MIN_BASIC, Some(b"authorization"))
                && seg.text.contains(&b':')
            {
                out.push(s, seg);
            }
        } else if word.starts_with(b"\\u") {
            let (s, e) = line_around(data, hit);
            covered = (s, e);
            escape_bytes += (e - s) as u64;
            if let Some(seg) = unicode_escapes(data, s, e, code) {
                out.push(s, seg);
            }
        }
    }
    for &(key, (s, e)) in starts.assignments {
        if has_percent_escape(&data[s..e]) {
            out.push(s, percent(data, s, e, &data[key.0..key.1]));
        }
    }
    for &hit in starts.url_hits {
        if let Some((_, (s, e))) = parse_url_password(data, hit)
            && has_percent_escape(&data[s..e])
        {
            out.push(s, Segment { url_password: true, ..percent(data, s, e, b"password") });
        }
    }
    escape_bytes
}

fn starts_with_ignore_case(data: &[u8], word: &[u8]) -> bool {
    data.len() >= word.len() && data[..word.len()].eq_ignore_ascii_case(word)
}

/// The line holding `hit`, at most [`LINE_REACH`] bytes either side of it.
fn line_around(data: &[u8], hit: usize) -> (usize, usize) {
    let lo = hit.saturating_sub(LINE_REACH);
    let hi = (hit + LINE_REACH).min(data.len());
    let s = data[lo..hit].iter().rposition(|&b| b == b'\n').map_or(lo, |p| lo + p + 1);
    let e = data[hit..hi].iter().position(|&b| b == b'\n').map_or(hi, |p| hit + p);
    (s, e)
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

const INDIFFERENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, INDIFFERENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, INDIFFERENT);

/// Printable text: UTF-8 without control characters other than tab and line breaks.
fn is_printable(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|t| t.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')))
}

/// `data[s..e]` base64-decoded, if it is base64 of at least `min` characters and decodes to
/// printable text. `key` is what it was assigned to.
fn base64_segment(data: &[u8], (s, e): (usize, usize), min: usize, key: Option<&[u8]>) -> Option<Segment> {
    let value = &data[s..e];
    if value.len() < min || value.len() > MAX_BASE64 || !value.iter().all(|&b| is_base64_byte(b)) {
        return None;
    }
    let url_safe = value.iter().any(|&b| matches!(b, b'-' | b'_'));
    let text = if url_safe { URL_SAFE.decode(value) } else { STANDARD.decode(value) }.ok()?;
    if text.len() < 6 || !is_printable(&text) {
        return None;
    }
    let user_password = key.is_some_and(|k| {
        k.eq_ignore_ascii_case(b"authorization") || k.len() >= 4 && k[k.len() - 4..].eq_ignore_ascii_case(b"auth")
    });
    let key = match text.iter().position(|&b| b == b':') {
        Some(colon) if user_password => Some((b"password".to_vec(), (colon + 1, text.len()))),
        _ => key.map(|k| (k.to_vec(), (0, text.len()))),
    };
    Some(Segment {
        encoding: Encoding::Base64,
        map: Map::Base64 { start: s, end: e, len: text.len() },
        key,
        text,
        code: false,
        url_password: false,
    })
}

/// The indentation of the line holding `at`, if only blanks precede `at` on it.
fn indent_before(data: &[u8], at: usize) -> Option<usize> {
    let s = data[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    data[s..at].iter().all(|&b| b == b' ').then_some(at - s)
}

/// A YAML `data:` map: each more-indented `key: value` line below it, value decoded. Returns
/// where the map ends.
fn yaml_data(data: &[u8], hit: usize, out: &mut Out<'_>) -> usize {
    let Some(indent) = indent_before(data, hit) else { return hit };
    let mut at = hit + 5;
    let line_end = |at: usize| data[at..].iter().position(|&b| b == b'\n').map_or(data.len(), |p| at + p);
    let end = line_end(at);
    if !data[at..end].iter().all(|b| b.is_ascii_whitespace()) {
        return hit;
    }
    at = end;
    for _ in 0..MAX_ENTRIES {
        if at >= data.len() {
            return at;
        }
        let s = at + 1;
        let e = line_end(s);
        at = e;
        let line = &data[s..e];
        let blanks = line.iter().take_while(|&&b| b == b' ').count();
        if blanks == line.len() || line[blanks] == b'#' {
            continue;
        }
        if blanks <= indent {
            return s;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let key = trim_quotes(&line[blanks..colon]);
        let vs = colon + 1 + line[colon + 1..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let mut ve = line.len();
        while ve > vs && line[ve - 1].is_ascii_whitespace() {
            ve -= 1;
        }
        let (mut vs, mut ve) = (s + vs, s + ve);
        if ve > vs + 1 && matches!(data[vs], b'"' | b'\'') && data[ve - 1] == data[vs] {
            vs += 1;
            ve -= 1;
        }
        if let Some(seg) = base64_segment(data, (vs, ve), MIN_BASE64, Some(key)) {
            out.push(vs, seg);
        }
    }
    at
}

fn trim_quotes(s: &[u8]) -> &[u8] {
    let s = s.trim_ascii();
    if s.len() >= 2 && matches!(s[0], b'"' | b'\'') && s[s.len() - 1] == s[0] { &s[1..s.len() - 1] } else { s }
}

/// A JSON `"data": { "key": "value", … }` object after `"data"` (at `at`), values decoded.
fn json_data(data: &[u8], at: usize, out: &mut Out<'_>) {
    let skip = |at: usize| at + data[at.min(data.len())..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    let string = |at: usize| -> Option<(usize, usize)> {
        if data.get(at) != Some(&b'"') {
            return None;
        }
        let len = data[at + 1..].iter().take(MAX_BASE64 + 1).position(|&b| b == b'"' || b == b'\\')?;
        (data[at + 1 + len] == b'"').then_some((at + 1, at + 1 + len))
    };
    let mut at = skip(at);
    if data.get(at) != Some(&b':') {
        return;
    }
    at = skip(at + 1);
    if data.get(at) != Some(&b'{') {
        return;
    }
    at += 1;
    for _ in 0..MAX_ENTRIES {
        at = skip(at);
        let Some(key) = string(at) else { return };
        at = skip(key.1 + 1);
        if data.get(at) != Some(&b':') {
            return;
        }
        at = skip(at + 1);
        let Some(value) = string(at) else { return };
        if let Some(seg) = base64_segment(data, value, MIN_BASE64, Some(&data[key.0..key.1])) {
            out.push(value.0, seg);
        }
        at = skip(value.1 + 1);
        match data.get(at) {
            Some(b',') => at += 1,
            _ => return,
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn has_percent_escape(line: &[u8]) -> bool {
    line.windows(3).any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
}

/// The value `data[s..e]`, assigned to `key`, with `%XX` escapes decoded.
fn percent(data: &[u8], s: usize, e: usize, key: &[u8]) -> Segment {
    let mut text = Vec::with_capacity(e - s);
    let mut at = Vec::with_capacity(e - s + 1);
    let mut i = s;
    while i < e {
        at.push(i as u32);
        match (data[i], data.get(i + 1).copied().and_then(hex), data.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) if i + 2 < e => {
                text.push(h << 4 | l);
                i += 3;
            }
            (b, _, _) => {
                text.push(b);
                i += 1;
            }
        }
    }
    at.push(e as u32);
    let key = Some((key.to_vec(), (0, text.len())));
    Segment { encoding: Encoding::Percent, text, map: Map::Bytes(at), key, code: false, url_password: false }
}

/// `data[s..e]` with `\uXXXX` escapes (and surrogate pairs) decoded to UTF-8; `None` if it
/// holds none.
fn unicode_escapes(data: &[u8], s: usize, e: usize, code: bool) -> Option<Segment> {
    let unit = |i: usize| -> Option<u16> {
        if i + 6 > e || data[i] != b'\\' || data[i + 1] != b'u' {
            return None;
        }
        let digits = std::str::from_utf8(&data[i + 2..i + 6]).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(digits, 16).ok()
    };
    let mut text = Vec::with_capacity(e - s);
    let mut at = Vec::with_capacity(e - s + 1);
    // Only escapes that stand for printable ASCII can hide a token: a line whose escapes are
    // all of other characters (`\u00e9`, emoji in source code, which is most of them) reads
    // the same to the rules decoded or not, and is left alone.
    let mut decoded_any = false;
    let mut i = s;
    while i < e {
        let c = match unit(i) {
            Some(hi @ 0xd800..=0xdbff) => match unit(i + 6) {
                Some(lo @ 0xdc00..=0xdfff) => char::decode_utf16([hi, lo]).next().and_then(Result::ok).map(|c| (c, 12)),
                _ => None,
            },
            Some(u) => char::from_u32(u32::from(u)).map(|c| (c, 6)),
            None => None,
        };
        match c {
            Some((c, n)) => {
                let mut buf = [0; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    at.push(i as u32);
                    text.push(b);
                }
                decoded_any |= c.is_ascii_graphic();
                i += n;
            }
            None => {
                at.push(i as u32);
                text.push(data[i]);
                i += 1;
            }
        }
    }
    at.push(e as u32);
    decoded_any.then_some(Segment {
        encoding: Encoding::UnicodeEscape,
        text,
        map: Map::Bytes(at),
        key: None,
        code,
        url_password: false,
    })
}

/// Whether a file whose `head` holds a NUL byte is UTF-16 text: a byte-order mark, or (in the
/// first 1 KiB) a NUL in the high byte of nine in ten code units whose other byte is ASCII.
pub(crate) fn utf16_kind(head: &[u8]) -> Option<Encoding> {
    match head {
        [0xff, 0xfe, ..] => return Some(Encoding::Utf16le),
        [0xfe, 0xff, ..] => return Some(Encoding::Utf16be),
        _ => {}
    }
    let sample = &head[..head.len().min(1024) & !1];
    let units = sample.len() / 2;
    if units < 4 {
        return None;
    }
    let ascii = |b: u8| b.is_ascii_graphic() || b.is_ascii_whitespace();
    let (mut le, mut be) = (0, 0);
    for pair in sample.chunks_exact(2) {
        match (pair[0], pair[1]) {
            (a, 0) if ascii(a) => le += 1,
            (0, b) if ascii(b) => be += 1,
            _ => {}
        }
    }
    if le * 10 >= units * 9 {
        Some(Encoding::Utf16le)
    } else if be * 10 >= units * 9 {
        Some(Encoding::Utf16be)
    } else {
        None
    }
}

/// UTF-16 text is decoded this many encoded bytes at a time (even), so the decoded text and its
/// offset map (four bytes a decoded byte) stay under ~4 MiB whatever the window size.
pub(crate) const UTF16_CHUNK: usize = 512 << 10;
/// How far a chunk runs on into the next (even): the longest secret, in UTF-16, that is found
/// across a chunk boundary.
pub(crate) const UTF16_OVERLAP: usize = 32 << 10;

/// `data[start..end]`, UTF-16 text, decoded to UTF-8 (unpaired surrogates become U+FFFD; a
/// byte-order mark is dropped). `start` is where a code unit begins.
pub(crate) fn utf16(data: &[u8], encoding: Encoding, start: usize, end: usize) -> Segment {
    let body = &data[start.min(end)..end];
    let units = body.chunks_exact(2).map(|p| match encoding {
        Encoding::Utf16be => u16::from_be_bytes([p[0], p[1]]),
        _ => u16::from_le_bytes([p[0], p[1]]),
    });
    let mut text = Vec::with_capacity(body.len().min(MAX_DECODED));
    let mut at = Vec::with_capacity(body.len().min(MAX_DECODED) + 1);
    let mut pos = start;
    for c in char::decode_utf16(units) {
        let (c, width) = match c {
            Ok(c) => (c, c.len_utf16() * 2),
            Err(_) => (char::REPLACEMENT_CHARACTER, 2),
        };
        if text.len() + c.len_utf8() > MAX_DECODED {
            break;
        }
        if c != '\u{feff}' {
            let mut buf = [0; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                at.push(pos as u32);
                text.push(b);
            }
        }
        pos += width;
    }
    at.push(pos as u32);
    Segment { encoding, text, map: Map::Bytes(at), key: None, code: false, url_password: false }
}
