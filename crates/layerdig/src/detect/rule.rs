//! Rules as data: the YAML format, compiling it, and checking a rule file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::entropy::{self, Filler};
use super::prefilter::Prefilter;
use super::validate::{self, Validation};
use crate::finding::{Confidence, Severity};

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Upper bound on one compiled regex program. Rule patterns are short token shapes; a pattern that
/// needs more than this is a mistake (usually a huge counted repetition of a Unicode class).
const REGEX_SIZE_LIMIT: usize = 32 << 20;

/// Cache budget of the lazy DFA of one regex, per thread. Token-shaped patterns settle in a few
/// KiB of states; 1 MiB leaves room for the odd complicated rule while ~170 rules on every
/// scanning thread cannot add up to more than a few hundred MiB even in the worst case.
const DFA_SIZE_LIMIT: usize = 1 << 20;

/// One detection rule, as read from a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Unique id, e.g. `aws.access-key-id`. Part of every fingerprint: never rename lightly.
    pub id: String,
    /// Human-readable name, e.g. `AWS access key id`.
    pub name: String,
    /// The provider the rule file is about (`provider:` at the top of the file).
    pub provider: String,
    /// How bad a leak of this kind is.
    pub severity: Severity,
    /// How sure a match is when no validation applies (default medium).
    pub confidence: Confidence,
    /// Whether the rule also runs on binary files (a NUL byte in the first 8 KiB).
    pub binary: bool,
    /// The offline check that confirms a match (confidence high) or finds it weak (confidence
    /// low, disposition `documented_example`).
    pub validation: Option<Validation>,
    /// Literal strings (ASCII case-insensitive) one of which every match contains. A rule's regex
    /// runs only on content where the prefilter saw one of them.
    pub keywords: Vec<String>,
    /// The regex (Rust `regex` syntax, bytes, ASCII classes); capture group 1 is the secret.
    pub pattern: String,
    /// Where the format is documented.
    pub references: Vec<String>,
    /// Strings the rule must match (checked by [`Rules::check`]).
    pub examples: Vec<String>,
    /// Strings the rule must not report (checked by [`Rules::check`]).
    pub negative_examples: Vec<String>,
    /// Secrets the provider publishes in its documentation; a match equal to one is reported
    /// with the disposition `documented_example`.
    pub documented_examples: Vec<String>,
    /// The file the rule came from (a built-in file name such as `aws.yaml`, or a path).
    pub origin: String,
}

/// Why a rule file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The file is not valid YAML or does not have the rule file shape.
    #[error("{origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// What the YAML parser said, with line and column.
        message: String,
    },
    /// A rule's pattern does not compile, or has no capture group 1.
    #[error("{origin}: rule {rule_id}: {message}")]
    Regex {
        /// The file.
        origin: String,
        /// The rule.
        rule_id: String,
        /// What is wrong with the pattern.
        message: String,
    },
    /// Two rules have the same id.
    #[error("duplicate rule id {id:?} (in {origin}, first defined in {first_origin})")]
    DuplicateId {
        /// The id.
        id: String,
        /// The file of the second definition.
        origin: String,
        /// The file of the first definition.
        first_origin: String,
    },
    /// A rule file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The keyword automaton could not be built (too many or too long keywords).
    #[error("keyword prefilter: {message}")]
    Prefilter {
        /// What aho-corasick said.
        message: String,
    },
}

/// What [`Rules::check`] found wrong with a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The id is empty or has characters other than ASCII letters, digits, `.`, `_` and `-`.
    InvalidId,
    /// The rule has no keywords, so the prefilter would never run it.
    NoKeywords,
    /// A keyword is shorter than 3 characters (it would hit nearly every file).
    ShortKeyword,
    /// An example contains none of the rule's keywords, so the prefilter would skip it.
    ExampleWithoutKeyword,
    /// Fewer than two examples.
    TooFewExamples,
    /// No negative example.
    NoNegativeExample,
    /// An example does not match, or its capture group 1 is empty.
    ExampleDoesNotMatch,
    /// An example matches but fails the rule's validation.
    ExampleFailsValidation,
    /// An example's secret is a placeholder (`changeme`, `xxxx…`, `<your-key>`): the detector
    /// reports it only as weak evidence.
    ExampleIsPlaceholder,
    /// A negative example is reported: it matches and passes validation (or the rule has none),
    /// and is no placeholder. A match that fails validation, or a placeholder, is weak evidence,
    /// which a negative example may be.
    NegativeExampleMatches,
}

/// One problem [`Rules::check`] found in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// The rule.
    pub rule_id: String,
    /// The file the rule came from.
    pub origin: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The problem, for people.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: rule {}: {}", self.origin, self.rule_id, self.message)
    }
}

/// The rule file format: one file per provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    provider: String,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    severity: Severity,
    #[serde(default)]
    confidence: Option<Confidence>,
    #[serde(default)]
    binary: bool,
    #[serde(default)]
    validation: Option<Validation>,
    #[serde(default)]
    keywords: Vec<String>,
    pattern: String,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    negative_examples: Vec<String>,
    #[serde(default)]
    documented_examples: Vec<String>,
}

/// A rule with its regex, compiled when a set is built from a user's file and on first use for
/// the built-in set (most of its rules never see their keywords in a given image, and compiling
/// all of them would be most of the start-up time).
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    regex: OnceLock<Option<Regex>>,
    pattern: Arc<str>,
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
}

impl Compiled {
    fn eager(rule: &Rule, regex: Regex) -> Compiled {
        let c = Compiled::lazy(rule);
        let _ = c.regex.set(Some(regex));
        c
    }

    fn lazy(rule: &Rule) -> Compiled {
        Compiled {
            regex: OnceLock::new(),
            pattern: Arc::from(rule.pattern.as_str()),
            id: Arc::from(rule.id.as_str()),
            name: Arc::from(rule.name.as_str()),
        }
    }

    /// The rule's regex; `None` for a built-in pattern that does not compile (the test suite
    /// compiles every one, so that is a bug, and the rule then never matches rather than
    /// stopping the scan).
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| compile_pattern(&self.pattern).ok()).as_ref()
    }
}

struct Inner {
    rules: Vec<Rule>,
    compiled: Vec<Compiled>,
    by_id: HashMap<String, usize>,
    prefilter: Prefilter,
    /// SHA-256 of the rules' definitions, taken on first use.
    fingerprint: OnceLock<[u8; 32]>,
}

/// A compiled, immutable rule set: regexes and the keyword automaton are built once.
///
/// `Clone` is cheap (an `Arc`), and `Rules` is `Send + Sync`: build it once and give every
/// scanning thread its own [`Detector`](super::Detector).
#[derive(Clone)]
pub struct Rules {
    inner: Arc<Inner>,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules").field("rules", &self.inner.rules.len()).finish_non_exhaustive()
    }
}

impl Rules {
    /// Every built-in rule (the YAML files embedded from `src/detect/rules/`), read once per
    /// process (later calls return a clone). Each rule's regex is compiled the first time its
    /// keyword is seen, so start-up does not pay for the rules an image never needs.
    ///
    /// Never panics: the built-in files are checked by the test suite, so a file or rule that
    /// fails to build is a bug, and is left out rather than taking the scanner down
    /// ([`Rules::try_builtin`] reports such errors).
    pub fn builtin() -> Rules {
        static BUILTIN: OnceLock<Rules> = OnceLock::new();
        BUILTIN.get_or_init(build_builtin_lenient).clone()
    }

    /// The built-in rules, built afresh, failing on the first file or rule that does not build.
    ///
    /// # Errors
    /// The first [`RuleError`] of the embedded files.
    pub fn try_builtin() -> Result<Rules, RuleError> {
        let mut specs = Vec::new();
        for (origin, text) in BUILTIN_RULES {
            let file = parse_file(text, origin)?;
            specs.extend(file.rules.into_iter().map(|spec| (spec, Arc::from(file.provider.as_str()), *origin)));
        }
        let (rules, compiled) = compile_all(specs).into_iter().collect::<Result<(Vec<_>, Vec<_>), _>>()?;
        Rules::assemble(rules, compiled)
    }

    /// The names of the embedded rule files, sorted.
    pub fn builtin_files() -> impl Iterator<Item = &'static str> {
        BUILTIN_RULES.iter().map(|(name, _)| *name)
    }

    /// A rule set with no rules: only the built-in generic detectors (entropy, credential files)
    /// run with it.
    pub fn empty() -> Rules {
        // Cannot fail: the prefilter then only holds the entropy detector's fixed key words.
        Rules::assemble(Vec::new(), Vec::new()).unwrap_or_else(|_| unreachable!("fixed keywords always build"))
    }

    /// Parse and compile one rule file's text. `origin` names it in errors and in
    /// [`Rule::origin`].
    ///
    /// # Errors
    /// [`RuleError::Parse`] for malformed YAML or unknown fields, [`RuleError::Regex`] for a
    /// pattern that does not compile or has no capture group 1, [`RuleError::DuplicateId`].
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Rules, RuleError> {
        let file = parse_file(text, origin)?;
        let provider: Arc<str> = Arc::from(file.provider.as_str());
        let specs = file.rules.into_iter().map(|spec| (spec, provider.clone(), origin)).collect();
        let (rules, compiled) = compile_all(specs).into_iter().collect::<Result<(Vec<_>, Vec<_>), _>>()?;
        Rules::assemble(rules, compiled)
    }

    /// Read, parse and compile a rule file.
    ///
    /// # Errors
    /// [`RuleError::Io`] when the file cannot be read, otherwise as [`Rules::from_yaml_str`].
    pub fn from_file(path: &Path) -> Result<Rules, RuleError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| RuleError::Io { path: path.to_path_buf(), source })?;
        Rules::from_yaml_str(&text, &path.display().to_string())
    }

    /// This rule set plus `other`'s rules (regexes are shared, the prefilter is rebuilt).
    ///
    /// # Errors
    /// [`RuleError::DuplicateId`] when both sets have a rule with the same id.
    pub fn extend(&self, other: &Rules) -> Result<Rules, RuleError> {
        let rules = self.inner.rules.iter().chain(&other.inner.rules).cloned().collect();
        let compiled = self.inner.compiled.iter().chain(&other.inner.compiled).cloned().collect();
        Rules::assemble(rules, compiled)
    }

    /// The SHA-256 of every rule's definition, in order: two rule sets with the same
    /// fingerprint find the same things. Taken once per rule set.
    pub fn fingerprint(&self) -> [u8; 32] {
        *self.inner.fingerprint.get_or_init(|| {
            use sha2::Digest as _;
            sha2::Sha256::digest(serde_json::to_vec(&self.inner.rules).unwrap_or_default()).into()
        })
    }

    /// Every rule, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.inner.by_id.get(id).map(|&i| &self.inner.rules[i])
    }

    /// Check every rule against its own examples: each example matches with a non-empty
    /// capture group 1 (passes the rule's validation, and is no placeholder), no negative
    /// example is reported (one whose every match fails validation or is a placeholder is fine:
    /// the detector reports such a match only as weak evidence, low confidence with the
    /// disposition `documented_example`),
    /// keywords exist, are at least 3 characters and each example contains one, and there are at
    /// least two examples and one negative example. Ids are unique by construction
    /// ([`RuleError::DuplicateId`]). An empty result means the rules are fine.
    pub fn check(&self) -> Vec<RuleProblem> {
        let mut problems = Vec::new();
        for (rule, compiled) in self.inner.rules.iter().zip(&self.inner.compiled) {
            match compiled.regex() {
                Some(regex) => check_rule(rule, regex, &mut problems),
                None => problems.push(RuleProblem {
                    rule_id: rule.id.clone(),
                    origin: rule.origin.clone(),
                    kind: ProblemKind::ExampleDoesNotMatch,
                    message: "the pattern does not compile".to_string(),
                }),
            }
        }
        problems
    }

    pub(crate) fn compiled(&self) -> &[Compiled] {
        &self.inner.compiled
    }

    pub(crate) fn prefilter(&self) -> &Prefilter {
        &self.inner.prefilter
    }

    fn assemble(rules: Vec<Rule>, compiled: Vec<Compiled>) -> Result<Rules, RuleError> {
        let mut by_id: HashMap<String, usize> = HashMap::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            if let Some(&first) = by_id.get(&rule.id) {
                return Err(RuleError::DuplicateId {
                    id: rule.id.clone(),
                    origin: rule.origin.clone(),
                    first_origin: rules[first].origin.clone(),
                });
            }
            by_id.insert(rule.id.clone(), i);
        }
        let prefilter = Prefilter::build(rules.iter().map(|rule| rule.keywords.as_slice()))
            .map_err(|e| RuleError::Prefilter { message: e.to_string() })?;
        Ok(Rules { inner: Arc::new(Inner { rules, compiled, by_id, prefilter, fingerprint: OnceLock::new() }) })
    }
}

/// Build the built-in set, leaving out (never panicking on) whatever does not build.
fn build_builtin_lenient() -> Rules {
    let mut specs = Vec::new();
    for (origin, text) in BUILTIN_RULES {
        let Ok(file) = parse_file(text, origin) else {
            continue;
        };
        specs.extend(file.rules.into_iter().map(|spec| (spec, Arc::from(file.provider.as_str()), *origin)));
    }
    let mut rules: Vec<Rule> = Vec::new();
    let mut compiled = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (spec, provider, origin) in specs {
        let rule = make_rule(spec, &provider, origin);
        if ids.insert(rule.id.clone()) {
            compiled.push(Compiled::lazy(&rule));
            rules.push(rule);
        }
    }
    Rules::assemble(rules, compiled).unwrap_or_else(|_| Rules::empty())
}

/// Compile rules in parallel (rayon's pool), keeping their order. Patterns with long counted
/// repetitions (`[…]{16,16384}?` in PEM rules) cost tens of milliseconds each, most rules well
/// under one; spreading them over the cores is what keeps [`Rules::builtin`] fast.
fn compile_all(specs: Vec<(RuleSpec, Arc<str>, &str)>) -> Vec<Result<(Rule, Compiled), RuleError>> {
    use rayon::prelude::*;
    specs.into_par_iter().map(|(spec, provider, origin)| compile(spec, &provider, origin)).collect()
}

fn parse_file(text: &str, origin: &str) -> Result<RuleFile, RuleError> {
    serde_yaml_ng::from_str(text).map_err(|e| RuleError::Parse { origin: origin.to_string(), message: e.to_string() })
}

fn compile(spec: RuleSpec, provider: &str, origin: &str) -> Result<(Rule, Compiled), RuleError> {
    let regex = compile_pattern(&spec.pattern).map_err(|message| RuleError::Regex {
        origin: origin.to_string(),
        rule_id: spec.id.clone(),
        message,
    })?;
    let rule = make_rule(spec, provider, origin);
    let compiled = Compiled::eager(&rule, regex);
    Ok((rule, compiled))
}

fn make_rule(spec: RuleSpec, provider: &str, origin: &str) -> Rule {
    Rule {
        id: spec.id,
        name: spec.name,
        provider: provider.to_string(),
        severity: spec.severity,
        confidence: spec.confidence.unwrap_or(Confidence::Medium),
        binary: spec.binary,
        validation: spec.validation,
        keywords: spec.keywords,
        pattern: spec.pattern,
        references: spec.references,
        examples: spec.examples,
        negative_examples: spec.negative_examples,
        documented_examples: spec.documented_examples,
        origin: origin.to_string(),
    }
}

/// Compile a rule pattern the way every rule is compiled: bytes, ASCII classes (Unicode mode
/// off, so `.` and `[^…]` also match non-UTF-8 bytes in binary files; `(?u)` turns it back on),
/// bounded program and DFA cache sizes. The pattern must have a capture group 1.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    let regex = RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())?;
    if regex.captures_len() < 2 {
        return Err("pattern has no capture group 1 (the secret)".to_string());
    }
    Ok(regex)
}

/// How a rule reports one of its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judged {
    /// High when validation passed, low when it failed or the secret is a placeholder, else the
    /// rule's own confidence.
    pub(crate) confidence: Confidence,
    /// Validation's remark (`encrypted`), or why the match is weak.
    pub(crate) note: Option<&'static str>,
    /// The match failed the rule's validation, or is a placeholder: weak evidence, reported
    /// with the disposition `documented_example` (never actionable by default) rather than
    /// dropped.
    pub(crate) weak: bool,
}

impl Rule {
    /// How the detector reports a match of this rule: `secret` is capture group 1, `whole` the
    /// whole regex match. One function for the detector and for [`Rules::check`], so that a
    /// rule file's examples are judged exactly as scanned text is.
    ///
    /// A match that fails validation is weak; so is, for a rule without validation, a secret
    /// that is a placeholder (`_authToken=changeme`, `password: xxxxxxxx`; see
    /// `entropy::filler`), unless it is a whole URL (whose host may well be `example.com`).
    pub(crate) fn judge(&self, secret: &[u8], whole: &[u8]) -> Judged {
        let weak = |note| Judged { confidence: Confidence::Low, note: Some(note), weak: true };
        match self.validation {
            Some(v) => match validate::validate(v, secret, whole) {
                Some(note) => Judged { confidence: Confidence::High, note, weak: false },
                None => weak(validate::failure_note(v)),
            },
            None if is_placeholder(secret) => weak(entropy::PLACEHOLDER_NOTE),
            None => Judged { confidence: self.confidence, note: None, weak: false },
        }
    }
}

/// A rule's secret that is a placeholder, not a URL.
fn is_placeholder(secret: &[u8]) -> bool {
    validate::find(secret, b"://").is_none() && entropy::filler(secret, b"") == Some(Filler::Placeholder)
}

/// What a rule does with one example text.
pub(crate) enum ExampleOutcome {
    /// A match with a non-empty group 1 that passes the rule's validation (if any).
    Reported,
    /// No match with a non-empty group 1.
    NoMatch,
    /// Matches, but every match fails the rule's validation or is a placeholder: reported only
    /// as weak evidence (low confidence, disposition `documented_example`).
    Weak,
}

/// Run `rule`'s `regex` (and validation) over `text` as the detector would.
pub(crate) fn run_example(rule: &Rule, regex: &Regex, text: &[u8]) -> ExampleOutcome {
    let mut outcome = ExampleOutcome::NoMatch;
    for caps in regex.captures_iter(text) {
        let (Some(whole), Some(secret)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        if secret.is_empty() {
            continue;
        }
        if rule.judge(secret.as_bytes(), whole.as_bytes()).weak {
            outcome = ExampleOutcome::Weak;
        } else {
            return ExampleOutcome::Reported;
        }
    }
    outcome
}

fn check_rule(rule: &Rule, regex: &Regex, problems: &mut Vec<RuleProblem>) {
    let mut problem = |kind: ProblemKind, message: String| {
        problems.push(RuleProblem { rule_id: rule.id.clone(), origin: rule.origin.clone(), kind, message });
    };
    if rule.id.is_empty() || !rule.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        problem(
            ProblemKind::InvalidId,
            format!("id {:?} must be non-empty ASCII letters, digits, '.', '_' or '-'", rule.id),
        );
    }
    let keywords: Vec<String> =
        rule.keywords.iter().filter(|k| !k.is_empty()).map(|k| k.to_ascii_lowercase()).collect();
    if keywords.is_empty() {
        problem(ProblemKind::NoKeywords, "no keywords: the prefilter would never run this rule".to_string());
    }
    for k in &rule.keywords {
        if k.len() < 3 {
            problem(ProblemKind::ShortKeyword, format!("keyword {k:?} is shorter than 3 characters"));
        }
    }
    if rule.examples.len() < 2 {
        problem(ProblemKind::TooFewExamples, format!("{} example(s), at least 2 needed", rule.examples.len()));
    }
    if rule.negative_examples.is_empty() {
        problem(ProblemKind::NoNegativeExample, "no negative example".to_string());
    }
    for example in &rule.examples {
        let lower = example.to_ascii_lowercase();
        if !keywords.is_empty() && !keywords.iter().any(|k| lower.contains(k.as_str())) {
            problem(
                ProblemKind::ExampleWithoutKeyword,
                format!("example {example:?} contains none of the keywords {:?}", rule.keywords),
            );
        }
        match run_example(rule, regex, example.as_bytes()) {
            ExampleOutcome::Reported => {}
            ExampleOutcome::NoMatch => problem(
                ProblemKind::ExampleDoesNotMatch,
                format!("example {example:?} does not match (or capture group 1 is empty)"),
            ),
            ExampleOutcome::Weak => match rule.validation {
                Some(v) => problem(
                    ProblemKind::ExampleFailsValidation,
                    format!("example {example:?} matches but fails validation {v}"),
                ),
                None => problem(
                    ProblemKind::ExampleIsPlaceholder,
                    format!("example {example:?} matches only a placeholder (reported as weak evidence)"),
                ),
            },
        }
    }
    for negative in &rule.negative_examples {
        // A negative example may match as weak evidence (failing validation, or a placeholder,
        // it is never actionable by default); it must not be reported as a secret.
        if let ExampleOutcome::Reported = run_example(rule, regex, negative.as_bytes()) {
            problem(ProblemKind::NegativeExampleMatches, format!("negative example {negative:?} is reported"));
        }
    }
}
