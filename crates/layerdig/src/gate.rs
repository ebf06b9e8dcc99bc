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

use crate::error::SinkError;
use crate::finding::{Disposition, Finding, Severity, Sla, Status};
use crate::policy::Policy;
pub use crate::report::baseline::{Baseline, BaselineError};
use std::time::Instant;

use crate::report::{End, ErrorReport, GateReport, ImageReport, Sink, Stats};
pub use crate::time::{Clock, Timestamp};
use crate::vocab::SlaState;
pub use crate::vocab::{FailOn, GateResult, Integrity};

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
            settings: Settings { fail_on, min_severity: None, statuses: Vec::new(), include_test_fixtures: false },
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

    /// Leave out findings of known fingerprints (reports name the baseline by the file it was
    /// read from, if it was).
    #[must_use]
    pub fn baseline(mut self, baseline: Baseline) -> Gate {
        self.baseline = Some(baseline);
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
        let suppressed: Vec<_> = f.locations.iter().map(|l| self.policy.suppression(&f, l, image).cloned()).collect();
        for (loc, s) in f.locations.iter_mut().zip(suppressed) {
            loc.suppressed = s;
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
    /// suppressed, is actionable (or any, with test fixtures included), and is not only the
    /// base image's when the policy lets inherited findings pass.
    fn fails(&self, f: &Finding) -> bool {
        let meets = match self.settings.fail_on {
            FailOn::Severity(min) => !f.baselined && f.severity >= min,
            FailOn::Overdue => f.sla.as_ref().is_some_and(|s| s.state == SlaState::Overdue),
        };
        let inherited_fails = self.policy.inherited_fails();
        meets
            && f.locations.iter().any(|l| {
                l.suppressed.is_none()
                    && (self.settings.include_test_fixtures || l.disposition == Disposition::Actionable)
                    && (inherited_fails || l.origin != Some(crate::vocab::Origin::Inherited))
            })
    }

    /// What the printers are told once a scan judged by this gate is over: the scanner's `stats`
    /// with the time since `started` (on the gate's clock) and what the gate left out, and the
    /// gate's outcome. The exit status is `end.gate`'s.
    pub fn end(&self, mut stats: Stats, counts: Counts, started: Instant) -> End {
        stats.duration_ms = self.clock.elapsed_ms(started);
        stats.baselined = counts.baselined;
        stats.filtered = counts.filtered;
        let gate = self.report(&counts, stats.incomplete, 0);
        End { stats, gate: Some(gate) }
    }

    /// The gate as reports describe it, for a scan with these `counts` that was `incomplete` or
    /// not, with `failing` findings.
    pub fn report(&self, counts: &Counts, incomplete: bool, failing: u64) -> GateReport {
        let result = GateResult::of(counts.failed, incomplete, counts.integrity);
        GateReport {
            fail_on: self.settings.fail_on,
            include_test_fixtures: self.settings.include_test_fixtures,
            policy: self.policy.source.as_ref().map(|p| p.display().to_string()),
            baseline: self.baseline.as_ref().and_then(|b| b.source.as_ref()).map(|p| p.display().to_string()),
            result,
            exit_code: result.exit_code(),
            failing,
            integrity: counts.integrity,
        }
    }

    /// What the gate makes of `error`: a digest or size mismatch is an integrity failure unless
    /// the policy allows it; anything else leaves integrity as it is.
    pub fn integrity_of(&self, error: &ErrorReport) -> Option<Integrity> {
        error
            .kind
            .is_integrity()
            .then(|| if self.policy.integrity_allowed().is_some() { Integrity::Allowed } else { Integrity::Mismatch })
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
    /// Whether the bytes read matched what the manifests vouch for.
    pub integrity: Integrity,
}

impl Counts {
    /// Add another run's counts.
    pub fn merge(&mut self, other: Counts) {
        self.baselined += other.baselined;
        self.filtered += other.filtered;
        self.failed |= other.failed;
        self.integrity = self.integrity.max(other.integrity);
    }

    /// Count a digest or size mismatch the gate judged to be `integrity`.
    pub fn integrity(&mut self, integrity: Integrity) {
        self.integrity = self.integrity.max(integrity);
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
        if let Some(integrity) = self.gate.integrity_of(error) {
            self.counts.integrity(integrity);
        }
        self.inner.error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, path: &str) -> Finding {
        crate::finding::example(rule, severity, path, path)
    }

    fn judged(gate: &Gate, f: &Finding) -> Finding {
        match gate.judge(f, None) {
            Judgement::Report(f) => *f,
            other => panic!("{other:?}"),
        }
    }

    fn at(text: &str) -> Clock {
        Clock::Fixed(Timestamp::parse(text).unwrap())
    }

    const POLICY: &str = "[sla]\ncritical = \"24h\"\nhigh = \"7d\"\n[severity]\n\"x.medium\" = \"high\"\n\
                          [[allow]]\npath = \"srv/**\"\nreason = \"staging\"\n";

    #[test]
    fn deadlines_run_from_the_baselines_first_seen_on_the_injected_clock() {
        let crit = finding("x.crit", Severity::Critical, "app/.env");
        let high = finding("x.high", Severity::High, "app/key");
        let baseline = Baseline::parse(&format!(
            r#"[{{"fingerprint": "{}", "first_seen": "2026-11-30T00:00:00Z"}}, "{}"]"#,
            crit.fingerprint, high.fingerprint
        ))
        .unwrap();
        let gate = |now: &str, fail_on: FailOn| {
            let clock = at(now);
            Gate::new(Policy::parse(POLICY, clock.now().date()).unwrap(), clock)
                .baseline(baseline.clone())
                .fail_on(fail_on)
        };
        // A day and an hour after it was first seen, the critical is overdue.
        let late = gate("2026-12-01T01:00:00Z", FailOn::Overdue);
        let c = judged(&late, &crit);
        let sla = c.sla.as_ref().unwrap();
        assert_eq!((sla.first_seen.as_str(), sla.due.as_str()), ("2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"));
        assert_eq!(sla.state, SlaState::Overdue);
        assert!(c.baselined && c.fails_gate == Some(true));
        // The baseline does not say when the high was first seen: now, so it is due in 7 days.
        let h = judged(&late, &high);
        assert_eq!(h.sla.as_ref().map(|s| (s.due.as_str(), s.state)), Some(("2026-12-08T01:00:00Z", SlaState::Due)));
        assert_eq!(h.fails_gate, Some(false));
        // An hour before the deadline nothing is overdue.
        let early = gate("2026-11-30T23:00:00Z", FailOn::Overdue);
        assert_eq!(judged(&early, &crit).fails_gate, Some(false));
        // On severity, baselined findings never fail; new ones do.
        let by_severity = gate("2026-12-01T01:00:00Z", FailOn::Severity(Severity::High));
        assert_eq!(judged(&by_severity, &crit).fails_gate, Some(false));
        let new = finding("x.new", Severity::High, "app/new");
        assert_eq!(judged(&by_severity, &new).fails_gate, Some(true));
    }

    #[test]
    fn the_verdict_is_data_on_the_finding() {
        let clock = at("2026-12-01T00:00:00Z");
        let gate = Gate::new(Policy::parse(POLICY, clock.now().date()).unwrap(), clock);
        // Overridden severity, then judged at it.
        let f = judged(&gate, &finding("x.medium", Severity::Medium, "app/cfg"));
        assert_eq!((f.severity, f.fails_gate), (Severity::High, Some(true)));
        // Every location allowed: suppressed on the finding too, and it does not fail.
        let s = judged(&gate, &finding("x.crit", Severity::Critical, "srv/app/.env"));
        assert_eq!(s.locations[0].suppressed.as_ref().map(|s| s.entry), Some(1));
        assert_eq!(s.suppressed.as_ref().map(|s| s.reason.as_str()), Some("staging"));
        assert_eq!(s.fails_gate, Some(false));
        // Without deadlines, baselined findings are left out.
        let plain = Gate::new(Policy::default(), clock).baseline(Baseline::parse("[]").unwrap());
        let known = finding("x.crit", Severity::Critical, "a");
        let with_it = Gate::new(Policy::default(), clock)
            .baseline(Baseline::parse(&format!("[\"{}\"]", known.fingerprint)).unwrap());
        assert!(matches!(with_it.judge(&known, None), Judgement::Baselined));
        assert!(matches!(plain.judge(&known, None), Judgement::Report(_)));
        // Filters.
        let min = Gate::new(Policy::default(), clock).min_severity(Some(Severity::Critical));
        assert!(matches!(min.judge(&finding("x.high", Severity::High, "a"), None), Judgement::Filtered));
        let present = Gate::new(Policy::default(), clock).statuses(vec![Status::Present]);
        assert!(matches!(present.judge(&known, None), Judgement::Filtered));
        // The outcome.
        let failed = Counts { failed: true, ..Counts::default() };
        assert_eq!(gate.report(&failed, false, 3).result, GateResult::Fail);
        assert_eq!(gate.report(&failed, true, 3).exit_code, 2);
        assert_eq!(gate.report(&Counts::default(), false, 0).exit_code, 0);
        let mismatch = Counts { integrity: Integrity::Mismatch, ..Counts::default() };
        assert_eq!(gate.report(&mismatch, false, 0).result, GateResult::Integrity);
        assert_eq!(gate.report(&mismatch, false, 0).exit_code, 2);
        assert_eq!(gate.report(&mismatch, true, 0).result, GateResult::Incomplete);
        let allowed = Counts { integrity: Integrity::Allowed, ..Counts::default() };
        assert_eq!(gate.report(&allowed, false, 0).result, GateResult::Pass);
    }
}
