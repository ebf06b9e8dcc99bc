//! The policy file, `layerdig.toml`: the failure threshold, severity overrides per rule, and
//! allow entries (by rule, path glob, image or fingerprint, each with a reason and an optional
//! expiry date).
//!
//! One implementation for every shell: the command line applies it to its gate and reports, the
//! Python bindings to `scan(..., config=...)`.
//!
//! ```
//! use layerdig::policy::{Date, Policy};
//! use layerdig::Severity;
//!
//! let policy = Policy::parse(
//!     "fail_on = \"medium\"\n[severity]\n\"generic.password\" = \"low\"\n\n\
//!      [[allow]]\npath = \"srv/**\"\nreason = \"staging keys, rotated daily\"\n",
//!     Date::today(),
//! )?;
//! assert_eq!(policy.fail_on, Some(Severity::Medium));
//! assert_eq!(policy.severity("generic.password", Severity::High), Severity::Low);
//! # Ok::<(), layerdig::policy::PolicyError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use crate::finding::{Finding, Location, Severity};
use crate::report::ImageReport;
pub use crate::time::Date;
pub use crate::vocab::Suppression;

/// Why a policy file could not be loaded. The `Display` of each variant is one step of the
/// message; [`std::error::Error::source`] gives the next (a policy file's path, then what is
/// wrong in it, then the underlying glob or I/O error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("reading policy file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid policy: `source` says why.
    #[error("policy file {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<PolicyError>,
    },
    /// Not valid TOML, an unknown key, or a value of the wrong type (a severity that is not one).
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// An `[[allow]]` entry without a `reason` (or an empty one).
    #[error("[[allow]] entry {entry}: `reason` is required: say why this is allowed")]
    MissingReason {
        /// The entry's position among the `[[allow]]` entries, from 1.
        entry: usize,
    },
    /// An `[[allow]]` entry with none of `rule`, `path`, `image`, `fingerprint`.
    #[error("[[allow]] entry {entry}: give at least one of `rule`, `path`, `image`, `fingerprint`")]
    NoCriterion {
        /// The entry's position among the `[[allow]]` entries, from 1.
        entry: usize,
    },
    /// A `rule`, `path` or `image` glob that does not compile.
    #[error("[[allow]] entry {entry}: bad {key} glob {pattern:?}")]
    Glob {
        /// The entry's position among the `[[allow]]` entries, from 1.
        entry: usize,
        /// Which key: `rule`, `path` or `image`.
        key: &'static str,
        /// The glob as written.
        pattern: String,
        /// Why it does not compile.
        #[source]
        source: globset::Error,
    },
    /// A `fingerprint` that is not 64 hex digits.
    #[error("[[allow]] entry {entry}: `fingerprint` must be the 64 hex digits a report gives, not {value:?}")]
    Fingerprint {
        /// The entry's position among the `[[allow]]` entries, from 1.
        entry: usize,
        /// The fingerprint as written (trimmed, lower case).
        value: String,
    },
    /// An `[sla]` deadline that is not a duration like `24h`, `7d` or `2w`.
    #[error("[sla] {severity}: expected a duration like \"24h\", \"7d\" or \"2w\", not {value:?}")]
    Sla {
        /// The severity it is for.
        severity: Severity,
        /// The value as written.
        value: String,
    },
    /// `allow_digest_mismatch = true` without a `reason`.
    #[error(
        "[integrity] allow_digest_mismatch = true needs a `reason`: say why bytes that do not match their digests are acceptable"
    )]
    IntegrityReason,
    /// An `expires` that is not a date like `2027-01-31`.
    #[error("[[allow]] entry {entry}: `expires` must be a date like 2027-01-31, not {value:?}")]
    Expires {
        /// The entry's position among the `[[allow]]` entries, from 1.
        entry: usize,
        /// The value as written.
        value: String,
    },
}

/// The file name looked for in the working directory.
pub const FILE_NAME: &str = "layerdig.toml";

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    fail_on: Option<Severity>,
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    #[serde(default)]
    allow: Vec<AllowFile>,
    #[serde(default)]
    sla: BTreeMap<Severity, String>,
    integrity: Option<IntegrityFile>,
    base: Option<BaseFile>,
}

/// `[base]`: whether findings only in the base image's layers fail the gate.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct BaseFile {
    #[serde(default = "yes")]
    fail_on_inherited: bool,
}

fn yes() -> bool {
    true
}

/// `[integrity]`: whether a digest or size mismatch may pass the gate, and why.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct IntegrityFile {
    #[serde(default)]
    allow_digest_mismatch: bool,
    reason: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    rule: Option<String>,
    path: Option<String>,
    image: Option<String>,
    fingerprint: Option<String>,
    reason: Option<String>,
    expires: Option<DateValue>,
}

/// `expires = 2027-01-31` (a TOML date) or `expires = "2027-01-31"`.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

/// One `[[allow]]` entry, compiled. Every criterion it gives must match.
#[derive(Debug)]
struct Allow {
    number: usize,
    rule: Option<GlobMatcher>,
    path: Option<GlobMatcher>,
    image: Option<GlobMatcher>,
    fingerprint: Option<String>,
    suppression: Suppression,
    expired: bool,
    describe: String,
}

/// A loaded policy.
#[derive(Debug, Default)]
pub struct Policy {
    /// Where it came from (`None`: no policy file).
    pub source: Option<PathBuf>,
    /// The failure threshold it sets.
    pub fail_on: Option<Severity>,
    overrides: BTreeMap<String, Severity>,
    allow: Vec<Allow>,
    sla: BTreeMap<Severity, u64>,
    /// Why digest and size mismatches may pass, when the policy allows them.
    integrity_allowed: Option<String>,
    /// `[base] fail_on_inherited = false`: findings only in the base image's layers pass.
    inherited_passes: bool,
}

impl Policy {
    /// Find the policy: `explicit` if given (it must exist), else `./layerdig.toml` if it exists
    /// and `disabled` is false, else none (an empty policy). `today` decides which allow
    /// entries have expired.
    ///
    /// # Errors
    /// As [`Policy::load`], when a file is found.
    pub fn discover(explicit: Option<&Path>, disabled: bool, today: Date) -> Result<Policy, PolicyError> {
        if let Some(path) = explicit {
            return Policy::load(path, today);
        }
        let default = Path::new(FILE_NAME);
        if !disabled && default.is_file() {
            return Policy::load(default, today);
        }
        Ok(Policy::default())
    }

    /// Load and check a policy file. `today` decides which allow entries have expired.
    ///
    /// # Errors
    /// [`PolicyError::Read`] when the file cannot be read; [`PolicyError::Invalid`], wrapping
    /// the error [`Policy::parse`] gives, when it is not a valid policy.
    pub fn load(path: &Path, today: Date) -> Result<Policy, PolicyError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: path.to_path_buf(), source })?;
        let mut policy = Policy::parse(&text, today)
            .map_err(|e| PolicyError::Invalid { path: path.to_path_buf(), source: Box::new(e) })?;
        policy.source = Some(path.to_path_buf());
        Ok(policy)
    }

    /// Parse a policy from TOML text.
    ///
    /// # Errors
    /// [`PolicyError::Toml`] when the text is not valid TOML, has unknown keys or values of the
    /// wrong type; the other variants when an `[[allow]]` entry has no criterion, no reason, or
    /// a bad glob, fingerprint or date.
    pub fn parse(text: &str, today: Date) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text)?;
        let mut allow = Vec::new();
        for (i, entry) in file.allow.into_iter().enumerate() {
            let number = i + 1;
            let reason = match entry.reason.as_deref().map(str::trim) {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => return Err(PolicyError::MissingReason { entry: number }),
            };
            if entry.rule.is_none() && entry.path.is_none() && entry.image.is_none() && entry.fingerprint.is_none() {
                return Err(PolicyError::NoCriterion { entry: number });
            }
            let glob = |pattern: &str,
                        literal_separator: bool,
                        key: &'static str|
             -> Result<GlobMatcher, PolicyError> {
                GlobBuilder::new(pattern)
                    .literal_separator(literal_separator)
                    .build()
                    .map(|g| g.compile_matcher())
                    .map_err(|source| PolicyError::Glob { entry: number, key, pattern: pattern.to_string(), source })
            };
            let rule = entry.rule.as_deref().map(|r| glob(r, false, "rule")).transpose()?;
            let path = entry.path.as_deref().map(|p| glob(p.trim_start_matches('/'), true, "path")).transpose()?;
            let image = entry.image.as_deref().map(|p| glob(p, false, "image")).transpose()?;
            let fingerprint = match entry.fingerprint {
                Some(fp) => {
                    let fp = fp.trim().to_ascii_lowercase();
                    if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(PolicyError::Fingerprint { entry: number, value: fp });
                    }
                    Some(fp)
                }
                None => None,
            };
            let expires = match entry.expires {
                None => None,
                Some(value) => {
                    let text = match &value {
                        DateValue::Toml(dt) => dt.to_string(),
                        DateValue::Text(s) => s.clone(),
                    };
                    match Date::parse(&text) {
                        Some(d) if text.trim().len() == 10 => Some(d),
                        _ => return Err(PolicyError::Expires { entry: number, value: text }),
                    }
                }
            };
            let mut criteria = Vec::new();
            for (key, value) in [("rule", &entry.rule), ("path", &entry.path), ("image", &entry.image)] {
                if let Some(v) = value {
                    criteria.push(format!("{key} {v:?}"));
                }
            }
            if let Some(fp) = &fingerprint {
                criteria.push(format!("fingerprint {}…", &fp[..12]));
            }
            allow.push(Allow {
                number,
                rule,
                path,
                image,
                fingerprint,
                suppression: Suppression { entry: number, reason, expires: expires.map(|d| d.to_string()) },
                expired: expires.is_some_and(|d| d < today),
                describe: criteria.join(", "),
            });
        }
        let mut sla = BTreeMap::new();
        for (severity, value) in file.sla {
            match parse_duration(&value) {
                Some(seconds) => sla.insert(severity, seconds),
                None => return Err(PolicyError::Sla { severity, value }),
            };
        }
        let integrity_allowed = match file.integrity {
            Some(IntegrityFile { allow_digest_mismatch: true, reason }) => {
                match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    Some(r) => Some(r.to_string()),
                    None => return Err(PolicyError::IntegrityReason),
                }
            }
            _ => None,
        };
        let inherited_passes = file.base.is_some_and(|b| !b.fail_on_inherited);
        Ok(Policy {
            source: None,
            fail_on: file.fail_on,
            overrides: file.severity,
            allow,
            sla,
            integrity_allowed,
            inherited_passes,
        })
    }

    /// One warning per expired allow entry: they no longer suppress anything.
    #[must_use]
    pub fn expiry_warnings(&self) -> Vec<String> {
        let file = self.source.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| FILE_NAME.to_string());
        self.allow
            .iter()
            .filter(|a| a.expired)
            .map(|a| {
                format!(
                    "{file}: [[allow]] entry {} ({}) expired on {}; it no longer suppresses anything: fix the finding, or renew the entry with a new reason",
                    a.number,
                    a.describe,
                    a.suppression.expires.as_deref().unwrap_or("?")
                )
            })
            .collect()
    }

    /// The severity a finding of `rule_id` gets: its override, else `default`.
    #[must_use]
    pub fn severity(&self, rule_id: &str, default: Severity) -> Severity {
        self.overrides.get(rule_id).copied().unwrap_or(default)
    }

    /// How long a finding of `severity` may stay unfixed, in seconds, if the policy's `[sla]`
    /// table says.
    #[must_use]
    pub fn sla(&self, severity: Severity) -> Option<u64> {
        self.sla.get(&severity).copied()
    }

    /// Whether a finding only in the base image's layers fails the gate: yes, unless the
    /// policy's `[base]` table says `fail_on_inherited = false` (scan what you inherit).
    #[must_use]
    pub fn inherited_fails(&self) -> bool {
        !self.inherited_passes
    }

    /// Why digest and size mismatches may pass the gate, when the policy's `[integrity]` table
    /// allows them (`allow_digest_mismatch = true` with a `reason`); `None`: they fail it.
    #[must_use]
    pub fn integrity_allowed(&self) -> Option<&str> {
        self.integrity_allowed.as_deref()
    }

    /// Whether the policy sets any fix-by deadline.
    #[must_use]
    pub fn has_sla(&self) -> bool {
        !self.sla.is_empty()
    }

    /// The severity overrides, by rule id.
    #[must_use]
    pub fn overrides(&self) -> &BTreeMap<String, Severity> {
        &self.overrides
    }

    /// The allow entry that suppresses `location` of `finding`, if any (expired entries never
    /// do). `image` describes the image the location is in (for tags and digest); an `image`
    /// glob is matched against the location's image path, its file name, and that report's tags
    /// and digest.
    #[must_use]
    pub fn suppression(
        &self,
        finding: &Finding,
        location: &Location,
        image: Option<&ImageReport>,
    ) -> Option<&Suppression> {
        self.allow.iter().filter(|a| !a.expired).find(|a| a.matches(finding, location, image)).map(|a| &a.suppression)
    }
}

/// `24h`, `7d`, `2w`, `90m`, `30s` (a whole number and a unit) in seconds.
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    number.checked_mul(scale)
}

impl Allow {
    fn matches(&self, finding: &Finding, location: &Location, image: Option<&ImageReport>) -> bool {
        if let Some(rule) = &self.rule
            && !rule.is_match(&finding.rule_id)
        {
            return false;
        }
        if let Some(fp) = &self.fingerprint
            && *fp != finding.fingerprint
        {
            return false;
        }
        if let Some(glob) = &self.path {
            match &location.path {
                Some(p) if glob.is_match(p.trim_start_matches('/')) => {}
                _ => return false,
            }
        }
        if let Some(glob) = &self.image {
            let name = Path::new(&location.image).file_name().map(|n| n.to_string_lossy().into_owned());
            let mut names: Vec<&str> = vec![location.image.as_str()];
            if let Some(n) = &name {
                names.push(n);
            }
            if let Some(img) = image.filter(|i| i.path == location.image) {
                names.extend(img.tags.iter().map(String::as_str));
                names.extend(img.digest.as_deref());
            }
            if !names.iter().any(|n| glob.is_match(n)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_723).to_string(), "2024-01-01");
        assert_eq!(Date::from_days(20_089).to_string(), "2025-01-01");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
    }

    #[test]
    fn parse_errors_name_the_entry() {
        let today = Date::parse("2026-01-01").unwrap();
        let cases = [
            ("[[allow]]\nrule = \"x\"\n", "`reason` is required"),
            ("[[allow]]\nreason = \"r\"\n", "at least one of"),
            ("[[allow]]\nfingerprint = \"abc\"\nreason = \"r\"\n", "64 hex digits"),
            ("[[allow]]\nrule = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n", "must be a date"),
            ("[[allow]]\npath = \"a/[\"\nreason = \"r\"\n", "bad path glob"),
            ("fail_on = \"severe\"\n", "unknown variant"),
            ("[[allow]]\nrule = \"x\"\nreason = \"r\"\nwhy = 1\n", "unknown field"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Policy::parse(text, today).unwrap_err());
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn integrity_allowance_needs_a_reason() {
        let today = Date::parse("2026-01-01").unwrap();
        assert_eq!(Policy::parse("", today).unwrap().integrity_allowed(), None);
        assert!(Policy::parse("", today).unwrap().inherited_fails());
        assert!(Policy::parse("[base]\n", today).unwrap().inherited_fails());
        assert!(!Policy::parse("[base]\nfail_on_inherited = false\n", today).unwrap().inherited_fails());
        assert!(Policy::parse("[base]\nfail_on_inheritd = false\n", today).is_err());
        let allowed =
            Policy::parse("[integrity]\nallow_digest_mismatch = true\nreason = \"mirror recompresses\"\n", today)
                .unwrap();
        assert_eq!(allowed.integrity_allowed(), Some("mirror recompresses"));
        let off = Policy::parse("[integrity]\nallow_digest_mismatch = false\n", today).unwrap();
        assert_eq!(off.integrity_allowed(), None);
        for bad in [
            "[integrity]\nallow_digest_mismatch = true\n",
            "[integrity]\nallow_digest_mismatch = true\nreason = \" \"\n",
        ] {
            let err = format!("{:#}", Policy::parse(bad, today).unwrap_err());
            assert!(err.contains("needs a `reason`"), "{bad}: {err}");
        }
        assert!(Policy::parse("[integrity]\nallow = true\n", today).is_err());
    }

    #[test]
    fn sla_deadlines() {
        let today = Date::parse("2026-01-01").unwrap();
        let p = Policy::parse("[sla]\ncritical = \"24h\"\nhigh = \"7d\"\nmedium = \"2w\"\n", today).unwrap();
        assert_eq!(p.sla(Severity::Critical), Some(86_400));
        assert_eq!(p.sla(Severity::High), Some(7 * 86_400));
        assert_eq!(p.sla(Severity::Medium), Some(14 * 86_400));
        assert_eq!(p.sla(Severity::Low), None);
        assert!(p.has_sla());
        for bad in ["\"soon\"", "\"7\"", "\"d\"", "\"-1d\"", "\"7y\""] {
            let err = format!("{:#}", Policy::parse(&format!("[sla]\nhigh = {bad}\n"), today).unwrap_err());
            assert!(err.contains("[sla] high") || err.contains("invalid"), "{bad}: {err}");
        }
        assert!(Policy::parse("[sla]\nsevere = \"1d\"\n", today).is_err());
    }

    #[test]
    fn expiry() {
        let today = Date::parse("2026-06-15").unwrap();
        let p = Policy::parse(
            "[[allow]]\nrule = \"a\"\nreason = \"r\"\nexpires = 2026-06-14\n[[allow]]\nrule = \"b\"\nreason = \"r\"\nexpires = \"2026-06-15\"\n",
            today,
        )
        .unwrap();
        let w = p.expiry_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("entry 1") && w[0].contains("2026-06-14"), "{w:?}");
    }
}
