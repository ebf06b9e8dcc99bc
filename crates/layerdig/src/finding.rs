//! Findings: what was found, how sure we are, and every place it was found.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::redact::redact;
pub(crate) use crate::redact::{Redacted, redact_quoted};
pub use crate::vocab::{
    Confidence, ConfigField, Disposition, MatchKind, Severity, Sla, Source, Status, Structure, Suppression, hex,
};

/// The fingerprint of a secret found by a rule: SHA-256 over the rule id, a NUL byte and the
/// secret, as lowercase hex. The same secret found by the same rule anywhere has the same
/// fingerprint, so baselines and allow lists survive rebuilds.
pub fn fingerprint(rule_id: &str, secret: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(secret);
    hex(&hasher.finalize())
}

/// A half-open byte range `[start, end)` within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// One place a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The image path as given.
    pub image: String,
    /// The platform of the image, for multi-platform inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// File, config or history.
    pub source: Source,
    /// The config field (`Env[2]`, `Labels.x`, `history[9].created_by`) for config and history.
    #[serde(default)]
    pub config_key: Option<ConfigField>,
    /// The layer, base 0 (files, and history entries that made a layer).
    #[serde(default)]
    pub layer_index: Option<usize>,
    /// The layer's digest.
    #[serde(default)]
    pub layer_digest: Option<String>,
    /// The instruction that made the layer (secrets in it redacted).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Path inside the layer, no leading slash. Inside an archive, each path inside follows
    /// after a `!`: `opt/app/app.war!WEB-INF/lib/inner.jar!application.properties`.
    #[serde(default)]
    pub path: Option<String>,
    /// The path's parts when it is inside an archive: the file's path in the layer, then the
    /// path inside each archive going in (`!` may be in a name, so this is what to split by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_segments: Option<Vec<String>>,
    /// 1-based line.
    #[serde(default)]
    pub line: Option<u64>,
    /// 1-based column, in bytes.
    #[serde(default)]
    pub column: Option<u64>,
    /// Byte span of the secret within the file or config string.
    #[serde(default)]
    pub span: Option<Span>,
    /// Present, deleted or overwritten (files only).
    #[serde(default)]
    pub status: Option<Status>,
    /// The layer that deleted or overwrote the file.
    #[serde(default)]
    pub removed_in_layer: Option<usize>,
    /// How it was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<crate::vocab::RemovedBy>,
    /// How the secret was encoded here, when a decoder found it (base64, percent, UTF-16,
    /// `\u` escapes); `line`, `column` and `span` then point at the encoded bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<crate::vocab::Encoding>,
    /// Whether this place needs action.
    pub disposition: Disposition,
    /// The policy's allow entry that matched this place, if one did ([`crate::gate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
    /// Where in the layer's bytes, for hidden data (`source` `hidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
    /// Which JSON document of the input and where in it, for `source` `metadata` (an
    /// annotation of a manifest, a build argument in an attestation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<crate::vocab::Document>,
    /// For a file a package installed: the package, and whether the file's bytes are still the
    /// package's (see [`crate::ownership`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<crate::ownership::FileOwner>,
    /// For a layer location, when the image's base is known: whether the layer is the base
    /// image's (`inherited`) or the image's own (`introduced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::vocab::Origin>,
}

/// A secret and every place it was found. The same secret found by the same rule in many places
/// is one finding.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// How bad a leak of this kind is.
    pub severity: Severity,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// Which detector found it.
    pub detector: MatchKind,
    /// SHA-256 over rule id and secret, hex; stable across images and rebuilds.
    pub fingerprint: String,
    /// The secret's redacted form.
    pub redacted: String,
    /// The secret itself, only when the scan was asked to show secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A remark from validation, e.g. that a private key is encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every place it was found.
    pub locations: Vec<Location>,
    /// The allow entry that matched, when one matched every location ([`crate::gate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
    /// Whether the finding is in the baseline (reported only when the policy sets deadlines).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub baselined: bool,
    /// Where it stands against the policy's fix-by deadline, when the policy sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    /// Whether it fails the gate, once a [`crate::gate::Gate`] has judged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fails_gate: Option<bool>,
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("rule_id", &self.rule_id)
            .field("severity", &self.severity)
            .field("confidence", &self.confidence)
            .field("redacted", &self.redacted)
            .field("fingerprint", &self.fingerprint)
            .field("locations", &self.locations)
            .finish_non_exhaustive()
    }
}

impl Finding {
    /// The most favourable status among its file locations: present beats overwritten beats
    /// deleted; `None` when it was found only in the config.
    pub fn best_status(&self) -> Option<Status> {
        let rank = |s: Status| match s {
            Status::Present => 0,
            Status::Overwritten => 1,
            Status::Deleted => 2,
        };
        self.locations.iter().filter_map(|l| l.status).min_by_key(|&s| rank(s))
    }

    /// The order reports list findings in: most severe first, then by rule id, then by
    /// fingerprint (so output is stable from run to run).
    pub fn report_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    }

    /// Whether any location needs action.
    pub fn is_actionable(&self) -> bool {
        self.locations.iter().any(|l| l.disposition == Disposition::Actionable)
    }

    /// Whether the policy allows every location (and so the finding).
    pub fn is_suppressed(&self) -> bool {
        self.suppressed.is_some()
    }

    /// The origin that counts for summaries, when the base is known: introduced if any
    /// location is, else inherited.
    pub fn origin(&self) -> Option<crate::vocab::Origin> {
        use crate::vocab::Origin;
        let mut origins = self.locations.iter().filter_map(|l| l.origin);
        let first = origins.next()?;
        Some(if first == Origin::Introduced || origins.any(|o| o == Origin::Introduced) {
            Origin::Introduced
        } else {
            Origin::Inherited
        })
    }

    /// The disposition that counts for summaries: actionable if any location is, else the
    /// first location's.
    pub fn disposition(&self) -> Disposition {
        if self.is_actionable() {
            Disposition::Actionable
        } else {
            self.locations.first().map(|l| l.disposition).unwrap_or(Disposition::Actionable)
        }
    }

    /// Add the places of the same secret found elsewhere (`other` has this finding's
    /// fingerprint): new locations are appended, the highest confidence is kept, and the
    /// verdict is the union of both (fails if either fails; suppressed only if every
    /// location is; the earlier deadline).
    pub fn merge(&mut self, other: Finding) {
        for l in other.locations {
            if !self.locations.contains(&l) {
                self.locations.push(l);
            }
        }
        self.confidence = self.confidence.max(other.confidence);
        self.fails_gate = match (self.fails_gate, other.fails_gate) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        };
        self.baselined |= other.baselined;
        if let Some(theirs) = other.sla
            && self.sla.as_ref().is_none_or(|ours| theirs.due < ours.due)
        {
            self.sla = Some(theirs);
        }
        self.suppressed = Finding::all_suppressed(&self.locations);
    }

    /// The suppression a finding gets from its locations': the first, when every location has
    /// one.
    pub(crate) fn all_suppressed(locations: &[Location]) -> Option<Suppression> {
        if locations.is_empty() || locations.iter().any(|l| l.suppressed.is_none()) {
            return None;
        }
        locations.first().and_then(|l| l.suppressed.clone())
    }
}

/// Findings merged by fingerprint, in the order first seen: the one merge every report uses
/// (within an image, across images, per section of the human report).
#[derive(Debug, Clone, Default)]
pub struct FindingSet {
    findings: Vec<Finding>,
    index: std::collections::HashMap<String, usize>,
}

impl FindingSet {
    /// An empty set.
    pub fn new() -> FindingSet {
        FindingSet::default()
    }

    /// Add `finding`, merging it into the one with its fingerprint if there is one.
    pub fn add(&mut self, finding: Finding) {
        match self.index.get(&finding.fingerprint) {
            Some(&i) => self.findings[i].merge(finding),
            None => {
                self.index.insert(finding.fingerprint.clone(), self.findings.len());
                self.findings.push(finding);
            }
        }
    }

    /// The findings, in report order ([`Finding::report_order`]).
    pub fn into_sorted(mut self) -> Vec<Finding> {
        self.findings.sort_by(Finding::report_order);
        self.findings
    }
}

/// A finding of `rule_id` at `severity` for `secret`, at one deleted file location `path` in
/// layer 1 of `app.tar`: the example other modules' unit tests judge and print.
#[cfg(test)]
pub(crate) fn example(rule_id: &str, severity: Severity, path: &str, secret: &str) -> Finding {
    Finding {
        rule_id: rule_id.into(),
        rule_name: rule_id.into(),
        severity,
        confidence: Confidence::High,
        detector: MatchKind::Rule,
        fingerprint: fingerprint(rule_id, secret.as_bytes()),
        redacted: redact(secret.as_bytes()),
        secret: None,
        note: None,
        locations: vec![Location {
            image: "app.tar".into(),
            platform: None,
            source: Source::File,
            config_key: None,
            layer_index: Some(1),
            layer_digest: None,
            created_by: Some("/bin/sh -c #(nop) COPY file:abc in /app/.env".into()),
            path: Some(path.into()),
            path_segments: None,
            line: Some(1),
            column: Some(8),
            span: Some(Span { start: 7, end: 7 + secret.len() as u64 }),
            status: Some(Status::Deleted),
            removed_in_layer: Some(2),
            removed_by: None,
            encoding: None,
            disposition: Disposition::Actionable,
            suppressed: None,
            structure: None,
            document: None,
            owner: None,
            origin: None,
        }],
        suppressed: None,
        baselined: false,
        sla: None,
        fails_gate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB";

    fn finding(secret: Option<&str>) -> Finding {
        Finding {
            rule_name: "Stripe secret key".into(),
            secret: secret.map(str::to_string),
            ..example("stripe.secret-key", Severity::Critical, "app/.env", SECRET)
        }
    }

    /// Issue 7: a `{:?}` of a finding (in a log line, a panic message, a test failure) shows the
    /// redacted form only, even when the scan was asked to keep the secret.
    #[test]
    fn debug_of_findings_and_reports_never_shows_the_secret() {
        let shown = finding(Some(SECRET));
        let report = crate::report::Report { findings: vec![shown.clone(), finding(None)], ..Default::default() };
        for text in [format!("{shown:?}"), format!("{shown:#?}"), format!("{report:?}"), format!("{report:#?}")] {
            assert!(!text.contains(SECRET) && !text.contains("beILuFYHgGOm"), "{text}");
            assert!(text.contains("sk_l… (40 chars)"), "{text}");
        }
        // The secret is still there for those who asked for it.
        assert_eq!(shown.secret.as_deref(), Some(SECRET));
    }

    #[test]
    fn redaction_shows_four_characters_and_the_length() {
        assert_eq!(redact(SECRET.as_bytes()), "sk_l… (40 chars)");
        assert_eq!(redact(b"hunter22"), "… (8 chars)");
        assert_eq!(redact(b"\x1b[31mabcdefgh"), "?[31… (13 chars)");
        assert_eq!(format!("{:?}", Redacted(SECRET)), "\"sk_l… (40 chars)\"");
    }

    #[test]
    fn quoted_parts_of_messages_are_redacted() {
        for (message, want) in [
            (
                format!("invalid type: string \"{SECRET}\", expected a sequence at line 1 column 60"),
                "invalid type: string \"sk_l… (40 chars)\", expected a sequence at line 1 column 60".to_string(),
            ),
            ("missing field `layers` at line 3 column 1".into(), "missing field `layers` at line 3 column 1".into()),
            (r#"a "q\"uote" and "b""#.into(), r#"a "… (7 chars)" and "… (1 chars)""#.into()),
            (format!("unterminated \"{SECRET}"), "unterminated \"sk_l… (40 chars)".into()),
            ("\"\"".into(), "\"… (0 chars)\"".into()),
        ] {
            assert_eq!(redact_quoted(&message), want, "{message}");
        }
    }
}
