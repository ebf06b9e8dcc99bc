//! The human-readable printer: grouped by image, most severe first, with status badges.

use std::collections::BTreeMap;
use std::io::Write;

use layerdig::{Disposition, ErrorReport, Finding, ImageReport, Severity, Sink, Source, Stats, Status};

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
        };
        self.paint(code, &format!("{:<8}", s.as_str().to_uppercase()))
    }
}

/// Collects per image, prints when the scan is done.
pub struct HumanPrinter<W: Write> {
    out: W,
    style: Style,
    images: Vec<ImageReport>,
    findings: BTreeMap<String, Vec<Finding>>,
    errors: Vec<ErrorReport>,
}

impl<W: Write> HumanPrinter<W> {
    pub fn new(out: W, color: bool) -> Self {
        HumanPrinter { out, style: Style { color }, images: Vec::new(), findings: BTreeMap::new(), errors: Vec::new() }
    }

    pub fn finish(mut self, stats: &Stats, quiet: bool) -> std::io::Result<W> {
        let mut by_image: Vec<String> = self.images.iter().map(|i| i.path.clone()).collect();
        by_image.dedup();
        for image in by_image {
            let mut findings = self.findings.remove(&image).unwrap_or_default();
            findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule_id.cmp(&b.rule_id)));
            let header = format!("{image}: {} finding{}", findings.len(), if findings.len() == 1 { "" } else { "s" });
            writeln!(self.out, "{}", self.style.paint("1", &header))?;
            for f in &findings {
                self.finding(f)?;
            }
            writeln!(self.out)?;
        }
        for e in &self.errors {
            let label = if e.incomplete { "error" } else { "warning" };
            writeln!(self.out, "{}: {}", self.style.paint("1;31", label), e.message)?;
        }
        if !quiet {
            let sev: Vec<String> = Severity::ALL
                .iter()
                .filter_map(|s| stats.by_severity.get(s.as_str()).map(|n| format!("{n} {}", s.as_str())))
                .collect();
            let status: Vec<String> = ["present", "deleted", "overwritten", "config"]
                .iter()
                .filter_map(|s| stats.by_status.get(*s).map(|n| format!("{n} {s}")))
                .collect();
            writeln!(
                self.out,
                "{} image(s), {} layer(s), {} ({} unpacked), {} files in {:.2}s: {} finding(s){}{}{}",
                stats.images,
                stats.layers,
                bytes(stats.bytes),
                bytes(stats.uncompressed_bytes),
                stats.files,
                stats.duration_ms as f64 / 1000.0,
                stats.findings,
                if sev.is_empty() { String::new() } else { format!(" — {}", sev.join(", ")) },
                if status.is_empty() { String::new() } else { format!(" — {}", status.join(", ")) },
                if stats.incomplete { " — INCOMPLETE: some layers could not be read" } else { "" },
            )?;
        }
        Ok(self.out)
    }

    fn finding(&mut self, f: &Finding) -> std::io::Result<()> {
        let note = f.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        writeln!(self.out, "  {} {}  {}{}  [{}]", self.style.severity(f.severity), f.rule_id, f.redacted, note, f.confidence)?;
        for loc in &f.locations {
            let badge = match (loc.source, loc.status, loc.removed_in_layer) {
                (Source::Config, ..) => self.style.paint("35", "CONFIG"),
                (Source::History, ..) => self.style.paint("35", "HISTORY"),
                (_, Some(Status::Present), _) | (_, None, _) => self.style.paint("1;31", "PRESENT"),
                (_, Some(Status::Deleted), Some(m)) => self.style.paint("33", &format!("DELETED in layer {m}")),
                (_, Some(Status::Overwritten), Some(m)) => self.style.paint("33", &format!("OVERWRITTEN in layer {m}")),
                (_, Some(s), None) => self.style.paint("33", &s.as_str().to_uppercase()),
            };
            let place = match loc.source {
                Source::File => {
                    format!("/{}:{}:{}", loc.path.as_deref().unwrap_or(""), loc.line.unwrap_or(0), loc.column.unwrap_or(0))
                }
                _ => loc.config_key.clone().unwrap_or_default(),
            };
            let layer = match loc.layer_index {
                Some(i) => format!(" layer {i}"),
                None => String::new(),
            };
            let created = loc.created_by.as_deref().map(|c| format!("  {}", one_line(c, 60))).unwrap_or_default();
            let disposition = match loc.disposition {
                Disposition::Actionable => String::new(),
                d => format!(" ({})", d.as_str().replace('_', " ")),
            };
            writeln!(self.out, "      {badge:<}  {place}{layer}{disposition}{}", self.style.paint("2", &created))?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for HumanPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, layerdig::Error> {
        self.images.push(image.clone());
        Ok(true)
    }
    fn finding(&mut self, finding: &Finding) -> Result<bool, layerdig::Error> {
        let image = finding.locations.first().map(|l| l.image.clone()).unwrap_or_default();
        let list = self.findings.entry(image).or_default();
        match list.iter_mut().find(|f| f.fingerprint == finding.fingerprint) {
            Some(existing) => existing.locations.extend(finding.locations.iter().cloned()),
            None => list.push(finding.clone()),
        }
        Ok(true)
    }
    fn error(&mut self, error: &ErrorReport) -> Result<bool, layerdig::Error> {
        if !self.images.iter().any(|i| i.path == error.image) {
            self.images.push(ImageReport {
                path: error.image.clone(),
                format: String::new(),
                digest: None,
                platform: None,
                tags: Vec::new(),
                layers: Vec::new(),
            });
        }
        self.errors.push(error.clone());
        Ok(true)
    }
}

/// Sizes for people: 1.2 MiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// The first `max` characters of `text` on one line.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max { flat } else { format!("{}…", flat.chars().take(max).collect::<String>()) }
}
