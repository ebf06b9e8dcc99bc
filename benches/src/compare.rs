//! `compare IMAGE`: layerdig against the floor of reading the image at all (every layer
//! inflated one after another on one core), against `pigz`/`gzip`, and against other secret
//! scanners found on `PATH`, each timed as the median of several runs with peak memory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use layerdig::layer::Compression;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::blobs::ImageBlobs;
use crate::measure::{self, Usage};
use crate::rootfs;

/// Options of `compare`.
pub struct Options {
    /// The image.
    pub image: PathBuf,
    /// Timed runs per tool.
    pub runs: usize,
    /// The layerdig binary (default: next to this one, else on `PATH`).
    pub layerdig: Option<PathBuf>,
    /// Print JSON instead of a table.
    pub json: bool,
}

/// One row of the table.
struct Row {
    tool: String,
    command: String,
    times: Vec<Duration>,
    /// Peaks over the runs; `None` for in-process rows.
    usage: Option<Usage>,
    note: String,
}

/// What the image holds, from an untimed pass and the first layerdig report.
struct Totals {
    stored: u64,
    uncompressed: u64,
    layers: usize,
    files: Option<u64>,
    findings: Option<u64>,
    by_status: Option<Value>,
}

const BUF: usize = 256 * 1024;

/// Run the comparison and print it.
///
/// # Errors
/// When the image cannot be read or the layerdig binary cannot be found or run.
pub fn run(opts: &Options) -> Result<()> {
    let runs = opts.runs.max(1);
    let blobs = ImageBlobs::open(&opts.image).with_context(|| format!("open image {}", opts.image.display()))?;
    if blobs.layers.is_empty() {
        bail!("{}: no layers", opts.image.display());
    }
    let scratch = Scratch::new()?;
    // Untimed: count the uncompressed bytes, and bring the image into the page cache so that
    // every timed run reads it from memory alike.
    let uncompressed = inflate_all(&blobs, false)?;
    let mut totals = Totals {
        stored: blobs.stored_bytes(),
        uncompressed,
        layers: blobs.layers.len(),
        files: None,
        findings: None,
        by_status: None,
    };
    let mut rows = Vec::new();

    eprintln!("compare: {} ({} layers), {runs} runs per tool", opts.image.display(), blobs.layers.len());
    let compressed = blobs.layers.iter().any(|l| l.compression != Compression::None);
    let (floor, what) = match compressed {
        true => ("inflate floor", "flate2 (zlib-rs) / zstd, 1 thread, output discarded"),
        false => ("read floor", "plain layers: every byte read once, 1 thread"),
    };
    rows.push(in_process(runs, floor, what, || inflate_all(&blobs, false))?);
    let with_sha = format!("{} + sha256", floor.trim_end_matches(" floor"));
    rows.push(in_process(runs, &with_sha, "the floor plus the diff_id digest, 1 thread", || {
        inflate_all(&blobs, true)
    })?);

    let all_gzip = blobs.layers.iter().all(|l| l.compression == Compression::Gzip);
    for (tool, args) in [("pigz", &["-dc", "-p", "1"][..]), ("gzip", &["-dc"][..])] {
        let Some(bin) = measure::which(tool) else {
            eprintln!("compare: {tool} not on PATH, skipped");
            continue;
        };
        if !all_gzip {
            continue;
        }
        let mut row = Row::new(tool, format!("{tool} {} < each layer blob", args.join(" ")));
        for _ in 0..runs {
            let mut total = Usage { code: Some(0), ..Usage::default() };
            for layer in &blobs.layers {
                let mut cmd = Command::new(&bin);
                cmd.args(args);
                total = total.then(measure::run(&cmd, Some(blobs.bytes(layer)))?);
            }
            row.add(total);
        }
        rows.push(row);
    }

    let layerdig = find_layerdig(opts.layerdig.as_deref())?;
    let report = scratch.path("report.json");
    for threads in [None, Some(1)] {
        let mut cmd = Command::new(&layerdig);
        cmd.arg("scan").arg(&opts.image).args(["-f", "json", "-o"]).arg(&report);
        cmd.args(["--progress", "never", "--quiet", "--no-config"]);
        let tool = match threads {
            None => "layerdig".to_string(),
            Some(n) => {
                cmd.args(["--threads", &n.to_string()]);
                format!("layerdig --threads {n}")
            }
        };
        let mut row = Row::new(
            &tool,
            format!(
                "{} scan IMAGE -f json -o FILE{}",
                layerdig.display(),
                match threads {
                    None => String::new(),
                    Some(n) => format!(" --threads {n}"),
                }
            ),
        );
        for _ in 0..runs {
            let usage = measure::run(&cmd, None)?;
            if !matches!(usage.code, Some(0 | 1)) {
                row.note = format!("exit code {:?}: incomplete scan or error", usage.code);
            }
            row.add(usage);
        }
        if totals.files.is_none() {
            read_stats(&report, &mut totals);
        }
        rows.push(row);
    }

    for peer in peers() {
        rows.push(run_peer(&peer, &opts.image, &blobs, runs, &scratch)?);
    }

    let floor = rows[0].median();
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&to_json(opts, &totals, &rows, floor))?);
    } else {
        print_table(opts, &totals, &rows, floor);
    }
    Ok(())
}

impl Row {
    fn new(tool: &str, command: String) -> Row {
        Row { tool: tool.to_string(), command, times: Vec::new(), usage: None, note: String::new() }
    }

    fn add(&mut self, u: Usage) {
        self.times.push(u.wall);
        let peak = self.usage.unwrap_or_default();
        self.usage = Some(Usage {
            wall: Duration::ZERO,
            max_rss: peak.max_rss.max(u.max_rss),
            max_anon: peak.max_anon.max(u.max_anon),
            code: u.code,
        });
    }

    fn median(&self) -> Duration {
        measure::summary(&self.times).0
    }
}

fn in_process(runs: usize, tool: &str, what: &str, mut f: impl FnMut() -> Result<u64>) -> Result<Row> {
    let mut row = Row::new(tool, what.to_string());
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f()?);
        row.times.push(start.elapsed());
    }
    Ok(row)
}

/// Inflate every layer one after another on this thread, output discarded (or hashed); the
/// uncompressed byte count.
fn inflate_all(blobs: &ImageBlobs, hash: bool) -> Result<u64> {
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    for layer in &blobs.layers {
        let bytes = blobs.bytes(layer);
        let mut reader: Box<dyn Read + '_> = match layer.compression {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(bytes).with_context(|| format!("inflate {}", layer.name))?,
            ),
            _ => Box::new(bytes),
        };
        let mut sha = Sha256::new();
        loop {
            let n = reader.read(&mut buf).with_context(|| format!("inflate {}", layer.name))?;
            if n == 0 {
                break;
            }
            if hash {
                sha.update(&buf[..n]);
            }
            std::hint::black_box(&buf[..n]);
            total += n as u64;
        }
        std::hint::black_box(sha.finalize());
    }
    Ok(total)
}

fn find_layerdig(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("layerdig")));
    if let Some(p) = beside.filter(|p| measure::is_executable(p)) {
        return Ok(p);
    }
    measure::which("layerdig").context(
        "no layerdig binary next to this one or on PATH: build it with \
         `cargo build --release -p layerdig-cli -p layerdig-bench`, or pass --layerdig",
    )
}

/// Totals from the report's stats object (wherever it sits in the document).
fn read_stats(report: &Path, totals: &mut Totals) {
    fn find(v: &Value) -> Option<&Value> {
        match v {
            Value::Object(m) if m.contains_key("files") && m.contains_key("uncompressed_bytes") => Some(v),
            Value::Object(m) => m.values().find_map(find),
            _ => None,
        }
    }
    let Some(doc) = std::fs::read(report).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return;
    };
    if let Some(stats) = find(&doc) {
        totals.files = stats["files"].as_u64();
        totals.findings = stats["findings"].as_u64();
        totals.by_status = stats.get("by_status").cloned();
    }
}

/// Another secret scanner found on `PATH`; each reads the image's final file system, extracted
/// with `tar` into a temporary directory (the extraction is part of its time; see [`rootfs`]).
struct Peer {
    name: &'static str,
    bin: PathBuf,
}

fn peers() -> Vec<Peer> {
    let mut found = Vec::new();
    for name in ["gitleaks", "noseyparker", "kingfisher"] {
        match measure::which(name) {
            Some(bin) => found.push(Peer { name, bin }),
            None => eprintln!("compare: {name} not on PATH, skipped"),
        }
    }
    found
}

fn run_peer(peer: &Peer, image: &Path, blobs: &ImageBlobs, runs: usize, scratch: &Scratch) -> Result<Row> {
    let root = scratch.path("rootfs");
    let out = scratch.path(&format!("{}-out", peer.name));
    let mut row = Row::new(peer.name, String::new());
    // kingfisher reads a `docker save` archive itself, every layer, like layerdig. Archives it
    // does not take (exit code other than 0, 200, 205) are scanned as an extracted file system.
    if peer.name == "kingfisher" && image.is_file() {
        let mut cmd = Command::new(&peer.bin);
        cmd.args(["scan", "docker", "--no-validate", "--no-update-check", "--archive"]).arg(image);
        let command = format!("{} scan docker --no-validate --no-update-check --archive IMAGE", peer.bin.display());
        let mut archive = Row::new(peer.name, command);
        let mut readable = true;
        for _ in 0..runs {
            let scan = measure::run(&cmd, None)?;
            readable &= matches!(scan.code, Some(0 | 200 | 205));
            if !readable {
                break;
            }
            archive.add(scan);
        }
        if readable {
            return Ok(archive);
        }
        row.note = "did not read the archive; scanned the extracted file system".to_string();
    }
    // What each layer's whiteouts delete, read once and untimed: the timed extraction applies
    // them without a pass of its own over the blobs.
    let plan = rootfs::plan(blobs).with_context(|| format!("read the layers of {}", image.display()))?;
    for _ in 0..runs {
        rootfs::remove_tree(&root)?;
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
        let extract = rootfs::extract(blobs, &plan, &root, &mut |cmd, bytes| measure::run(cmd, Some(bytes)))?;
        let mut cmd = Command::new(&peer.bin);
        match peer.name {
            "gitleaks" => {
                let modern = Command::new(&peer.bin)
                    .args(["dir", "--help"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if modern {
                    cmd.args(["dir", "--no-banner", "--exit-code", "0", "--report-path"]).arg(&out).arg(&root);
                } else {
                    cmd.args(["detect", "--no-git", "--no-banner", "--exit-code", "0", "--report-path"]).arg(&out);
                    cmd.arg("--source").arg(&root);
                }
            }
            "noseyparker" => {
                cmd.args(["scan", "--datastore"]).arg(&out).arg(&root);
            }
            _ => {
                cmd.args(["scan", "--no-validate", "--no-update-check"]).arg(&root);
            }
        }
        row.command =
            format!("tar -x each layer (whiteouts applied) + {cmd:?}").replace(&root.display().to_string(), "ROOTFS");
        let scan = measure::run(&cmd, None)?;
        if !matches!(scan.code, Some(0 | 1 | 200 | 205)) {
            row.note = format!("exit code {:?}", scan.code);
        }
        if let Some(failed) = extract.failed {
            row.note = if row.note.is_empty() { failed } else { format!("{}; {failed}", row.note) };
        }
        row.add(extract.usage.then(Usage { code: scan.code, ..scan }));
    }
    let _ = rootfs::remove_tree(&root);
    let _ = std::fs::remove_dir_all(&out);
    Ok(row)
}

/// A temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("layerdig-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Scratch(dir))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = rootfs::remove_tree(&self.0);
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn to_json(opts: &Options, t: &Totals, rows: &[Row], floor: Duration) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let (median, min, max) = measure::summary(&r.times);
            json!({
                "tool": r.tool,
                "command": r.command,
                "runs": r.times.len(),
                "median_s": median.as_secs_f64(),
                "min_s": min.as_secs_f64(),
                "max_s": max.as_secs_f64(),
                "peak_rss_mib": r.usage.map(|u| u.max_rss as f64 / MIB),
                "peak_anon_mib": r.usage.map(|u| u.max_anon as f64 / MIB),
                "mb_per_s": t.uncompressed as f64 / 1e6 / median.as_secs_f64(),
                "files_per_s": t.files.map(|f| f as f64 / median.as_secs_f64()),
                "ratio_to_floor": median.as_secs_f64() / floor.as_secs_f64(),
                "exit_code": r.usage.and_then(|u| u.code),
                "note": r.note,
            })
        })
        .collect();
    json!({
        "image": opts.image,
        "layers": t.layers,
        "stored_bytes": t.stored,
        "uncompressed_bytes": t.uncompressed,
        "files": t.files,
        "findings": t.findings,
        "findings_by_status": t.by_status,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "rows": rows,
    })
}

fn print_table(opts: &Options, t: &Totals, rows: &[Row], floor: Duration) {
    println!(
        "{}: {} layers, {:.1} MiB stored, {:.1} MiB uncompressed{}{}",
        opts.image.display(),
        t.layers,
        t.stored as f64 / MIB,
        t.uncompressed as f64 / MIB,
        t.files.map(|f| format!(", {f} files")).unwrap_or_default(),
        t.findings.map(|f| format!(", {f} findings")).unwrap_or_default(),
    );
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>8}",
        "tool", "median", "min", "max", "RSS MiB", "anon MiB", "MB/s", "files/s", "x floor"
    );
    let secs = |d: Duration| format!("{:.3}s", d.as_secs_f64());
    let mib = |v: Option<u64>| v.map(|b| format!("{:.1}", b as f64 / MIB)).unwrap_or_else(|| "-".into());
    for r in rows {
        let (median, min, max) = measure::summary(&r.times);
        let s = median.as_secs_f64();
        println!(
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8.0} {:>10} {:>8.2}{}",
            r.tool,
            secs(median),
            secs(min),
            secs(max),
            mib(r.usage.map(|u| u.max_rss)),
            mib(r.usage.map(|u| u.max_anon)),
            t.uncompressed as f64 / 1e6 / s,
            t.files.map(|f| format!("{:.0}", f as f64 / s)).unwrap_or_else(|| "-".into()),
            s / floor.as_secs_f64(),
            if r.note.is_empty() { String::new() } else { format!("  ({})", r.note) },
        );
    }
}
