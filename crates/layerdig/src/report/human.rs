//! The human-readable report: grouped by image in the order given, most severe first; each
//! place a secret was found told as its story (`app/.env:2:19  added in layer 1 (COPY …),
//! deleted in layer 2 (RUN rm /app/.env)`); then problems with what to do about them, and a
//! closing summary and verdict. Colour only when asked for; plain, greppable lines otherwise.

use std::collections::HashMap;
use std::io::Write;

use super::{End, ErrorReport, ImageReport, Printer, Sink, Stats};
use crate::error::SinkError;
use crate::finding::{Disposition, Finding, FindingSet, Location, Severity, Source, Status};
use crate::vocab::SlaState;
use crate::vocab::{FailOn, GateResult, Integrity};

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
    findings: FindingSet,
}

/// A section ready to print: its (path, platform), its image and its findings in report order.
type Printed = ((String, Option<String>), Option<ImageReport>, Vec<Finding>);

/// Collects per image, prints when the scan is done.
pub struct HumanPrinter<W: Write> {
    out: W,
    style: Style,
    quiet: bool,
    /// Input paths in the order given: sections are printed in this order.
    order: Vec<String>,
    sections: Vec<((String, Option<String>), Section)>,
    errors: Vec<ErrorReport>,
}

impl<W: Write> HumanPrinter<W> {
    /// A printer writing to `out`, in colour or not; `quiet` leaves out the summary; `order`
    /// lists the inputs in the order their sections are printed.
    pub fn new(out: W, color: bool, quiet: bool, order: Vec<String>) -> Self {
        HumanPrinter { out, style: Style { color }, quiet, order, sections: Vec::new(), errors: Vec::new() }
    }

    fn section(&mut self, path: &str, platform: Option<&str>) -> &mut Section {
        let key = (path.to_string(), platform.map(str::to_string));
        let i = match self.sections.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.sections.push((key, Section { image: None, findings: FindingSet::new() }));
                self.sections.len() - 1
            }
        };
        &mut self.sections[i].1
    }
}

/// A build instruction, short: `COPY dir:247c…`, `RUN rm /app/.env`.
pub fn instruction(created_by: &str, max: usize) -> String {
    let mut text = created_by.trim();
    if let Some(rest) = text.strip_suffix("# buildkit") {
        text = rest.trim_end();
    }
    let short = if let Some(i) = text.find("#(nop)") {
        text[i + "#(nop)".len()..].trim().to_string()
    } else if let Some(i) = text.find("/bin/sh -c ") {
        format!("RUN {}", text[i + "/bin/sh -c ".len()..].trim())
    } else {
        text.to_string()
    };
    // `COPY file:94b07f4ff4f9…` : content digests shortened to twelve digits, as image ids are.
    let words: Vec<String> = short
        .split_whitespace()
        .map(|w| match w.split_once(':') {
            Some((kind, hex)) if hex.len() > 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                format!("{kind}:{}…", &hex[..12])
            }
            _ => w.to_string(),
        })
        .collect();
    one_line(&words.join(" "), max)
}

/// The first `max` characters of `text` on one line.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max { flat } else { format!("{}…", flat.chars().take(max).collect::<String>()) }
}

fn plural(n: u64) -> &'static str {
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

/// Where a location is and what became of it, as one line of the report; a secret read through
/// a decoder ends it with the encoding, e.g. `  (base64)`.
fn story(loc: &Location, image: Option<&ImageReport>) -> String {
    let layer_instruction = |i: usize| {
        image
            .and_then(|img| img.layers.iter().find(|l| l.index == i))
            .and_then(|l| l.created_by.as_deref())
            .map(|c| format!(" ({})", instruction(c, 40)))
            .unwrap_or_default()
    };
    let mut told = match loc.source {
        Source::File => {
            let mut place = loc.path.clone().unwrap_or_default();
            if let Some(line) = loc.line {
                place.push_str(&format!(":{line}"));
                if let Some(col) = loc.column {
                    place.push_str(&format!(":{col}"));
                }
            }
            let mut told = place;
            if let Some(i) = loc.layer_index {
                let made = loc.created_by.as_deref().map(|c| format!(" ({})", instruction(c, 40))).unwrap_or_default();
                told.push_str(&format!("  added in layer {i}{made}"));
            }
            match (loc.status, loc.removed_in_layer) {
                (Some(Status::Present) | None, _) => told.push_str(", still present"),
                (Some(s), Some(m)) if Some(m) == loc.layer_index => {
                    told.push_str(&format!(", {s} later in the same layer"));
                }
                (Some(s), Some(m)) => told.push_str(&format!(", {s} in layer {m}{}", layer_instruction(m))),
                (Some(s), None) => told.push_str(&format!(", {s}")),
            }
            told
        }
        Source::Config => {
            format!("{}  in the image config", loc.config_key.as_ref().map(|k| k.to_string()).unwrap_or_default())
        }
        Source::Metadata => match &loc.document {
            Some(d) => {
                let blob = d.digest.as_deref().map_or_else(
                    || d.name.clone().unwrap_or_else(|| "index.json".to_string()),
                    |d| {
                        let hex = d.split_once(':').map_or(d, |(_, h)| h);
                        format!("blob {}", &hex[..hex.len().min(12)])
                    },
                );
                format!("{}  in the {} {blob}", d.field, d.kind.as_str().replace('_', " "))
            }
            None => "in the image's metadata".to_string(),
        },
        Source::Hidden => {
            let mut told = loc.path.clone().unwrap_or_default();
            if loc.path.is_some()
                && let (Some(line), Some(col)) = (loc.line, loc.column)
            {
                told.push_str(&format!(":{line}:{col}"));
            }
            let (what, offset, bytes, of) = match &loc.structure {
                Some(s) => {
                    let of = if s.in_blob() { "its blob" } else { "its tar" };
                    (format!("bytes {}", s.describe()), s.offset(), s.bytes(), of)
                }
                None => ("bytes of hidden data".to_string(), 0, 0, "its tar"),
            };
            let layer = loc.layer_index.map(|i| format!(" of layer {i}")).unwrap_or_default();
            let made = loc.created_by.as_deref().map(|c| format!(" ({})", instruction(c, 40))).unwrap_or_default();
            if !told.is_empty() {
                told.push_str("  ");
            }
            told.push_str(&format!("{bytes} {what}{layer}{made}, at offset {offset} of {of}, which no runtime shows"));
            told
        }
        Source::History => {
            let key = loc.config_key.as_ref().map(|k| k.to_string()).unwrap_or_default();
            match loc.layer_index {
                Some(i) => format!("{key}  in the build history, the instruction that made layer {i}"),
                None => format!("{key}  in the build history"),
            }
        }
    };
    if let Some(encoding) = loc.encoding {
        told.push_str(&format!("  ({encoding})"));
    }
    told
}

impl<W: Write> HumanPrinter<W> {
    fn print_finding(&mut self, f: &Finding, image: Option<&ImageReport>) -> Result<(), SinkError> {
        let note = f.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        // With --show-secrets, the secret itself, on one line.
        let shown = match &f.secret {
            Some(secret) => secret.trim_end().escape_debug().to_string(),
            None => f.redacted.clone(),
        };
        let sla = match &f.sla {
            Some(s) if s.state == SlaState::Overdue => {
                format!("  {}", self.style.paint("1;31", &format!("OVERDUE since {}", s.due)))
            }
            Some(s) => format!("  due {}", s.due),
            None => String::new(),
        };
        let baselined = if f.baselined { "  (in the baseline)" } else { "" };
        writeln!(
            self.out,
            "  {} {}  {}{}  [{} confidence]{sla}{baselined}",
            self.style.severity(f.severity),
            f.rule_id,
            shown,
            note,
            f.confidence
        )?;
        let hidden = f.locations.iter().filter(|l| l.suppressed.is_some()).count();
        for loc in f.locations.iter().filter(|l| l.suppressed.is_none()) {
            let badge = match (loc.source, loc.status) {
                (Source::Config, _) => self.style.paint("35", "CONFIG     "),
                (Source::History, _) => self.style.paint("35", "HISTORY    "),
                (Source::Hidden, _) => self.style.paint("1;35", "HIDDEN     "),
                (Source::Metadata, _) => self.style.paint("35", "METADATA   "),
                (_, Some(Status::Present) | None) => self.style.paint("1;31", "PRESENT    "),
                (_, Some(Status::Deleted)) => self.style.paint("33", "DELETED    "),
                (_, Some(Status::Overwritten)) => self.style.paint("33", "OVERWRITTEN"),
            };
            let disposition = match (loc.disposition, &loc.owner) {
                (_, Some(owner)) => format!("  ({}: {})", loc.disposition.as_str().replace('_', " "), owner.describe()),
                (Disposition::Actionable, None) => String::new(),
                (d, None) => format!("  ({})", d.as_str().replace('_', " ")),
            };
            writeln!(self.out, "      {badge}  {}{disposition}", story(loc, image))?;
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

    fn summary(&mut self, end: &End, t: &Stats, allowed: u64, problems: u64) -> Result<(), SinkError> {
        let s = &end.stats;
        writeln!(
            self.out,
            "{} image{}, {} layer{}, {} ({} unpacked), {} file{} in {:.2}s",
            s.images,
            plural(s.images),
            s.layers,
            plural(s.layers),
            bytes(s.bytes),
            bytes(s.uncompressed_bytes),
            s.files,
            plural(s.files),
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
        let count = |k: &str| t.by_status.get(k).copied().unwrap_or(0);
        let mut status = Vec::new();
        if count("present") > 0 {
            status.push(format!("{} present", count("present")));
        }
        let history = count("deleted") + count("overwritten");
        if history > 0 {
            let mut how = Vec::new();
            for k in ["deleted", "overwritten"] {
                if count(k) > 0 {
                    how.push(format!("{} {k}", count(k)));
                }
            }
            status.push(format!("{history} recoverable from history ({})", how.join(", ")));
        }
        if count("config") > 0 {
            status.push(format!("{} config", count("config")));
        }
        if count("hidden") > 0 {
            status.push(format!("{} in hidden data", count("hidden")));
        }
        if count("metadata") > 0 {
            status.push(format!("{} in the image's metadata", count("metadata")));
        }
        if !status.is_empty() {
            parts.push(status.join(", "));
        }
        let mut other = Vec::new();
        for (key, label) in [
            ("test_fixture", "in test fixtures"),
            ("documented_example", "documented examples"),
            ("third_party", "in packages' files as installed"),
        ] {
            if let Some(n) = t.by_disposition.get(key) {
                other.push(format!("{n} {label}"));
            }
        }
        for (key, label) in [("introduced", "introduced by the image"), ("inherited", "inherited from the base image")]
        {
            if let Some(n) = t.by_origin.get(key) {
                other.push(format!("{n} {label}"));
            }
        }
        if t.overdue > 0 {
            other.push(format!("{} overdue", t.overdue));
        }
        if allowed > 0 {
            other.push(format!("{allowed} more allowed by the policy"));
        }
        if s.baselined > 0 {
            other.push(format!("{} in the baseline", s.baselined));
        }
        if s.filtered > 0 {
            other.push(format!("{} filtered out", s.filtered));
        }
        if !other.is_empty() {
            parts.push(other.join(", "));
        }
        let tail = if parts.is_empty() { String::new() } else { format!(" — {}", parts.join(" — ")) };
        writeln!(self.out, "{} finding{}{tail}", t.findings, plural(t.findings))?;
        let Some(gate) = &end.gate else {
            return Ok(());
        };
        let what = match gate.fail_on {
            FailOn::Overdue => "overdue".to_string(),
            FailOn::Severity(s) => format!("at or above {s}"),
        };
        let (verdict, why) = match gate.result {
            GateResult::Pass => (self.style.paint("1;32", "PASS"), format!("nothing actionable {what}")),
            GateResult::Fail => (
                self.style.paint("1;31", "FAIL"),
                format!("{} actionable finding{} {what}", t.failing, plural(t.failing)),
            ),
            GateResult::Integrity => (
                self.style.paint("1;31", "INTEGRITY"),
                format!(
                    "the bytes read are not the bytes the manifest vouches for (a digest or size mismatch above){}; \
                     if that is expected, allow it in the policy's [integrity] table with a reason",
                    if t.failing > 0 { format!("; {} actionable finding(s) {what}", t.failing) } else { String::new() }
                ),
            ),
            GateResult::Incomplete => (
                self.style.paint("1;31", "INCOMPLETE"),
                format!(
                    "{} problem{} left results incomplete{}",
                    problems.max(1),
                    plural(problems.max(1)),
                    if t.failing > 0 { format!("; {} actionable finding(s) {what}", t.failing) } else { String::new() }
                ),
            ),
        };
        writeln!(self.out, "{verdict}: {why} (exit {})", gate.exit_code)?;
        Ok(())
    }
}

impl<W: Write> Sink for HumanPrinter<W> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        self.section(&image.path, image.platform.as_deref()).image = Some(image.clone());
        Ok(true)
    }

    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError> {
        let (image, platform) =
            finding.locations.first().map(|l| (l.image.clone(), l.platform.clone())).unwrap_or_default();
        self.section(&image, platform.as_deref()).findings.add(finding.clone());
        Ok(true)
    }

    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        self.errors.push(error.clone());
        Ok(true)
    }
}

impl<W: Write + Send> Printer for HumanPrinter<W> {
    fn finish(mut self: Box<Self>, end: &End) -> Result<(), SinkError> {
        let errors = std::mem::take(&mut self.errors);
        for e in &errors {
            if !self.sections.iter().any(|((p, _), _)| *p == e.image) {
                self.section(&e.image, None);
            }
        }
        let mut sections = std::mem::take(&mut self.sections);
        let rank: HashMap<&str, usize> = self.order.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
        sections.sort_by(|((pa, la), _), ((pb, lb), _)| {
            let ra = rank.get(pa.as_str()).copied().unwrap_or(usize::MAX);
            let rb = rank.get(pb.as_str()).copied().unwrap_or(usize::MAX);
            ra.cmp(&rb).then_with(|| pa.cmp(pb)).then_with(|| la.cmp(lb))
        });
        let sections: Vec<Printed> =
            sections.into_iter().map(|(k, s)| (k, s.image, s.findings.into_sorted())).collect();
        // The summary counts what is shown; findings the policy allows are counted apart.
        let all = sections.iter().flat_map(|(_, _, f)| f);
        let t = end.stats.counted(all.clone().filter(|f| !f.is_suppressed()));
        let allowed = all.filter(|f| f.is_suppressed()).count() as u64;
        let mismatch_allowed = end.gate.as_ref().is_none_or(|g| g.integrity != Integrity::Mismatch);
        let last_of: HashMap<String, usize> =
            sections.iter().enumerate().map(|(i, ((p, _), _, _))| (p.clone(), i)).collect();
        for (i, ((path, platform), image, findings)) in sections.iter().enumerate() {
            let shown: Vec<&Finding> = findings.iter().filter(|f| !f.is_suppressed()).collect();
            let suppressed = findings.len() - shown.len();
            let mut header = path.clone();
            let mut details = Vec::new();
            if let Some(img) = image {
                if !img.format.is_empty() {
                    details.push(img.format.clone());
                }
                details.push(format!("{} layer{}", img.layers.len(), plural(img.layers.len() as u64)));
            }
            if let Some(p) = platform {
                details.push(p.clone());
            }
            if !details.is_empty() {
                header.push_str(&format!(" ({})", details.join(", ")));
            }
            let mut count = if image.is_none() && findings.is_empty() {
                "not scanned".to_string()
            } else {
                format!("{} finding{}", shown.len(), plural(shown.len() as u64))
            };
            if suppressed > 0 {
                count.push_str(&format!(", {suppressed} allowed by the policy"));
            }
            writeln!(self.out, "{}: {count}", self.style.paint("1", &header))?;
            for f in shown {
                self.print_finding(f, image.as_ref())?;
            }
            let errors_here = errors.iter().filter(|e| e.image == *path && last_of.get(path) == Some(&i));
            for e in errors_here {
                let label = if e.is_error(mismatch_allowed) {
                    self.style.paint("1;31", "error")
                } else {
                    self.style.paint("33", "warning")
                };
                writeln!(self.out, "  {label}: {}", e.message)?;
                if let Some(hint) = e.hint() {
                    writeln!(self.out, "         {}", self.style.paint("2", hint))?;
                }
            }
            writeln!(self.out)?;
        }
        if !self.quiet {
            let problems = errors.iter().filter(|e| e.incomplete).count() as u64;
            self.summary(end, &t, allowed, problems)?;
        }
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_read_short() {
        assert_eq!(
            instruction("/bin/sh -c #(nop) COPY dir:247c28def19ce523666e4b3cfb589c5 in /app/", 40),
            "COPY dir:247c28def19c… in /app/"
        );
        assert_eq!(instruction("/bin/sh -c rm /app/.env", 40), "RUN rm /app/.env");
        assert_eq!(instruction("RUN /bin/sh -c rm -f /app/.env # buildkit", 40), "RUN rm -f /app/.env");
        assert_eq!(instruction("|1 TOKEN=[REDACTED ghp_… (40 chars)] /bin/sh -c make", 40), "RUN make");
        assert_eq!(instruction("COPY a b", 4), "COPY…");
    }
}
