//! The keyword prefilter: one Aho-Corasick pass decides which rules' regexes run, and where the
//! entropy detector should look.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::entropy::{KEY_WORDS, URL_MARKER};
use super::rule::{Rule, RuleError};

/// What one automaton pattern stands for.
#[derive(Debug, Default)]
struct Owner {
    /// The rules that have this keyword.
    rules: Vec<u32>,
    /// A key word of the entropy detector (`password`, `token`, …).
    key: bool,
    /// The URL marker `://` of the userinfo detector.
    url: bool,
}

/// Every rule's keywords plus the entropy detector's key words, in one automaton.
pub(crate) struct Prefilter {
    ac: AhoCorasick,
    owners: Vec<Owner>,
    rule_count: usize,
}

impl Prefilter {
    pub(crate) fn build(rules: &[Rule]) -> Result<Prefilter, RuleError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Owner> = Vec::new();
        let mut slot = |word: &str| -> usize {
            let lower = word.to_ascii_lowercase();
            *index.entry(lower.clone()).or_insert_with(|| {
                patterns.push(lower);
                owners.push(Owner::default());
                owners.len() - 1
            })
        };
        let mut assignments: Vec<(usize, Option<u32>, bool, bool)> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            for keyword in rule.keywords.iter().filter(|k| !k.is_empty()) {
                assignments.push((slot(keyword), Some(i), false, false));
            }
        }
        for word in KEY_WORDS {
            assignments.push((slot(word), None, true, false));
        }
        assignments.push((slot(URL_MARKER), None, false, true));
        for (at, rule, key, url) in assignments {
            let owner = &mut owners[at];
            if let Some(r) = rule
                && owner.rules.last() != Some(&r)
            {
                owner.rules.push(r);
            }
            owner.key |= key;
            owner.url |= url;
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A DFA: one table lookup per byte, several times faster than the NFAs on the
            // overlapping search every keyword needs (measured in benches/README.md).
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| RuleError::Prefilter { message: e.to_string() })?;
        Ok(Prefilter { ac, owners, rule_count: rules.len() })
    }

    /// One pass over `data`: fills `hits` with the candidate rules (sorted, each once) and the
    /// positions of entropy key words and URL markers.
    pub(crate) fn scan(&self, data: &[u8], hits: &mut Hits) {
        hits.reset(self.rule_count);
        // Most content holds no keyword at all: the non-overlapping search is the DFA's
        // fastest loop and stops at the first hit; only then is the overlapping pass needed.
        if !self.ac.is_match(data) {
            return;
        }
        for m in self.ac.find_overlapping_iter(data) {
            let owner = &self.owners[m.pattern().as_usize()];
            for &r in &owner.rules {
                let stamp = &mut hits.stamp[r as usize];
                if *stamp != hits.generation {
                    *stamp = hits.generation;
                    hits.candidates.push(r);
                }
            }
            if owner.key {
                hits.key_hits.push(m.start());
            }
            if owner.url {
                hits.url_hits.push(m.start());
            }
        }
        hits.candidates.sort_unstable();
    }
}

/// Per-detector scratch for one prefilter pass.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// Rules whose keyword was seen, ascending.
    pub(crate) candidates: Vec<u32>,
    /// Start offsets of entropy key words (may repeat positions for nested words).
    pub(crate) key_hits: Vec<usize>,
    /// Start offsets of `://`.
    pub(crate) url_hits: Vec<usize>,
    stamp: Vec<u32>,
    generation: u32,
}

impl Hits {
    fn reset(&mut self, rule_count: usize) {
        self.candidates.clear();
        self.key_hits.clear();
        self.url_hits.clear();
        if self.stamp.len() != rule_count {
            self.stamp.clear();
            self.stamp.resize(rule_count, 0);
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
    }
}
