//! The human-readable report: grouped by image in the order given, most severe first, with status
//! badges, then problems and a closing summary.

use std::collections::HashMap;
use std::io::{self, Write};

use layerdig::{Disposition, ErrorReport, Finding, ImageReport, Severity, Source, Status};

use crate::gate::{Judged, Tally};
use crate::output::{Emit, End};

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

/// One image's section.
struct Section {
    image: Option<ImageReport>,
    findings: Vec<Judged>,
}

/// Collects per image, prints when the scan is done.
pub struct HumanPrinter {
    out: Box<dyn Write + Send>,
    style: Style,
    quiet: bool,
    /// Input paths in the order given: sections are printed in this order.
    order: Vec<String>,
    sections: Vec<((String, Option<String>), Section)>,
    /// Problems, by input path (the scanner reports them before the image).
    errors: Vec<ErrorReport>,
}

impl HumanPrinter {
    pub fn new(out: Box<dyn Write + Send>, color: bool, quiet: bool, order: Vec<String>) -> Self {
        HumanPrinter { out, style: Style { color }, quiet, order, sections: Vec::new(), errors: Vec::new() }
    }

    fn section(&mut self, path: &str, platform: Option<&str>) -> &mut Section {
        let key = (path.to_string(), platform.map(str::to_string));
        let i = match self.sections.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.sections.push((key, Section { image: None, findings: Vec::new() }));
                self.sections.len() - 1
            }
        };
        &mut self.sections[i].1
    }

    fn print_finding(&mut self, j: &Judged) -> io::Result<()> {
        let f = &j.finding;
        let note = f.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        // With --show-secrets, the secret itself, on one line.
        let shown = match &f.secret {
            Some(secret) => secret.trim_end().escape_debug().to_string(),
            None => f.redacted.clone(),
        };
        writeln!(
            self.out,
            "  {} {}  {}{}  [{} confidence]",
            self.style.severity(f.severity),
            f.rule_id,
            shown,
            note,
            f.confidence
        )?;
        let hidden = j.suppressed.iter().filter(|s| s.is_some()).count();
        for (loc, _) in f.locations.iter().zip(&j.suppressed).filter(|(_, s)| s.is_none()) {
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
                    let mut p = format!("/{}", loc.path.as_deref().unwrap_or(""));
                    if let Some(line) = loc.line {
                        p.push_str(&format!(":{line}"));
                        if let Some(col) = loc.column {
                            p.push_str(&format!(":{col}"));
                        }
                    }
                    p
                }
                _ => loc.config_key.clone().unwrap_or_default(),
            };
            let layer = loc.layer_index.map(|i| format!("  layer {i}")).unwrap_or_default();
            let disposition = match loc.disposition {
                Disposition::Actionable => String::new(),
                d => format!("  ({})", d.as_str().replace('_', " ")),
            };
            let created = loc.created_by.as_deref().map(|c| format!("  {}", one_line(c, 60))).unwrap_or_default();
            writeln!(self.out, "      {badge}  {place}{layer}{disposition}{}", self.style.paint("2", &created))?;
        }
        if hidden > 0 {
            writeln!(
                self.out,
                "      {}",
                self.style.paint("2", &format!("(+{hidden} location(s) allowed by the policy)"))
            )?;
        }
        Ok(())
    }
}

impl Emit for HumanPrinter {
    fn image(&mut self, image: &ImageReport) -> io::Result<()> {
        self.section(&image.path, image.platform.as_deref()).image = Some(image.clone());
        Ok(())
    }

    fn finding(&mut self, finding: Judged) -> io::Result<()> {
        let (image, platform) =
            finding.finding.locations.first().map(|l| (l.image.clone(), l.platform.clone())).unwrap_or_default();
        let section = self.section(&image, platform.as_deref());
        match section.findings.iter_mut().find(|f| f.finding.fingerprint == finding.finding.fingerprint) {
            Some(existing) => existing.merge(finding),
            None => section.findings.push(finding),
        }
        Ok(())
    }

    fn error(&mut self, error: &ErrorReport) -> io::Result<()> {
        self.errors.push(error.clone());
        Ok(())
    }

    fn finish(mut self: Box<Self>, end: &End) -> io::Result<()> {
        let errors = std::mem::take(&mut self.errors);
        for e in &errors {
            if !self.sections.iter().any(|((p, _), _)| *p == e.image) {
                self.section(&e.image, None);
            }
        }
        let mut sections = std::mem::take(&mut self.sections);
        let rank: HashMap<&str, usize> = self.order.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
        // The summary counts what is shown; findings the policy allows are counted apart.
        let t = Tally::of(sections.iter().flat_map(|(_, s)| &s.findings).filter(|j| !j.is_suppressed()));
        let allowed = sections.iter().flat_map(|(_, s)| &s.findings).filter(|j| j.is_suppressed()).count();
        sections.sort_by(|((pa, la), _), ((pb, lb), _)| {
            let ra = rank.get(pa.as_str()).copied().unwrap_or(usize::MAX);
            let rb = rank.get(pb.as_str()).copied().unwrap_or(usize::MAX);
            ra.cmp(&rb).then_with(|| pa.cmp(pb)).then_with(|| la.cmp(lb))
        });
        let last_of: HashMap<String, usize> =
            sections.iter().enumerate().map(|(i, ((p, _), _))| (p.clone(), i)).collect();
        for (i, ((path, platform), mut section)) in sections.into_iter().enumerate() {
            section.findings.sort_by(|a, b| Finding::report_order(&a.finding, &b.finding));
            let shown: Vec<&Judged> = section.findings.iter().filter(|j| !j.is_suppressed()).collect();
            let suppressed = section.findings.len() - shown.len();
            let mut header = path.clone();
            let mut details = Vec::new();
            if let Some(img) = &section.image {
                if !img.format.is_empty() {
                    details.push(img.format.clone());
                }
                details.push(format!("{} layer{}", img.layers.len(), plural(img.layers.len())));
            }
            if let Some(p) = &platform {
                details.push(p.clone());
            }
            if !details.is_empty() {
                header.push_str(&format!(" ({})", details.join(", ")));
            }
            let mut count = if section.image.is_none() && section.findings.is_empty() {
                "not scanned".to_string()
            } else {
                format!("{} finding{}", shown.len(), plural(shown.len()))
            };
            if suppressed > 0 {
                count.push_str(&format!(", {suppressed} allowed by the policy"));
            }
            writeln!(self.out, "{}: {count}", self.style.paint("1", &header))?;
            let shown: Vec<Judged> = shown.into_iter().cloned().collect();
            for j in &shown {
                self.print_finding(j)?;
            }
            let errors_here = errors.iter().filter(|e| e.image == path && last_of.get(&path) == Some(&i));
            for e in errors_here {
                let label =
                    if e.incomplete { self.style.paint("1;31", "error") } else { self.style.paint("33", "warning") };
                writeln!(self.out, "  {label}: {}", e.message)?;
                if let Some(hint) = crate::hint(&e.message) {
                    writeln!(self.out, "         {}", self.style.paint("2", hint))?;
                }
            }
            writeln!(self.out)?;
        }
        if !self.quiet {
            let s = &end.stats;
            let incomplete = errors.iter().filter(|e| e.incomplete).count().max(1);
            writeln!(
                self.out,
                "{} image{}, {} layer{}, {} ({} unpacked), {} file{} in {:.2}s",
                s.images,
                plural(s.images as usize),
                s.layers,
                plural(s.layers as usize),
                bytes(s.bytes),
                bytes(s.uncompressed_bytes),
                s.files,
                plural(s.files as usize),
                s.duration_ms as f64 / 1000.0,
            )?;
            let mut parts = Vec::new();
            let sev: Vec<String> = Severity::ALL
                .iter()
                .filter_map(|v| t.by_severity.get(v.as_str()).map(|n| format!("{n} {}", v.as_str())))
                .collect();
            if !sev.is_empty() {
                parts.push(sev.join(", "));
            }
            let status: Vec<String> = ["present", "deleted", "overwritten", "config"]
                .iter()
                .filter_map(|v| t.by_status.get(*v).map(|n| format!("{n} {v}")))
                .collect();
            if !status.is_empty() {
                parts.push(status.join(", "));
            }
            let mut other = Vec::new();
            for (key, label) in [("test_fixture", "in test fixtures"), ("documented_example", "documented examples")] {
                if let Some(n) = t.by_disposition.get(key) {
                    other.push(format!("{n} {label}"));
                }
            }
            if allowed > 0 {
                other.push(format!("{allowed} more allowed by the policy"));
            }
            if end.baselined > 0 {
                other.push(format!("{} in the baseline", end.baselined));
            }
            if end.filtered > 0 {
                other.push(format!("{} filtered out", end.filtered));
            }
            if !other.is_empty() {
                parts.push(other.join(", "));
            }
            let tail = if parts.is_empty() { String::new() } else { format!(" — {}", parts.join(" — ")) };
            writeln!(self.out, "{} finding{}{tail}", t.findings, plural(t.findings as usize))?;
            let gate = &end.gate;
            let verdict = match gate.exit_code {
                0 => self.style.paint("1;32", "PASS"),
                1 => self.style.paint("1;31", "FAIL"),
                _ => self.style.paint("1;31", "INCOMPLETE"),
            };
            let why = match gate.exit_code {
                0 => format!("nothing actionable at or above {}", gate.fail_on),
                1 => format!(
                    "{} actionable finding{} at or above {}",
                    t.failing,
                    plural(t.failing as usize),
                    gate.fail_on
                ),
                _ => format!(
                    "{} problem{} left results incomplete{}",
                    incomplete,
                    plural(incomplete),
                    if t.failing > 0 {
                        format!("; {} actionable finding(s) at or above {}", t.failing, gate.fail_on)
                    } else {
                        String::new()
                    }
                ),
            };
            writeln!(self.out, "{verdict}: {why} (exit {})", gate.exit_code)?;
        }
        self.out.flush()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
