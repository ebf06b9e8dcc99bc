//! The inspection commands: `layers`, `ls` and `rules`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Result;
use layerdig::report::human;
use layerdig::{ImageSource, Input, OpenOptions, Rules, Status};

use crate::args::{CacheCommand, EngineArgs, ImageArgs, ListFormat, LsArgs, RulesCommand};
use crate::load_rules;

fn open_image(args: &ImageArgs) -> Result<ImageSource> {
    let options = OpenOptions { platform: args.platform.clone(), ..OpenOptions::default() };
    let source = match &args.image {
        Input::Path(path) | Input::OciArchive(path) | Input::DockerArchive(path) => {
            ImageSource::open_with(path, &options)?
        }
        Input::OciLayout { dir, reference } => {
            ImageSource::open_with(dir, &OpenOptions { reference: reference.clone(), ..options })?
        }
        Input::Registry(reference) => {
            layerdig::registry::Clients::new(args.registry.options()?).open(reference, &options)?
        }
        other => anyhow::bail!("{other}: `layers` and `ls` read files, directories and registries; scan it instead"),
    };
    for problem in source.problems() {
        eprintln!("layerdig: warning: {problem}");
    }
    Ok(source)
}

pub fn layers(args: ImageArgs) -> Result<ExitCode> {
    let source = open_image(&args)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut incomplete = source.problems().iter().any(|p| p.is_incomplete());
    let mut doc = Vec::new();
    for (n, image) in source.images().iter().enumerate() {
        let listing = layerdig::list(&source, image, &Rules::builtin(), false, None);
        for p in &listing.problems {
            eprintln!("layerdig: error: {p}");
            incomplete |= p.is_incomplete();
        }
        let mut v = serde_json::to_value(&listing.image)?;
        if let Some(layers) = v.get_mut("layers").and_then(serde_json::Value::as_array_mut) {
            for (i, l) in layers.iter_mut().enumerate() {
                l["files_deleted"] = serde_json::json!(listing.files_deleted.get(i).copied().unwrap_or(0));
                l["overwritten"] = serde_json::json!(listing.overwritten.get(i).copied().unwrap_or(0));
            }
        }
        if n == 0 && *source.account() != layerdig::InputAccount::default() {
            v["input"] = serde_json::to_value(source.account())?;
        }
        doc.push(v);
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
            writeln!(
                out,
                "{:>3}  {:<19} {:>10} {:>10}  {:>6} {:>6} {:>6}  {:>10} {:>9} {:>9} {:>9}  CREATED BY",
                "#", "DIGEST", "SIZE", "UNPACKED", "ADDED", "DEL", "OVER", "CONTENT", "METADATA", "PADDING", "HIDDEN"
            )?;
            for l in image["layers"].as_array().into_iter().flatten() {
                let digest = l["digest"].as_str().or(l["diff_id"].as_str()).unwrap_or("-");
                let short = digest.split(':').nth(1).map(|h| &h[..h.len().min(12)]).unwrap_or(digest);
                let account = |key: &str| l["account"][key].as_u64().unwrap_or(0);
                // Hidden data, and bytes left unread, are told in bytes exactly.
                let hidden = match (account("hidden") + account("framing_hidden"), account("unread")) {
                    (0, 0) => "0".to_string(),
                    (h, 0) => format!("{h} B"),
                    (h, u) => format!("{h} B, {} unread", human::bytes(u)),
                };
                writeln!(
                    out,
                    "{:>3}  sha256:{:<12} {:>10} {:>10}  {:>6} {:>6} {:>6}  {:>10} {:>9} {:>9} {:>9}  {}",
                    l["index"].as_u64().unwrap_or(0),
                    short,
                    human::bytes(l["size"].as_u64().unwrap_or(0)),
                    human::bytes(l["uncompressed_size"].as_u64().unwrap_or(0)),
                    l["added"].as_u64().unwrap_or(0),
                    l["deleted"].as_u64().unwrap_or(0),
                    l["overwritten"].as_u64().unwrap_or(0),
                    human::bytes(account("content")),
                    human::bytes(account("metadata")),
                    human::bytes(account("padding")),
                    hidden,
                    human::one_line(l["created_by"].as_str().unwrap_or("-"), 80)
                )?;
            }
            if let Some(input) = image.get("input") {
                let count = |key: &str| input[key].as_u64().unwrap_or(0);
                writeln!(
                    out,
                    "blobs: {} referenced ({}), {} referenced by nothing ({}), read and searched too",
                    count("referenced"),
                    human::bytes(count("referenced_bytes")),
                    count("unreferenced"),
                    human::bytes(count("unreferenced_bytes"))
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if incomplete { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

pub fn ls(args: LsArgs) -> Result<ExitCode> {
    let source = open_image(&args.image)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut incomplete = source.problems().iter().any(|p| p.is_incomplete());
    let mut all = Vec::new();
    for image in source.images() {
        let listing = layerdig::list(&source, image, &Rules::builtin(), false, None);
        let files = listing.files;
        for p in &listing.problems {
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

pub fn rules_cmd(cmd: RulesCommand) -> Result<ExitCode> {
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
            let mut problems_found = 0usize;
            let mut unreadable = 0usize;
            let mut out = BufWriter::new(io::stdout().lock());
            for file in &files {
                let rules = match Rules::from_file(file) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("layerdig: error: {}: {e}", file.display());
                        unreadable += 1;
                        continue;
                    }
                };
                let problems = rules.check();
                for p in &problems {
                    writeln!(out, "{}: {p}", file.display())?;
                }
                problems_found += problems.len();
                if let Err(e) = Rules::builtin().extend(&rules) {
                    writeln!(out, "{}: {e}", file.display())?;
                    problems_found += 1;
                } else if problems.is_empty() {
                    writeln!(out, "{}: {} rules ok", file.display(), rules.rules().len())?;
                }
            }
            out.flush()?;
            Ok(if unreadable > 0 {
                ExitCode::from(2)
            } else if problems_found > 0 {
                eprintln!("layerdig: {problems_found} problem(s) in rule files");
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `layerdig cache info|prune`.
pub fn cache_cmd(cmd: CacheCommand) -> Result<ExitCode> {
    let admin = |engine: &EngineArgs| -> Result<layerdig::scan::CacheAdmin> {
        let Some(dir) = &engine.cache else { anyhow::bail!("say which cache: --cache DIR") };
        let rules = load_rules(&engine.rules)?;
        let mut builder = layerdig::Scanner::builder();
        if let Some(cap) = engine.max_layer_bytes {
            builder.max_layer_bytes(cap);
        }
        builder.archives(engine.archive_limits());
        let admin = builder.build(&rules)?.cache_admin(dir)?;
        for w in admin.warnings() {
            eprintln!("layerdig: warning: {w}");
        }
        Ok(admin)
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match cmd {
        CacheCommand::Info { engine, format } => {
            let info = admin(&engine)?.info().map_err(anyhow::Error::msg)?;
            match format {
                ListFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&info)?)?,
                _ => {
                    writeln!(out, "cache        {}", info.path.display())?;
                    writeln!(out, "entries      {}", info.entries)?;
                    writeln!(out, "bytes        {}", info.bytes)?;
                    writeln!(out, "current      {} (used by scans with these rules and options)", info.current)?;
                    writeln!(out, "fingerprints {}", info.fingerprints)?;
                }
            }
        }
        CacheCommand::Prune { engine, unused_days, all } => {
            let how = match (all, unused_days) {
                (true, _) => layerdig::scan::Prune::All,
                (false, Some(days)) => layerdig::scan::Prune::UnusedFor(days.saturating_mul(86_400)),
                (false, None) => layerdig::scan::Prune::Stale,
            };
            let removed = admin(&engine)?.prune(how).map_err(anyhow::Error::msg)?;
            writeln!(out, "removed {removed} entries")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
