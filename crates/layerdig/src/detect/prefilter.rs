//! The keyword prefilter: one Aho-Corasick DFA over every keyword decides which rules' regexes
//! run, and where the entropy detector should look.
//!
//! Most content holds no keyword at all, so the first question is only "any keyword here?".
//! A DFA walk is one table lookup per byte, but each lookup waits for the one before it, so a
//! single walk runs at the latency of the cache, not at the speed of the core. The question is
//! therefore asked by four walks at once over four quarters of the buffer (each running on past
//! its quarter by the longest keyword, so no occurrence across a boundary is lost); their
//! lookups are independent and overlap in the pipeline. Only when a keyword is seen does the
//! overlapping search run, once, over the whole buffer.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, Input, MatchKind};

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
    dfa: DFA,
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
        // A DFA, not an NFA: one table lookup per byte, several times faster on the overlapping
        // search every keyword needs (measured in benches/README.md).
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| RuleError::Prefilter { message: e.to_string() })?;
        Ok(Prefilter { dfa, owners, rule_count: rules.len() })
    }

    /// One pass over `data`: fills `hits` with the candidate rules (sorted, each once) and the
    /// positions of entropy key words and URL markers.
    pub(crate) fn scan(&self, data: &[u8], hits: &mut Hits) {
        hits.reset(self.rule_count);
        if !self.any_keyword(data) {
            return;
        }
        self.record(data, hits);
        hits.candidates.sort_unstable();
    }

    /// Whether any keyword occurs in `data`: four interleaved DFA walks (see the module docs).
    fn any_keyword(&self, data: &[u8]) -> bool {
        /// Below this, one walk: the four would not pay for their set-up.
        const INTERLEAVE_FROM: usize = 4096;
        let Ok(start) = self.dfa.start_state(Anchored::No) else { return true };
        let step = |sid, byte| self.dfa.next_state(Anchored::No, sid, byte);
        let walk = |mut sid, bytes: &[u8]| {
            for &b in bytes {
                sid = step(sid, b);
                if self.dfa.is_match(sid) {
                    return true;
                }
            }
            false
        };
        if data.len() < INTERLEAVE_FROM {
            return walk(start, data);
        }
        let quarter = data.len() / 4;
        let reach = self.dfa.max_pattern_len().saturating_sub(1);
        let at = [0, quarter, 2 * quarter, 3 * quarter];
        let mut sid = [start; 4];
        let lanes = data[at[0]..].iter().zip(&data[at[1]..]).zip(&data[at[2]..]).zip(&data[at[3]..]).take(quarter);
        for (((&b0, &b1), &b2), &b3) in lanes {
            sid = [step(sid[0], b0), step(sid[1], b1), step(sid[2], b2), step(sid[3], b3)];
            if sid.iter().any(|&s| self.dfa.is_match(s)) {
                return true;
            }
        }
        // Each walk goes on past its quarter far enough to finish a keyword that began inside
        // it; the last one goes to the end.
        (0..4).any(|k| {
            let from = at[k] + quarter;
            let to = if k == 3 { data.len() } else { (from + reach).min(data.len()) };
            walk(sid[k], &data[from..to])
        })
    }

    /// Every keyword occurrence in `data`, into `hits`.
    fn record(&self, data: &[u8], hits: &mut Hits) {
        // Cannot fail: the DFA is built for unanchored searches.
        let Ok(matches) = self.dfa.try_find_overlapping_iter(Input::new(data)) else { return };
        for m in matches {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rules;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Every keyword, in its own case and upper case, placed at each position that matters to the
    /// four walks: the start, both sides of each quarter boundary (straddling it), and the end.
    #[test]
    fn interleaved_walks_see_every_keyword_wherever_it_is() {
        let rules = Rules::builtin();
        let p = rules.prefilter();
        let mut words: Vec<Vec<u8>> =
            rules.rules().iter().flat_map(|r| r.keywords.iter()).map(|k| k.clone().into_bytes()).collect();
        words.extend(super::super::entropy::KEY_WORDS.iter().map(|k| k.as_bytes().to_vec()));
        words.push(b"://".to_vec());
        let mut rng = Rng(0x5eed);
        for len in [4096, 4099, 10_007] {
            let mut quiet = vec![b'7'; len];
            assert!(!p.any_keyword(&quiet), "{len} bytes of digits hold no keyword");
            let quarter = len / 4;
            for word in &words {
                let word = if rng.below(2) == 0 { word.to_ascii_uppercase() } else { word.clone() };
                let mut places = vec![0, len - word.len()];
                for q in 1..4 {
                    let boundary = q * quarter;
                    places.extend([boundary - word.len(), boundary - 1, boundary, boundary + 1 - word.len().min(2)]);
                }
                places.push(rng.below(len - word.len()));
                for at in places {
                    quiet[at..at + word.len()].copy_from_slice(&word);
                    assert!(p.any_keyword(&quiet), "{:?} at {at} of {len}", String::from_utf8_lossy(&word));
                    quiet[at..at + word.len()].fill(b'7');
                }
            }
        }
    }

    /// On mixed content the fast question agrees with a plain search, and a scan reports exactly
    /// what the overlapping search does.
    #[test]
    fn fast_answer_agrees_with_a_plain_search() {
        let rules = Rules::builtin();
        let p = rules.prefilter();
        let filler: &[u8] = b"ab9_-.:/ =\n\0\xff@`PASaKtoe";
        let mut rng = Rng(0xfeed);
        let mut hits = Hits::default();
        let (mut seen, mut unseen) = (0, 0);
        for round in 0..400 {
            let len = [10, 3000, 4096, 5000, 20_000][rng.below(5)];
            let data: Vec<u8> = (0..len).map(|_| filler[rng.below(filler.len())]).collect();
            let want = p.dfa.try_find(&Input::new(&data)).unwrap().is_some();
            assert_eq!(p.any_keyword(&data), want, "round {round}");
            p.scan(&data, &mut hits);
            assert_eq!(!hits.candidates.is_empty() || !hits.key_hits.is_empty() || !hits.url_hits.is_empty(), want);
            if want { seen += 1 } else { unseen += 1 }
        }
        assert!(seen > 50 && unseen > 50, "both answers should occur ({seen} / {unseen})");
    }
}
