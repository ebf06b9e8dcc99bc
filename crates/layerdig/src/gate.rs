//! The gate: what a policy, a baseline and the command line's filters make of each finding —
//! reported or left out, which allow entry suppresses which location, where it stands against
//! its fix-by deadline, and whether it fails the build. Computed once, here, and carried on the
//! findings as data ([`Finding::suppressed`], [`Finding::sla`], [`Finding::fails_gate`]), so
//! every printer and every shell shows the same verdict.
//!
//! ```
//! use layerdig::gate::{Clock, FailOn, Gate, Timestamp};
//! use layerdig::policy::Policy;
//!
//! let now = Timestamp::parse("2026-12-01T12:00:00Z").unwrap();
//! let policy = Policy::parse("[sla]\ncritical = \"24h\"\n", now.date())?;
//! let gate = Gate::new(policy, Clock::Fixed(now)).fail_on(FailOn::Overdue);
//! assert_eq!(gate.settings().fail_on, FailOn::Overdue);
//! # Ok::<(), layerdig::policy::PolicyError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SinkError;
use crate::finding::{Disposition, Finding, Severity, Sla, Status};
use crate::policy::{Date, Policy};
use crate::report::{ErrorReport, ImageReport};
use crate::scan::Sink;
use crate::vocab::SlaState;

/// A moment, in whole seconds since 1970-01-01T00:00:00Z, written as RFC 3339 in UTC
/// (`2026-12-01T19:24:43Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From seconds since the epoch.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The UTC date.
    pub fn date(self) -> Date {
        Date::from_unix(self.0)
    }

    /// `self` plus `secs` seconds.
    #[must_use]
    pub fn plus(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
    }

    /// Parse RFC 3339 (`2026-12-01T19:24:43Z`, `…+02:00`, fractions of a second ignored) or a
    /// plain date (`2026-12-01`, meaning its midnight UTC). `None` when it is neither.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let (date, rest) = if text.len() > 10 { text.split_at(10) } else { (text, "") };
        if date.len() != 10 {
            return None;
        }
        let days = Date::parse(date)?.days();
        if rest.is_empty() {
            return Some(Timestamp(days * 86_400));
        }
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let field = |s: &str| -> Option<i64> {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
        };
        let (h, m, s) = (field(rest.get(0..2)?)?, field(rest.get(3..5)?)?, field(rest.get(6..8)?)?);
        if rest.get(2..3) != Some(":") || rest.get(5..6) != Some(":") || h > 23 || m > 59 || s > 60 {
            return None;
        }
        let mut zone = &rest[8..];
        if let Some(fraction) = zone.strip_prefix('.') {
            zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        let offset = match zone {
            "Z" | "z" => 0,
            _ => {
                let sign = match zone.get(0..1)? {
                    "+" => 1,
                    "-" => -1,
                    _ => return None,
                };
                if zone.len() != 6 || zone.get(3..4) != Some(":") {
                    return None;
                }
                sign * (field(&zone[1..3])? * 3_600 + field(&zone[4..6])? * 60)
            }
        };
        Some(Timestamp(days * 86_400 + h * 3_600 + m * 60 + s - offset))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), secs / 3_600, secs / 60 % 60, secs % 60)
    }
}

/// Where the time comes from: the system's clock, or a fixed moment (a clock that does not move:
/// deadlines and expiry are judged as of it and durations read 0, so a report is reproducible).
/// Tests use a fixed clock; so does `layerdig scan --now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's clock.
    #[default]
    System,
    /// Always this moment.
    Fixed(Timestamp),
}

impl Clock {
    /// Now.
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
            }
            Clock::Fixed(t) => t,
        }
    }

    /// Milliseconds since `started` (0 on a fixed clock).
    pub fn elapsed_ms(self, started: Instant) -> u64 {
        match self {
            Clock::System => u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Clock::Fixed(_) => 0,
        }
    }
}

/// Known findings: the fingerprints of a baseline file, with when each was first seen when the
/// file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    entries: HashMap<String, Option<Timestamp>>,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    #[error("reading baseline {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error("baseline {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Baseline {
    /// Read a baseline: a `layerdig baseline` file, a `-f json` report (or any object with a
    /// `findings` array of objects with a `fingerprint`), or an array of fingerprints. An entry's
    /// `first_seen` (or a report finding's `sla.first_seen`) is kept.
    ///
    /// # Errors
    /// When the file cannot be read or is not one of those.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BaselineError::Read { path: path.to_path_buf(), source })?;
        Baseline::parse(&text).map_err(|message| BaselineError::Invalid { path: path.to_path_buf(), message })
    }

    /// [`Baseline::load`] from text; the error says what is wrong.
    ///
    /// # Errors
    /// When the text is not a baseline.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let items = match &v {
            Value::Object(map) => map.get("findings").and_then(Value::as_array),
            Value::Array(items) => Some(items),
            _ => None,
        };
        let Some(items) = items else {
            return Err("expected a `layerdig baseline` file, a JSON report, or an array of fingerprints".into());
        };
        let mut entries = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let (fp, first_seen) = match item {
                Value::String(s) => (Some(s.as_str()), None),
                Value::Object(o) => {
                    let seen = o
                        .get("first_seen")
                        .or_else(|| o.get("sla").and_then(|s| s.get("first_seen")))
                        .and_then(Value::as_str)
                        .and_then(Timestamp::parse);
                    (o.get("fingerprint").and_then(Value::as_str), seen)
                }
                _ => (None, None),
            };
            let Some(fp) = fp else {
                return Err(format!("entry {} has no fingerprint", i + 1));
            };
            let slot = entries.entry(fp.to_ascii_lowercase()).or_insert(first_seen);
            if let Some(seen) = first_seen {
                *slot = Some(slot.map_or(seen, |s: Timestamp| s.min(seen)));
            }
        }
        Ok(Baseline { entries })
    }

    /// Whether `fingerprint` is known.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.entries.contains_key(fingerprint)
    }

    /// When `fingerprint` was first seen, if the baseline says.
    pub fn first_seen(&self, fingerprint: &str) -> Option<Timestamp> {
        self.entries.get(fingerprint).copied().flatten()
    }

    /// How many fingerprints it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

/// The gate's settings, as reports describe them (with its outcome once known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// What fails: a severity, or `overdue`.
    pub fail_on: FailOn,
    /// Whether test fixtures and documented examples fail too.
    pub include_test_fixtures: bool,
    /// The policy file used, if any.
    pub policy: Option<String>,
    /// The baseline file used, if any.
    pub baseline: Option<String>,
    /// `pass`, `fail` or `incomplete`.
    pub result: GateResult,
    /// The exit status: 0, 1 or 2.
    pub exit_code: u8,
    /// Reported findings that fail the gate.
    #[serde(default)]
    pub failing: u64,
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
}

impl GateResult {
    /// From whether anything failed and whether the scan was complete.
    pub fn of(failed: bool, incomplete: bool) -> GateResult {
        match (incomplete, failed) {
            (true, _) => GateResult::Incomplete,
            (false, true) => GateResult::Fail,
            (false, false) => GateResult::Pass,
        }
    }

    /// The exit status: 0 pass, 1 fail, 2 incomplete.
    pub fn exit_code(self) -> u8 {
        match self {
            GateResult::Pass => 0,
            GateResult::Fail => 1,
            GateResult::Incomplete => 2,
        }
    }
}

/// The gate's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What fails.
    pub fail_on: FailOn,
    /// Report only findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Report only locations with one of these statuses (all when empty).
    pub statuses: Vec<Status>,
    /// Test fixtures and documented examples fail too.
    pub include_test_fixtures: bool,
    /// How the baseline file was named, for reports.
    pub baseline_name: Option<String>,
}

/// What becomes of one finding.
#[derive(Debug, Clone)]
pub enum Judgement {
    /// In the baseline (and the policy sets no deadlines): not reported.
    Baselined,
    /// Below the minimum severity, or no location has a status asked for: not reported.
    Filtered,
    /// Reported, with the verdict on it.
    Report(Box<Finding>),
}

/// The gate: a policy, a baseline, filters, a threshold and a clock.
#[derive(Debug)]
pub struct Gate {
    policy: Policy,
    baseline: Option<Baseline>,
    settings: Settings,
    clock: Clock,
    now: Timestamp,
}

impl Gate {
    /// A gate with `policy`: fails on its `fail_on` (else `high`), no baseline, no filters.
    pub fn new(policy: Policy, clock: Clock) -> Gate {
        let fail_on = FailOn::Severity(policy.fail_on.unwrap_or(Severity::High));
        Gate {
            policy,
            baseline: None,
            settings: Settings {
                fail_on,
                min_severity: None,
                statuses: Vec::new(),
                include_test_fixtures: false,
                baseline_name: None,
            },
            clock,
            now: clock.now(),
        }
    }

    /// Fail on `fail_on` instead of the policy's threshold.
    #[must_use]
    pub fn fail_on(mut self, fail_on: FailOn) -> Gate {
        self.settings.fail_on = fail_on;
        self
    }

    /// Leave out findings of known fingerprints (`name` is how reports refer to the file).
    #[must_use]
    pub fn baseline(mut self, baseline: Baseline, name: Option<String>) -> Gate {
        self.baseline = Some(baseline);
        self.settings.baseline_name = name;
        self
    }

    /// Report only findings at or above `min`.
    #[must_use]
    pub fn min_severity(mut self, min: Option<Severity>) -> Gate {
        self.settings.min_severity = min;
        self
    }

    /// Report only locations with one of `statuses` (all when empty).
    #[must_use]
    pub fn statuses(mut self, statuses: Vec<Status>) -> Gate {
        self.settings.statuses = statuses;
        self
    }

    /// Let test fixtures and documented examples fail the gate too.
    #[must_use]
    pub fn include_test_fixtures(mut self, yes: bool) -> Gate {
        self.settings.include_test_fixtures = yes;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The moment deadlines are judged at.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Judge one finding. `image` is the report of the image it was found in (for `image`
    /// globs matching tags and digests).
    pub fn judge(&self, finding: &Finding, image: Option<&ImageReport>) -> Judgement {
        let baselined = self.baseline.as_ref().is_some_and(|b| b.contains(&finding.fingerprint));
        // With deadlines, known findings stay in the report: their clock keeps running.
        if baselined && !self.policy.has_sla() {
            return Judgement::Baselined;
        }
        let mut f = finding.clone();
        f.severity = self.policy.severity(&f.rule_id, f.severity);
        if self.settings.min_severity.is_some_and(|min| f.severity < min) {
            return Judgement::Filtered;
        }
        if !self.settings.statuses.is_empty() {
            f.locations.retain(|l| l.status.is_some_and(|s| self.settings.statuses.contains(&s)));
            if f.locations.is_empty() {
                return Judgement::Filtered;
            }
        }
        let judged = f.clone();
        for loc in &mut f.locations {
            loc.suppressed = self.policy.suppression(&judged, loc, image).cloned();
        }
        f.suppressed = Finding::all_suppressed(&f.locations);
        f.baselined = baselined;
        f.sla = self.policy.sla(f.severity).map(|allowed| {
            let first_seen = self.baseline.as_ref().and_then(|b| b.first_seen(&f.fingerprint)).unwrap_or(self.now);
            let due = first_seen.plus(allowed);
            let state = if self.now > due { SlaState::Overdue } else { SlaState::Due };
            Sla { first_seen: first_seen.to_string(), due: due.to_string(), state }
        });
        f.fails_gate = Some(self.fails(&f));
        Judgement::Report(Box::new(f))
    }

    /// Whether a judged finding fails: it meets the threshold and has a location that is not
    /// suppressed and is actionable (or any, with test fixtures included).
    fn fails(&self, f: &Finding) -> bool {
        let meets = match self.settings.fail_on {
            FailOn::Severity(min) => !f.baselined && f.severity >= min,
            FailOn::Overdue => f.sla.as_ref().is_some_and(|s| s.state == SlaState::Overdue),
        };
        meets
            && f.locations.iter().any(|l| {
                l.suppressed.is_none()
                    && (self.settings.include_test_fixtures || l.disposition == Disposition::Actionable)
            })
    }

    /// The gate as reports describe it, for a scan that `failed` or not and was `incomplete` or
    /// not, with `failing` findings.
    pub fn report(&self, failed: bool, incomplete: bool, failing: u64) -> GateReport {
        let result = GateResult::of(failed, incomplete);
        GateReport {
            fail_on: self.settings.fail_on,
            include_test_fixtures: self.settings.include_test_fixtures,
            policy: self.policy.source.as_ref().map(|p| p.display().to_string()),
            baseline: self.settings.baseline_name.clone(),
            result,
            exit_code: result.exit_code(),
            failing,
        }
    }
}

/// Counts of what the gate left out, and whether anything failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Findings left out because the baseline has them.
    pub baselined: u64,
    /// Findings left out by the minimum severity or the statuses.
    pub filtered: u64,
    /// Whether a reported finding fails.
    pub failed: bool,
}

impl Counts {
    /// Add another run's counts.
    pub fn merge(&mut self, other: Counts) {
        self.baselined += other.baselined;
        self.filtered += other.filtered;
        self.failed |= other.failed;
    }
}

/// A sink that judges every finding with a [`Gate`] before handing it on: what reaches `inner`
/// carries the verdict; what the gate leaves out is only counted.
pub struct Judging<'a> {
    gate: &'a Gate,
    inner: &'a mut dyn Sink,
    image: Option<ImageReport>,
    /// What was left out, and whether anything failed.
    pub counts: Counts,
}

impl<'a> Judging<'a> {
    /// Judge for `inner`.
    pub fn new(gate: &'a Gate, inner: &'a mut dyn Sink) -> Judging<'a> {
        Judging { gate, inner, image: None, counts: Counts::default() }
    }
}

impl Sink for Judging<'_> {
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        self.image = Some(image.clone());
        self.inner.image(image)
    }

    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError> {
        match self.gate.judge(finding, self.image.as_ref()) {
            Judgement::Baselined => {
                self.counts.baselined += 1;
                Ok(true)
            }
            Judgement::Filtered => {
                self.counts.filtered += 1;
                Ok(true)
            }
            Judgement::Report(f) => {
                if f.baselined {
                    self.counts.baselined += 1;
                }
                self.counts.failed |= f.fails_gate == Some(true);
                self.inner.finding(&f)
            }
        }
    }

    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        self.inner.error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_and_parse() {
        let t = Timestamp::parse("2026-12-01T19:24:43Z").unwrap();
        assert_eq!(t.to_string(), "2026-12-01T19:24:43Z");
        assert_eq!(t.unix(), 1_796_153_083);
        assert_eq!(Timestamp::parse("2026-12-01T21:24:43.5+02:00"), Some(t));
        assert_eq!(Timestamp::parse("2026-12-01").unwrap().to_string(), "2026-12-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(t.plus(86_400).to_string(), "2026-12-02T19:24:43Z");
        for bad in ["", "2026-13-01", "2026-12-01T25:00:00Z", "2026-12-01T10:00:00", "yesterday", "2026-12-01T10:00Z"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_fixed_clock_stands_still() {
        let t = Timestamp::parse("2026-01-02T03:04:05Z").unwrap();
        let clock = Clock::Fixed(t);
        let started = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), t);
        assert_eq!(clock.elapsed_ms(started), 0);
        assert!(Clock::System.elapsed_ms(started) >= 5);
    }

    #[test]
    fn baselines_keep_first_seen() {
        let b = Baseline::parse(
            r#"{"layerdig_baseline": 1, "findings": [
                {"fingerprint": "AB", "first_seen": "2026-11-01T00:00:00Z"},
                {"fingerprint": "cd"},
                {"fingerprint": "ef", "sla": {"first_seen": "2026-10-01T00:00:00Z"}}]}"#,
        )
        .unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.first_seen("ab"), Timestamp::parse("2026-11-01"));
        assert_eq!(b.first_seen("cd"), None);
        assert!(b.contains("cd"));
        assert_eq!(b.first_seen("ef"), Timestamp::parse("2026-10-01"));
        assert!(Baseline::parse("[\"x\", 3]").unwrap_err().contains("entry 2"));
        assert!(Baseline::parse("7").is_err());
    }
}
