//! The command line: commands, their options and their `--help`.

use std::path::PathBuf;

use layerdig::Input;

use clap::{Parser, Subcommand, ValueEnum};
use layerdig::{Platform, Severity, Status};

const ABOUT: &str = "Find leaked secrets in every layer of container images — including the ones a later layer \
                     \"deleted\", which anyone who pulls the image can still read.";

const AFTER_HELP: &str = "\
Examples:
  layerdig scan image.tar                          # docker save / podman save archive
  layerdig scan -f sarif -o layerdig.sarif img/    # OCI layout directory, SARIF for code scanning
  layerdig sweep /var/lib/images > findings.jsonl  # every image under a directory
  layerdig baseline image.tar -o layerdig-baseline.json
  layerdig layers image.tar
  layerdig ls image.tar --deleted
  layerdig rules list
  layerdig schema > layerdig-report.schema.json

Exit status: 0 nothing actionable at or above the threshold, 1 there is, 2 an error or an
incomplete scan (partial results are still written).";

/// The `layerdig` command line.
#[derive(Parser, Debug)]
#[command(name = "layerdig", version, about = ABOUT, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan images for secrets, in every layer, and gate on what is found.
    #[command(after_help = "\
Examples:
  layerdig scan image.tar
  layerdig scan a.tar b.tar oci-dir/ -f jsonl | jq .
  layerdig scan --fail-on critical -f sarif -o layerdig.sarif image.tar
  layerdig scan --status deleted --status overwritten image.tar   # only what the image \"removed\"
  layerdig scan --baseline layerdig-baseline.json image.tar       # fail only on new findings

Exit status: 0 clean, 1 an actionable finding at or above --fail-on, 2 error or incomplete scan.")]
    Scan(ScanArgs),
    /// Find every image under a directory (docker and OCI archives, OCI layouts) and scan them all,
    /// streaming JSON lines.
    #[command(after_help = "\
Example:
  layerdig sweep /srv/registry-export -o sweep.jsonl   # summary table on stderr

Looks at *.tar files that are image archives (docker save, oci-archive) and at directories holding
an OCI layout (oci-layout file) or an unpacked docker save (manifest.json). Scans a few images at a
time: memory stays bounded however many there are.")]
    Sweep(SweepArgs),
    /// Write the fingerprints of today's findings, for `scan --baseline`.
    #[command(after_help = "\
Example:
  layerdig baseline image.tar -o layerdig-baseline.json
  layerdig scan --baseline layerdig-baseline.json image.tar   # later: fail only on new findings

The file holds fingerprints, rule ids and redacted forms, never a secret.")]
    Baseline(BaselineArgs),
    /// List an image's layers: digest, sizes, media type, instruction, files added/deleted/overwritten.
    #[command(after_help = "Example:\n  layerdig layers image.tar")]
    Layers(ImageArgs),
    /// List every file of every layer with its fate in the final image.
    #[command(
        after_help = "Examples:\n  layerdig ls image.tar --deleted      # what the image 'deleted' but still holds\n  layerdig ls image.tar -f json"
    )]
    Ls(LsArgs),
    /// List or check detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print the JSON Schema of the JSON report (or of the JSON lines, or of a baseline file).
    #[command(after_help = "Examples:\n  layerdig schema > layerdig-report.schema.json\n  layerdig schema jsonl")]
    Schema {
        /// Which document.
        #[arg(value_enum, default_value_t = SchemaKind::Report)]
        kind: SchemaKind,
    },
    /// Look at or prune a layer-result cache (`--cache DIR` of scan and sweep).
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// What the cache holds: entries, bytes, and how many a scan with these rules and options
    /// would use.
    #[command(after_help = "Example:\n  layerdig cache info --cache ~/.cache/layerdig")]
    Info {
        #[command(flatten)]
        engine: EngineArgs,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Remove entries no scan with these rules and options would use (made by another build, or
    /// with other rules or options); with --unused-days, also those not used for that long.
    #[command(
        after_help = "Examples:\n  layerdig cache prune --cache ~/.cache/layerdig\n  layerdig cache prune --cache ~/.cache/layerdig --unused-days 30\n  layerdig cache prune --cache ~/.cache/layerdig --all"
    )]
    Prune {
        #[command(flatten)]
        engine: EngineArgs,
        /// Also remove entries not used for this many days.
        #[arg(long, value_name = "DAYS")]
        unused_days: Option<u64>,
        /// Remove every entry.
        #[arg(long, conflicts_with = "unused_days")]
        all: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SchemaKind {
    /// The `-f json` report.
    Report,
    /// One line of `-f jsonl` and `sweep` output.
    Jsonl,
    /// A baseline file.
    Baseline,
}

#[derive(clap::Args, Debug)]
pub struct ImageArgs {
    /// Image: docker save tar, OCI layout directory, oci-archive tar, layer tar or directory, or
    /// `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
    #[arg(value_parser = parse_input)]
    pub image: Input,
    /// Pick one platform from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Only files a later layer deleted.
    #[arg(long)]
    pub deleted: bool,
    /// Only files a later layer overwrote.
    #[arg(long)]
    pub overwritten: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List the built-in rules (and those of --rules files).
    #[command(
        after_help = "Examples:\n  layerdig rules list\n  layerdig rules list --format json --rules my-rules.yaml"
    )]
    List {
        /// Extra rule files.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Check rule files: patterns compile, examples match, negative examples are not reported (a
    /// match that fails validation is weak evidence, which they may be), ids unique.
    #[command(
        after_help = "Example:\n  layerdig rules check my-rules.yaml\n\nExit status: 0 all good, 1 problems found, 2 a file could not be read."
    )]
    Check {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Grouped by image, most severe first, with a summary.
    Human,
    /// One JSON document (see `layerdig schema`).
    Json,
    /// One JSON object per line, as found.
    Jsonl,
    /// SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
    /// An in-toto Statement (v1) about the image digest(s), the JSON report as its predicate: to
    /// sign and attach to the image as an attestation.
    #[value(name = "in-toto")]
    InToto,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum When {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SeverityArg {
    Critical,
    High,
    Medium,
    Low,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Critical => Severity::Critical,
            SeverityArg::High => Severity::High,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::Low => Severity::Low,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum StatusArg {
    Present,
    Deleted,
    Overwritten,
}

impl From<StatusArg> for Status {
    fn from(s: StatusArg) -> Status {
        match s {
            StatusArg::Present => Status::Present,
            StatusArg::Deleted => Status::Deleted,
            StatusArg::Overwritten => Status::Overwritten,
        }
    }
}

/// How images are read: rules, platform, threads.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// Extra rule files (YAML, same format as the built-in ones; repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Pick one platform from multi-platform images (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The most uncompressed bytes read from one layer, e.g. 512M or 8G (default 64G): a guard
    /// against decompression bombs. A layer cut short is reported and the scan exits 2.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_layer_bytes: Option<u64>,
    /// The image the scanned images were built on (any input form): findings in the layers they
    /// share with it are `inherited`, the others `introduced`; the summary counts both, and the
    /// policy's `[base] fail_on_inherited` decides whether inherited ones fail the gate.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<std::path::PathBuf>,
    /// Archives opened one inside another (jars in a war, a .tgz in a zip), the outermost
    /// counting 1 (default 5); 0 reads archives and compressed files as the bytes they are.
    #[arg(long, value_name = "N")]
    pub archive_depth: Option<u8>,
    /// The most bytes expanded from one file's archives and compressed streams, e.g. 256M
    /// (default 1G): a guard against zip bombs. An archive cut short is reported at its path.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_archive_bytes: Option<u64>,
    /// The largest zip held in memory when it comes as a stream, e.g. 64M (default 256M);
    /// larger ones are read entry by entry from their local headers.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub archive_buffer: Option<u64>,
    /// The container engine `docker-daemon:` images are read from: unix:///path/to/socket or
    /// tcp://host:port (default: $DOCKER_HOST, else unix:///var/run/docker.sock; podman:
    /// unix://$XDG_RUNTIME_DIR/podman/podman.sock while `podman system service` runs).
    #[arg(long, value_name = "ADDRESS")]
    pub daemon_host: Option<String>,
    /// Progress bar on stderr: auto (when stderr is a terminal), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    pub progress: When,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Keep layer results in DIR and use them: a layer already scanned with this build, these
    /// rules and options is not read again (a registry's shared base layers, a re-scan of images
    /// at rest). Safe with several processes at once. The cache holds the secrets it found:
    /// keep it where reports are kept.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

impl EngineArgs {
    /// The archive limits `--archive-depth`, `--max-archive-bytes` and `--archive-buffer` set.
    pub fn archive_limits(&self) -> layerdig::ArchiveLimits {
        let mut archives = layerdig::ArchiveLimits::default();
        if let Some(depth) = self.archive_depth {
            archives.depth = depth;
        }
        if let Some(bytes) = self.max_archive_bytes {
            archives.max_file_bytes = bytes;
        }
        if let Some(bytes) = self.archive_buffer {
            archives.max_buffer = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        archives
    }
}

/// How registries (`docker://` inputs) are reached, as skopeo's options say it.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Registry credentials, USER:PASSWORD (else the auth files skopeo and podman read; see
    /// docs/registry.md).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_creds, help_heading = "Registry")]
    pub creds: Option<CredsArg>,
    /// The auth file to read registry credentials from, alone (Docker config.json or
    /// containers auth.json) [default: $REGISTRY_AUTH_FILE, else skopeo's default files].
    #[arg(long, value_name = "FILE", help_heading = "Registry")]
    pub authfile: Option<PathBuf>,
    /// A directory of *.crt CA certificates to trust for registries (and a *.cert/*.key client
    /// certificate) [default: /etc/containers/certs.d/HOST:PORT, /etc/docker/certs.d/HOST:PORT].
    #[arg(long, value_name = "DIR", help_heading = "Registry")]
    pub cert_dir: Option<PathBuf>,
    /// Verify registries' TLS certificates; --tls-verify=false turns verification off and
    /// allows plain HTTP to a registry without TLS.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", help_heading = "Registry")]
    pub tls_verify: bool,
}

impl RegistryArgs {
    /// The library's registry options.
    ///
    /// # Errors
    /// When `--creds` is not `USER:PASSWORD` (the message does not repeat it).
    pub fn options(&self) -> anyhow::Result<layerdig::registry::RegistryOptions> {
        let creds = match &self.creds {
            None => None,
            Some(CredsArg(Ok(creds))) => Some(creds.clone()),
            Some(CredsArg(Err(e))) => anyhow::bail!("{e}"),
        };
        Ok(layerdig::registry::RegistryOptions {
            credentials: layerdig::registry::CredentialSource { creds, authfile: self.authfile.clone() },
            cert_dir: self.cert_dir.clone(),
            tls_verify: self.tls_verify,
        })
    }
}

/// `--creds` as given: parsed, or why not. A value clap refused would be echoed in its message,
/// and this one may be a password: it is always accepted here and refused, without repeating
/// it, when the options are made.
#[derive(Clone, Debug)]
pub struct CredsArg(Result<layerdig::registry::Credentials, layerdig::registry::RegistryErrorKind>);

/// `--creds USER:PASSWORD`.
pub fn parse_creds(text: &str) -> Result<CredsArg, String> {
    Ok(CredsArg(layerdig::registry::Credentials::parse(text)))
}

/// What counts, and what fails the gate.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Exit 1 when an actionable finding is at or above this severity, or with `overdue` when one
    /// is past its fix-by deadline (the policy's [sla] table) [default: high, or the policy
    /// file's fail_on].
    #[arg(long, value_name = "critical|high|medium|low|overdue")]
    pub fail_on: Option<layerdig::FailOn>,
    /// Report only findings at or above this severity.
    #[arg(long, value_enum)]
    pub min_severity: Option<SeverityArg>,
    /// Report only locations with this status (repeatable; config and history locations have none).
    #[arg(long, value_enum)]
    pub status: Vec<StatusArg>,
    /// Let findings in test fixtures and documented examples fail the gate too.
    #[arg(long)]
    pub include_test_fixtures: bool,
    /// Policy file [default: ./layerdig.toml when it exists].
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore ./layerdig.toml.
    #[arg(long)]
    pub no_config: bool,
    /// Report and fail only on findings whose fingerprints are not in FILE (a baseline file or a
    /// JSON report). With an [sla] table in the policy, known findings are still reported, their
    /// deadlines counted from when the baseline first saw them.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Judge deadlines and allow-entry expiry as of TIME (RFC 3339, e.g. 2026-12-01T00:00:00Z, or a
    /// date) on a clock that stands still: durations read 0, so the report is reproducible.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<layerdig::Timestamp>,
}

/// `--now`: RFC 3339 or a date.
/// An input as `scan` takes it.
pub fn parse_input(text: &str) -> Result<Input, String> {
    Input::parse(text)
}

pub fn parse_time(text: &str) -> Result<layerdig::Timestamp, String> {
    layerdig::Timestamp::parse(text)
        .ok_or_else(|| format!("not a time: {text:?} (e.g. 2026-12-01T00:00:00Z or 2026-12-01)"))
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Images: docker save tars, OCI layout directories, oci-archive tars, layer tars, directories,
    /// `-` (an archive on standard input), `oci:DIR[:REF]`, `oci-archive:FILE`,
    /// `docker-archive:FILE`, `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`, `docker-daemon:NAME[:TAG]`.
    #[arg(required = true, value_name = "IMAGE", value_parser = parse_input)]
    pub images: Vec<Input>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print secrets unredacted (a file written this way is created with mode 0600).
    #[arg(long)]
    pub show_secrets: bool,
    /// Colour: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    pub color: When,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The directory to search, or a registry: docker://HOST[:PORT][/PREFIX] (every repository
    /// of its catalog under PREFIX).
    #[arg(value_name = "DIR|docker://HOST[/PREFIX]")]
    pub dir: PathBuf,
    /// In a registry sweep, which tags of each repository: all, latest, or N (the last N tags
    /// in the order the registry lists them).
    #[arg(long, value_name = "all|latest|N", default_value = "all")]
    pub tags: layerdig::registry::TagSelection,
    /// Write the JSON lines to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Put secrets unredacted in the output (a file written this way is created with mode 0600).
    #[arg(long)]
    pub show_secrets: bool,
    /// Follow symbolic links to directories and files.
    #[arg(long)]
    pub follow_links: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Images to take the baseline of (any input form `scan` takes).
    #[arg(required = true, value_name = "IMAGE", value_parser = parse_input)]
    pub images: Vec<Input>,
    /// Write the baseline to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep the `first_seen` of fingerprints FILE (an earlier baseline) already has, so fix-by
    /// deadlines keep running.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Record new fingerprints as first seen at TIME instead of now (RFC 3339 or a date).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<layerdig::Timestamp>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A byte count with an optional binary suffix: `4096`, `64K`, `512M`, `8G`, `1T`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix in {text:?}: use K, M, G or T")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {text:?} (e.g. 512M)"))?;
    n.checked_mul(1u64 << shift).filter(|&b| b > 0).ok_or_else(|| format!("size out of range: {text:?}"))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
