//! `docs/rules.md`: the built-in rules as tables, rendered from the built-in rule set, and the
//! test that keeps the committed page equal to what the rule files say. (An integration test:
//! the library's own source writes no file.)
//!
//! When a rule file changes, the test fails and names the command that rewrites the page:
//! `LAYERDIG_UPDATE_DOCS=1 cargo test -p layerdig rules_doc`.

use std::fmt::Write as _;
use std::path::PathBuf;

use layerdig::detect::{Rule, Rules};

/// The command that regenerates the page.
const REGENERATE: &str = "LAYERDIG_UPDATE_DOCS=1 cargo test -p layerdig rules_doc";

/// The page for `rules`: a count by provider file, then one table per file, in file order.
fn render(rules: &Rules) -> String {
    // Files in the order the rules came in (the built-in files are sorted by name).
    let mut files: Vec<(&str, &str, Vec<&Rule>)> = Vec::new();
    for rule in rules.rules() {
        match files.iter_mut().find(|(origin, _, _)| *origin == rule.origin) {
            Some((_, _, list)) => list.push(rule),
            None => files.push((&rule.origin, &rule.provider, vec![rule])),
        }
    }
    let mut out = String::new();
    out.push_str("# Built-in rules\n\n");
    out.push_str("<!-- Generated from crates/layerdig/src/detect/rules/*.yaml; do not edit by hand. -->\n");
    let _ = writeln!(
        out,
        "<!-- Regenerate: {REGENERATE} -->\n\n\
         Every rule layerdig runs by default, one table per rule file in \
         `crates/layerdig/src/detect/rules/`. The code detectors (secret-named assignments, \
         passwords in URLs, credential files, hidden data) are not rules; `layerdig rules list` \
         shows them too.\n\n\
         *Confidence* is a match's confidence when the rule has no validation. A rule's \
         *validation* is an offline format check: a match that passes it is reported with high \
         confidence; one that fails it (a wrong checksum, a key that does not decode) is weak \
         evidence, reported with low confidence, a note saying why and the disposition \
         `documented_example`, which fails no gate by default. So is the match of a rule \
         without validation whose secret is a placeholder (`changeme`, `xxxx…`, `<your-key>`).\n"
    );
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let _ = writeln!(
        out,
        "**{}** from {}.\n",
        plural(rules.rules().len(), "rule", "rules"),
        plural(files.len(), "provider file", "provider files")
    );
    out.push_str("| Provider | File | Rules |\n|---|---|--:|\n");
    for (origin, provider, list) in &files {
        let _ = writeln!(out, "| {} | `{origin}` | {} |", cell(provider), list.len());
    }
    for (origin, provider, list) in &files {
        let _ = writeln!(out, "\n## {} (`{origin}`)\n", cell(provider));
        out.push_str("| Id | Name | Severity | Confidence | Validation |\n|---|---|---|---|---|\n");
        for rule in list {
            let validation = rule.validation.map_or("—", |v| v.as_str());
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {validation} |",
                rule.id,
                cell(&rule.name),
                rule.severity,
                rule.confidence
            );
        }
    }
    out
}

/// Text for a table cell: no `|` or newline breaks the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md")
}

#[test]
fn rules_doc_is_up_to_date() {
    let rules = Rules::try_builtin().unwrap_or_else(|e| panic!("built-in rules do not build: {e}"));
    let page = render(&rules);
    let path = page_path();
    if std::env::var_os("LAYERDIG_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &page).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != page {
        let line = committed
            .lines()
            .zip(page.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| committed.lines().count().min(page.lines().count()) + 1, |i| i + 1);
        panic!(
            "docs/rules.md does not match the rule files (first difference at line {line}).\n\
             Regenerate it (from anywhere in the repository) with:\n\n    {REGENERATE}\n"
        );
    }
}

#[test]
fn rules_doc_counts_and_tables() {
    let yaml = "provider: A | B\nrules:\n  - id: a.one\n    name: One\n    severity: high\n    \
                validation: jwt\n    keywords: [aaa]\n    pattern: '(aaa)'\n  - id: a.two\n    \
                name: Two|2\n    severity: low\n    confidence: low\n    keywords: [bbb]\n    \
                pattern: '(bbb)'\n";
    let rules = Rules::from_yaml_str(yaml, "a.yaml").unwrap();
    let page = render(&rules);
    assert!(page.contains("**2 rules** from 1 provider file."), "{page}");
    assert!(page.contains("| A \\| B | `a.yaml` | 2 |"), "{page}");
    assert!(page.contains("\n## A \\| B (`a.yaml`)\n"), "{page}");
    assert!(page.contains("| `a.one` | One | high | medium | jwt |"), "{page}");
    assert!(page.contains("| `a.two` | Two\\|2 | low | low | — |"), "{page}");
    assert!(page.contains(REGENERATE), "{page}");
}
