//! The words every part of layerdig shares: how bad a secret is ([`Severity`]), how sure the
//! detector is ([`Confidence`]), which detector found it ([`MatchKind`]), where it was read from
//! ([`Source`]), what became of its file ([`Status`], [`RemovedBy`]), whether it needs action
//! ([`Disposition`]), and lowercase hex.
//!
//! A leaf: it imports nothing of layerdig's, so every other module can use it without cycles.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a leaked secret of this kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational or weak credentials.
    Low,
    /// Credentials with a narrow blast radius.
    Medium,
    /// Credentials that grant real access.
    High,
    /// Credentials that grant broad access (cloud root keys, private keys, payment keys).
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

    /// The lowercase name used in rule files, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?} (expected critical, high, medium or low)")),
        }
    }
}

/// How sure the detector is that a match is a real secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A weak signal: a generic pattern, or a format check that failed.
    Low,
    /// A provider-specific pattern with no offline check available.
    Medium,
    /// A provider-specific pattern whose offline format check (checksum, structure) passed.
    High,
}

impl Confidence {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a finding is something a person must act on, or known noise kept for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A real-looking secret in a real place: rotate it.
    Actionable,
    /// Found under a test, fixture, example or documentation path, or in a library's self-test.
    TestFixture,
    /// A value the provider publishes in its own documentation (e.g. `AKIAIOSFODNN7EXAMPLE`), or
    /// weak evidence: a match that failed its rule's validation, a placeholder (`changeme`) in a
    /// credential position.
    DocumentedExample,
    /// In a file a package installed whose bytes are still the package's (or whose package
    /// records no digest): the package's to fix, not the image builder's.
    ThirdParty,
}

impl Disposition {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Actionable => "actionable",
            Disposition::TestFixture => "test_fixture",
            Disposition::DocumentedExample => "documented_example",
            Disposition::ThirdParty => "third_party",
        }
    }
}

/// Whether a location is in a layer the image shares with its base image, or in one it added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// In a layer of the base image: inherited (scan what you inherit; fix it in the base).
    Inherited,
    /// In a layer the image added.
    Introduced,
}

impl Origin {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Inherited => "inherited",
            Origin::Introduced => "introduced",
        }
    }
}

/// Where a location's secret was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A file in a layer.
    File,
    /// The image configuration (`Env`, `Labels`, `Cmd`, `Entrypoint`).
    Config,
    /// A build history entry's `created_by`.
    History,
    /// Bytes of a layer that are not any file's content, which a runtime never shows and a
    /// file-by-file reading skips (see [`Structure`]).
    Hidden,
    /// A JSON document of the input other than an image config: an index (`index.json` or a
    /// nested one), a manifest, an attestation (see [`Document`]). Registries keep them, and
    /// anyone who pulls the image can read them.
    Metadata,
}

impl Source {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Config => "config",
            Source::History => "history",
            Source::Hidden => "hidden",
            Source::Metadata => "metadata",
        }
    }
}

/// What kind of JSON document of an input a [`Document`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// An image index: `index.json`, or an index it lists.
    Index,
    /// An image or artifact manifest (its descriptors' annotations included).
    Manifest,
    /// An attestation: BuildKit's attestation manifest, or one of its in-toto statements
    /// (SLSA provenance, which records build arguments; SBOMs).
    Attestation,
    /// A blob of the layout that no index or manifest references (a config or manifest an
    /// image was rebuilt from, a layer no manifest lists, left behind): anyone with the layout
    /// reads it.
    Unreferenced,
    /// The layout's own files: a `docker save` archive's `manifest.json`, `repositories` and
    /// legacy `<id>/json` layer descriptions, an OCI layout's `oci-layout` (tags, file names,
    /// and whatever a tool wrote into them).
    ArchiveManifest,
}

impl DocumentKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Index => "index",
            DocumentKind::Manifest => "manifest",
            DocumentKind::Attestation => "attestation",
            DocumentKind::Unreferenced => "unreferenced",
            DocumentKind::ArchiveManifest => "archive_manifest",
        }
    }
}

/// Where in a JSON document of the input (`source` `metadata`) a secret is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Document {
    /// What the document is.
    pub kind: DocumentKind,
    /// The blob's digest; none for `index.json` and the layout's other files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The layout file's name, for a document that is no blob (`index.json`, `manifest.json`,
    /// `repositories`, `<id>/json`, `oci-layout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The JSON path of the string inside it (`manifests[0].annotations.org.example.note`,
    /// `predicate.invocation.parameters.args.build-arg:NPM_TOKEN`).
    pub field: String,
}

/// A file's fate in the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Visible in the final image.
    Present,
    /// Removed by a later layer, but still recoverable from this layer's blob.
    Deleted,
    /// Replaced by a later write of the same path, but still recoverable from this layer's blob.
    Overwritten,
}

impl Status {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Present => "present",
            Status::Deleted => "deleted",
            Status::Overwritten => "overwritten",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a file left the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedBy {
    /// A `.wh.NAME` whiteout of the file or of a directory above it.
    Whiteout,
    /// An opaque directory marker (`.wh..wh..opq`) above it.
    OpaqueDir,
    /// A later layer put a file or link where one of its parent directories was.
    ParentReplaced,
    /// The same path written again.
    Rewritten,
}

/// How the text a secret was found in had been encoded, when a decoder turned it back into what
/// the detectors read (see `detect::decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Base64: Kubernetes Secret `data:` values, Docker `auth` values, `Authorization: Basic`,
    /// secret-named string values.
    Base64,
    /// Percent-encoding in URLs and form data (`p%40ss`).
    Percent,
    /// A UTF-16 little-endian text file.
    Utf16le,
    /// A UTF-16 big-endian text file.
    Utf16be,
    /// `\uXXXX` escapes in JSON and JavaScript strings.
    UnicodeEscape,
}

impl Encoding {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Percent => "percent",
            Encoding::Utf16le => "utf16le",
            Encoding::Utf16be => "utf16be",
            Encoding::UnicodeEscape => "unicode_escape",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which detector produced a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// A rule's regex (and validation).
    Rule,
    /// The entropy detector: a secret-named assignment or a URL password.
    Entropy,
    /// A credential file recognised by its path and shape.
    CredentialFile,
    /// Hidden data itself: bytes that no file holds, reported whatever is in them.
    HiddenData,
}

impl MatchKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Rule => "rule",
            MatchKind::Entropy => "entropy",
            MatchKind::CredentialFile => "credential_file",
            MatchKind::HiddenData => "hidden_data",
        }
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// A field of the image configuration a secret was found in: `Env[2]`, `Labels.maintainer`,
/// `Cmd[0]`, `Entrypoint[1]`, `history[9].created_by`, or a config that did not parse.
/// Reports write it as that text ([`fmt::Display`]); it is parsed only when a report is read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigField {
    /// The `Env` entry at this index (`KEY=VALUE`).
    Env(usize),
    /// The label with this name.
    Label(String),
    /// The `Cmd` argument at this index.
    Cmd(usize),
    /// The `Entrypoint` argument at this index.
    Entrypoint(usize),
    /// A field of the history entry at this index (counting entries that made no layer).
    History {
        /// The entry's index in `history`.
        entry: usize,
        /// Which of its fields.
        field: HistoryField,
    },
    /// A configuration blob that is not valid JSON of the expected shape, searched as text.
    Unparsed,
    /// Any other string of the configuration, by its path: `config.WorkingDir`,
    /// `config.Healthcheck.Test[1]`, `author`, `x-tool.token`.
    Other(String),
}

/// A text field of a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryField {
    /// The instruction (`created_by`), where build arguments are recorded.
    CreatedBy,
    /// The entry's comment.
    Comment,
    /// The entry's author.
    Author,
}

impl HistoryField {
    /// The field's name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryField::CreatedBy => "created_by",
            HistoryField::Comment => "comment",
            HistoryField::Author => "author",
        }
    }
}

impl ConfigField {
    /// Whether the field is the runtime configuration's or a history entry's.
    pub fn source(&self) -> Source {
        match self {
            ConfigField::History { .. } => Source::History,
            _ => Source::Config,
        }
    }

    /// The text written for a config that did not parse.
    const UNPARSED: &'static str = "(config that did not parse)";
}

impl fmt::Display for ConfigField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigField::Env(i) => write!(f, "Env[{i}]"),
            ConfigField::Label(name) => write!(f, "Labels.{name}"),
            ConfigField::Cmd(i) => write!(f, "Cmd[{i}]"),
            ConfigField::Entrypoint(i) => write!(f, "Entrypoint[{i}]"),
            ConfigField::History { entry, field } => write!(f, "history[{entry}].{}", field.as_str()),
            ConfigField::Unparsed => f.write_str(ConfigField::UNPARSED),
            ConfigField::Other(path) => f.write_str(path),
        }
    }
}

impl std::str::FromStr for ConfigField {
    type Err = String;

    /// The text [`fmt::Display`] writes, back into a field (for reports read back from JSON).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let index = |rest: &str| rest.strip_suffix(']').and_then(|n| n.parse::<usize>().ok());
        let parsed = if s == ConfigField::UNPARSED {
            Some(ConfigField::Unparsed)
        } else if let Some(name) = s.strip_prefix("Labels.") {
            Some(ConfigField::Label(name.to_string()))
        } else if let Some(rest) = s.strip_prefix("Env[") {
            index(rest).map(ConfigField::Env)
        } else if let Some(rest) = s.strip_prefix("Cmd[") {
            index(rest).map(ConfigField::Cmd)
        } else if let Some(rest) = s.strip_prefix("Entrypoint[") {
            index(rest).map(ConfigField::Entrypoint)
        } else if let Some(rest) = s.strip_prefix("history[") {
            rest.split_once("].").and_then(|(n, field)| {
                let entry = n.parse::<usize>().ok()?;
                let field = match field {
                    "created_by" => HistoryField::CreatedBy,
                    "comment" => HistoryField::Comment,
                    "author" => HistoryField::Author,
                    _ => return None,
                };
                Some(ConfigField::History { entry, field })
            })
        } else if !s.is_empty() {
            // Any other string of the config, by its path.
            Some(ConfigField::Other(s.to_string()))
        } else {
            None
        };
        parsed.ok_or_else(|| format!("not a configuration field: {s:?}"))
    }
}

impl Serialize for ConfigField {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl RemovedBy {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RemovedBy::Whiteout => "whiteout",
            RemovedBy::OpaqueDir => "opaque_dir",
            RemovedBy::ParentReplaced => "parent_replaced",
            RemovedBy::Rewritten => "rewritten",
        }
    }
}

/// Why a location is not reported as failing: the allow entry that matched it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Suppression {
    /// The entry's position among the file's `[[allow]]` entries, from 1.
    pub entry: usize,
    /// The entry's reason.
    pub reason: String,
    /// The entry's expiry date, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Where a finding stands against its fix-by deadline (the policy's `[sla]` table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sla {
    /// When the secret was first seen: the baseline's record, else this scan.
    pub first_seen: String,
    /// When it must be fixed by: `first_seen` plus the time the policy gives its severity.
    pub due: String,
    /// Still `due`, or `overdue`.
    pub state: SlaState,
}

/// Whether a finding's fix-by deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlaState {
    /// The deadline is still ahead.
    Due,
    /// The deadline has passed.
    Overdue,
}

impl SlaState {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Due => "due",
            SlaState::Overdue => "overdue",
        }
    }
}

/// What fails the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// An actionable, unsuppressed, unbaselined finding at or above this severity.
    Severity(Severity),
    /// An actionable, unsuppressed finding past its fix-by deadline (baselined or not): for
    /// continuous scans of images already in production.
    Overdue,
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailOn::Severity(s) => f.write_str(s.as_str()),
            FailOn::Overdue => f.write_str("overdue"),
        }
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("overdue") {
            return Ok(FailOn::Overdue);
        }
        s.parse::<Severity>()
            .map(FailOn::Severity)
            .map_err(|_| format!("unknown threshold {s:?} (expected critical, high, medium, low or overdue)"))
    }
}

impl Serialize for FailOn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FailOn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How a scan ended for the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateResult {
    /// Nothing failed and the scan was complete: exit 0.
    Pass,
    /// A finding failed: exit 1.
    Fail,
    /// A problem left results incomplete: exit 2 (whatever the findings).
    Incomplete,
    /// The bytes read are not the bytes the manifest vouches for (a digest or size mismatch the
    /// policy does not allow): exit 2 (whatever the findings).
    Integrity,
}

impl GateResult {
    /// From whether anything failed, whether the scan was complete, and whether the bytes
    /// matched what the manifest vouches for (or the policy allows that they do not).
    pub fn of(failed: bool, incomplete: bool, integrity: Integrity) -> GateResult {
        match (incomplete, integrity, failed) {
            (true, _, _) => GateResult::Incomplete,
            (false, Integrity::Mismatch, _) => GateResult::Integrity,
            (false, _, true) => GateResult::Fail,
            (false, _, false) => GateResult::Pass,
        }
    }

    /// The exit status: 0 pass, 1 fail, 2 incomplete.
    pub fn exit_code(self) -> u8 {
        match self {
            GateResult::Pass => 0,
            GateResult::Fail => 1,
            GateResult::Incomplete | GateResult::Integrity => 2,
        }
    }
}

/// Whether the bytes read are the bytes the image's manifest vouches for: every blob's digest
/// and size, and every layer's diff_id, as far as the image gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Integrity {
    /// No digest or size mismatch was met.
    #[default]
    Ok,
    /// A digest or size mismatch that the policy's `[integrity]` table allows, with a reason.
    Allowed,
    /// A digest or size mismatch: the gate fails (exit 2).
    Mismatch,
}

/// Where in a layer's bytes hidden data sits: what a runtime never shows and a file-by-file
/// reading skips, although anyone who pulls the layer can read it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Structure {
    /// The data of a tar entry that is not a regular file — a `.wh.NAME` whiteout, an opaque
    /// marker, a directory, a link — which the tar format allows and runtimes ignore.
    EntryData {
        /// What the entry is.
        entry: EntryRole,
        /// Offset of the data in the layer's uncompressed tar stream.
        offset: u64,
        /// How many bytes.
        bytes: u64,
    },
    /// Bytes after the tar's end-of-archive marker in the layer's uncompressed stream (the
    /// zero padding tar writers add is not hidden data; anything else is).
    TrailingData {
        /// Offset of the first such byte's 512-byte block in the uncompressed stream.
        offset: u64,
        /// How many bytes, from there to the end of the stream.
        bytes: u64,
    },
    /// An optional field of a gzip member's header (RFC 1952): the extra field or the comment,
    /// or a name that is no file name (over 255 bytes, or not printable). Decompressors skip
    /// them; they travel with the blob.
    GzipHeader {
        /// Which member of the blob (0 for the first; concatenated members decompress as one).
        #[serde(default)]
        member: u64,
        /// Which field.
        field: GzipField,
        /// Offset of the field's bytes in the compressed blob (not the uncompressed stream).
        offset: u64,
        /// How many bytes.
        bytes: u64,
    },
    /// Bytes of a compressed blob after its last gzip member or zstd frame that are neither
    /// (decompressors stop there, or fail); offset in the blob.
    CompressedTrailing {
        /// Offset of the first such byte in the blob.
        offset: u64,
        /// How many bytes, to the end of the blob.
        bytes: u64,
    },
    /// The content of a zstd skippable frame (RFC 8878 section 3.1.2), which decoders skip by
    /// design; offset in the blob.
    SkippableFrame {
        /// Offset of the frame's content (after its 8-byte header) in the blob.
        offset: u64,
        /// How many bytes of content.
        bytes: u64,
    },
    /// The value of a PAX extended-header record (POSIX pax) that describes nothing a runtime
    /// applies: a `comment`, a vendor or unknown keyword, an extended attribute outside the
    /// system namespaces. Offset in the uncompressed stream.
    PaxRecord {
        /// The record's keyword (redacted like any other text when it holds a secret).
        key: String,
        /// A global (`g`) record, which applies to every entry after it, rather than a local (`x`).
        global: bool,
        /// Offset of the record (or of the extended header holding it) in the uncompressed stream.
        offset: u64,
        /// How many bytes of value.
        bytes: u64,
    },
    /// Bytes of a tar header block that no field uses: after the NUL that ends a name, link
    /// name, user or group name or prefix, and the block's unused tail. Tar readers ignore them.
    HeaderSlack {
        /// Offset of the header block in the uncompressed stream.
        offset: u64,
        /// How many bytes (in each unused range, from its first to its last non-zero byte).
        bytes: u64,
    },
    /// Non-zero bytes in the padding after an entry's data, up to the next 512-byte block, which
    /// tar writers fill with zeros and readers skip.
    EntryPadding {
        /// Offset of the padding in the uncompressed stream.
        offset: u64,
        /// How many bytes of padding.
        bytes: u64,
    },
}

/// An optional field of a gzip member header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GzipField {
    /// FEXTRA: subfields of any content.
    Extra,
    /// FNAME: the original file name, zero-terminated.
    Name,
    /// FCOMMENT: a comment, zero-terminated.
    Comment,
}

impl GzipField {
    /// The field's name in RFC 1952.
    pub fn as_str(self) -> &'static str {
        match self {
            GzipField::Extra => "FEXTRA",
            GzipField::Name => "FNAME",
            GzipField::Comment => "FCOMMENT",
        }
    }
}

impl Structure {
    /// How many bytes it holds.
    pub fn bytes(&self) -> u64 {
        match self {
            Structure::EntryData { bytes, .. }
            | Structure::TrailingData { bytes, .. }
            | Structure::GzipHeader { bytes, .. }
            | Structure::CompressedTrailing { bytes, .. }
            | Structure::SkippableFrame { bytes, .. }
            | Structure::PaxRecord { bytes, .. }
            | Structure::HeaderSlack { bytes, .. }
            | Structure::EntryPadding { bytes, .. } => *bytes,
        }
    }

    /// Its offset: in the compressed blob when [`Structure::in_blob`], else in the layer's
    /// uncompressed tar stream.
    pub fn offset(&self) -> u64 {
        match self {
            Structure::EntryData { offset, .. }
            | Structure::TrailingData { offset, .. }
            | Structure::GzipHeader { offset, .. }
            | Structure::CompressedTrailing { offset, .. }
            | Structure::SkippableFrame { offset, .. }
            | Structure::PaxRecord { offset, .. }
            | Structure::HeaderSlack { offset, .. }
            | Structure::EntryPadding { offset, .. } => *offset,
        }
    }

    /// Whether the offset is in the compressed blob (the compression's framing) rather than in
    /// the uncompressed tar stream.
    pub fn in_blob(&self) -> bool {
        matches!(
            self,
            Structure::GzipHeader { .. } | Structure::CompressedTrailing { .. } | Structure::SkippableFrame { .. }
        )
    }

    /// Where it is, in words: `in a whiteout entry`, `in the gzip header's FCOMMENT field`.
    pub fn describe(&self) -> String {
        match self {
            Structure::EntryData { entry, .. } => format!("in {}", entry.describe()),
            Structure::TrailingData { .. } => "after the tar's end".to_string(),
            Structure::GzipHeader { member: 0, field, .. } => format!("in the gzip header's {} field", field.as_str()),
            Structure::GzipHeader { member, field, .. } => {
                format!("in the {} field of the header of gzip member {}", field.as_str(), member + 1)
            }
            Structure::CompressedTrailing { .. } => "after the blob's last compressed member or frame".to_string(),
            Structure::SkippableFrame { .. } => "in a zstd skippable frame".to_string(),
            Structure::PaxRecord { key, global: true, .. } => format!("in the global PAX record {key}"),
            Structure::PaxRecord { key, .. } => format!("in the PAX record {key}"),
            Structure::HeaderSlack { .. } => "in unused bytes of a tar header".to_string(),
            Structure::EntryPadding { .. } => "in the padding after an entry's data".to_string(),
        }
    }

    /// A short name for it in a URI (SARIF): `entry-data`, `gzip-header/FCOMMENT`.
    pub fn slug(&self) -> String {
        match self {
            Structure::EntryData { .. } => "entry-data".to_string(),
            Structure::TrailingData { .. } => "trailing-data".to_string(),
            Structure::GzipHeader { member, field, .. } => format!("gzip-header/{member}/{}", field.as_str()),
            Structure::CompressedTrailing { .. } => "compressed-trailing".to_string(),
            Structure::SkippableFrame { offset, .. } => format!("skippable-frame/{offset}"),
            Structure::PaxRecord { offset, .. } => format!("pax-record/{offset}"),
            Structure::HeaderSlack { offset, .. } => format!("header-slack/{offset}"),
            Structure::EntryPadding { offset, .. } => format!("entry-padding/{offset}"),
        }
    }
}

/// What a tar entry carrying hidden data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryRole {
    /// A `.wh.NAME` whiteout.
    Whiteout,
    /// A `.wh..wh..opq` opaque directory marker.
    OpaqueMarker,
    /// A directory.
    Directory,
    /// A hard link.
    Hardlink,
    /// A symbolic link.
    Symlink,
    /// Another non-file entry (a device, a FIFO, aufs metadata).
    Other,
}

impl EntryRole {
    /// Words for people: `a whiteout entry`, `a directory entry`.
    pub fn describe(self) -> &'static str {
        match self {
            EntryRole::Whiteout => "a whiteout entry",
            EntryRole::OpaqueMarker => "an opaque-directory marker",
            EntryRole::Directory => "a directory entry",
            EntryRole::Hardlink => "a hard-link entry",
            EntryRole::Symlink => "a symbolic-link entry",
            EntryRole::Other => "a non-file entry",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields_print_and_parse_back() {
        let fields = [
            ConfigField::Env(3),
            ConfigField::Label("org.opencontainers.image.source".into()),
            ConfigField::Cmd(0),
            ConfigField::Entrypoint(12),
            ConfigField::History { entry: 9, field: HistoryField::CreatedBy },
            ConfigField::History { entry: 0, field: HistoryField::Comment },
            ConfigField::Unparsed,
        ];
        let texts = [
            "Env[3]",
            "Labels.org.opencontainers.image.source",
            "Cmd[0]",
            "Entrypoint[12]",
            "history[9].created_by",
            "history[0].comment",
            "(config that did not parse)",
        ];
        for (field, text) in fields.iter().zip(texts) {
            assert_eq!(field.to_string(), text);
            assert_eq!(text.parse::<ConfigField>().as_ref(), Ok(field));
        }
        assert_eq!("config.User".parse::<ConfigField>(), Ok(ConfigField::Other("config.User".into())));
        for bad in ["Env[x]", "history[1].user", "Cmd[1", ""] {
            assert!(bad.parse::<ConfigField>().is_err(), "{bad}");
        }
        assert_eq!(ConfigField::Env(0).source(), Source::Config);
        assert_eq!(ConfigField::History { entry: 1, field: HistoryField::CreatedBy }.source(), Source::History);
    }
}
