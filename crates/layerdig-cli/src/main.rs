//! `layerdig`: find secrets in every layer of container images, including deleted ones.

mod human;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use layerdig::report::{JsonPrinter, JsonlPrinter, SarifPrinter};
use layerdig::{Finding, ImageSource, OpenOptions, Platform, Rules, Scanner, Severity, Sink, Stats, Status};

/// Find leaked secrets in every layer of container images — including the ones a later layer
/// "deleted", which anyone who pulls the image can still read.
#[derive(Parser, Debug)]
#[command(name = "layerdig", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan images for secrets.
    #[command(after_help = "Examples:\n  layerdig scan image.tar\n  layerdig scan --fail-on critical -f sarif -o layerdig.sarif image.tar\n  layerdig scan --status deleted oci-layout-dir/")]
    Scan(ScanArgs),
    /// List an image's layers: digest, sizes, media type, instruction, files added/deleted/overwritten.
    #[command(after_help = "Example:\n  layerdig layers image.tar")]
    Layers(ImageArgs),
    /// List every file of every layer with its fate in the final image.
    #[command(after_help = "Examples:\n  layerdig ls image.tar --deleted      # what the image 'deleted' but still holds\n  layerdig ls image.tar -f json")]
    Ls(LsArgs),
    /// List or check detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(clap::Args, Debug)]
struct ImageArgs {
    /// Image: docker save tar, OCI layout directory, oci-archive tar, layer tar or directory.
    image: PathBuf,
    /// Pick one platform from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    platform: Option<Platform>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
    format: ListFormat,
}

#[derive(clap::Args, Debug)]
struct LsArgs {
    #[command(flatten)]
    image: ImageArgs,
    /// Only files a later layer deleted.
    #[arg(long)]
    deleted: bool,
    /// Only files a later layer overwrote.
    #[arg(long)]
    overwritten: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ListFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// List the built-in rules (and those of --rules files).
    #[command(after_help = "Example:\n  layerdig rules list --format json")]
    List {
        /// Extra rule files.
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Check a rule file: patterns compile, examples match, negative examples don't, ids unique.
    #[command(after_help = "Example:\n  layerdig rules check my-rules.yaml")]
    Check {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Jsonl,
    Sarif,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum When {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum SeverityArg {
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
enum StatusArg {
    Present,
    Deleted,
    Overwritten,
}

#[derive(clap::Args, Debug)]
struct ScanArgs {
    /// Images: docker save tars, OCI layout directories, oci-archive tars, layer tars, directories.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when an actionable finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = SeverityArg::High)]
    fail_on: SeverityArg,
    /// Report only findings at or above this severity.
    #[arg(long, value_enum)]
    min_severity: Option<SeverityArg>,
    /// Report only findings with a location of this status (repeatable).
    #[arg(long, value_enum)]
    status: Vec<StatusArg>,
    /// Let findings in test fixtures and documented examples fail the gate too.
    #[arg(long)]
    include_test_fixtures: bool,
    /// Print secrets unredacted (files written this way are created mode 0600).
    #[arg(long)]
    show_secrets: bool,
    /// Extra rule files (YAML, same format as the built-in ones).
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Pick one platform from multi-platform images (os/arch[/variant]).
    #[arg(long)]
    platform: Option<Platform>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Colour: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    color: When,
    /// Print nothing but the report.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(args),
        Command::Layers(args) => layers(args),
        Command::Ls(args) => ls(args),
        Command::Rules(cmd) => rules_cmd(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("layerdig: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<layerdig::Error>().is_some_and(|le| le.to_string().contains("Broken pipe"))
    })
}

fn load_rules(extra: &[PathBuf]) -> Result<Rules> {
    let mut rules = Rules::builtin();
    for path in extra {
        let more = Rules::from_file(path).with_context(|| format!("loading rules from {}", path.display()))?;
        rules = rules.extend(&more).with_context(|| format!("adding rules from {}", path.display()))?;
    }
    Ok(rules)
}

fn open_output(path: Option<&Path>, secret: bool) -> Result<Box<dyn Write>> {
    match path {
        None => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
        Some(p) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            if secret {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let file: File = options.open(p).with_context(|| format!("creating {}", p.display()))?;
            #[cfg(unix)]
            if secret {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {} to mode 0600", p.display()))?;
            }
            let _ = secret;
            Ok(Box::new(BufWriter::new(file)))
        }
    }
}

/// Applies the filters, then passes on to the printer; remembers whether the gate fails.
struct Gate<'a> {
    inner: &'a mut dyn Sink,
    fail_on: Severity,
    min_severity: Option<Severity>,
    statuses: Vec<Status>,
    include_test_fixtures: bool,
    failed: bool,
    reported: u64,
}

impl Gate<'_> {
    fn keep(&self, f: &Finding) -> Option<Finding> {
        if self.min_severity.is_some_and(|min| f.severity < min) {
            return None;
        }
        if self.statuses.is_empty() {
            return Some(f.clone());
        }
        let mut kept = f.clone();
        kept.locations.retain(|l| l.status.is_some_and(|s| self.statuses.contains(&s)));
        (!kept.locations.is_empty()).then_some(kept)
    }
}

impl Sink for Gate<'_> {
    fn image(&mut self, image: &layerdig::ImageReport) -> Result<bool, layerdig::Error> {
        self.inner.image(image)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, layerdig::Error> {
        let Some(f) = self.keep(finding) else { return Ok(true) };
        let actionable = self.include_test_fixtures || f.is_actionable();
        if actionable && f.severity >= self.fail_on {
            self.failed = true;
        }
        self.reported += 1;
        self.inner.finding(&f)
    }
    fn error(&mut self, error: &layerdig::ErrorReport) -> Result<bool, layerdig::Error> {
        self.inner.error(error)
    }
}

fn use_color(when: When) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    let rules = load_rules(&args.rules)?;
    let mut builder = Scanner::builder();
    builder.show_secrets(args.show_secrets).platform(args.platform.clone());
    if let Some(n) = args.threads {
        builder.threads(n);
    }
    let scanner = builder.build(&rules)?;
    let out = open_output(args.output.as_deref(), args.show_secrets)?;
    let color = args.output.is_none() && use_color(args.color);
    let statuses = args
        .status
        .iter()
        .map(|s| match s {
            StatusArg::Present => Status::Present,
            StatusArg::Deleted => Status::Deleted,
            StatusArg::Overwritten => Status::Overwritten,
        })
        .collect();
    let started = std::time::Instant::now();
    let mut stats = Stats::default();
    macro_rules! run {
        ($printer:expr) => {{
            let mut printer = $printer;
            let mut gate = Gate {
                inner: &mut printer,
                fail_on: args.fail_on.into(),
                min_severity: args.min_severity.map(Into::into),
                statuses,
                include_test_fixtures: args.include_test_fixtures,
                failed: false,
                reported: 0,
            };
            for image in &args.images {
                let s = scanner.scan_path(image, &mut gate)?;
                stats.merge(&s);
            }
            stats.duration_ms = started.elapsed().as_millis() as u64;
            (gate.failed, printer)
        }};
    }
    let failed = match args.format {
        Format::Json => {
            let (failed, printer) = run!(JsonPrinter::new(out, true));
            printer.finish(stats.clone())?.flush()?;
            failed
        }
        Format::Jsonl => {
            let (failed, printer) = run!(JsonlPrinter::new(out));
            printer.finish(&stats)?.flush()?;
            failed
        }
        Format::Sarif => {
            let (failed, printer) = run!(SarifPrinter::new(out, &rules));
            printer.finish(stats.clone())?.flush()?;
            failed
        }
        Format::Human => {
            let (failed, printer) = run!(human::HumanPrinter::new(out, color));
            printer.finish(&stats, args.quiet)?.flush()?;
            failed
        }
    };
    Ok(if stats.incomplete {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn open_image(args: &ImageArgs) -> Result<ImageSource> {
    let source = ImageSource::open_with(&args.image, &OpenOptions { platform: args.platform.clone() })?;
    for problem in source.problems() {
        eprintln!("layerdig: warning: {problem}");
    }
    Ok(source)
}

fn layers(args: ImageArgs) -> Result<ExitCode> {
    let source = open_image(&args)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut incomplete = source.problems().iter().any(|p| p.is_incomplete());
    let mut doc = Vec::new();
    for image in source.images() {
        let (files, stats, problems) = layerdig::file_history(&source, image, None);
        for p in &problems {
            eprintln!("layerdig: error: {p}");
            incomplete |= p.is_incomplete();
        }
        let mut overwritten = vec![0u64; image.layers.len()];
        let mut removed = vec![0u64; image.layers.len()];
        for f in &files {
            if let Some(m) = f.removed_in_layer.filter(|&m| m < image.layers.len() && m != f.layer_index) {
                match f.status {
                    Status::Overwritten => overwritten[m] += 1,
                    Status::Deleted => removed[m] += 1,
                    Status::Present => {}
                }
            }
        }
        let layers: Vec<serde_json::Value> = image
            .layers
            .iter()
            .zip(&stats)
            .map(|(l, s)| {
                serde_json::json!({
                    "index": l.index,
                    "digest": l.digest.as_ref().map(|d| d.to_string()),
                    "diff_id": l.diff_id.as_ref().map(|d| d.to_string()),
                    "media_type": l.media_type.as_ref().map(|m| m.to_string()),
                    "size": s.compressed_bytes.max(l.size),
                    "uncompressed_size": s.uncompressed_bytes,
                    "created_by": l.created_by,
                    "files": s.files,
                    "added": s.added,
                    "deleted": s.deleted,
                    "files_deleted": removed[l.index],
                    "overwritten": overwritten[l.index],
                })
            })
            .collect();
        doc.push(serde_json::json!({
            "path": source.path().display().to_string(),
            "format": source.format().as_str(),
            "digest": image.manifest_digest.as_ref().or(image.config_digest.as_ref()).map(|d| d.to_string()),
            "platform": image.platform.as_ref().map(|p| p.to_string()),
            "layers": layers,
        }));
    }
    if args.format == ListFormat::Json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for image in &doc {
            writeln!(
                out,
                "{} ({}{})",
                image["path"].as_str().unwrap_or(""),
                image["format"].as_str().unwrap_or(""),
                image["platform"].as_str().map(|p| format!(", {p}")).unwrap_or_default()
            )?;
            writeln!(out, "{:>3}  {:<19} {:>10} {:>10}  {:>6} {:>6} {:>6}  CREATED BY", "#", "DIGEST", "SIZE", "UNPACKED", "ADDED", "DEL", "OVER")?;
            for l in image["layers"].as_array().into_iter().flatten() {
                let digest = l["digest"].as_str().or(l["diff_id"].as_str()).unwrap_or("-");
                let short = digest.split(':').nth(1).map(|h| &h[..h.len().min(12)]).unwrap_or(digest);
                writeln!(
                    out,
                    "{:>3}  sha256:{:<12} {:>10} {:>10}  {:>6} {:>6} {:>6}  {}",
                    l["index"].as_u64().unwrap_or(0),
                    short,
                    human::bytes(l["size"].as_u64().unwrap_or(0)),
                    human::bytes(l["uncompressed_size"].as_u64().unwrap_or(0)),
                    l["added"].as_u64().unwrap_or(0),
                    l["deleted"].as_u64().unwrap_or(0),
                    l["overwritten"].as_u64().unwrap_or(0),
                    human::one_line(l["created_by"].as_str().unwrap_or("-"), 80)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if incomplete { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn ls(args: LsArgs) -> Result<ExitCode> {
    let source = open_image(&args.image)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut incomplete = source.problems().iter().any(|p| p.is_incomplete());
    let mut all = Vec::new();
    for image in source.images() {
        let (files, _, problems) = layerdig::file_history(&source, image, None);
        for p in &problems {
            eprintln!("layerdig: error: {p}");
            incomplete |= p.is_incomplete();
        }
        let wanted = |s: Status| match (args.deleted, args.overwritten) {
            (false, false) => true,
            (d, o) => (d && s == Status::Deleted) || (o && s == Status::Overwritten),
        };
        for f in files.into_iter().filter(|f| wanted(f.status)) {
            all.push((image.platform.as_ref().map(|p| p.to_string()), f));
        }
    }
    if args.image.format == ListFormat::Json {
        let doc: Vec<serde_json::Value> = all
            .iter()
            .map(|(platform, f)| {
                let mut v = serde_json::to_value(f).unwrap_or_default();
                if let Some(p) = platform {
                    v["platform"] = serde_json::json!(p);
                }
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for (_, f) in &all {
            let status = match (f.status, f.removed_in_layer) {
                (Status::Present, _) => "present".to_string(),
                (s, Some(m)) => format!("{s} in layer {m}"),
                (s, None) => s.to_string(),
            };
            writeln!(out, "{:>3}  {:<24} {:>10}  /{}", f.layer_index, status, f.size, f.path)?;
        }
    }
    out.flush()?;
    Ok(if incomplete { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn rules_cmd(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::List { rules, format } => {
            let rules = load_rules(&rules)?;
            let mut out = BufWriter::new(io::stdout().lock());
            if format == ListFormat::Json {
                let list: Vec<serde_json::Value> = rules
                    .rules()
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "name": r.name, "provider": r.provider, "severity": r.severity,
                            "confidence": r.confidence, "keywords": r.keywords, "references": r.references,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else {
                for r in rules.rules() {
                    writeln!(out, "{:<44} {:<9} {}", r.id, r.severity.as_str(), r.name)?;
                }
                writeln!(out, "{} rules", rules.rules().len())?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check { files } => {
            let mut bad = 0usize;
            for file in &files {
                let rules = match Rules::from_file(file) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        bad += 1;
                        continue;
                    }
                };
                let problems = rules.check();
                for p in &problems {
                    println!("{}: {p}", file.display());
                }
                if let Err(e) = Rules::builtin().extend(&rules) {
                    println!("{}: {e}", file.display());
                    bad += 1;
                }
                bad += problems.len();
                if problems.is_empty() {
                    println!("{}: {} rules ok", file.display(), rules.rules().len());
                }
            }
            if bad > 0 {
                bail!("{bad} problem(s) in rule files");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
