//! The detection engine: rules, the keyword prefilter, offline validation, the entropy detector
//! for generic secrets, and credential files recognised by path and shape.
//!
//! Per file (or window of a large file), [`Detector::scan`] runs:
//!
//! 1. one Aho-Corasick pass (ASCII case-insensitive, overlapping) over every rule's keywords and
//!    the entropy detector's key words: content without a keyword costs this pass only;
//! 2. the regexes of the rules whose keywords were seen (capture group 1 is the secret);
//! 3. each rule's offline [`Validation`] (confirmed: confidence high; failed: weak evidence;
//!    without validation, a placeholder secret such as `changeme` is weak evidence);
//! 4. the entropy detector on text files, at the spots where a secret-named key or a URL was seen
//!    (a placeholder there, `changeme`, `<your-key>`, is weak evidence);
//! 5. overlap resolution: a generic match overlapping a rule's match goes; among overlapping
//!    rule matches the most specific stays (weak evidence last, then confidence, then
//!    severity, then length).
//! 6. the decoders (`decode`), only where step 1 found one of their markers (a Kubernetes
//!    `data:` map, `Basic `, `\u`, a URL, a parsed assignment) or the file is UTF-16: the
//!    decoded text goes once through steps 1 to 5, and its matches, mapped back to the encoded
//!    bytes and marked with their [`Encoding`], are resolved against the plain ones.
//!
//! Weak evidence is reported, not dropped: with low confidence, [`Match::weak`] set and a note
//! saying why (`checksum does not match: not a live token, or altered`), so that
//! [`disposition`] makes it a `documented_example`, which fails no gate by default.
//!
//! After the last window, [`Detector::classify_file`] reports credential files (`id_rsa`,
//! `.aws/credentials`, `etc/shadow`, …) in which nothing else was found, and
//! [`Detector::scan_config`] runs image configuration strings through the same detectors.
//!
//! ```
//! use layerdig::detect::{Detector, Rules, Window};
//!
//! let rules = Rules::from_yaml_str(
//!     r#"
//! provider: Example
//! rules:
//!   - id: example.token
//!     name: Example token
//!     severity: high
//!     keywords: [exmpl_]
//!     pattern: '\b(exmpl_[0-9a-f]{16})\b'
//!     examples: ['exmpl_0123456789abcdef', 'key=exmpl_fedcba9876543210']
//!     negative_examples: ['exmpl_xyz']
//! "#,
//!     "example.yaml",
//! )?;
//! let mut detector = Detector::new(&rules);
//! let mut found = Vec::new();
//! detector.scan(b"app/config.ini", b"[api]\nkey = exmpl_0123456789abcdef\n", Window::default(), &mut found);
//! assert_eq!(found.len(), 1);
//! assert_eq!(&*found[0].rule_id, "example.token");
//! assert_eq!((found[0].line, found[0].column), (2, 7));
//! # Ok::<(), layerdig::detect::RuleError>(())
//! ```

mod credfile;
mod decode;
mod entropy;
mod paths;
mod prefilter;
mod rule;
mod validate;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use regex::bytes::CaptureLocations;
use serde::Serialize;

pub use self::paths::disposition;
use self::prefilter::Hits;
pub use self::rule::{ProblemKind, Rule, RuleError, RuleProblem, Rules};
pub use self::validate::Validation;
use crate::finding;
pub use crate::vocab::MatchKind;
use crate::vocab::{Confidence, ConfigField, Encoding, Severity};

/// Only the first 8 KiB decide whether a file is binary (a NUL byte in them).
const BINARY_SNIFF: usize = 8 << 10;

/// A built-in detector that is code, not a rule file: the entropy detector's two ids and every
/// credential-file kind. Listed by [`builtin_detectors`] (e.g. for `layerdig rules list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DetectorInfo {
    /// The rule id its matches carry, e.g. `generic.secret-assignment`, `credential-file.shadow`.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// The severity of its matches.
    pub severity: Severity,
    /// Entropy or credential file.
    pub kind: MatchKind,
}

const SECRET_ASSIGNMENT: DetectorInfo = DetectorInfo {
    id: entropy::SECRET_ASSIGNMENT,
    name: "Secret assigned to a secret-named key",
    severity: Severity::Medium,
    kind: MatchKind::Entropy,
};

const URL_PASSWORD: DetectorInfo = DetectorInfo {
    id: entropy::URL_PASSWORD,
    name: "Password in a URL",
    severity: Severity::Medium,
    kind: MatchKind::Entropy,
};

/// Every built-in code detector: the two entropy detectors, then the credential-file kinds.
pub fn builtin_detectors() -> &'static [DetectorInfo] {
    static ALL: [DetectorInfo; 3 + credfile::KINDS.len()] = {
        let mut all = [SECRET_ASSIGNMENT; 3 + credfile::KINDS.len()];
        all[1] = URL_PASSWORD;
        all[2] = HIDDEN;
        let mut i = 0;
        while i < credfile::KINDS.len() {
            all[3 + i] = credfile::KINDS[i];
            i += 1;
        }
        all
    };
    &ALL
}

/// The rule id of hidden data's own findings: bytes of a layer that no file holds (see
/// [`crate::layer::LayerVisitor::hidden`]), reported whatever is in them.
pub const HIDDEN_DATA: &str = "hidden-data";

/// The hidden-data detector, as [`builtin_detectors`] lists it and its findings carry it.
pub(crate) const HIDDEN: DetectorInfo = DetectorInfo {
    id: HIDDEN_DATA,
    name: "Data hidden in a layer",
    severity: Severity::High,
    kind: MatchKind::HiddenData,
};

/// Where a buffer handed to [`Detector::scan`] sits in its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Byte offset of `data[0]` in the file.
    pub offset: u64,
    /// 1-based line number of `data[0]`; 0 means 1.
    pub line: u64,
    /// Only report matches whose secret starts before this index of `data` (windows overlap;
    /// the next window reports the rest). `None`: report all.
    pub report_before: Option<usize>,
}

/// One secret found by a detector.
///
/// `Debug` shows the secret redacted ([`finding::redact`]); only `secret` itself holds it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Match {
    /// The rule id (or built-in detector id, see [`builtin_detectors`]).
    pub rule_id: Arc<str>,
    /// The rule's name.
    pub rule_name: Arc<str>,
    /// How bad a leak of this kind is.
    pub severity: Severity,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// Which detector found it.
    pub kind: MatchKind,
    /// The secret's bytes (capture group 1 of a rule; the value of an assignment; the most
    /// sensitive value, or the first line, of a credential file).
    pub secret: Vec<u8>,
    /// Start of the secret's half-open byte span in the file (or config string).
    pub start: u64,
    /// End of the secret's half-open byte span.
    pub end: u64,
    /// 1-based line of the secret's start.
    pub line: u64,
    /// 1-based column of the secret's start, in bytes. (When a window begins mid-line and the
    /// detector did not see the previous window of the file, counted from the window's start.)
    pub column: u64,
    /// Extra information, e.g. `encrypted` for a passphrase-protected private key.
    pub note: Option<String>,
    /// The secret is one of the rule's `documented_examples`.
    pub documented_example: bool,
    /// Weak evidence: a match that failed its rule's validation, or a placeholder in a
    /// credential position. Its confidence is low, its note says why, and [`disposition`] makes
    /// it a `documented_example`.
    pub weak: bool,
    /// The decoder that found it, when it was found in decoded text: `secret` is then the
    /// decoded secret, while `start`, `end`, `line` and `column` point at the encoded bytes
    /// (see the `decode` module for base64's approximation).
    pub encoding: Option<Encoding>,
}

impl fmt::Debug for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Match")
            .field("rule_id", &self.rule_id)
            .field("rule_name", &self.rule_name)
            .field("severity", &self.severity)
            .field("confidence", &self.confidence)
            .field("kind", &self.kind)
            .field("secret", &finding::redact(&self.secret))
            .field("start", &self.start)
            .field("end", &self.end)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("note", &self.note)
            .field("documented_example", &self.documented_example)
            .field("weak", &self.weak)
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// Counters of the work a [`Detector`] did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Buffers the keyword automaton ran over.
    pub automaton_passes: u64,
    /// Rule regexes run (one per candidate rule per buffer).
    pub regex_runs: u64,
    /// Values the entropy detector judged.
    pub entropy_values: u64,
    /// Bytes of `\u`-escaped lines the decoder read (each line once, however many escapes).
    pub escape_bytes: u64,
}

/// Which detector a raw match came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Rule(u32),
    Assignment,
    UrlPassword,
}

/// A match before overlap resolution, as offsets into the current buffer.
#[derive(Debug, Clone)]
struct Raw {
    origin: Origin,
    start: usize,
    end: usize,
    severity: Severity,
    confidence: Confidence,
    note: Option<&'static str>,
    /// Weak evidence (see [`Match::weak`]).
    weak: bool,
    /// The decoded secret, when `start..end` is the encoded text it came from.
    secret: Option<Vec<u8>>,
    encoding: Option<Encoding>,
}

impl Raw {
    fn overlaps(&self, other: &Raw) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// A key/value pair known from context rather than read from the text (config `Env` entries
/// and labels).
struct Known<'a> {
    key: &'a [u8],
    /// Where the key is in the buffer, if it is there, so the text parser skips it.
    key_start: Option<usize>,
    value: (usize, usize),
}

/// Runs the detectors over file contents and config strings. One per thread: it holds a
/// [`Rules`] clone and scratch buffers.
pub struct Detector {
    rules: Rules,
    hits: Hits,
    locations: Vec<Option<CaptureLocations>>,
    raw: Vec<Raw>,
    /// Path of the last file whose first window was seen, and whether it is binary.
    binary_path: Vec<u8>,
    binary: bool,
    /// Whether the file at `binary_path` is UTF-16 text.
    utf16: Option<Encoding>,
    /// The assignments the entropy detector parsed in the current buffer: key and value spans.
    assignments: Vec<decode::KeyValue>,
    segments: Vec<decode::Segment>,
    /// Where the next window of `binary_path` starts (`offset + report_before`) and the file
    /// offset of the line that contains that position, so columns stay right across windows.
    carry: Option<(u64, u64)>,
    stats: ScanStats,
    assignment_id: (Arc<str>, Arc<str>),
    url_id: (Arc<str>, Arc<str>),
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector").field("rules", &self.rules).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl Detector {
    /// A detector for `rules` (plus the built-in entropy and credential-file detectors).
    pub fn new(rules: &Rules) -> Detector {
        Detector {
            rules: rules.clone(),
            hits: Hits::default(),
            locations: vec![None; rules.rules().len()],
            raw: Vec::new(),
            binary_path: Vec::new(),
            binary: false,
            utf16: None,
            assignments: Vec::new(),
            segments: Vec::new(),
            carry: None,
            stats: ScanStats::default(),
            assignment_id: (Arc::from(SECRET_ASSIGNMENT.id), Arc::from(SECRET_ASSIGNMENT.name)),
            url_id: (Arc::from(URL_PASSWORD.id), Arc::from(URL_PASSWORD.name)),
        }
    }

    /// The rules this detector runs.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Work done so far.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    /// The ids of the rules whose keywords occur in `data`: the only rules whose regexes
    /// [`Detector::scan`] would run on it.
    pub fn candidates(&mut self, data: &[u8]) -> Vec<&str> {
        self.rules.prefilter().scan(data, &mut self.hits);
        self.hits.candidates.iter().map(|&r| self.rules.rules()[r as usize].id.as_str()).collect()
    }

    /// Scan a whole file's content (or one window of a large file), appending matches to `out`
    /// in order of position.
    ///
    /// A file is binary when its first 8 KiB hold a NUL byte (judged on the window at offset 0
    /// and remembered for the following windows of the same path); on binary files only rules
    /// with `binary: true` run, and the entropy detector does not.
    pub fn scan(&mut self, path: &[u8], data: &[u8], window: Window, out: &mut Vec<Match>) {
        let binary = self.is_binary(path, data, window.offset);
        // Columns on a window's first line count from the start of that line, which an earlier
        // window of the same file saw; without one, from the window's start.
        let first_line_start = match self.carry {
            Some((next, line_start)) if window.offset > 0 && next == window.offset => line_start,
            _ => window.offset,
        };
        self.carry = window.report_before.map(|limit| {
            let upto = &data[..limit.min(data.len())];
            let line_start =
                upto.iter().rposition(|&b| b == b'\n').map_or(first_line_start, |p| window.offset + p as u64 + 1);
            (window.offset + limit as u64, line_start)
        });
        let code = paths::is_code(path);
        self.detect(data, binary, code, &[]);
        let utf16 = if binary && self.binary_path == path { self.utf16 } else { None };
        // The decoders start from what the prefilter pass found: no hit, no decoding.
        let candidates =
            !(self.hits.decode_hits.is_empty() && self.hits.url_hits.is_empty() && self.assignments.is_empty());
        if utf16.is_some() || !binary && candidates {
            self.decode(data, utf16, window.offset, code);
        }
        let newline = if utf16 == Some(Encoding::Utf16le) { 2 } else { 1 };
        self.emit(data, window, first_line_start, newline, out);
    }

    /// Run the decoders over `data` (whose plain matches are in `self.raw`), then the detectors
    /// over what they decoded; keep the decoded matches that win overlap resolution against the
    /// plain ones, with their spans mapped back into `data`.
    fn decode(&mut self, data: &[u8], utf16: Option<Encoding>, offset: u64, code: bool) {
        let mut all = std::mem::take(&mut self.raw);
        if let Some(encoding) = utf16 {
            // In chunks, so the decoded text and its offset map stay small: each chunk runs on
            // by an overlap and reports the matches that start before the next chunk.
            let mut start = (offset % 2) as usize;
            loop {
                let end = (start + decode::UTF16_CHUNK + decode::UTF16_OVERLAP).min(data.len());
                let last = end == data.len();
                let seg = decode::utf16(data, encoding, start, end);
                let before = if last { usize::MAX } else { start + decode::UTF16_CHUNK };
                self.detect_segment(&seg, before, &mut all);
                if last {
                    break;
                }
                start += decode::UTF16_CHUNK;
            }
        } else {
            let mut segments = std::mem::take(&mut self.segments);
            segments.clear();
            // The prefilter finds markers keyword by keyword: in order, a `\u` line or `data:`
            // map covers the markers after it (unsorted, a line of 5 000 escapes was decoded
            // 5 000 times: a pygments table took 90 ms).
            self.hits.decode_hits.sort_unstable();
            let starts = decode::Starts {
                decode_hits: &self.hits.decode_hits,
                url_hits: &self.hits.url_hits,
                assignments: &self.assignments,
            };
            self.stats.escape_bytes += decode::decode(data, &starts, code, &mut segments);
            // A plain match of exactly a percent-encoded value (a URL rule's password) is that
            // value's decoding: percent-encoding is the syntax of URLs and forms, not the secret.
            for r in &mut all {
                if let Some(seg) = segments
                    .iter()
                    .find(|s| s.encoding == Encoding::Percent && s.span(0, s.text.len()) == (r.start, r.end))
                {
                    r.secret = Some(seg.text.clone());
                    r.encoding = Some(Encoding::Percent);
                }
            }
            for seg in &segments {
                self.detect_segment(seg, usize::MAX, &mut all);
            }
            self.segments = segments;
        }
        self.raw = all;
        self.resolve();
    }

    /// Run the detectors over one decoded segment and append its matches that start before
    /// `before` (an offset in the encoded buffer) to `all`, mapped back to the encoded bytes.
    fn detect_segment(&mut self, seg: &decode::Segment, before: usize, all: &mut Vec<Raw>) {
        let known: Vec<Known<'_>> =
            seg.key.iter().map(|(key, value)| Known { key, key_start: None, value: *value }).collect();
        self.detect(&seg.text, false, seg.code, &known);
        for mut r in self.raw.drain(..) {
            r.secret = Some(seg.text[r.start..r.end].to_vec());
            r.encoding = Some(seg.encoding);
            if seg.url_password && r.origin == Origin::Assignment {
                r.origin = Origin::UrlPassword;
            }
            (r.start, r.end) = seg.span(r.start, r.end);
            if r.start < before {
                all.push(r);
            }
        }
    }

    /// After all windows of a file: a credential-file match by path and shape, only if
    /// `had_matches` is false (weak matches aside: a key file whose key does not decode is
    /// still a key file). `head` = first <= 64 KiB of content, `size` = full size.
    ///
    /// A credential file whose secret is a placeholder (`password changeme` in `.netrc`) is a
    /// weak match; a caller that already holds weak matches for the file drops it (the same
    /// placeholder, seen twice).
    pub fn classify_file(&mut self, path: &[u8], head: &[u8], size: u64, had_matches: bool) -> Option<Match> {
        if had_matches {
            return None;
        }
        let hit = credfile::classify(path, head, size)?;
        let (start, end) = hit.span;
        let (line, column) = line_column(&head[..start], 1);
        Some(Match {
            rule_id: Arc::from(hit.kind.id),
            rule_name: Arc::from(hit.kind.name),
            severity: hit.kind.severity,
            confidence: hit.confidence,
            kind: MatchKind::CredentialFile,
            secret: head[start..end].to_vec(),
            start: start as u64,
            end: end as u64,
            line,
            column,
            note: hit.note.map(str::to_string),
            documented_example: false,
            weak: hit.weak,
            encoding: None,
        })
    }

    /// One config string: `field` like `Env[0]`, `Labels.maintainer`, `history[3].created_by`.
    ///
    /// Rules run over `value` as over a text file, and so does the entropy detector, which also
    /// knows the key from context: an `Env` entry `K=V` is judged as key `K` with the whole rest
    /// as value, a label's value with the label's name as key. History `created_by` strings
    /// carry build arguments (`|1 NPM_TOKEN=abc /bin/sh -c …`) and `ENV`/`ARG` instructions,
    /// which the assignment parser reads. Spans are byte offsets into `value`; line 1.
    pub fn scan_config(&mut self, field: &ConfigField, value: &str, out: &mut Vec<Match>) {
        let data = value.as_bytes();
        let mut known = Vec::new();
        match field {
            ConfigField::Env(_) => {
                if let Some(eq) = value.find('=') {
                    known.push(Known { key: &data[..eq], key_start: Some(0), value: (eq + 1, data.len()) });
                }
            }
            ConfigField::Label(label) => {
                known.push(Known { key: label.as_bytes(), key_start: None, value: (0, data.len()) });
            }
            _ => {}
        }
        self.detect(data, false, false, &known);
        // Encoded values in the config too (`AUTH=<base64 of user:token>`, a percent-encoded
        // password in a URL), from the same prefilter hits as in files.
        if !(self.hits.decode_hits.is_empty() && self.hits.url_hits.is_empty() && self.assignments.is_empty()) {
            self.decode(data, None, 0, false);
        }
        self.emit(data, Window::default(), 0, 1, out);
    }

    fn is_binary(&mut self, path: &[u8], data: &[u8], offset: u64) -> bool {
        let sniff = |d: &[u8]| d[..d.len().min(BINARY_SNIFF)].contains(&0);
        if offset == 0 {
            self.binary = sniff(data);
            self.utf16 = if self.binary { decode::utf16_kind(&data[..data.len().min(BINARY_SNIFF)]) } else { None };
            self.binary_path.clear();
            self.binary_path.extend_from_slice(path);
            self.binary
        } else if self.binary_path == path {
            self.binary
        } else {
            self.carry = None;
            sniff(data)
        }
    }

    /// Fill `self.raw` with the resolved matches in `data`, sorted by start.
    fn detect(&mut self, data: &[u8], binary: bool, code: bool, known: &[Known<'_>]) {
        self.raw.clear();
        self.assignments.clear();
        let rules = self.rules.clone();
        rules.prefilter().scan(data, &mut self.hits);
        self.stats.automaton_passes += 1;
        for &r in &self.hits.candidates {
            let rule = &rules.rules()[r as usize];
            if binary && !rule.binary {
                continue;
            }
            self.stats.regex_runs += 1;
            let Some(regex) = rules.compiled()[r as usize].regex() else { continue };
            let locs = self.locations[r as usize].get_or_insert_with(|| regex.capture_locations());
            let mut at = 0;
            while at <= data.len() {
                let Some(m) = regex.captures_read_at(locs, data, at) else {
                    break;
                };
                at = if m.end() > m.start() { m.end() } else { m.end() + 1 };
                let Some((s, e)) = locs.get(1) else { continue };
                if s == e {
                    continue;
                }
                let judged = rule.judge(&data[s..e], &data[m.start()..m.end()]);
                self.raw.push(Raw {
                    origin: Origin::Rule(r),
                    start: s,
                    end: e,
                    severity: rule.severity,
                    confidence: judged.confidence,
                    note: judged.note,
                    weak: judged.weak,
                    secret: None,
                    encoding: None,
                });
            }
        }
        if !binary {
            self.detect_generic(data, code, known);
        }
        self.resolve();
    }

    /// The entropy detector: known key/value pairs, assignments around key-word hits, and URL
    /// passwords around `://` hits.
    fn detect_generic(&mut self, data: &[u8], code: bool, known: &[Known<'_>]) {
        let push = |raw: &mut Vec<Raw>, stats: &mut ScanStats, origin, kind, key: &[u8], (s, e): (usize, usize)| {
            stats.entropy_values += 1;
            let (confidence, note, weak) = match entropy::judge(kind, key, &data[s..e]) {
                None => return,
                Some(entropy::Verdict::Secret(confidence)) => (confidence, None, false),
                Some(entropy::Verdict::Placeholder) => (Confidence::Low, Some(entropy::PLACEHOLDER_NOTE), true),
            };
            let severity = SECRET_ASSIGNMENT.severity;
            raw.push(Raw { origin, start: s, end: e, severity, confidence, note, weak, secret: None, encoding: None });
        };
        for k in known {
            // A key that is in `data` (an `Env` entry's name) starts a decoder like any other
            // assignment's.
            if let Some(ks) = k.key_start {
                self.assignments.push(((ks, ks + k.key.len()), k.value));
            }
            if let Some(kind) = entropy::key_kind(k.key) {
                let (s, e) = k.value;
                push(&mut self.raw, &mut self.stats, Origin::Assignment, kind, k.key, (s, e));
            }
        }
        self.hits.key_hits.sort_unstable();
        let mut last_key: Option<usize> = None;
        for &hit in &self.hits.key_hits {
            let Some(a) = entropy::parse_assignment(data, hit) else {
                continue;
            };
            if last_key == Some(a.key.0) || known.iter().any(|k| k.key_start == Some(a.key.0)) {
                continue;
            }
            last_key = Some(a.key.0);
            self.assignments.push((a.key, a.value));
            if code
                && (!a.literal || a.value.1 - a.value.0 < entropy::CODE_MIN_VALUE || entropy::is_code_type(data, &a))
            {
                continue;
            }
            let key = &data[a.key.0..a.key.1];
            if let Some(kind) = entropy::key_kind(key) {
                push(&mut self.raw, &mut self.stats, Origin::Assignment, kind, key, a.value);
            }
        }
        for &hit in &self.hits.url_hits {
            if let Some((_, pass)) = entropy::parse_url_password(data, hit) {
                push(
                    &mut self.raw,
                    &mut self.stats,
                    Origin::UrlPassword,
                    entropy::KeyKind::Password,
                    b"password",
                    pass,
                );
            }
        }
    }

    /// Keep, of overlapping matches, the most specific: any rule's match before a generic one
    /// (a value that a rule matched is that rule's, even when it failed the rule's validation:
    /// the rule knows the format), evidence before weak evidence, a decoded generic match before
    /// a plain one (the encoded value is not the secret), then higher confidence, then higher
    /// severity, then the longer span, then the earlier rule. Identical spans keep one.
    fn resolve(&mut self) {
        if self.raw.len() < 2 {
            return;
        }
        let rank = |r: &Raw| {
            let (generic, order) = match r.origin {
                Origin::Rule(i) => (false, i),
                Origin::Assignment => (true, 0),
                Origin::UrlPassword => (true, 1),
            };
            // Between generic matches, the one read from decoded text judged the real value.
            let plain_generic = generic && r.encoding.is_none();
            (
                generic,
                r.weak,
                plain_generic,
                Reverse(r.confidence),
                Reverse(r.severity),
                Reverse(r.end - r.start),
                order,
                r.start,
            )
        };
        self.raw.sort_by_key(rank);
        // Accepted matches by start; they never overlap each other, so only the neighbours of a
        // new span can overlap it.
        let mut accepted: BTreeMap<usize, Raw> = BTreeMap::new();
        for r in self.raw.drain(..) {
            let before = accepted.range(..=r.start).next_back().is_some_and(|(_, a)| a.overlaps(&r));
            let after = accepted.range(r.start..).next().is_some_and(|(_, a)| a.overlaps(&r));
            if !before && !after {
                accepted.insert(r.start, r);
            }
        }
        self.raw.extend(accepted.into_values());
    }

    /// Turn `self.raw` into [`Match`]es with file offsets and line/column numbers.
    /// `first_line_start` is the file offset of the line `data[0]` is on; a line starts
    /// `newline` bytes after a `\n` byte (2 in UTF-16LE, where the code unit is `0a 00`), so
    /// columns count the file's bytes (two a character in UTF-16).
    fn emit(&mut self, data: &[u8], window: Window, first_line_start: u64, newline: usize, out: &mut Vec<Match>) {
        self.raw.sort_by_key(|r| r.start);
        let mut line = window.line.max(1);
        let mut counted = 0usize;
        let mut line_start: Option<usize> = None;
        for r in &self.raw {
            if window.report_before.is_some_and(|limit| r.start >= limit) {
                continue;
            }
            for (i, &b) in data[counted..r.start].iter().enumerate() {
                if b == b'\n' {
                    line += 1;
                    line_start = Some(counted + i + newline);
                }
            }
            counted = r.start;
            let column = match line_start {
                Some(ls) => (r.start.saturating_sub(ls) + 1) as u64,
                None => window.offset + r.start as u64 - first_line_start + 1,
            };
            let secret = r.secret.clone().unwrap_or_else(|| data[r.start..r.end].to_vec());
            let (id, name, kind, documented) = match r.origin {
                Origin::Rule(i) => {
                    let rule = &self.rules.rules()[i as usize];
                    let compiled = &self.rules.compiled()[i as usize];
                    let documented = rule.documented_examples.iter().any(|d| d.as_bytes() == secret.as_slice());
                    (compiled.id.clone(), compiled.name.clone(), MatchKind::Rule, documented)
                }
                Origin::Assignment => (
                    self.assignment_id.0.clone(),
                    self.assignment_id.1.clone(),
                    MatchKind::Entropy,
                    entropy::WELL_KNOWN_EXAMPLES.contains(&secret.as_slice()),
                ),
                Origin::UrlPassword => (
                    self.url_id.0.clone(),
                    self.url_id.1.clone(),
                    MatchKind::Entropy,
                    entropy::WELL_KNOWN_EXAMPLES.contains(&secret.as_slice()),
                ),
            };
            out.push(Match {
                rule_id: id,
                rule_name: name,
                severity: r.severity,
                confidence: r.confidence,
                kind,
                secret,
                start: window.offset + r.start as u64,
                end: window.offset + r.end as u64,
                line,
                column,
                note: r.note.map(str::to_string),
                documented_example: documented,
                weak: r.weak,
                encoding: r.encoding,
            });
        }
        self.raw.clear();
    }
}

/// Line and column (1-based, bytes) of the position just after `before`, starting at `line`.
fn line_column(before: &[u8], line: u64) -> (u64, u64) {
    let newlines = before.iter().filter(|&&b| b == b'\n').count() as u64;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    (line + newlines, (before.len() - line_start + 1) as u64)
}

#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;
