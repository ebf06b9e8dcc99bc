//! Tests of the whole engine: rule files, the prefilter, validation through the detector,
//! overlap, windows, binary files, config strings, credential files and dispositions.

use std::time::Instant;

use super::testdata::{self, pem};
use super::*;
use crate::finding::Disposition;

/// A rule file exercising every validation kind, written the way the rule writers write them.
fn test_rules_yaml() -> String {
    let gh = testdata::github_token();
    let npm = testdata::npm_token();
    let gh_bad = testdata::github_token_bad();
    let key = pem("PRIVATE KEY", testdata::ED25519_PKCS8).replace('\n', "\\n");
    let ssh = pem("OPENSSH PRIVATE KEY", testdata::OPENSSH).replace('\n', "\\n");
    let broken = pem("PRIVATE KEY", &["not base64 at all!"]).replace('\n', "\\n");
    format!(
        r#"
provider: Test
rules:
  - id: test.github-token
    name: GitHub token
    severity: high
    validation: github-checksum
    keywords: [ghp_, npm_]
    pattern: '\b((?:ghp|npm)_[A-Za-z0-9]{{36}})\b'
    references: [https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/]
    examples: ['token: {gh}', '//registry.example.com/:_authToken={npm}']
    negative_examples: ['{gh_bad}', 'ghp_short']
  - id: test.private-key
    name: Private key
    severity: critical
    binary: true
    validation: pem-private-key
    keywords: ['-----BEGIN']
    pattern: '(?s)(-----BEGIN [A-Z ]*PRIVATE KEY-----.{{1,8192}}?-----END [A-Z ]*PRIVATE KEY-----)'
    examples: ["{key}", "{ssh}"]
    negative_examples: ["{broken}"]
  - id: test.jwt
    name: JSON Web Token
    severity: medium
    validation: jwt
    keywords: [eyJ]
    pattern: '\b(eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}})'
    examples:
      - 'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'
      - 'jwt=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlcw'
    negative_examples: ['eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl']
  - id: test.aws-access-key-id
    name: AWS access key id
    severity: critical
    validation: aws-access-key-id
    keywords: [AKIA, ASIA]
    pattern: '\b((?:AKIA|ASIA)[A-Z0-9]{{16}})\b'
    examples: ['aws_access_key_id = AKIABNC2R2QVGLCFOXVM', 'AKIAIOSFODNN7EXAMPLE']
    negative_examples: ['AKIAIOSFODNN1EXAMPLE', 'AKIA1234']
    documented_examples: [AKIAIOSFODNN7EXAMPLE]
  - id: test.stripe
    name: Stripe secret key
    severity: critical
    confidence: medium
    keywords: [sk_live_]
    pattern: '\b(sk_live_[A-Za-z0-9]{{24,}})\b'
    examples: ['STRIPE_KEY=sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB', 'sk_live_0123456789abcdefABCDEFGH']
    negative_examples: ['sk_test_0123456789abcdefABCDEFGH']
"#
    )
}

fn test_rules() -> Rules {
    Rules::from_yaml_str(&test_rules_yaml(), "test.yaml").unwrap()
}

fn scan(rules: &Rules, path: &str, data: &[u8]) -> Vec<Match> {
    let mut det = Detector::new(rules);
    let mut out = Vec::new();
    det.scan(path.as_bytes(), data, Window::default(), &mut out);
    out
}

fn ids(matches: &[Match]) -> Vec<&str> {
    matches.iter().map(|m| &*m.rule_id).collect()
}

fn secrets(matches: &[Match]) -> Vec<String> {
    matches.iter().map(|m| String::from_utf8_lossy(&m.secret).into_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Rule files

/// THE rule test: every built-in rule file builds, and every rule passes its own examples.
#[test]
fn builtin_rules_pass_check() {
    let started = Instant::now();
    let rules = match Rules::try_builtin() {
        Ok(rules) => rules,
        Err(e) => panic!("built-in rules do not build: {e}"),
    };
    eprintln!(
        "Rules::try_builtin(): {} rules from {} files in {:?}",
        rules.rules().len(),
        Rules::builtin_files().count(),
        started.elapsed()
    );
    let problems = rules.check();
    let report: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), report.join("\n"));
    // The cached set is the same set.
    assert_eq!(Rules::builtin().rules().len(), rules.rules().len());
}

#[test]
fn builtin_ids_do_not_collide_with_code_detectors() {
    let rules = Rules::builtin();
    for d in builtin_detectors() {
        assert!(rules.get(d.id).is_none(), "{} is both a rule and a built-in detector", d.id);
    }
    let mut seen = std::collections::HashSet::new();
    for d in builtin_detectors() {
        assert!(seen.insert(d.id), "duplicate detector id {}", d.id);
    }
}

#[test]
fn test_rule_file_passes_check() {
    let rules = test_rules();
    let problems: Vec<String> = rules.check().iter().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let rule = rules.get("test.aws-access-key-id").unwrap();
    assert_eq!(rule.provider, "Test");
    assert_eq!(rule.origin, "test.yaml");
    assert_eq!(rule.validation, Some(Validation::AwsAccessKeyId));
    assert_eq!(rule.confidence, Confidence::Medium, "default confidence");
    assert!(!rule.binary);
    assert!(rules.get("test.private-key").unwrap().binary);
    assert!(rules.get("nope").is_none());
}

#[test]
fn bad_rule_file_yields_every_problem_kind() {
    let yaml = r#"
provider: Bad
rules:
  - id: "bad id"
    name: Bad id
    severity: low
    keywords: [bad_]
    pattern: '(bad_[a-z]+)'
    examples: [bad_one, bad_two]
    negative_examples: [good]
  - id: bad.no-keywords
    name: No keywords
    severity: low
    pattern: '(nokw_[a-z]+)'
    examples: [nokw_a, nokw_b]
    negative_examples: [x]
  - id: bad.short-keyword
    name: Short keyword
    severity: low
    keywords: [ab]
    pattern: '(ab[0-9]+)'
    examples: [ab1, ab2]
    negative_examples: [x]
  - id: bad.example-without-keyword
    name: Example without keyword
    severity: low
    keywords: [tok_]
    pattern: '((?:tok|kot)_[0-9]+)'
    examples: [tok_1, kot_2]
    negative_examples: [x]
  - id: bad.one-example
    name: One example
    severity: low
    keywords: [one_]
    pattern: '(one_[0-9]+)'
    examples: [one_1]
    negative_examples: [x]
  - id: bad.no-negative
    name: No negative
    severity: low
    keywords: [neg_]
    pattern: '(neg_[0-9]+)'
    examples: [neg_1, neg_2]
  - id: bad.example-no-match
    name: Example does not match
    severity: low
    keywords: [num_]
    pattern: '(num_[0-9]+)'
    examples: [num_1, num_x]
    negative_examples: [x]
  - id: bad.empty-group
    name: Empty group 1
    severity: low
    keywords: [grp_]
    pattern: 'grp_([0-9]*)'
    examples: [grp_1, grp_]
    negative_examples: [x]
  - id: bad.fails-validation
    name: Fails validation
    severity: low
    validation: aws-access-key-id
    keywords: [AKIA]
    pattern: '(AKIA[A-Z0-9]{16})'
    examples: [AKIAIOSFODNN7EXAMPLE, AKIAIOSFODNN1EXAMPLE]
    negative_examples: [x]
  - id: bad.negative-matches
    name: Negative matches
    severity: low
    keywords: [neg2_]
    pattern: '(neg2_[0-9]+)'
    examples: [neg2_1, neg2_2]
    negative_examples: [neg2_3]
  - id: bad.placeholder-example
    name: Placeholder example
    severity: low
    keywords: [_authToken]
    pattern: ':_authToken=(\S{8,})'
    examples: [':_authToken=Zq8vR2mLx9pW4', ':_authToken=changeme']
    negative_examples: [':_authToken=']
  - id: fine.weak-negative
    name: A negative example that only fails validation is fine (weak evidence, never actionable)
    severity: low
    validation: aws-access-key-id
    keywords: [AKIA]
    pattern: '(AKIA[A-Z0-9]{16})'
    examples: [AKIAIOSFODNN7EXAMPLE, AKIABNC2R2QVGLCFOXVM]
    negative_examples: [AKIAIOSFODNN1EXAMPLE]
  - id: fine.placeholder-negative
    name: A negative example that is a placeholder is fine (weak evidence)
    severity: low
    keywords: [_authToken]
    pattern: ':_authToken=(\S{8,})'
    examples: [':_authToken=Zq8vR2mLx9pW4', ':_authToken=Kq0Lm2Np7Rt4']
    negative_examples: [':_authToken=<your-token>', ':_authToken=xxxxxxxxxxxx']
"#;
    let rules = Rules::from_yaml_str(yaml, "bad.yaml").unwrap();
    let problems = rules.check();
    let expect = [
        ("bad id", ProblemKind::InvalidId),
        ("bad.no-keywords", ProblemKind::NoKeywords),
        ("bad.short-keyword", ProblemKind::ShortKeyword),
        ("bad.example-without-keyword", ProblemKind::ExampleWithoutKeyword),
        ("bad.one-example", ProblemKind::TooFewExamples),
        ("bad.no-negative", ProblemKind::NoNegativeExample),
        ("bad.example-no-match", ProblemKind::ExampleDoesNotMatch),
        ("bad.empty-group", ProblemKind::ExampleDoesNotMatch),
        ("bad.fails-validation", ProblemKind::ExampleFailsValidation),
        ("bad.placeholder-example", ProblemKind::ExampleIsPlaceholder),
        ("bad.negative-matches", ProblemKind::NegativeExampleMatches),
    ];
    for (id, kind) in expect {
        let mine: Vec<&RuleProblem> = problems.iter().filter(|p| p.rule_id == id).collect();
        assert!(mine.len() == 1 && mine[0].kind == kind, "{id}: expected exactly {kind:?}, got {mine:#?}");
        let text = mine[0].to_string();
        assert!(text.starts_with("bad.yaml: rule "), "{text}");
        assert!(text.contains(id), "{text}");
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn rule_errors_name_file_and_rule() {
    let rule = |id: &str, pattern: &str| {
        format!("  - id: {id}\n    name: n\n    severity: low\n    keywords: [abc]\n    pattern: '{pattern}'\n")
    };
    let cases: Vec<(String, &str)> = vec![
        ("provider: P\nrules:\n  - id: x\n    name: n\n    severity: low\n    pattern: '(a)'\n    colour: red\n".into(), "unknown field"),
        ("provider: P\nrules:\n  - id: x\n    name: n\n    severity: urgent\n    pattern: '(a)'\n".into(), "unknown variant"),
        ("provider: P\nrules:\n  - id: x\n    name: n\n    severity: low\n    validation: luhn\n    pattern: '(a)'\n".into(), "unknown variant"),
        ("rules: []\n".into(), "missing field `provider`"),
        (format!("provider: P\nrules:\n{}", rule("x.regex", "(abc")), "x.regex"),
        (format!("provider: P\nrules:\n{}", rule("x.nogroup", "abc")), "capture group 1"),
        (format!("provider: P\nrules:\n{}{}", rule("x.dup", "(abc)"), rule("x.dup", "(abd)")), "duplicate rule id \"x.dup\""),
    ];
    for (yaml, needle) in cases {
        let err = Rules::from_yaml_str(&yaml, "rules/mine.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("rules/mine.yaml"), "{text}");
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
    assert!(matches!(
        Rules::from_yaml_str(&format!("provider: P\nrules:\n{}", rule("x.nogroup", "abc")), "f"),
        Err(RuleError::Regex { rule_id, .. }) if rule_id == "x.nogroup"
    ));
    let missing = std::path::Path::new("/nonexistent/layerdig-rules.yaml");
    let err = Rules::from_file(missing).unwrap_err();
    assert!(matches!(&err, RuleError::Io { path, .. } if path == missing), "{err}");
    assert!(err.to_string().contains("/nonexistent/layerdig-rules.yaml"));
}

#[test]
fn extend_combines_and_rejects_duplicates() {
    let base = test_rules();
    let extra = Rules::from_yaml_str(
        "provider: Mine\nrules:\n  - id: mine.token\n    name: Mine\n    severity: high\n    keywords: [mine_]\n    pattern: '(mine_[0-9a-f]{8})'\n",
        "mine.yaml",
    )
    .unwrap();
    let both = base.extend(&extra).unwrap();
    assert_eq!(both.rules().len(), base.rules().len() + 1);
    assert_eq!(both.get("mine.token").unwrap().origin, "mine.yaml");
    let found = scan(&both, "x.txt", b"mine_0123abcd and AKIABNC2R2QVGLCFOXVM");
    assert_eq!(ids(&found), ["mine.token", "test.aws-access-key-id"]);
    let err = both.extend(&extra).unwrap_err();
    assert!(matches!(&err, RuleError::DuplicateId { id, .. } if id == "mine.token"), "{err}");
    assert!(err.to_string().contains("mine.yaml"));
}

#[test]
fn rules_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rules>();
    assert_send_sync::<Match>();
    fn assert_send<T: Send>() {}
    assert_send::<Detector>();
    let a = Rules::builtin();
    let b = Rules::builtin();
    assert!(std::ptr::eq(a.rules().as_ptr(), b.rules().as_ptr()), "builtin() is built once and shared");
}

// ---------------------------------------------------------------------------------------------
// Prefilter

#[test]
fn no_keyword_no_regex() {
    let rules = test_rules();
    let mut det = Detector::new(&rules);
    let mut out = Vec::new();
    let plain = b"nothing to see here\njust words and numbers 12345\n".repeat(100);
    det.scan(b"a.txt", &plain, Window::default(), &mut out);
    assert!(out.is_empty());
    assert_eq!(det.stats(), ScanStats { automaton_passes: 1, regex_runs: 0, entropy_values: 0, escape_bytes: 0 });

    det.scan(b"b.txt", b"id AKIABNC2R2QVGLCFOXVM", Window::default(), &mut out);
    assert_eq!(det.stats().automaton_passes, 2);
    assert_eq!(det.stats().regex_runs, 1, "only the AWS rule ran");
    assert_eq!(out.len(), 1);
}

#[test]
fn candidates_follow_keywords_case_insensitively() {
    let rules = test_rules();
    let mut det = Detector::new(&rules);
    let cases: &[(&str, &[&str])] = &[
        ("plain text", &[]),
        ("akia in lower case", &["test.aws-access-key-id"]),
        ("GHP_ and npm_ share a rule", &["test.github-token"]),
        ("eyJ and -----BEGIN", &["test.private-key", "test.jwt"]),
        ("sk_live_ ASIA", &["test.aws-access-key-id", "test.stripe"]),
    ];
    for (text, want) in cases {
        assert_eq!(det.candidates(text.as_bytes()), *want, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation through the detector

/// A match that passes validation is high confidence; one that fails it is weak evidence:
/// reported (it used to be dropped) with low confidence, a note saying why, and the disposition
/// `documented_example`.
#[test]
fn validation_raises_or_weakens() {
    let rules = test_rules();
    let gh = testdata::github_token();
    let gh_bad = testdata::github_token_bad();
    let key = pem("PRIVATE KEY", testdata::ED25519_PKCS8);
    let enc = pem("OPENSSH PRIVATE KEY", testdata::OPENSSH_ENCRYPTED);
    let broken = key.replacen("MC4C", "M!4C", 1);
    let jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let jwt_bad = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    // (content, rule id, passes validation, note)
    let cases: Vec<(String, &str, bool, Option<&str>)> = vec![
        (format!("token: {gh}\n"), "test.github-token", true, None),
        (
            format!("token: {gh_bad}\n"),
            "test.github-token",
            false,
            Some("checksum does not match: not a live token, or altered"),
        ),
        (key.clone(), "test.private-key", true, None),
        (enc.clone(), "test.private-key", true, Some("encrypted")),
        (broken, "test.private-key", false, Some("not a well-formed private key: damaged, cut off or made up")),
        (format!("x = {jwt}\n"), "test.jwt", true, None),
        (
            format!("x = {jwt_bad}\n"),
            "test.jwt",
            false,
            Some("header is not a JSON object with an alg: not a token, or altered"),
        ),
        ("key AKIABNC2R2QVGLCFOXVM\n".into(), "test.aws-access-key-id", true, None),
        (
            "key AKIAIOSFODNN1EXAMPLE\n".into(),
            "test.aws-access-key-id",
            false,
            Some("not a well-formed access key id: made up, or altered"),
        ),
    ];
    for (content, id, passes, note) in cases {
        let found = scan(&rules, "app/config.txt", content.as_bytes());
        assert_eq!(ids(&found), [id], "{content}");
        let m = &found[0];
        assert_eq!(m.kind, MatchKind::Rule);
        assert_eq!(m.note.as_deref(), note, "{content}");
        assert_eq!(m.weak, !passes, "{content}");
        let (confidence, disposition) = if passes {
            (Confidence::High, Disposition::Actionable)
        } else {
            (Confidence::Low, Disposition::DocumentedExample)
        };
        assert_eq!(m.confidence, confidence, "{content}");
        assert_eq!(super::disposition(Some(b"app/config.txt"), m), disposition, "{content}");
        assert!(!m.documented_example, "not one of the rule's documented examples");
    }
    // A rule without validation whose secret is a placeholder: weak evidence too.
    let found = scan(&Rules::builtin(), "root/.npmrc", b"//registry.example.com/:_authToken=changeme\n");
    assert_eq!(ids(&found), ["npm.npmrc-auth-token"]);
    assert_eq!((found[0].weak, found[0].confidence), (true, Confidence::Low));
    assert_eq!(found[0].note.as_deref(), Some(entropy::PLACEHOLDER_NOTE));
    // A whole URL is not judged as a placeholder for its `example.com` host.
    let dsn =
        b"SENTRY_DSN=https://1344e963b5cdd4f50c1bb0315c7827df:1de26deb1345987fd0d9fd833f0bfd8e@sentry.example.com/12\n";
    let found = scan(&Rules::builtin(), "app/.env", dsn);
    assert!(found.iter().any(|m| !m.weak && m.kind == MatchKind::Rule), "{found:?}");
    // Weak evidence is the rule's, even where the entropy detector would judge the value: the
    // rule knows the format (a `ghp_` token whose checksum fails is no live GitHub token).
    let found = scan(&rules, "app/.env", format!("GITHUB_TOKEN={gh_bad}\n").as_bytes());
    assert_eq!(ids(&found), ["test.github-token"]);
    assert!(found[0].weak);
    // A rule without validation keeps its configured confidence.
    let found = scan(&rules, "a", b"sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB");
    assert_eq!(found[0].confidence, Confidence::Medium);
    assert_eq!(found[0].severity, Severity::Critical);
}

#[test]
fn documented_examples_are_flagged() {
    let rules = test_rules();
    let found = scan(&rules, "app/a.env", b"A=AKIAIOSFODNN7EXAMPLE\nB=AKIABNC2R2QVGLCFOXVM\n");
    assert_eq!(found.len(), 2);
    assert!(found[0].documented_example);
    assert!(!found[1].documented_example);
    assert_eq!(disposition(Some(b"app/a.env"), &found[0]), Disposition::DocumentedExample);
    assert_eq!(disposition(Some(b"app/a.env"), &found[1]), Disposition::Actionable);
}

// ---------------------------------------------------------------------------------------------
// Overlap

#[test]
fn overlapping_matches_keep_the_most_specific() {
    let gh = testdata::github_token();
    let yaml = r#"
provider: Overlap
rules:
  - id: o.specific
    name: Specific
    severity: high
    validation: github-checksum
    keywords: [ghp_]
    pattern: '(ghp_[A-Za-z0-9]{36})'
  - id: o.loose
    name: Loose
    severity: critical
    confidence: low
    keywords: [ghp_]
    pattern: '(ghp_[A-Za-z0-9]{10,})'
  - id: o.same-span-a
    name: Same span A
    severity: medium
    keywords: [tok_]
    pattern: '(tok_[0-9]{8})'
  - id: o.same-span-b
    name: Same span B
    severity: medium
    keywords: [tok_]
    pattern: '(tok_[0-9]{8})'
  - id: o.short
    name: Short
    severity: low
    keywords: [abc_]
    pattern: '(abc_[0-9]{4})'
  - id: o.long
    name: Long
    severity: low
    keywords: [abc_]
    pattern: '(abc_[0-9]{8})'
"#;
    let rules = Rules::from_yaml_str(yaml, "overlap.yaml").unwrap();
    let content = format!("a {gh}\nb tok_12345678\nc abc_12345678\n");
    let found = scan(&rules, "f", content.as_bytes());
    // Confidence beats severity; identical spans keep the first rule; then the longer span.
    assert_eq!(ids(&found), ["o.specific", "o.same-span-a", "o.long"]);
    assert_eq!(secrets(&found)[2], "abc_12345678");
}

#[test]
fn a_rule_match_wins_over_the_entropy_detector() {
    let rules = test_rules();
    let found = scan(&rules, "app/.env", b"STRIPE_SECRET_KEY=sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB\n");
    assert_eq!(ids(&found), ["test.stripe"]);
    // Without the rule, the entropy detector reports the same value.
    let found = scan(&Rules::empty(), "app/.env", b"STRIPE_SECRET_KEY=sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB\n");
    assert_eq!(ids(&found), ["generic.secret-assignment"]);
    assert_eq!(found[0].kind, MatchKind::Entropy);
    assert_eq!(found[0].confidence, Confidence::Medium, "specific key, high entropy");
    assert_eq!(found[0].severity, Severity::Medium);
}

// ---------------------------------------------------------------------------------------------
// The entropy detector through the detector

#[test]
fn entropy_detector_formats() {
    let rules = Rules::empty();
    // (path, content, expected secrets)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "app/.env",
            "AWS_SECRET_ACCESS_KEY=l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm\nDEBUG=1\n",
            &["l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm"],
        ),
        ("run.sh", "export DB_PASSWORD='Xk9#mQ2$vL7p'\n", &["Xk9#mQ2$vL7p"]),
        (
            "Dockerfile",
            "ENV API_TOKEN=Zx81Kq0Lm2Np7Rt4Vw\nENV DB_PASSWORD Xk9mQ2vL7pA1\n",
            &["Zx81Kq0Lm2Np7Rt4Vw", "Xk9mQ2vL7pA1"],
        ),
        ("app.properties", "spring.datasource.password = Xk9mQ2vL7pA1\n", &["Xk9mQ2vL7pA1"]),
        ("config.toml", "[db]\npassword = \"Xk9mQ2vL7pA1\"\n", &["Xk9mQ2vL7pA1"]),
        (
            "values.yaml",
            "auth:\n  clientSecret: 9f86d081884c7d659a2feaa0c55ad015\n",
            &["9f86d081884c7d659a2feaa0c55ad015"],
        ),
        ("c.json", "{\"api_key\": \"Q2hhbmdlZC1tZS1wbGVhc2U9\", \"user\": \"bob\"}", &["Q2hhbmdlZC1tZS1wbGVhc2U9"]),
        ("settings.xml", "<server><id>x</id><password>Xk9mQ2vL7pA1</password></server>", &["Xk9mQ2vL7pA1"]),
        ("web.config", "<add key=\"x\" connectionString=\"Server=db;Password=Xk9mQ2vL7pA1;\"/>", &["Xk9mQ2vL7pA1"]),
        ("ds.xml", "<datasource password=\"Xk9mQ2vL7pA1\"/>", &["Xk9mQ2vL7pA1"]),
        ("app/.env", "DATABASE_URL=postgres://app:h3C6NsOAdgfDSSotrA@db:5432/app\n", &["h3C6NsOAdgfDSSotrA"]),
        ("settings.py", "SECRET_KEY = 'django-insecure-3x!k@9z#q2$w8e&r5t'\n", &["django-insecure-3x!k@9z#q2$w8e&r5t"]),
        // Code: unquoted values are expressions.
        ("settings.py", "PASSWORD = get_password(Xk9mQ2vL7pA1)\nTOKEN = os.environ['T']\n", &[]),
        ("app.js", "const password = process.env.DB_PASSWORD;\nconst token = Xk9mQ2vL7pA1;\n", &[]),
        ("settings.py", "DB = os.getenv(\"DB_PASSWORD\", \"Xk9mQ2vL7pA1xYz0\")\n", &["Xk9mQ2vL7pA1xYz0"]),
        // Short literals in code are examples (Python's urllib docstring).
        ("urllib/request.py", "    passwd='geheim$parole')\n", &[]),
        ("grammar.py", "for name in (\"tokens\", \"symbol2label\"):\n", &[]),
        // Found scanning a Debian /etc.
        (
            "etc/ssl/openssl.cnf",
            "private_key\t= $dir/private/cakey.pem# The private key\nsecret = $insta::secret\n",
            &[],
        ),
        ("pg_hba.conf", "# METHOD can be \"trust\", \"password\", \"scram-sha-256\",\n", &[]),
        ("management.properties", "# com.sun.management.jmxremote.password.toHashes = true|false\n", &[]),
        ("postgresql.conf", "#password_encryption = scram-sha-256\t# scram-sha-256 or md5\n", &[]),
        ("Fetch.pm", "    \"-auth=anonymous:$FROM_EMAIL\",\n", &[]),
        ("request.py", "    'HTTPPasswordMgrWithPriorAuth', 'AbstractBasicAuthHandler',\n", &[]),
        // Placeholders and non-secret keys.
        ("app/.env", "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=changeme\nTOKEN_URL=https://x/y\n", &[]),
        ("app/.env", "PASSWORD_FILE=/run/secrets/db\nSECRET_NAME=prod-db-credentials\n", &[]),
        ("c.yaml", "password: \"{{ .Values.db.password }}\"\ntoken: <your-token>\n", &[]),
        ("app/.env", "DATABASE_URL=postgres://app:${DB_PASS}@db/app\n", &[]),
    ];
    for (path, content, want) in cases {
        let found = scan(&rules, path, content.as_bytes());
        // Placeholders are weak evidence (see `placeholders_are_weak_evidence`).
        let strong: Vec<Match> = found.iter().filter(|m| !m.weak).cloned().collect();
        assert_eq!(secrets(&strong), *want, "{path}: {content}");
        assert!(found.iter().all(|m| m.kind == MatchKind::Entropy), "{path}");
        assert!(found.iter().all(|m| m.severity == Severity::Medium), "{path}");
    }
    let found = scan(&rules, "app/.env", b"DATABASE_URL=postgres://app:h3C6NsOAdgfDSSotrA@db:5432/app\n");
    assert_eq!(&*found[0].rule_id, "generic.url-password");
    assert_eq!((found[0].start, found[0].end), (28, 46));
}

/// Placeholders in a credential position are reported as weak evidence (they used to be dropped):
/// low confidence, a note, the disposition `documented_example`. References (`${VAR}`,
/// `{{ … }}`), paths and non-secret keys are still dropped. `(path, content, weak secrets)`.
#[test]
fn placeholders_are_weak_evidence() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("app/.env", "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=changeme\nTOKEN_URL=https://x/y\n", &["changeme"]),
        ("c.yaml", "password: \"{{ .Values.db.password }}\"\ntoken: \"<your-token>\"\n", &["<your-token>"]),
        ("etc/app/db.ini", "[db]\nuser = app\npassword = password\n", &["password"]),
        (
            "config.json",
            "{\"client_secret\": \"secret\", \"api_key\": \"xxxxxxxxxxxxxxxxxxxxxxxx\"}",
            &["secret", "xxxxxxxxxxxxxxxxxxxxxxxx"],
        ),
        ("app/.env", "STRIPE_API_KEY=a1b2c3d4e5f6g7h8\n", &["a1b2c3d4e5f6g7h8"]),
        ("app/.env", "DATABASE_URL=postgres://user:secret@localhost:5432/app\n", &["secret"]),
        ("values.yaml", "auth:\n  token: example\n", &["example"]),
        ("app/.env", "PASSWORD_FILE=/run/secrets/db\nDB_PASSWORD=$DB_PASSWORD\nSECRET=%SECRET%\n", &[]),
        ("app.erb", "password: <%= ENV['DB_PASSWORD'] %>\nsecret: #{vault.secret}\n", &[]),
    ];
    for (path, content, want) in cases {
        let found = scan(&Rules::empty(), path, content.as_bytes());
        assert_eq!(secrets(&found), *want, "{path}: {content}");
        for m in &found {
            assert!(m.weak, "{path}: {m:?}");
            assert_eq!(m.confidence, Confidence::Low, "{path}");
            assert_eq!(m.note.as_deref(), Some(entropy::PLACEHOLDER_NOTE), "{path}");
            assert_eq!(disposition(Some(path.as_bytes()), m), Disposition::DocumentedExample, "{path}");
        }
    }
}

/// Lines from real files whose values look random under secret-named keys but are not secrets:
/// type names, package integrity strings, lockfile checksums, git references, UUIDs that are
/// ids, template references, repeated and sequential characters. A random value under the same
/// keys is still reported.
#[test]
fn generic_detectors_pass_over_non_secrets() {
    let quiet: &[(&str, &str)] = &[
        ("tpu/config.json", "{\"secret\": \"TPUEmbeddingConfiguration\", \"token\": \"x25519\"}"),
        ("app/crypto.yaml", "credentials:\n  auth: X25519PrivateKey\n  api_key: HmacSha256Signer\n"),
        (
            "app/settings.toml",
            "[auth]\ntoken = \"sha512-Vk3RZyKtIUP5YEMuxQNTAUDL6tHw6PZzgx5H+1Jsn8FmiJq+eK0lRZjrNmnmO+ybk0Ol4hkZPbpMVuLfaYCgPg==\"\n",
        ),
        ("deploy/values.yaml", "auth: sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b\n"),
        (
            "app/package.json",
            "{\"dependencies\": {\"auth-helpers\": \"github:acme/auth-helpers#9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\"}}",
        ),
        (
            "app/lock.yaml",
            "secret: sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntoken: h1:7cYmW1XlMY7h7ii7UhUyChSgS5wUJEnm9uZVTGqOWzg=\n",
        ),
        (
            "app/.env",
            "AUTH_COMMIT=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\nTOKEN_SHA=5e884898da28047151d0e56f8dc6292773603d0d\n",
        ),
        (
            "app/.env",
            "AUTH_TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47\nAUTH_TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47\n",
        ),
        ("app/.env", "API_SECRET=${API_SECRET}\nAPI_TOKEN=$API_TOKEN\nDB_PASSWORD=%DB_PASSWORD%\n"),
        ("app/config.yml", "password: \"{{ db_password }}\"\nsecret: '<%= ENV[\"SECRET\"] %>'\ntoken: \"#{token}\"\n"),
        ("app/.env", "DB_PASSWORD=aaaaaaaa\nADMIN_PASSWORD=12345678\nAPI_SECRET=abcdefghijklmnopqrstuvwxyz012345\n"),
    ];
    for (path, content) in quiet {
        let found = scan(&Rules::empty(), path, content.as_bytes());
        assert!(found.is_empty(), "{path}: {content}\n{found:?}");
    }
    let loud: &[(&str, &str, &str)] = &[
        ("app/.env", "API_SECRET=q8Zr2LmX7vNc4Tp1Kw9Ys3Bd6Hf0Ja5G\n", "q8Zr2LmX7vNc4Tp1Kw9Ys3Bd6Hf0Ja5G"),
        ("app/config.ini", "api_secret=9f86d081884c7d659a2feaa0c55ad015\n", "9f86d081884c7d659a2feaa0c55ad015"),
        (
            "app/.env",
            "GITHUB_TOKEN=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b\n",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        ),
        ("app/.env", "HEROKU_API_KEY=72f988bf-86f1-41af-91ab-2d7cd011db47\n", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("app/.env", "DB_PASSWORD=MySQL2024Pass\n", "MySQL2024Pass"),
    ];
    for (path, content, secret) in loud {
        let found = scan(&Rules::empty(), path, content.as_bytes());
        assert_eq!(secrets(&found), [*secret], "{path}: {content}");
        assert!(!found[0].weak, "{path}");
        assert_eq!(disposition(Some(path.as_bytes()), &found[0]), Disposition::Actionable, "{path}");
    }
}

/// The generic detector reads code as code, measured on installed software (the CPython
/// standard library, typeshed's stubs, AWS SDKs and their API example files, npm type
/// declarations): each line below has the shape of one it used to report, in other words.
/// Annotations and stubs, members of literal unions, names from code, resource names, page
/// cursors and idempotency tokens, hashes under keys that name a hash, elided values, format
/// strings, and key words inside a colon-separated name. `(path, content)`.
#[test]
fn generic_assignments_read_code_as_code() {
    let quiet: &[(&str, &str)] = &[
        // Type stubs: annotations, defaults of `...`, aliases.
        (
            "crypto/_rust/kem.pyi",
            "class Suite:\n    def open(self, private_key: ed448.Ed448PrivateKey) -> bytes: ...\n",
        ),
        ("tpu/config_pb2.pyi", "    RETRY_PASS_ONLY: TPUEmbeddingConfiguration.Mode.ValueType  # 2\n"),
        ("win/security.pyi", "    TokenGroups: _wintypes.PyTOKEN_GROUPS | None = ...,\n"),
        ("win/security.pyi", "    Credential: _wintypes.PyCredHandle,\n"),
        ("ast/visitor.pyi", "    visit_Pass = visit_children\n"),
        ("grants.pyi", "    auth_grant: OAuth2DeviceCodeGrant\n"),
        ("metrics_pb2.pyi", "        pass_latency: google.protobuf.duration_pb2.Duration | None = ...,\n"),
        ("regions.pyi", "USE_ACCELERATE_AUTH = \"AWS::S3::UseAccelerateEndpointAuth\"\n"),
        ("lib/index.d.mts", "type SlashToken = SlashToken$1;\ntype CommaToken = CommaToken$1;\n"),
        ("clients/store.d.ts", "export type ApiToken = \"q8Zr2LmX7vNc4Tp1Kw9Y\"|\"Ys3Bd6Hf0Ja5GqZr\"|string;\n"),
        ("app/session.py", "    credentials: \"OAuth2SessionCredentials\" = None\n"),
        // Names from code as values, in any file.
        ("docs/api.json", "{\"ContextToken\": \"AWS::S3::UseAccelerateEndpointAuth\"}"),
        ("docs/api.json", "{\"secret\": \"x25519.X25519PrivateKey\", \"token\": \"ColonToken$1\"}"),
        ("docs/example.py", "# prints {\"password\": \"IAmHiddenValue\", \"password_raw\": \"IAmHiddenBytesToo\"}\n"),
        // Resource names, and key words inside them.
        ("docs/secrets.json", "{\"ARN\": \"arn:aws:secretsmanager:eu-west-1:210987654321:secret:orders/db-Qz81Kw\"}"),
        ("docs/hooks.json", "{\"PreTokenHook\": \"arn:aws:lambda:eu-west-1:210987654321:function:IssueOrdersToken\"}"),
        (
            "docs/ref.json",
            "{\"documentation\": \"e.g. <code>arn:aws:secretsmanager:eu-west-1:0123:secret:CacheAuthToken-Pq7Rs2</code>\"}",
        ),
        // Page cursors and idempotency tokens: UUIDs and base64 that grant nothing.
        (
            "docs/examples.json",
            "{\"NextPageToken\": \"QmFzZTY0Q3Vyc29yVmFsdWVGb3JQYWdlMg==\", \"ContinuationToken\": \"3q2+7wAAAAEAAABkZGVm\"}",
        ),
        (
            "docs/examples.json",
            "{\"ClientRequestToken\": \"3c2f8e61-0d4b-4a7e-9f15-6b8d2a0c9e47\", \"ChangeToken\": \"7d1e0b3a-2c4f-4e8d-a6b9-5f0c1d2e3a4b\"}",
        ),
        ("moto_like/models.py", "        self.client_token = \"6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f\"\n"),
        // Hashes under keys that name a hash; a strategy is no secret.
        ("docs/auth.json", "{\"SECRET_HASH\": \"dGhpcyBpcyBhbiBobWFjIG9mIHRoZSB1c2Vy\"}"),
        ("docs/fhir.json", "{\"AuthorizationStrategy\": \"SMART_ON_FHIR_V2\"}"),
        // Elided values and format strings.
        ("docs/ec2.json", "{\"PurchaseToken\": \"eyJ2IjoiMSIsInQiOjE5LCJjIjoi...\"}"),
        (
            "app/client.py",
            "    AUTH_HEADER = \"Bearer {access_token}\"\n    DSN_PASSWORD = \"{user}:{password}@{host}\"\n",
        ),
    ];
    for (path, content) in quiet {
        let found = scan(&Rules::empty(), path, content.as_bytes());
        let strong: Vec<&Match> = found.iter().filter(|m| !m.weak).collect();
        assert!(strong.is_empty(), "{path}: {content}\n{found:?}");
    }
    // Secrets in the same places still fire. `(path, content, secret)`.
    let loud: &[(&str, &str, &str)] = &[
        ("app/settings.py", "DB_PASSWORD = \"Xk9mQ2vL7pA1zR4w\"\n", "Xk9mQ2vL7pA1zR4w"),
        ("app/.env", "DB_PASSWORD=\"Xk9mQ2vL7pA1\"\n", "Xk9mQ2vL7pA1"),
        (
            "app/config.json",
            "{\"client_secret\": \"Qm7tV2xK9pL4sN8wR1zY6bH3dF5gJ0cA2eU7iO9q\"}",
            "Qm7tV2xK9pL4sN8wR1zY6bH3dF5gJ0cA2eU7iO9q",
        ),
        (
            "home/app/.aws/credentials",
            "[default]\naws_access_key_id=AKIABNC2R2QVGLCFOXVM\naws_secret_access_key=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\n",
            "l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm",
        ),
        (
            "app/settings.py",
            "SECRET_KEY = \"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.Zx81Kq0Lm2Np7Rt4VwQ2h3C6NsOAdgfD\"\n",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.Zx81Kq0Lm2Np7Rt4VwQ2h3C6NsOAdgfD",
        ),
        // Annotated assignments hold their value after the `=`.
        ("app/settings.py", "SECRET_KEY: str = \"q8Zr2LmX7vNc4Tp1Kw9Ys3Bd\"\n", "q8Zr2LmX7vNc4Tp1Kw9Ys3Bd"),
        ("src/client.ts", "const apiKey: string = 'q8Zr2LmX7vNc4Tp1Kw9Ys3Bd';\n", "q8Zr2LmX7vNc4Tp1Kw9Ys3Bd"),
        // A UUID under a key that names the secret; a session token is a credential.
        ("app/.env", "HEROKU_API_KEY=3c2f8e61-0d4b-4a7e-9f15-6b8d2a0c9e47\n", "3c2f8e61-0d4b-4a7e-9f15-6b8d2a0c9e47"),
        ("app/config.json", "{\"SessionToken\": \"Qm7tV2xK9pL4sN8wR1zY6bH3\"}", "Qm7tV2xK9pL4sN8wR1zY6bH3"),
        // A password's hash can be cracked.
        ("app/.env", "ADMIN_PASSWORD_HASH=Zx81Kq0Lm2Np7Rt4Vw\n", "Zx81Kq0Lm2Np7Rt4Vw"),
        // Code names stay words of a password: people choose them.
        ("app/.env", "DB_PASSWORD=Ed448Signer2024\n", "Ed448Signer2024"),
    ];
    for (path, content, secret) in loud {
        let found = scan(&Rules::empty(), path, content.as_bytes());
        let strong: Vec<String> = secrets(&found.iter().filter(|m| !m.weak).cloned().collect::<Vec<_>>());
        assert_eq!(strong, [*secret], "{path}: {content}");
    }
}

#[test]
fn well_known_example_values_are_documented_examples() {
    let text = b"{\n  \"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\n  \"refresh_token\":\"Zx81Kq0Lm2Np7Rt4Vw\"\n}";
    let found = scan(&Rules::empty(), "oauth.json", text);
    assert_eq!(secrets(&found), ["2YotnFZFEjr1zCsicMWpAA", "Zx81Kq0Lm2Np7Rt4Vw"]);
    assert_eq!(disposition(Some(b"oauth.json"), &found[0]), Disposition::DocumentedExample);
    assert_eq!(disposition(Some(b"oauth.json"), &found[1]), Disposition::Actionable);
}

// ---------------------------------------------------------------------------------------------
// Windows, lines and columns

#[test]
fn line_and_column_numbers() {
    let rules = test_rules();
    let content = b"first line\n\n  key AKIABNC2R2QVGLCFOXVM\r\nx\tASIABNC2R2QVGLCFOXVM";
    let found = scan(&rules, "f", content);
    let got: Vec<(u64, u64, u64, u64)> = found.iter().map(|m| (m.line, m.column, m.start, m.end)).collect();
    assert_eq!(got, [(3, 7, 18, 38), (4, 3, 42, 62)]);
    for m in &found {
        assert_eq!(&content[m.start as usize..m.end as usize], m.secret.as_slice());
    }
}

#[test]
fn windows_report_each_match_once_with_file_positions() {
    let rules = test_rules();
    let mut file = Vec::new();
    for i in 0..40 {
        file.extend_from_slice(format!("line {i:02} padding padding\n").as_bytes());
        if i % 10 == 5 {
            file.extend_from_slice(b"key=AKIABNC2R2QVGLCFOXVM\n");
        }
    }
    let whole = scan(&rules, "big.txt", &file);
    assert_eq!(whole.len(), 4);

    // The lead's scheme: windows of `step` bytes, each extended by `overlap`, reporting only
    // matches that start inside the step; the last window reports everything.
    for (step, overlap) in [(100usize, 40usize), (64, 32), (333, 64)] {
        let mut det = Detector::new(&rules);
        let mut found = Vec::new();
        let mut offset = 0;
        let mut line = 1;
        loop {
            let end = (offset + step + overlap).min(file.len());
            let last = end == file.len();
            let window = Window { offset: offset as u64, line, report_before: if last { None } else { Some(step) } };
            det.scan(b"big.txt", &file[offset..end], window, &mut found);
            if last {
                break;
            }
            line += file[offset..offset + step].iter().filter(|&&b| b == b'\n').count() as u64;
            offset += step;
        }
        let got: Vec<(u64, u64, u64, u64)> = found.iter().map(|m| (m.start, m.end, m.line, m.column)).collect();
        let want: Vec<(u64, u64, u64, u64)> = whole.iter().map(|m| (m.start, m.end, m.line, m.column)).collect();
        assert_eq!(got, want, "step {step} overlap {overlap}");
    }
}

#[test]
fn column_is_right_when_a_window_starts_mid_line() {
    let rules = test_rules();
    let file = b"first\nsecond line: key=AKIABNC2R2QVGLCFOXVM\n";
    let whole = scan(&rules, "f", file);
    assert_eq!((whole[0].line, whole[0].column), (2, 18));
    // Window 1 reports before byte 10 (mid-line 2); window 2 starts there.
    let mut det = Detector::new(&rules);
    let mut out = Vec::new();
    det.scan(b"f", &file[..30], Window { offset: 0, line: 1, report_before: Some(10) }, &mut out);
    assert!(out.is_empty());
    det.scan(b"f", &file[10..], Window { offset: 10, line: 2, report_before: None }, &mut out);
    assert_eq!((out[0].start, out[0].line, out[0].column), (whole[0].start, 2, 18));
    // Without the previous window, the column counts from the window's start.
    let mut fresh = Detector::new(&rules);
    let mut out = Vec::new();
    fresh.scan(b"f", &file[10..], Window { offset: 10, line: 2, report_before: None }, &mut out);
    assert_eq!((out[0].start, out[0].line, out[0].column), (whole[0].start, 2, 14));
}

#[test]
fn report_before_counts_from_the_secret_start() {
    let rules = test_rules();
    let data = b"0123456789 AKIABNC2R2QVGLCFOXVM";
    let mut det = Detector::new(&rules);
    for (limit, reported) in [(11, 0), (12, 1), (40, 1)] {
        let mut out = Vec::new();
        let window = Window { offset: 1000, line: 7, report_before: Some(limit) };
        det.scan(b"f", data, window, &mut out);
        assert_eq!(out.len(), reported, "report_before {limit}");
        if let Some(m) = out.first() {
            assert_eq!((m.start, m.end, m.line, m.column), (1011, 1031, 7, 12));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Binary files

#[test]
fn binary_files_run_only_binary_rules() {
    let rules = test_rules();
    let key = pem("PRIVATE KEY", testdata::ED25519_PKCS8);
    let mut blob = b"\x7fELF\x02\x01\x01\x00\x00\x00".to_vec();
    blob.extend_from_slice(key.as_bytes());
    blob.extend_from_slice(b"\x00AKIABNC2R2QVGLCFOXVM\x00DB_PASSWORD=Xk9mQ2vL7pA1\n");
    let found = scan(&rules, "usr/lib/libssl.so.3", &blob);
    assert_eq!(ids(&found), ["test.private-key"], "{found:?}");
    // Text: everything runs.
    let text = String::from_utf8_lossy(&blob).replace('\0', " ");
    let found = scan(&rules, "notes.txt", text.as_bytes());
    assert_eq!(ids(&found), ["test.private-key", "test.aws-access-key-id", "generic.secret-assignment"]);
    // A NUL after the first 8 KiB does not make a file binary.
    let mut late = vec![b' '; 9000];
    late.extend_from_slice(b"\x00AKIABNC2R2QVGLCFOXVM");
    assert_eq!(scan(&rules, "f", &late).len(), 1);
}

#[test]
fn binary_verdict_carries_over_to_later_windows() {
    let rules = test_rules();
    let mut det = Detector::new(&rules);
    let mut out = Vec::new();
    det.scan(b"lib.so", b"\x00\x01\x02 binary", Window::default(), &mut out);
    det.scan(b"lib.so", b"AKIABNC2R2QVGLCFOXVM", Window { offset: 4096, line: 1, report_before: None }, &mut out);
    assert!(out.is_empty(), "second window of a binary file: text rules do not run");
    det.scan(b"other.txt", b"AKIABNC2R2QVGLCFOXVM", Window { offset: 4096, line: 1, report_before: None }, &mut out);
    assert_eq!(out.len(), 1, "a different file's later window is judged on its own bytes");
}

// ---------------------------------------------------------------------------------------------
// Config strings

#[test]
fn config_values() {
    let rules = test_rules();
    let mut det = Detector::new(&rules);
    let npm = testdata::npm_token();
    // (key, value, expected (rule id, secret))
    type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("Env[0]", "DB_PASSWORD=Xk9m Q2vL 7pA1".into(), vec![]),
        ("Env[1]", "DB_PASSWORD=Xk9mQ2vL7pA1".into(), vec![("generic.secret-assignment", "Xk9mQ2vL7pA1".into())]),
        ("Env[2]", "PATH=/usr/local/sbin:/usr/local/bin".into(), vec![]),
        ("Env[3]", format!("NPM_TOKEN={npm}"), vec![("test.github-token", npm.clone())]),
        (
            "history[3].created_by",
            "|1 NPM_TOKEN=Zx81Kq0Lm2Np7Rt4Vw /bin/sh -c npm ci".into(),
            vec![("generic.secret-assignment", "Zx81Kq0Lm2Np7Rt4Vw".into())],
        ),
        (
            "history[4].created_by",
            "/bin/sh -c #(nop)  ENV API_SECRET=Zx81Kq0Lm2Np7Rt4Vw".into(),
            vec![("generic.secret-assignment", "Zx81Kq0Lm2Np7Rt4Vw".into())],
        ),
        (
            "history[5].created_by",
            "ARG DB_PASSWORD=Xk9mQ2vL7pA1".into(),
            vec![("generic.secret-assignment", "Xk9mQ2vL7pA1".into())],
        ),
        (
            "Labels.api_token",
            "Zx81Kq0Lm2Np7Rt4Vw".into(),
            vec![("generic.secret-assignment", "Zx81Kq0Lm2Np7Rt4Vw".into())],
        ),
        ("Labels.maintainer", "Zx81Kq0Lm2Np7Rt4Vw".into(), vec![]),
        ("Cmd[1]", "--db-password=Xk9mQ2vL7pA1".into(), vec![("generic.secret-assignment", "Xk9mQ2vL7pA1".into())]),
    ];
    for (key, value, want) in cases {
        let mut out = Vec::new();
        det.scan_config(&key.parse().expect("a config field"), &value, &mut out);
        let got: Vec<(&str, String)> =
            out.iter().map(|m| (&*m.rule_id, String::from_utf8_lossy(&m.secret).into_owned())).collect();
        assert_eq!(got, want, "{key} = {value}");
        for m in &out {
            assert_eq!(&value.as_bytes()[m.start as usize..m.end as usize], m.secret.as_slice());
            assert_eq!(m.line, 1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Credential files

#[test]
fn credential_files() {
    let key = pem("OPENSSH PRIVATE KEY", testdata::OPENSSH);
    let enc = pem("OPENSSH PRIVATE KEY", testdata::OPENSSH_ENCRYPTED);
    let rsa = pem("RSA PRIVATE KEY", testdata::RSA_LEGACY_ENCRYPTED);
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
    let kdbx: &[u8] = b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5\x01\x00\x04\x00";
    // (path, content, expected (id, secret, severity)) — a positive and a negative per kind.
    type Case<'a> = (&'a str, Vec<u8>, Option<(&'a str, &'a str, Severity)>);
    let cases: Vec<Case> = vec![
        (
            "app/.env",
            b"NODE_ENV=production\nDB_PASS=weakpass\n".to_vec(),
            Some(("credential-file.dotenv", "weakpass", Severity::Medium)),
        ),
        (
            "app/.env.production",
            b"PORT=8080\n".to_vec(),
            Some(("credential-file.dotenv", "PORT=8080", Severity::Medium)),
        ),
        ("app/.env.example", b"DB_PASS=weakpass\n".to_vec(), None),
        ("app/.env.sample", b"DB_PASS=weakpass\n".to_vec(), None),
        ("app/.env.template", b"DB_PASS=weakpass\n".to_vec(), None),
        ("app/.env", b"# nothing\n\n".to_vec(), None),
        (
            "root/.ssh/id_ed25519",
            key.clone().into_bytes(),
            Some(("credential-file.ssh-private-key", key.trim_end(), Severity::Critical)),
        ),
        (
            "home/u/.ssh/id_rsa",
            b"garbage\n".to_vec(),
            Some(("credential-file.ssh-private-key", "garbage", Severity::Critical)),
        ),
        (
            "home/u/.ssh/deploy",
            enc.clone().into_bytes(),
            Some(("credential-file.ssh-private-key", enc.trim_end(), Severity::Critical)),
        ),
        ("root/.ssh/id_ed25519.pub", b"ssh-ed25519 AAAAC3Nza throwaway\n".to_vec(), None),
        ("root/.ssh/known_hosts", b"github.com ssh-ed25519 AAAA\n".to_vec(), None),
        (
            "etc/ssl/private/tls.key",
            rsa.clone().into_bytes(),
            Some(("credential-file.private-key", rsa.trim_end(), Severity::Critical)),
        ),
        ("etc/ssl/certs/ca.pem", cert.as_bytes().to_vec(), None),
        (
            "root/.npmrc",
            b"registry=https://r/\n//registry.example.com/:_authToken=abc123def\n".to_vec(),
            Some(("credential-file.npmrc", "abc123def", Severity::High)),
        ),
        ("root/.npmrc", b"//registry.example.com/:_authToken=${NPM_TOKEN}\n".to_vec(), None),
        (
            "root/.pypirc",
            b"[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc\n".to_vec(),
            Some(("credential-file.pypirc", "pypi-AgEIcHlwaS5vcmc", Severity::High)),
        ),
        ("root/.pypirc", b"[pypi]\nusername = me\n".to_vec(), None),
        (
            "root/.netrc",
            b"machine api.x.com\n  login me\n  password hunter2x\n".to_vec(),
            Some(("credential-file.netrc", "hunter2x", Severity::High)),
        ),
        ("root/_netrc", b"machine api.x.com login me\n".to_vec(), None),
        (
            "root/.git-credentials",
            b"https://me:gho_abcdef123@github.com\n".to_vec(),
            Some(("credential-file.git-credentials", "gho_abcdef123", Severity::High)),
        ),
        ("root/.git-credentials", b"https://github.com\n".to_vec(), None),
        (
            "root/.docker/config.json",
            b"{\"auths\": {\"r.io\": {\"auth\": \"dXNlcjpwYXNz\"}}}".to_vec(),
            Some(("credential-file.docker-config", "dXNlcjpwYXNz", Severity::High)),
        ),
        ("root/.docker/config.json", b"{\"auths\": {\"r.io\": {}}, \"credsStore\": \"desktop\"}".to_vec(), None),
        (
            "root/.aws/credentials",
            b"[default]\naws_access_key_id = AKIA\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n".to_vec(),
            Some(("credential-file.aws-credentials", "wJalrXUtnFEMI/K7MDENG", Severity::Critical)),
        ),
        ("root/.aws/credentials", b"[default]\nregion = us-east-1\n".to_vec(), None),
        (
            "root/.config/gcloud/credentials.db",
            b"SQLite format 3\x00\x10\x00".to_vec(),
            Some(("credential-file.gcloud", "SQLite format 3\x00\x10\x00", Severity::High)),
        ),
        (
            "root/.config/gcloud/application_default_credentials.json",
            b"{\"client_id\": \"x\", \"refresh_token\": \"1//0gAbC\", \"type\": \"authorized_user\"}".to_vec(),
            Some(("credential-file.gcloud", "1//0gAbC", Severity::High)),
        ),
        (
            "root/.config/gcloud/legacy_credentials/me@x.com/adc.json",
            b"{\"private_key\": \"k\"}".to_vec(),
            Some(("credential-file.gcloud", "k", Severity::High)),
        ),
        ("app/credentials.db", b"SQLite format 3\x00".to_vec(), None),
        (
            "root/.kube/config",
            b"apiVersion: v1\nkind: Config\nusers:\n- name: me\n  user:\n    token: eyJhbGciOi.abc\n".to_vec(),
            Some(("credential-file.kubeconfig", "eyJhbGciOi.abc", Severity::High)),
        ),
        (
            "deploy/admin.yaml",
            b"kind: Config\nusers:\n- name: a\n  user:\n    client-key-data: LS0tLS1CRUdJTg==\n".to_vec(),
            Some(("credential-file.kubeconfig", "LS0tLS1CRUdJTg==", Severity::High)),
        ),
        ("deploy/admin.yaml", b"kind: Config\nusers:\n- name: a\n  user:\n    exec: {command: aws}\n".to_vec(), None),
        (
            "certs/client.p12",
            b"0\x82\x0a\x01binary".to_vec(),
            Some(("credential-file.pkcs12", "0\u{82}", Severity::High)),
        ),
        (
            "certs/client.pfx",
            b"\x30\x82pfx".to_vec(),
            Some(("credential-file.pkcs12", "\u{30}\u{82}pfx", Severity::High)),
        ),
        (
            "app/keystore.jks",
            b"\xfe\xed\xfe\xed".to_vec(),
            Some(("credential-file.java-keystore", "\u{fe}\u{ed}\u{fe}\u{ed}", Severity::High)),
        ),
        (
            "app/release.keystore",
            b"\xfe\xed\xfe\xed".to_vec(),
            Some(("credential-file.java-keystore", "\u{fe}\u{ed}\u{fe}\u{ed}", Severity::High)),
        ),
        ("home/u/vault.kdbx", kdbx.to_vec(), Some(("credential-file.keepass", "", Severity::Medium))),
        ("home/u/passwords.dat", kdbx.to_vec(), Some(("credential-file.keepass", "", Severity::Medium))),
        ("home/u/notes.dat", b"\x03\xd9\xa2".to_vec(), None),
        (
            "etc/openvpn/client.ovpn",
            b"client\nremote vpn.x.com\n".to_vec(),
            Some(("credential-file.openvpn", "client", Severity::High)),
        ),
        ("etc/openvpn/client.conf", b"client\nremote vpn.x.com\n".to_vec(), None),
        ("certs/client.crt", b"\x30\x82crt".to_vec(), None),
        ("app/keystore.json", b"{}".to_vec(), None),
        ("root/.bash_history", b"ls\nmysql -p\n".to_vec(), Some(("credential-file.history", "ls", Severity::Medium))),
        (
            "root/.zsh_history",
            b": 1700000000:0;ls\n".to_vec(),
            Some(("credential-file.history", ": 1700000000:0;ls", Severity::Medium)),
        ),
        ("root/.psql_history", b"\\dt\n".to_vec(), Some(("credential-file.history", "\\dt", Severity::Medium))),
        (
            "root/.mysql_history",
            b"show databases;\n".to_vec(),
            Some(("credential-file.history", "show databases;", Severity::Medium)),
        ),
        (
            "root/.python_history",
            b"import os\n".to_vec(),
            Some(("credential-file.history", "import os", Severity::Medium)),
        ),
        ("root/.rediscli_history", b"AUTH x\n".to_vec(), Some(("credential-file.history", "AUTH x", Severity::Medium))),
        ("root/.sh_history", b"id\n".to_vec(), Some(("credential-file.history", "id", Severity::Medium))),
        ("root/.ash_history", b"id\n".to_vec(), Some(("credential-file.history", "id", Severity::Medium))),
        ("root/.bash_history", b"".to_vec(), None),
        ("root/.bashrc", b"alias ll='ls -l'\n".to_vec(), None),
        (
            "infra/terraform.tfstate",
            b"{\n  \"version\": 4,\n  \"lineage\": \"3f1c-aa\",\n".to_vec(),
            Some(("credential-file.terraform-state", "3f1c-aa", Severity::High)),
        ),
        ("infra/prod.tfstate.backup", b"{\n".to_vec(), Some(("credential-file.terraform-state", "{", Severity::High))),
        ("infra/main.tf", b"resource \"x\" \"y\" {}\n".to_vec(), None),
        (
            "var/www/html/wp-config.php",
            b"<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( 'DB_PASSWORD', 'Wp-Pa55!' );\n".to_vec(),
            Some(("credential-file.wp-config", "Wp-Pa55!", Severity::High)),
        ),
        // A placeholder: weak evidence (checked below), no longer dropped.
        (
            "var/www/html/wp-config.php",
            b"<?php\ndefine( 'DB_PASSWORD', 'password_here' );\n".to_vec(),
            Some(("credential-file.wp-config", "password_here", Severity::High)),
        ),
        (
            "var/www/.htpasswd",
            b"admin:$apr1$abc$def\n".to_vec(),
            Some(("credential-file.htpasswd", "$apr1$abc$def", Severity::Medium)),
        ),
        ("var/www/.htpasswd", b"\n".to_vec(), None),
        (
            "etc/shadow",
            b"root:*:19000:0:99999:7:::\nbin:!:19000::::::\napp:$6$salt$hashhashhash:19000:0:99999:7:::\n".to_vec(),
            Some(("credential-file.shadow", "$6$salt$hashhashhash", Severity::High)),
        ),
        ("etc/shadow", b"root:*:19000:0:99999:7:::\nnobody:!!:19000::::::\nx:x:1::::::\ny::1::::::\n".to_vec(), None),
        (
            "etc/gshadow",
            b"wheel:!$y$j9T$abc$def::root\n".to_vec(),
            Some(("credential-file.shadow", "$y$j9T$abc$def", Severity::High)),
        ),
        ("usr/share/shadow", b"a:$6$x$y:1\n".to_vec(), None),
        ("usr/lib/os-release", b"NAME=Debian\n".to_vec(), None),
    ];
    let mut det = Detector::new(&Rules::empty());
    let mut kinds_seen = std::collections::HashSet::new();
    for (path, content, want) in &cases {
        let got = det.classify_file(path.as_bytes(), content, content.len() as u64, false);
        match (want, got) {
            (None, None) => {}
            (Some((id, secret, severity)), Some(m)) => {
                assert_eq!(&*m.rule_id, *id, "{path}");
                if !secret.is_empty() {
                    let expected: Vec<u8> = secret.chars().map(|c| c as u32 as u8).collect();
                    assert_eq!(
                        m.secret,
                        if secret.is_ascii() { secret.as_bytes().to_vec() } else { expected },
                        "{path}"
                    );
                }
                assert_eq!(m.severity, *severity, "{path}");
                assert_eq!(m.kind, MatchKind::CredentialFile, "{path}");
                assert_eq!(&content[m.start as usize..m.end as usize], m.secret.as_slice(), "{path}");
                assert!(m.secret.len() <= 256 || m.secret.starts_with(b"-----BEGIN"), "{path}");
                kinds_seen.insert(id.to_string());
            }
            (want, got) => panic!("{path}: want {want:?}, got {got:?}"),
        }
    }
    for kind in credfile::KINDS {
        assert!(kinds_seen.contains(kind.id), "no positive test for {}", kind.id);
    }
    // Placeholders in credential files are weak evidence; references are nothing.
    let weak: &[(&str, &[u8], &str)] = &[
        ("var/www/html/wp-config.php", b"<?php\ndefine( 'DB_PASSWORD', 'password_here' );\n", "password_here"),
        ("root/.netrc", b"machine api.x.com login me password changeme\n", "changeme"),
        ("root/.npmrc", b"//registry.example.com/:_authToken=<your-token>\n", "<your-token>"),
        ("root/.aws/credentials", b"[default]\naws_secret_access_key = example\n", "example"),
        ("root/.kube/config", b"kind: Config\nusers:\n- name: me\n  user:\n    token: changeme\n", "changeme"),
    ];
    for (path, content, secret) in weak {
        let m = det.classify_file(path.as_bytes(), content, content.len() as u64, false).unwrap();
        assert_eq!((m.secret.as_slice(), m.weak, m.confidence), (secret.as_bytes(), true, Confidence::Low), "{path}");
        assert_eq!(m.note.as_deref(), Some(entropy::PLACEHOLDER_NOTE), "{path}");
        assert_eq!(disposition(Some(path.as_bytes()), &m), Disposition::DocumentedExample, "{path}");
    }
    // A real secret beats a placeholder anywhere in the file.
    let netrc = b"machine a login me password changeme\nmachine b login me password Zq8vR2mLx9pW4\n";
    let m = det.classify_file(b"root/.netrc", netrc, netrc.len() as u64, false).unwrap();
    assert_eq!((m.secret.as_slice(), m.weak), (&b"Zq8vR2mLx9pW4"[..], false));
    // Notes, line numbers and the had_matches gate.
    let m = det.classify_file(b"home/u/.ssh/deploy", enc.as_bytes(), enc.len() as u64, false).unwrap();
    assert_eq!(m.note.as_deref(), Some("encrypted"));
    assert_eq!(m.confidence, Confidence::High);
    let shadow = b"root:*:1::::::\napp:$6$salt$hash:1::::::\n";
    let m = det.classify_file(b"/etc/shadow", shadow, shadow.len() as u64, false).unwrap();
    assert_eq!((m.line, m.column), (2, 5));
    assert!(det.classify_file(b"/etc/shadow", shadow, shadow.len() as u64, true).is_none());
    assert!(det.classify_file(b"/etc/shadow", shadow, 0, false).is_none());
    let long = vec![b'x'; 1000];
    let m = det.classify_file(b"root/.bash_history", &long, 1000, false).unwrap();
    assert_eq!(m.secret.len(), 256);
}

// ---------------------------------------------------------------------------------------------
// Match and disposition

#[test]
fn debug_of_match_does_not_show_the_secret() {
    let rules = test_rules();
    let found = scan(&rules, "app/.env", b"STRIPE=sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB\n");
    let text = format!("{:?} {:#?}", found[0], found);
    assert!(!text.contains("sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB"), "{text}");
    assert!(!text.contains("beILuFYH"), "{text}");
    assert!(text.contains("sk_l… (40 chars)"), "{text}");
}

#[test]
fn dispositions() {
    let rules = test_rules();
    let key = pem("PRIVATE KEY", testdata::ED25519_PKCS8);
    let key_match = scan(&rules, "k", key.as_bytes()).remove(0);
    let token_match = scan(&rules, "t", b"AKIABNC2R2QVGLCFOXVM").remove(0);
    let cases: &[(Option<&str>, &Match, Disposition)] = &[
        (Some("app/.env"), &token_match, Disposition::Actionable),
        (None, &token_match, Disposition::Actionable),
        (Some("app/tests/.env"), &token_match, Disposition::TestFixture),
        (Some("/src/test/resources/app.yaml"), &token_match, Disposition::TestFixture),
        (Some("go/pkg/testdata/key.pem"), &key_match, Disposition::TestFixture),
        (Some("x/test_data/a"), &token_match, Disposition::TestFixture),
        (Some("web/__fixtures__/a.json"), &token_match, Disposition::TestFixture),
        (Some("web/fixtures/a.json"), &token_match, Disposition::TestFixture),
        (Some("gems/x/spec/a.rb"), &token_match, Disposition::TestFixture),
        (Some("srv/examples/a.conf"), &token_match, Disposition::TestFixture),
        (Some("srv/example/a.conf"), &token_match, Disposition::TestFixture),
        (Some("srv/samples/a.conf"), &token_match, Disposition::TestFixture),
        (Some("usr/lib/python3/site-packages/botocore/tests/unit/a.py"), &key_match, Disposition::TestFixture),
        (Some("app/node_modules/ssh2/test/fixtures/id_rsa"), &key_match, Disposition::TestFixture),
        (Some("usr/lib/python3/site-packages/foo/docs/index.md"), &token_match, Disposition::TestFixture),
        (Some("app/docs/setup.md"), &token_match, Disposition::Actionable),
        (Some("usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO"), &token_match, Disposition::TestFixture),
        (Some("usr/lib/python3.12/site-packages/jwt-2.8.dist-info/METADATA"), &token_match, Disposition::TestFixture),
        (Some("app/node_modules/jsonwebtoken/README.md"), &token_match, Disposition::TestFixture),
        (Some("app/node_modules/x/lib/index.js"), &token_match, Disposition::Actionable),
        (Some("app/README.md"), &token_match, Disposition::Actionable),
        (Some("usr/lib/node_modules/npm/man/man5/npmrc.5"), &token_match, Disposition::TestFixture),
        (Some("usr/share/man/man1/curl.1.gz"), &token_match, Disposition::TestFixture),
        (Some("usr/share/doc/openssl/README"), &token_match, Disposition::TestFixture),
        (Some("usr/lib/x86_64-linux-gnu/libcrypto.so.3"), &key_match, Disposition::TestFixture),
        (Some("usr/lib/libfoo.so"), &key_match, Disposition::TestFixture),
        (Some("usr/lib/libfoo.a"), &key_match, Disposition::TestFixture),
        (Some("app/bin/foo.dll"), &key_match, Disposition::TestFixture),
        (Some("usr/lib/libfoo.so"), &token_match, Disposition::Actionable),
        (Some("etc/ssl/private/tls.key"), &key_match, Disposition::Actionable),
        (Some("app/latest/test.txt"), &token_match, Disposition::Actionable),
        (Some("app/contest/a"), &token_match, Disposition::Actionable),
    ];
    for (path, m, want) in cases {
        assert_eq!(disposition(path.map(str::as_bytes), m), *want, "{path:?}");
    }
}

/// The fixture images' planted secrets, as the detectors see the files they were in (values
/// copied from `fixtures/images/planted.json`; the real image tests read that file).
#[test]
fn planted_style_files() {
    let env = b"AWS_ACCESS_KEY_ID=AKIABNC2R2QVGLCFOXVM\nAWS_SECRET_ACCESS_KEY=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\nSTRIPE_KEY=sk_live_beILuFYHgGOmJYALo97r0r8XSO83gwNB\nDATABASE_URL=postgres://app:h3C6NsOAdgfDSSotrA@db:5432/app\n";
    // Without rules: `STRIPE_KEY` is not a secret-named key (`*_KEY` alone is too broad:
    // `GPG_KEY`, `PRIMARY_KEY`), so only the provider rule finds that one.
    let found = scan(&Rules::empty(), "app/.env", env);
    assert_eq!(secrets(&found), ["l5HnMatEON/pRU3jMSBfyW7+Vic+FaoSGM02xxVm", "h3C6NsOAdgfDSSotrA"]);
    let found = scan(&test_rules(), "app/.env", env);
    assert_eq!(
        ids(&found),
        ["test.aws-access-key-id", "generic.secret-assignment", "test.stripe", "generic.url-password"]
    );
}

// ---------------------------------------------------------------------------------------------
// Decoders

fn b64(data: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut out = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn unicode_escaped(text: &str) -> String {
    text.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

/// The single match of `data` at `path`, with the builtin rules.
fn decoded_one(path: &str, data: &[u8]) -> Match {
    let found = scan(&Rules::builtin(), path, data);
    assert_eq!(found.len(), 1, "{path}: {found:?}");
    found.into_iter().next().unwrap()
}

#[test]
fn base64_in_a_kubernetes_secret_is_decoded_and_points_at_the_encoded_value() {
    let token = testdata::github_token();
    let encoded = b64(&token);
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gh\ndata:\n  user: {}\n  GITHUB: {encoded}\n",
        b64("deploy-bot")
    );
    let m = decoded_one("k8s/secret.yaml", yaml.as_bytes());
    assert_eq!(&*m.rule_id, "github.personal-access-token");
    assert_eq!(m.confidence, Confidence::High);
    assert_eq!(m.encoding, Some(Encoding::Base64));
    assert_eq!(m.secret, token.as_bytes());
    let at = yaml.find(&encoded).unwrap();
    assert_eq!((m.start, m.end), (at as u64, (at + encoded.len()) as u64));
    assert_eq!((m.line, m.column), (7, 11));

    // The same in JSON, quoted, and the fingerprint's input (the secret) is the decoded token.
    let json =
        format!("{{\"kind\": \"Secret\", \"data\": {{\"a\": \"{}\", \"b\": \"{encoded}\"}}}}", b64("plain text here"));
    let m = decoded_one("secret.json", json.as_bytes());
    assert_eq!(
        (&*m.rule_id, m.encoding, m.secret.as_slice()),
        ("github.personal-access-token", Some(Encoding::Base64), token.as_bytes())
    );
    assert_eq!(m.start as usize, json.find(&encoded).unwrap());
}

#[test]
fn encoded_values_in_config_strings_are_decoded() {
    let token = testdata::github_token();
    let mut det = Detector::new(&Rules::builtin());
    let value = format!("GH_AUTH_B64={}", b64(&format!("deploy:{token}")));
    let mut out = Vec::new();
    det.scan_config(&"Env[0]".parse().expect("a config field"), &value, &mut out);
    let m = out.iter().find(|m| &*m.rule_id == "github.personal-access-token").unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!((m.encoding, m.secret.as_slice()), (Some(Encoding::Base64), token.as_bytes()));
    let at = value.find('=').unwrap() + 1;
    assert!(m.start as usize > at && m.end as usize <= value.len(), "the span is in the encoded value: {m:?}");
    // Percent-encoded in a URL of a label.
    let url = format!("https://ci:{}@git.example.com/acme.git", token.replace('_', "%5F"));
    let mut out = Vec::new();
    det.scan_config(&"Labels.source".parse().expect("a config field"), &url, &mut out);
    assert!(out.iter().any(|m| m.secret == token.as_bytes() && m.encoding == Some(Encoding::Percent)), "{out:?}");
}

#[test]
fn base64_span_maps_decoded_bytes_to_the_characters_that_hold_them() {
    let token = testdata::github_token();
    // Six bytes before the token: it starts on the ninth base64 character (6 * 4 / 3 = 8).
    let encoded = b64(&format!("login:{token}"));
    let yaml = format!("data:\n  creds: {encoded}\n");
    let m = decoded_one("secret.yaml", yaml.as_bytes());
    let at = yaml.find(&encoded).unwrap();
    assert_eq!(m.secret, token.as_bytes());
    assert_eq!((m.start as usize, m.end as usize), (at + 8, at + encoded.len()));
    assert_eq!(m.column as usize, at - 6 + 8 + 1);
}

#[test]
fn docker_auth_and_basic_headers_decode_to_user_and_password() {
    let token = testdata::github_token();
    let config = format!(
        "{{\n  \"auths\": {{\n    \"ghcr.io\": {{\n      \"auth\": \"{}\"\n    }}\n  }}\n}}\n",
        b64(&format!("bot:{token}"))
    );
    let m = decoded_one(".docker/config.json", config.as_bytes());
    assert_eq!((&*m.rule_id, m.encoding, m.line), ("github.personal-access-token", Some(Encoding::Base64), 4));

    // A generic password: the Docker rule's match of the encoded value stays the one finding.
    let config =
        format!("{{\"auths\": {{\"registry.example.com\": {{\"auth\": \"{}\"}}}}}}", b64("deployer:Zq8#vR2m!Lx9@pW4"));
    let m = decoded_one(".dockerconfigjson", config.as_bytes());
    assert_eq!((&*m.rule_id, m.encoding), ("dockerhub.docker-config-auth", None));

    let http = format!("GET / HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n", b64(&format!("x:{token}")));
    let m = decoded_one("var/log/request.txt", http.as_bytes());
    assert_eq!((&*m.rule_id, m.encoding, m.line), ("github.personal-access-token", Some(Encoding::Base64), 2));
}

#[test]
fn base64_that_decodes_to_binary_gives_nothing() {
    // Random bytes, base64-encoded: the values look like base64 and decode to binary.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let random: Vec<u8> = (0..48)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&random);
    for text in [
        format!("data:\n  blob: {encoded}\n"),
        format!("{{\"data\": {{\"blob\": \"{encoded}\"}}}}"),
        format!("Authorization: Basic {encoded}\n"),
    ] {
        let found = scan(&Rules::builtin(), "manifests/cm.yaml", text.as_bytes());
        assert!(found.iter().all(|m| m.encoding.is_none()), "{text}: {found:?}");
    }
    // A secret-named key with a binary base64 value: whatever the entropy detector says about
    // the encoded value, no decoder adds a match.
    let found = scan(&Rules::builtin(), "app.env", format!("TOKEN={encoded}\n").as_bytes());
    assert!(found.iter().all(|m| m.encoding.is_none()), "{found:?}");
}

#[test]
fn percent_encoded_url_passwords_and_form_values_are_decoded() {
    let url = "DATABASE_URL=postgres://app:Zq8%23vR2m%21Lx9%40pW4@db.internal:5432/app\n";
    let found = scan(&Rules::builtin(), "srv/app/.env", url.as_bytes());
    // The PostgreSQL rule matched the encoded password; the finding carries its decoding.
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!((&*m.rule_id, m.encoding), ("database.postgres-uri-password", Some(Encoding::Percent)));
    assert_eq!(m.secret, b"Zq8#vR2m!Lx9@pW4");
    assert_eq!(&url[m.start as usize..m.end as usize], "Zq8%23vR2m%21Lx9%40pW4");
    assert_eq!(m.column as usize, url.find("Zq8").unwrap() + 1);

    // A URL no rule knows: the URL password detector judges the decoded password.
    let url = "remote = https://ci:Zq8%23vR2m%21Lx9%40pW4@git.example.com/repo.git\n";
    let m = decoded_one("srv/app/.gitconfig", url.as_bytes());
    assert_eq!((m.secret.as_slice(), m.encoding), (&b"Zq8#vR2m!Lx9@pW4"[..], Some(Encoding::Percent)));
    assert_eq!(&url[m.start as usize..m.end as usize], "Zq8%23vR2m%21Lx9%40pW4");

    let token = testdata::github_token();
    let form = format!("user=bot&token={}\n", token.replace('_', "%5F"));
    let m = decoded_one("var/spool/form.txt", form.as_bytes());
    assert_eq!((&*m.rule_id, m.encoding), ("github.personal-access-token", Some(Encoding::Percent)));
    assert_eq!(m.secret, token.as_bytes());
    assert_eq!(m.start as usize, form.find("ghp").unwrap());
}

#[test]
fn a_readme_that_mentions_percent_escapes_gives_nothing() {
    let readme = "# Usage\n\nSpaces in URLs are written %20, e.g. https://example.com/a%20b.\n\
                  Pass the token as `--token=$TOKEN`; a literal % must be written %25.\n";
    assert!(scan(&Rules::builtin(), "usr/share/doc/app/README.md", readme.as_bytes()).is_empty());
}

#[test]
fn utf16_files_are_decoded_with_and_without_a_byte_order_mark() {
    let token = testdata::github_token();
    let text = format!("[github]\r\nuser = bot\r\ntoken = {token}\r\n");
    for (data, encoding) in [
        (utf16le(&text, true), Encoding::Utf16le),
        (utf16le(&text, false), Encoding::Utf16le),
        (
            {
                let mut be = vec![0xfe, 0xff];
                be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
                be
            },
            Encoding::Utf16be,
        ),
    ] {
        let m = decoded_one("ProgramData/app/settings.ini", &data);
        assert_eq!((&*m.rule_id, m.encoding), ("github.personal-access-token", Some(encoding)));
        assert_eq!(m.secret, token.as_bytes());
        let bom = if data[0] == 0xff || data[0] == 0xfe { 2 } else { 0 };
        let at = bom + 2 * text.find("ghp").unwrap();
        assert_eq!((m.start as usize, m.end as usize), (at, at + 2 * token.len()));
        // Line 3; columns count the file's bytes, two a character.
        assert_eq!((m.line, m.column), (3, 2 * "token = ".len() as u64 + 1));
    }
    // Binary files with NULs are not taken for UTF-16.
    assert_eq!(decode::utf16_kind(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
}

#[test]
fn unicode_escapes_in_json_strings_are_decoded() {
    let token = testdata::github_token();
    let json = format!("{{\n  \"name\": \"ci\",\n  \"token\": \"{}\"\n}}\n", unicode_escaped(&token));
    let m = decoded_one("app/settings.json", json.as_bytes());
    assert_eq!((&*m.rule_id, m.encoding), ("github.personal-access-token", Some(Encoding::UnicodeEscape)));
    assert_eq!(m.secret, token.as_bytes());
    let at = json.find("\\u").unwrap();
    assert_eq!((m.start as usize, m.end as usize, m.line), (at, at + 6 * token.len(), 3));
    // Mixed: only some characters escaped; the rest read as they are.
    let mixed = format!("var t = \"\\u0067hp_{}\";\n", &token[4..]);
    let m = decoded_one("static/app.js", mixed.as_bytes());
    assert_eq!((m.encoding, m.start as usize), (Some(Encoding::UnicodeEscape), mixed.find('\\').unwrap()));
}

#[test]
fn text_without_markers_is_not_decoded() {
    // A plain token is still found plainly; no decoder claims it.
    let token = testdata::github_token();
    let m = decoded_one("app/.env", format!("GITHUB_TOKEN={token}\n").as_bytes());
    assert_eq!(m.encoding, None);
}

#[test]
fn utf16_chunks_report_a_secret_across_their_boundary_once() {
    // The token straddles the first chunk's end; a second one sits near the end of the file.
    let token = testdata::github_token();
    let mut text = String::new();
    while text.len() * 2 < decode::UTF16_CHUNK - 30 {
        text.push_str("; filler line\r\n");
    }
    text.push_str(&format!("token = {token}\r\n"));
    while text.len() * 2 < 2 * decode::UTF16_CHUNK + 100 {
        text.push_str("; filler line\r\n");
    }
    text.push_str(&format!("token2 = {token}\r\n"));
    let data = utf16le(&text, true);
    let found = scan(&Rules::builtin(), "settings.ini", &data);
    assert_eq!(found.len(), 2, "{found:?}");
    for (m, needle) in found.iter().zip(["token = ", "token2 = "]) {
        let at = 2 + 2 * (text.find(needle).unwrap() + needle.len());
        assert_eq!((m.start as usize, m.encoding), (at, Some(Encoding::Utf16le)));
        assert_eq!(m.line as usize, text[..text.find(needle).unwrap()].matches('\n').count() + 1);
    }
}

/// Regression: the prefilter's markers came unsorted, and a line of thousands of `\u` escapes
/// (a pygments character table, 63 KB) was decoded once per escape: 90 ms, 0.7 MB/s.
#[test]
fn a_line_of_many_escapes_is_decoded_once() {
    let line: String = (0..3000).map(|i| format!("\\u{:04x}", 0x0100 + (i * 7919) % 0x2000)).collect();
    let text = format!("Lo = '{line}'\nLu = '{line}'\n");
    let mut det = Detector::new(&Rules::builtin());
    let mut out = Vec::new();
    det.scan(b"unistring.py", text.as_bytes(), Window::default(), &mut out);
    let read = det.stats().escape_bytes;
    assert!(read > 0 && read <= 2 * text.len() as u64, "{read} bytes of escapes read for {}", text.len());
}
