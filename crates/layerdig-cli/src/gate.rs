//! What is reported and what fails: the baseline, severity overrides, filters, allow entries and
//! the failure threshold, applied to each finding as the scanner produces it.

use std::collections::{BTreeMap, HashSet};

use layerdig::policy::{Policy, Suppression};
use layerdig::{Disposition, Finding, ImageReport, Severity, Status};
use serde::Serialize;
use serde_json::{Value, json};

/// The rules of the gate.
#[derive(Debug)]
pub struct Judge {
    pub policy: Policy,
    pub baseline: Option<HashSet<String>>,
    pub fail_on: Severity,
    pub min_severity: Option<Severity>,
    pub statuses: Vec<Status>,
    pub include_test_fixtures: bool,
}

/// What becomes of one finding.
pub enum Verdict {
    /// Its fingerprint is in the baseline: not reported.
    Baselined,
    /// Below `--min-severity`, or no location has a `--status` asked for: not reported.
    Filtered,
    /// Reported.
    Report(Box<Judged>),
}

/// A reported finding with the gate's view of it.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The finding, severity overridden by the policy, locations filtered by `--status`.
    pub finding: Finding,
    /// For each location, the allow entry that suppresses it.
    pub suppressed: Vec<Option<Suppression>>,
    /// Whether it fails the gate.
    pub fails: bool,
}

impl Judge {
    /// A gate that reports everything and fails on nothing (for baselines).
    pub fn everything() -> Judge {
        Judge {
            policy: Policy::default(),
            baseline: None,
            fail_on: Severity::Critical,
            min_severity: None,
            statuses: Vec::new(),
            include_test_fixtures: false,
        }
    }

    /// Judge one finding. `image` is the image report the scanner sent just before it.
    pub fn judge(&self, finding: &Finding, image: Option<&ImageReport>) -> Verdict {
        if self.baseline.as_ref().is_some_and(|b| b.contains(&finding.fingerprint)) {
            return Verdict::Baselined;
        }
        let mut f = finding.clone();
        f.severity = self.policy.severity(&f.rule_id, f.severity);
        if self.min_severity.is_some_and(|min| f.severity < min) {
            return Verdict::Filtered;
        }
        if !self.statuses.is_empty() {
            f.locations.retain(|l| l.status.is_some_and(|s| self.statuses.contains(&s)));
            if f.locations.is_empty() {
                return Verdict::Filtered;
            }
        }
        let suppressed = f.locations.iter().map(|l| self.policy.suppression(&f, l, image).cloned()).collect();
        let mut judged = Judged { finding: f, suppressed, fails: false };
        judged.fails = self.fails(&judged);
        Verdict::Report(Box::new(judged))
    }

    /// Whether a finding fails the gate: at or above the threshold, with a location that is not
    /// suppressed and is actionable (or any disposition, with `--include-test-fixtures`).
    pub fn fails(&self, j: &Judged) -> bool {
        j.finding.severity >= self.fail_on
            && j.finding
                .locations
                .iter()
                .zip(&j.suppressed)
                .any(|(l, s)| s.is_none() && (self.include_test_fixtures || l.disposition == Disposition::Actionable))
    }
}

impl Judged {
    /// Whether every location is suppressed.
    pub fn is_suppressed(&self) -> bool {
        !self.suppressed.is_empty() && self.suppressed.iter().all(Option::is_some)
    }

    /// Add the locations of the same secret found elsewhere (another image).
    pub fn merge(&mut self, other: Judged) {
        for (l, s) in other.finding.locations.into_iter().zip(other.suppressed) {
            if !self.finding.locations.contains(&l) {
                self.finding.locations.push(l);
                self.suppressed.push(s);
            }
        }
        self.finding.confidence = self.finding.confidence.max(other.finding.confidence);
        self.fails |= other.fails;
    }

    /// The disposition that counts for the summary: actionable if any location is.
    pub fn disposition(&self) -> Disposition {
        if self.finding.is_actionable() {
            Disposition::Actionable
        } else {
            self.finding.locations.first().map(|l| l.disposition).unwrap_or(Disposition::Actionable)
        }
    }

    /// The JSON form: the finding, with `fails_gate`, and `suppressed` on suppressed locations
    /// (and on the finding when all its locations are).
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.finding).unwrap_or(Value::Null);
        if let Some(Value::Array(locations)) = v.get_mut("locations") {
            for (loc, s) in locations.iter_mut().zip(&self.suppressed) {
                if let (Value::Object(map), Some(s)) = (loc, s) {
                    map.insert("suppressed".into(), json!(s));
                }
            }
        }
        if let Value::Object(map) = &mut v {
            if self.is_suppressed()
                && let Some(Some(first)) = self.suppressed.first()
            {
                map.insert("suppressed".into(), json!(first));
            }
            map.insert("fails_gate".into(), Value::Bool(self.fails));
        }
        v
    }
}

/// Counts over reported findings.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub findings: u64,
    pub suppressed: u64,
    pub failing: u64,
    pub by_severity: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_disposition: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, j: &Judged) {
        self.findings += 1;
        if j.is_suppressed() {
            self.suppressed += 1;
        }
        if j.fails {
            self.failing += 1;
        }
        *self.by_severity.entry(j.finding.severity.as_str().to_string()).or_default() += 1;
        let status = j.finding.best_status().map(Status::as_str).unwrap_or("config");
        *self.by_status.entry(status.to_string()).or_default() += 1;
        *self.by_disposition.entry(j.disposition().as_str().to_string()).or_default() += 1;
    }

    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Judged>) -> Tally {
        let mut t = Tally::default();
        for j in findings {
            t.add(j);
        }
        t
    }
}
