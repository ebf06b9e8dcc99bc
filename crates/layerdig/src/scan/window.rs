//! Reading one file's content through the detectors in overlapping windows, so memory does not
//! grow with file size.

use std::sync::Arc;

use crate::detect::{Detector, Match, Window};
use crate::layer::Content;
use crate::ownership::FileDigests;

use super::Hit;

/// How far windows overlap: the longest secret that can straddle a window boundary.
pub(super) const OVERLAP: usize = 64 << 10;
/// How much of a file's start credential-file checks look at.
const HEAD: usize = 64 << 10;

/// Per-thread buffers for reading file content in windows.
pub(super) struct Scratch {
    window: usize,
    buf: Vec<u8>,
    head: Vec<u8>,
    matches: Vec<Match>,
}

impl Scratch {
    pub(super) fn new(window: usize) -> Scratch {
        Scratch { window, buf: Vec::new(), head: Vec::new(), matches: Vec::new() }
    }

    pub(super) fn scan_content(
        &mut self,
        det: &mut Detector,
        path: &[u8],
        content: Content<'_>,
        size: u64,
        hits: &mut Vec<Hit>,
        ordinal: u32,
    ) {
        self.matches.clear();
        let mut whole = None;
        match content {
            Content::None => return,
            Content::Slice(data) => {
                whole = Some(Whole::Slice(data));
                self.head.clear();
                self.head.extend_from_slice(&data[..data.len().min(HEAD)]);
                let mut offset = 0usize;
                let mut line = 1u64;
                loop {
                    let end = (offset + self.window + OVERLAP).min(data.len());
                    let last = end == data.len();
                    let window = Window {
                        offset: offset as u64,
                        line,
                        report_before: if last { None } else { Some(self.window) },
                    };
                    det.scan(path, &data[offset..end], window, &mut self.matches);
                    if last {
                        break;
                    }
                    line += memchr_count(&data[offset..offset + self.window]);
                    offset += self.window;
                }
            }
            Content::Reader(reader) => {
                self.head.clear();
                let cap = self.window + OVERLAP;
                self.buf.clear();
                let mut offset = 0u64;
                let mut line = 1u64;
                let mut eof = false;
                loop {
                    // Fill the buffer up to a whole window plus overlap.
                    while !eof && self.buf.len() < cap {
                        let start = self.buf.len();
                        // No more than the file has left (plus a little, to see its end): a
                        // zero-filled 256 KiB per tiny file made a layer of many entries crawl,
                        // and 8 KiB for the read that finds the end was still a tenth of a
                        // tiny-file layer's time.
                        let left = size.saturating_sub(offset + start as u64).saturating_add(1).max(512);
                        let want = (cap - start).min(256 << 10).min(usize::try_from(left).unwrap_or(usize::MAX));
                        self.buf.resize(start + want, 0);
                        match reader.read(&mut self.buf[start..]) {
                            Ok(0) => {
                                self.buf.truncate(start);
                                eof = true;
                            }
                            Ok(n) => self.buf.truncate(start + n),
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(start),
                            Err(_) => {
                                // The layer walker reports the stream error when it reads on.
                                self.buf.truncate(start);
                                eof = true;
                            }
                        }
                    }
                    if offset == 0 {
                        self.head.extend_from_slice(&self.buf[..self.buf.len().min(HEAD)]);
                    }
                    let last = eof && self.buf.len() <= cap;
                    let report_before = if eof { None } else { Some(self.window) };
                    let window = Window { offset, line, report_before };
                    det.scan(path, &self.buf, window, &mut self.matches);
                    if last || self.buf.len() <= self.window {
                        if offset == 0 && eof {
                            whole = Some(Whole::Buffer);
                        }
                        break;
                    }
                    line += memchr_count(&self.buf[..self.window]);
                    self.buf.drain(..self.window);
                    offset += self.window as u64;
                }
            }
        }
        // Weak matches aside: a key file whose key does not decode is still a key file. A weak
        // credential-file match (a placeholder) adds nothing to weak matches already there.
        let had = self.matches.iter().any(|m| !m.weak);
        if let Some(m) = det.classify_file(path, &self.head, size, had)
            && (!m.weak || self.matches.is_empty())
        {
            self.matches.push(m);
        }
        // The digests package databases record, of a file with a finding whose bytes are all
        // in memory (in place, or in one window): its owner is judged by them later.
        let digests = match (&whole, self.matches.is_empty()) {
            (_, true) | (None, _) => None,
            (Some(Whole::Slice(data)), false) => Some(Arc::new(FileDigests::of(data))),
            (Some(Whole::Buffer), false) => Some(Arc::new(FileDigests::of(&self.buf))),
        };
        for m in self.matches.drain(..) {
            hits.push(Hit { path: path.to_vec(), ordinal, m, structure: None, inner: None, digests: digests.clone() });
        }
    }
}

/// Where a file's bytes are when they were all in memory at once.
enum Whole<'a> {
    /// In place.
    Slice(&'a [u8]),
    /// In the scratch buffer, read in one window.
    Buffer,
}

fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Rules;

    /// `(rule id, weak)` of every hit in a file of `data` at `path`.
    fn scan(rules: &Rules, path: &str, data: &[u8]) -> Vec<(String, bool)> {
        let mut det = Detector::new(rules);
        let mut scratch = Scratch::new(1 << 20);
        let mut hits = Vec::new();
        scratch.scan_content(&mut det, path.as_bytes(), Content::Slice(data), data.len() as u64, &mut hits, 0);
        hits.into_iter().map(|h| (h.m.rule_id.to_string(), h.m.weak)).collect()
    }

    #[test]
    fn weak_matches_and_credential_files() {
        let empty = Rules::empty();
        let owned = |list: &[(&str, bool)]| list.iter().map(|(id, weak)| (id.to_string(), *weak)).collect::<Vec<_>>();
        // A placeholder only the credential-file detector sees: its weak match is reported.
        let netrc = b"machine api.example.com login me password changeme\n";
        assert_eq!(scan(&empty, "root/.netrc", netrc), owned(&[("credential-file.netrc", true)]));
        // Seen by the entropy detector too: reported once.
        let npmrc = b"//registry.example.com/:_authToken=changeme\n";
        assert_eq!(scan(&empty, "root/.npmrc", npmrc), owned(&[("generic.secret-assignment", true)]));
        // Weak matches do not stop a credential file that is one by its path and shape.
        let env = b"API_TOKEN=changeme\n";
        assert_eq!(
            scan(&empty, "app/.env", env),
            owned(&[("generic.secret-assignment", true), ("credential-file.dotenv", false)])
        );
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(
            scan(&Rules::builtin(), "root/.ssh/id_ed25519", key),
            owned(&[("private_keys.openssh", true), ("credential-file.ssh-private-key", false)])
        );
    }
}
