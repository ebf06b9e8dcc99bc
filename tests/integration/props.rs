//! Property tests (issue 7), over the same entry points as the fuzz targets in `fuzz/`:
//! arbitrary bytes as an image or a layer never panic, and a report that is incomplete says why;
//! a layer cut short is reported, never passed as whole; every detector match lies in its buffer
//! with the right line and column; the keyword prefilter finds exactly what a naive search
//! does; redaction never shows the secret. Inputs are small and cases few, so the module runs
//! in seconds in the dev profile.

use std::path::Path;
use std::sync::LazyLock;

use layerdig::detect::{Detector, Match, Window};
use layerdig::finding::redact;
use layerdig::{Collect, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, compress};
use proptest::prelude::*;

/// Keep the uncompressed size of any layer small: a zstd or gzip stream the strategies make up
/// may inflate far.
const CAP: u64 = 8 << 20;

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    let mut builder = Scanner::builder();
    builder.threads(1).max_layer_bytes(CAP);
    builder.build(&Rules::builtin()).expect("scanner")
});

/// 64 cases each; `PROPTEST_CASES` asks for more (e.g. `PROPTEST_CASES=5000` for a longer run).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Write `bytes` as a file and scan it as an image.
fn scan_bytes(bytes: &[u8]) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input");
    std::fs::write(&path, bytes).expect("write");
    scan_file(&path)
}

fn scan_file(path: &Path) -> Report {
    let mut sink = Collect::new();
    let stats = SCANNER.scan_path(path, &mut sink).expect("Collect never fails");
    sink.into_report(stats)
}

/// What holds for every report: incomplete only with an error that says so, no secrets unless
/// asked for, non-empty spans, normalised paths.
fn check_report(report: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(report.stats.incomplete, report.is_incomplete(), "stats and errors disagree: {:#?}", report.errors);
    // Every byte of every layer is accounted for (issue 14), even in a layer read in part.
    for image in &report.images {
        for layer in &image.layers {
            let a = layer.account;
            prop_assert_eq!(a.stream_total(), layer.uncompressed_size, "layer {}: {:?}", layer.index, a);
            if a.compressed + a.framing_hidden > 0 {
                prop_assert_eq!(a.compressed + a.framing_hidden, layer.size, "layer {}: {:?}", layer.index, a);
            }
        }
    }
    for f in &report.findings {
        prop_assert!(f.secret.is_none());
        prop_assert!(!f.locations.is_empty());
        for loc in &f.locations {
            if let Some(span) = loc.span {
                prop_assert!(span.start < span.end, "span {:?}", span);
            }
            if let Some(path) = &loc.path {
                prop_assert!(
                    !path.starts_with('/') && !path.split('/').any(|p| matches!(p, "" | "." | "..")),
                    "{path:?}"
                );
            }
        }
    }
    Ok(())
}

/// Arbitrary bytes, and arbitrary bytes dressed as the things images start with.
fn image_like() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(any::<u8>(), 0..2048);
    prop_oneof![
        raw.clone(),
        raw.clone().prop_map(|b| compress(&b, Comp::Gzip)),
        raw.clone().prop_map(|b| compress(&b, Comp::Zstd)),
        // A valid tar header followed by noise.
        (raw, any::<bool>()).prop_map(|(b, gzip)| {
            let mut tar = LayerBuilder::new().file("app/.env", b"x").finish();
            tar.truncate(512);
            tar.extend_from_slice(&b);
            if gzip { compress(&tar, Comp::Gzip) } else { tar }
        }),
    ]
}

/// A relative path of one to three components, none of them `.` or `..`, long enough at times
/// to need a GNU long-name entry.
fn entry_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9_-][a-z0-9_.-]{0,40}", 1..4).prop_map(|parts| format!("d/{}", parts.join("/")))
}

fn entries() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec((entry_name(), prop::collection::vec(any::<u8>(), 0..1500)), 1..6)
}

fn build_tar(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    entries.iter().fold(LayerBuilder::new(), |b, (name, content)| b.file(name, content)).finish()
}

/// Each entry's header start and data end in an uncompressed tar.
fn entry_regions(tar: &[u8]) -> Vec<(u64, u64)> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            (e.raw_header_position(), e.raw_file_position() + e.size())
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_as_an_image_are_scanned_or_refused(bytes in image_like()) {
        let report = scan_bytes(&bytes);
        check_report(&report)?;
    }

    /// A compressed layer cut anywhere before its end is reported as incomplete: the decoder
    /// sees the stream end early even when the tar inside looks whole.
    #[test]
    fn a_compressed_layer_cut_short_is_reported(
        entries in entries(),
        zstd in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let tar = build_tar(&entries);
        let blob = compress(&tar, if zstd { Comp::Zstd } else { Comp::Gzip });
        let whole = scan_bytes(&blob);
        check_report(&whole)?;
        prop_assert!(whole.errors.is_empty(), "{:#?}", whole.errors);
        prop_assert_eq!(whole.stats.files, entries.len() as u64);

        let cut = cut.index(blob.len());
        let report = scan_bytes(&blob[..cut]);
        check_report(&report)?;
        prop_assert!(report.is_incomplete(), "cut at {} of {} bytes passed as complete", cut, blob.len());
    }

    /// A plain layer cut inside an entry (its header or its data) is reported as incomplete.
    #[test]
    fn a_plain_layer_cut_inside_an_entry_is_reported(entries in entries(), pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let tar = build_tar(&entries);
        let regions = entry_regions(&tar);
        let (start, end) = regions[pick.index(regions.len())];
        // Strictly inside the entry: after its header starts, before its data ends.
        let cut = usize::try_from(start + 1 + at.index(usize::try_from(end - start - 1).expect("small")) as u64).expect("small");
        let report = scan_bytes(&tar[..cut]);
        check_report(&report)?;
        prop_assert!(report.is_incomplete(), "cut at {} inside {}..{} passed as complete: {:#?}", cut, start, end, report.errors);
    }

    #[test]
    fn detector_matches_lie_in_the_buffer(data in text_with_secrets(), path in sample_path()) {
        let mut detector = Detector::new(&Rules::builtin());
        let mut out = Vec::new();
        detector.scan(path.as_bytes(), &data, Window::default(), &mut out);
        check_matches(&out, &data)?;
        let head = &data[..data.len().min(64 << 10)];
        if let Some(m) = detector.classify_file(path.as_bytes(), head, data.len() as u64, false) {
            check_matches(std::slice::from_ref(&m), head)?;
        }
    }

    #[test]
    fn config_string_matches_lie_in_the_value(value in text_with_secrets(), key in config_key()) {
        let value = String::from_utf8_lossy(&value).into_owned();
        let mut detector = Detector::new(&Rules::builtin());
        let mut out = Vec::new();
        detector.scan_config(&key, &value, &mut out);
        check_matches(&out, value.as_bytes())?;
    }

    /// The keyword prefilter's candidates are exactly the rules one of whose keywords occurs in
    /// the buffer (ASCII case-insensitive), as a naive search finds them: for the built-in rules
    /// and for rule files with keywords of any length, case and bytes, in buffers of every size
    /// the walks treat differently (one walk, eight walks, keywords across their boundaries).
    #[test]
    fn prefilter_candidates_are_the_rules_with_a_keyword_in_the_buffer(
        words in prop::collection::vec("[a-zA-Z0-9_.:/=é秘ключ-]{1,60}", 1..12),
        builtin in any::<bool>(),
        pieces in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, filler()), 1..60),
    ) {
        let rules = if builtin { BUILTIN.clone() } else { user_rules(&words) };
        let keywords: Vec<(String, Vec<u8>)> = rules
            .rules()
            .iter()
            .flat_map(|r| r.keywords.iter().map(|k| (r.id.clone(), k.to_ascii_lowercase().into_bytes())))
            .collect();
        let mut data = Vec::new();
        for (pick, case, filler) in &pieces {
            data.extend_from_slice(filler);
            // One piece in four is followed by a keyword, as written, upper or lower case.
            let (_, word) = &keywords[pick.index(keywords.len())];
            match case {
                0 => data.extend(word.iter().map(u8::to_ascii_uppercase)),
                1 => data.extend_from_slice(word),
                _ => {}
            }
        }
        let lower = data.to_ascii_lowercase();
        let mut want: Vec<&str> = keywords
            .iter()
            .filter(|(_, word)| lower.windows(word.len()).any(|w| w == &word[..]))
            .map(|(id, _)| id.as_str())
            .collect();
        want.sort_unstable();
        want.dedup();
        let mut detector = Detector::new(&rules);
        let mut got = detector.candidates(&data);
        got.sort_unstable();
        prop_assert_eq!(got, want, "{} bytes", data.len());
    }

    /// A secret of the characters secrets are made of is never in its redacted form.
    #[test]
    fn redaction_never_shows_a_token(secret in "[A-Za-z0-9_+/=.-]{9,120}") {
        let redacted = redact(secret.as_bytes());
        prop_assert!(!redacted.contains(&secret), "{redacted:?} shows {secret:?}");
    }

    /// Any secret: the redacted form is its first four characters (control characters masked)
    /// and its length, and no more; past 16 characters it cannot hold the secret.
    #[test]
    fn redaction_shows_four_characters_and_the_length(secret in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&secret);
        let chars = text.chars().count();
        let redacted = redact(&secret);
        let suffix = format!("… ({chars} chars)");
        prop_assert!(redacted.ends_with(&suffix), "{redacted:?}");
        let head = &redacted[..redacted.len() - suffix.len()];
        let want: String = if chars <= 8 { String::new() } else { text.chars().take(4).collect() };
        prop_assert_eq!(head.chars().count(), want.chars().count());
        prop_assert!(head.chars().zip(want.chars()).all(|(h, w)| h == w || (w.is_control() && h == '?')), "{head:?} vs {want:?}");
        if chars > 16 {
            prop_assert!(!redacted.contains(&*text));
        }
    }

    /// Normalised layer paths are relative, have no empty, `.` or `..` component, and
    /// normalising again changes nothing.
    #[test]
    fn normalised_paths_are_relative_and_stable(name in prop::collection::vec(prop_oneof![Just(b'/'), Just(b'.'), any::<u8>()], 0..64)) {
        let mut once = Vec::new();
        layerdig::layer::normalize(&name, &mut once);
        prop_assert!(once.is_empty() || once.split(|&b| b == b'/').all(|p| !matches!(p, b"" | b"." | b"..")), "{once:?}");
        let mut twice = Vec::new();
        layerdig::layer::normalize(&once, &mut twice);
        prop_assert_eq!(once, twice);
    }
}

/// Every built-in rule's examples and negative examples: real secrets and near misses.
static EXAMPLES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let rules = Rules::builtin();
    let all = rules.rules().iter().flat_map(|r| r.examples.iter().chain(&r.negative_examples));
    all.map(|e| e.clone().into_bytes()).collect()
});

/// Text built from pieces that reach the detectors' interesting paths (the rules' examples,
/// keywords, assignments, URLs, key blocks), mixed with arbitrary bytes.
fn text_with_secrets() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        prop::sample::select(EXAMPLES.clone()),
        prop::sample::select(EXAMPLES.clone()),
        "[A-Za-z0-9+/=_-]{0,48}".prop_map(String::into_bytes),
        prop::sample::select(vec![
            &b"AKIA"[..],
            b"aws_secret_access_key = ",
            b"password=",
            b"PASSWORD: \"",
            b"api_key=",
            b"token: ",
            b"ghp_",
            b"sk_live_",
            b"xoxb-",
            b"https://user:",
            b"@db.example.com/x",
            b"postgres://",
            // The decoders' markers and escapes.
            b"data:\n  key: ",
            b"{\"data\": {\"k\": \"",
            b"Authorization: Basic ",
            b"\"auth\": \"",
            b"\\u0067",
            b"\\ud83d\\ude00",
            b"%40",
            b"%2B",
            b"dXNlcjpwYXNzd29yZDEyMzQ1Njc4",
            b"-----BEGIN RSA PRIVATE KEY-----\n",
            b"-----END RSA PRIVATE KEY-----\n",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
            b"eyJ",
            b"\n",
            b"\r\n",
            b" ",
            b"\"",
            b"'",
            b"=",
            b":",
            b"\0",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

static BUILTIN: LazyLock<Rules> = LazyLock::new(Rules::builtin);

/// A rule file with one rule per keyword in `words` (case as given; the prefilter folds it).
fn user_rules(words: &[String]) -> Rules {
    let mut yaml = String::from("provider: Test\nrules:\n");
    for (i, word) in words.iter().enumerate() {
        let keyword = serde_json::to_string(word).expect("a string");
        yaml.push_str(&format!(
            "  - id: test.rule-{i}\n    name: Test {i}\n    severity: low\n    keywords: [{keyword}]\n    pattern: '(zz{i}zz)'\n"
        ));
    }
    Rules::from_yaml_str(&yaml, "props.yaml").expect("a valid rule file")
}

/// Bytes between keywords: letters keywords start with, separators, runs long enough that the
/// buffer crosses the sizes where the prefilter changes how it walks (1 KiB, blocks of 64).
fn filler() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(&b"aAkKpPsStTgGx_-:/ 9\n\xc3\xff"[..]), 0..16),
        prop::collection::vec(any::<u8>(), 0..64),
        (0usize..700).prop_map(|n| b"lorem ipsum dolor ".iter().copied().cycle().take(n).collect()),
    ]
}

fn sample_path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "app/.env",
        "app/server.js",
        "root/.ssh/id_rsa",
        "root/.aws/credentials",
        "etc/shadow",
        "home/u/.docker/config.json",
        "usr/lib/x.so",
        "home/u/.netrc",
    ])
    .prop_map(str::to_string)
}

fn config_key() -> impl Strategy<Value = layerdig::ConfigField> {
    prop::sample::select(vec![
        "Env[0]",
        "Env[7]",
        "Entrypoint[1]",
        "history[3].comment",
        "Labels.api_token",
        "Labels.maintainer",
        "history[2].created_by",
        "Cmd[0]",
    ])
    .prop_map(|k| k.parse().expect("a config field"))
}

/// Every match: a non-empty span inside `data` holding exactly the secret, line and column
/// counted from the buffer's start; matches in order and not overlapping.
fn check_matches(matches: &[Match], data: &[u8]) -> Result<(), TestCaseError> {
    for m in matches {
        prop_assert!(m.start < m.end && m.end <= data.len() as u64, "span {}..{} of {}", m.start, m.end, data.len());
        let (start, end) = (m.start as usize, m.end as usize);
        // A decoded secret's span is the encoded bytes it came from.
        if m.encoding.is_none() {
            prop_assert_eq!(&data[start..end], &m.secret[..]);
        }
        let before = &data[..start];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
        // In UTF-16LE a line starts after the whole `0a 00` code unit.
        let newline = if m.encoding == Some(layerdig::Encoding::Utf16le) { 2 } else { 1 };
        let column =
            (start.saturating_sub(before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + newline)) + 1) as u64;
        prop_assert_eq!((m.line, m.column), (line, column), "{} at {}..{}", m.rule_id, m.start, m.end);
    }
    for pair in matches.windows(2) {
        prop_assert!(
            pair[0].end <= pair[1].start,
            "{} {}..{} overlaps {} {}..{}",
            pair[0].rule_id,
            pair[0].start,
            pair[0].end,
            pair[1].rule_id,
            pair[1].start,
            pair[1].end
        );
    }
    Ok(())
}
