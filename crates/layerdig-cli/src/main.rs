//! `layerdig`: find secrets in every layer of container images, including deleted ones.
//!
//! A thin shell over the `layerdig` library: parse the command line, load rules, policy and
//! baseline, run the scanner over the inputs, print, and turn the outcome into an exit status
//! (0 clean, 1 a failing finding, 2 an error or an incomplete scan).

// `layerdig::Error` names image, layer, digest and path; sinks return it once per problem,
// never per entry, so its size is not worth boxing.
#![allow(clippy::result_large_err)]

mod args;
mod inspect;
mod output;
mod progress;
mod run;
mod schema;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use layerdig::gate::Baseline;
use layerdig::policy::Policy;
use layerdig::report::baseline::BaselinePrinter;
use layerdig::report::human::HumanPrinter;
use layerdig::report::jsonl::JsonlPrinter;
use layerdig::report::{intoto, json, sarif};
use layerdig::{Clock, ErrorReport, Gate, Input, OpenOptions, Printer, Rules, Scanner};

use crate::args::{BaselineArgs, Cli, Command, EngineArgs, Format, PolicyArgs, ScanArgs, SchemaKind, SweepArgs, When};
use crate::progress::Bar;
use crate::run::{Discover, Outcome, Runner};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let show_secrets = match &cli.command {
        Command::Scan(args) => args.show_secrets,
        Command::Sweep(args) => args.show_secrets,
        _ => false,
    };
    if !show_secrets {
        std::panic::set_hook(Box::new(|info| eprintln!("{}", panic_line(info.location()))));
    }
    let result = match cli.command {
        Command::Scan(args) => scan(args),
        Command::Sweep(args) => sweep(args),
        Command::Baseline(args) => baseline(args),
        Command::Layers(args) => inspect::layers(args),
        Command::Ls(args) => inspect::ls(args),
        Command::Rules(cmd) => inspect::rules_cmd(cmd),
        Command::Schema { kind } => print_schema(kind),
        Command::Cache(cmd) => inspect::cache_cmd(cmd),
    };
    match result {
        Ok(code) => code,
        // `layerdig … | head`: the reader left; stop quietly.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("layerdig: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What a panic prints unless secrets are to be shown. A panic's message can quote the data it
/// was working on (a string it sliced, a value it unwrapped), which may be a secret: only where
/// it happened is printed.
fn panic_line(location: Option<&std::panic::Location<'_>>) -> String {
    let at = location.map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
    format!(
        "layerdig: internal error{at}: this is a bug, please report it. Its message is not shown because \
         it may quote the image's content (`scan` and `sweep` show it with --show-secrets)."
    )
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<layerdig::SinkError>().is_some_and(layerdig::SinkError::is_broken_pipe)
    })
}

/// Load the built-in rules and any extra rule files.
pub fn load_rules(extra: &[PathBuf]) -> Result<Rules> {
    let mut rules = Rules::builtin();
    for path in extra {
        let more = Rules::from_file(path).with_context(|| format!("loading rules from {}", path.display()))?;
        rules = rules.extend(&more).with_context(|| format!("adding rules from {}", path.display()))?;
    }
    Ok(rules)
}

/// A problem as one stderr line, with what to do about it: an error when it leaves results
/// incomplete or fails the gate's integrity check, else a warning.
pub fn error_line(e: &ErrorReport, gate: &Gate) -> String {
    let label = if e.is_error(gate.policy().integrity_allowed().is_some()) { "error" } else { "warning" };
    match e.hint() {
        Some(h) => format!("layerdig: {label}: {} ({h})", e.message),
        None => format!("layerdig: {label}: {}", e.message),
    }
}

fn warn(line: &str) {
    eprintln!("layerdig: warning: {line}");
}

fn use_color(when: When, to_file: bool) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => {
            !to_file && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Everything a scanning command needs.
struct Setup {
    rules: Rules,
    scanner: Scanner,
    gate: Gate,
    bar: Option<Arc<Bar>>,
    threads: usize,
    open: OpenOptions,
}

impl Setup {
    fn new(engine: &EngineArgs, policy: Option<&PolicyArgs>, show_secrets: bool, images: Option<u64>) -> Result<Setup> {
        let clock = match policy.and_then(|p| p.now) {
            Some(t) => Clock::Fixed(t),
            None => Clock::System,
        };
        // The policy and baseline first: a mistake in them is reported before the slower work.
        let gate = match policy {
            // A baseline reports everything and fails on nothing.
            None => Gate::new(Policy::default(), clock),
            Some(p) => {
                let loaded = Policy::discover(p.config.as_deref(), p.no_config, clock.now().date())?;
                for w in loaded.expiry_warnings() {
                    warn(&w);
                }
                let mut gate = Gate::new(loaded, clock)
                    .min_severity(p.min_severity.map(Into::into))
                    .statuses(p.status.iter().map(|s| (*s).into()).collect())
                    .include_test_fixtures(p.include_test_fixtures);
                if let Some(fail_on) = p.fail_on {
                    gate = gate.fail_on(fail_on);
                }
                if let Some(path) = &p.baseline {
                    gate = gate.baseline(Baseline::load(path)?);
                }
                gate
            }
        };
        let rules = load_rules(&engine.rules)?;
        for id in gate.policy().overrides().keys() {
            if rules.get(id).is_none() {
                warn(&format!("policy: severity override for {id:?}, which no loaded rule has"));
            }
        }
        let threads =
            engine.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
        let bar = Bar::new(engine.progress, engine.quiet, images).map(Arc::new);
        let mut builder = Scanner::builder();
        builder.show_secrets(show_secrets).platform(engine.platform.clone()).clock(clock);
        if engine.threads.is_some() {
            builder.threads(threads);
        }
        if let Some(cap) = engine.max_layer_bytes {
            builder.max_layer_bytes(cap);
        }
        builder.archives(engine.archive_limits());
        builder.daemon_host(engine.daemon_host.clone());
        builder.registry(engine.registry.options()?);
        builder.cache(engine.cache.clone());
        if let Some(path) = &engine.base {
            let source = layerdig::ImageSource::open_with(
                path,
                &OpenOptions { platform: engine.platform.clone(), ..OpenOptions::default() },
            )
            .with_context(|| format!("--base {}", path.display()))?;
            let base = layerdig::image::BaseImage::of(&source, engine.platform.as_ref(), &path.display().to_string())
                .with_context(|| format!("--base {}: no image in it", path.display()))?;
            builder.base(Some(base));
        }
        if let Some(bar) = &bar {
            builder.progress(bar.clone());
        }
        let scanner = builder.build(&rules)?;
        Ok(Setup {
            rules,
            scanner,
            gate,
            bar,
            threads,
            open: OpenOptions { platform: engine.platform.clone(), ..OpenOptions::default() },
        })
    }

    fn runner(&self, workers: usize, images_only: bool, errors_to_stderr: bool) -> Runner<'_> {
        Runner {
            scanner: &self.scanner,
            gate: &self.gate,
            workers,
            progress: self.bar.clone(),
            open: self.open.clone(),
            images_only,
            errors_to_stderr,
        }
    }

    /// Finish the output and decide the exit status.
    fn finish(&self, emit: Box<dyn Printer>, outcome: &Outcome, started: Instant) -> Result<ExitCode> {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        let gate_code = u8::from(outcome.counts.failed);
        if let Some(e) = &outcome.write_error {
            if e.is_broken_pipe() {
                return Ok(ExitCode::from(gate_code));
            }
            anyhow::bail!("writing the report: {e}");
        }
        let end = self.gate.end(outcome.stats.clone(), outcome.counts, started);
        let code = end.gate.as_ref().map_or(2, |g| g.exit_code);
        match emit.finish(&end) {
            Ok(()) => Ok(ExitCode::from(code)),
            Err(e) if e.is_broken_pipe() => Ok(ExitCode::from(gate_code)),
            Err(e) => Err(anyhow::Error::new(e).context("writing the report")),
        }
    }
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let setup = Setup::new(&args.engine, Some(&args.policy), args.show_secrets, Some(args.images.len() as u64))?;
    let out = output::open_output(args.output.as_deref(), args.show_secrets)?;
    let emit: Box<dyn Printer> = match args.format {
        Format::Human => {
            let color = use_color(args.color, args.output.is_some());
            let order = args.images.iter().map(Input::name).collect();
            Box::new(HumanPrinter::new(out, color, args.engine.quiet, order))
        }
        Format::Json => Box::new(json::printer(out)),
        Format::Jsonl => Box::new(JsonlPrinter::new(out)),
        Format::Sarif => Box::new(sarif::printer(out, &setup.rules)),
        Format::InToto => Box::new(intoto::printer(out)),
    };
    let workers = setup.threads.min(args.images.len());
    let runner = setup.runner(workers, false, args.format != Format::Human);
    let (emit, outcome) = runner.run(args.images.clone().into_iter(), emit);
    setup.finish(emit, &outcome, started)
}

fn sweep(args: SweepArgs) -> Result<ExitCode> {
    if let Some(target) = args.dir.to_str().and_then(|s| s.strip_prefix("docker://")) {
        return sweep_registry(&args, target);
    }
    let started = Instant::now();
    let meta = std::fs::metadata(&args.dir).with_context(|| format!("{}", args.dir.display()))?;
    if !meta.is_dir() {
        anyhow::bail!("{} is not a directory (to scan one image, use `layerdig scan`)", args.dir.display());
    }
    let setup = Setup::new(&args.engine, Some(&args.policy), args.show_secrets, None)?;
    let out = output::open_output(args.output.as_deref(), args.show_secrets)?;
    let discover = Discover::new(&args.dir, args.follow_links);
    let problems = discover.problems.clone();
    // Image workers: each holds one image's layer indexes and findings at a time.
    let workers = setup.threads.clamp(1, 4);
    let runner = setup.runner(workers, true, true);
    let (emit, outcome) = runner.run(discover.map(Input::Path), Box::new(JsonlPrinter::new(out)));
    let problems = problems.lock().map(|p| p.clone()).unwrap_or_default();
    for p in &problems {
        eprintln!("layerdig: error: cannot read directory {p}");
    }
    let mut outcome = outcome;
    if !problems.is_empty() {
        outcome.stats.incomplete = true;
        outcome.stats.errors += problems.len() as u64;
    }
    let code = setup.finish(emit, &outcome, started)?;
    if !args.engine.quiet {
        sweep_table(&outcome, &args.dir);
    }
    Ok(code)
}

/// `sweep docker://HOST[:PORT][/PREFIX]`: every repository of the catalog under the prefix, the
/// tags `--tags` keeps of each, scanned by the same image workers as a directory sweep.
fn sweep_registry(args: &SweepArgs, target: &str) -> Result<ExitCode> {
    let started = Instant::now();
    let (host, prefix) = target.split_once('/').unwrap_or((target, ""));
    if host.is_empty() {
        anyhow::bail!("docker://{target}: a registry sweep names the registry: docker://HOST[:PORT][/PREFIX]");
    }
    let setup = Setup::new(&args.engine, Some(&args.policy), args.show_secrets, None)?;
    let out = output::open_output(args.output.as_deref(), args.show_secrets)?;
    let targets = run::RegistryTargets::new(&setup.scanner, host, prefix, args.tags);
    let problems = targets.problems.clone();
    let workers = setup.threads.clamp(1, 4);
    let runner = setup.runner(workers, false, true);
    let (emit, mut outcome) = runner.run(targets, Box::new(JsonlPrinter::new(out)));
    let problems = problems.lock().map(|p| p.clone()).unwrap_or_default();
    for p in &problems {
        eprintln!("layerdig: error: {p}");
    }
    if !problems.is_empty() {
        outcome.stats.incomplete = true;
        outcome.stats.errors += problems.len() as u64;
    }
    let code = setup.finish(emit, &outcome, started)?;
    if !args.engine.quiet {
        sweep_table(&outcome, Path::new(""));
    }
    Ok(code)
}

/// The sweep's summary on stderr: one row per image input, and totals.
fn sweep_table(outcome: &Outcome, root: &Path) {
    let mut lines = Vec::new();
    let name =
        |p: &str| Path::new(p).strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.to_string());
    let width = outcome.rows.keys().map(|k| name(k).chars().count()).max().unwrap_or(5).clamp(5, 70);
    lines.push(format!(
        "{:<width$}  {:<18} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}  STATUS",
        "IMAGE", "FORMAT", "LAYERS", "CRIT", "HIGH", "MED", "LOW", "FAIL", "ALLOWED", "ERRORS"
    ));
    let mut totals = run::Row::default();
    for (path, row) in &outcome.rows {
        let status = if row.incomplete {
            "incomplete"
        } else if row.failing > 0 {
            "fail"
        } else {
            "pass"
        };
        lines.push(format!(
            "{:<width$}  {:<18} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}  {status}",
            name(path),
            if row.format.is_empty() { "-" } else { row.format.as_str() },
            row.layers,
            row.by_severity[0],
            row.by_severity[1],
            row.by_severity[2],
            row.by_severity[3],
            row.failing,
            row.suppressed,
            row.errors,
        ));
        totals.layers += row.layers;
        for i in 0..4 {
            totals.by_severity[i] += row.by_severity[i];
        }
        totals.failing += row.failing;
        totals.suppressed += row.suppressed;
        totals.errors += row.errors;
    }
    lines.push(format!(
        "{:<width$}  {:<18} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}",
        format!("{} image input(s)", outcome.rows.len()),
        "",
        totals.layers,
        totals.by_severity[0],
        totals.by_severity[1],
        totals.by_severity[2],
        totals.by_severity[3],
        totals.failing,
        totals.suppressed,
        totals.errors,
    ));
    if !outcome.skipped.is_empty() {
        lines.push(format!(
            "skipped {} .tar file(s) that are not images (layer tarballs or other archives)",
            outcome.skipped.len()
        ));
    }
    let mut err = io::stderr().lock();
    for l in lines {
        let _ = writeln!(err, "{l}");
    }
}

fn baseline(args: BaselineArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let setup = Setup::new(&args.engine, None, false, Some(args.images.len() as u64))?;
    let previous = args.previous.as_deref().map(Baseline::load).transpose()?;
    let now = args.now.map(Clock::Fixed).unwrap_or_default().now();
    let out = output::open_output(args.output.as_deref(), false)?;
    let workers = setup.threads.min(args.images.len());
    let runner = setup.runner(workers, false, true);
    let (emit, outcome) =
        runner.run(args.images.clone().into_iter(), Box::new(BaselinePrinter::new(out, previous, now)));
    let code = setup.finish(emit, &outcome, started)?;
    // A baseline never fails a gate: only errors count.
    let code = if outcome.stats.incomplete || outcome.write_error.is_some() { code } else { ExitCode::SUCCESS };
    if !args.engine.quiet && outcome.write_error.is_none() {
        let to = args.output.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "standard output".into());
        eprintln!("layerdig: baseline of {} image(s) written to {to}", outcome.stats.images);
    }
    Ok(code)
}

fn print_schema(kind: SchemaKind) -> Result<ExitCode> {
    let doc = match kind {
        SchemaKind::Report => schema::report(),
        SchemaKind::Jsonl => schema::jsonl(),
        SchemaKind::Baseline => schema::baseline(),
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_print_where_they_happened_and_nothing_else() {
        let line = panic_line(Some(std::panic::Location::caller()));
        assert!(line.starts_with("layerdig: internal error at "), "{line}");
        assert!(line.contains("main.rs:"), "{line}");
        assert!(panic_line(None).starts_with("layerdig: internal error: this is a bug"));
    }
}
