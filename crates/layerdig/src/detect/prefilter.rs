//! The keyword prefilter: one Aho-Corasick DFA over every keyword decides which rules' regexes
//! run, and where the entropy detector should look.
//!
//! A DFA walk is one table lookup per byte, but each lookup waits for the one before it, so a
//! single walk runs at the latency of the cache, not at the speed of the core. A buffer is
//! therefore read by eight walks at once, one over each eighth of it; their lookups are
//! independent and overlap in the pipeline. Each walk runs on past its part by the longest
//! keyword, so no occurrence across a boundary is lost, and reports only the keywords that start
//! in its part, so none is reported twice.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

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

/// Walks at once over a buffer (eight: measured faster than four and than twelve or sixteen,
/// which run out of registers).
const LANES: usize = 8;

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
        /// Below this, one walk: several would not pay for their set-up.
        const INTERLEAVE_FROM: usize = 4096;
        hits.reset(self.rule_count);
        // Cannot fail: the DFA is built for unanchored searches.
        let Ok(start) = self.dfa.start_state(Anchored::No) else { return };
        if data.len() < INTERLEAVE_FROM {
            self.walk(start, data, 0, usize::MAX, hits);
        } else {
            let part = data.len() / LANES;
            let at: [usize; LANES] = std::array::from_fn(|k| k * part);
            // A walk reports only keywords that start in its own part; those that start later
            // are the next walk's.
            let limit: [usize; LANES] =
                std::array::from_fn(|k| if k + 1 == LANES { usize::MAX } else { (k + 1) * part });
            let parts: [&[u8]; LANES] = std::array::from_fn(|k| &data[at[k]..at[k] + part]);
            let mut sid = [start; LANES];
            // One offset into every part a step: indexing is the point here.
            #[allow(clippy::needless_range_loop)]
            for i in 0..part {
                let mut any = false;
                for k in 0..LANES {
                    sid[k] = self.step(sid[k], parts[k][i]);
                    any |= self.dfa.is_match(sid[k]);
                }
                if any {
                    for k in 0..LANES {
                        self.matched(sid[k], at[k] + i + 1, limit[k], hits);
                    }
                }
            }
            // Each walk goes on past its part far enough to finish a keyword that began inside
            // it; the last one goes to the end.
            let reach = self.dfa.max_pattern_len().saturating_sub(1);
            for k in 0..LANES {
                let from = at[k] + part;
                let to = if k + 1 == LANES { data.len() } else { (from + reach).min(data.len()) };
                self.walk(sid[k], &data[..to], from, limit[k], hits);
            }
        }
        hits.candidates.sort_unstable();
    }

    fn step(&self, sid: StateID, byte: u8) -> StateID {
        self.dfa.next_state(Anchored::No, sid, byte)
    }

    /// Walk `data[from..]` from state `sid`, recording keywords that start before `limit`.
    fn walk(&self, mut sid: StateID, data: &[u8], from: usize, limit: usize, hits: &mut Hits) {
        for (i, &b) in data.iter().enumerate().skip(from) {
            sid = self.step(sid, b);
            self.matched(sid, i + 1, limit, hits);
        }
    }

    /// Record the keywords that end at `end` (state `sid`) and start before `limit`.
    #[inline]
    fn matched(&self, sid: StateID, end: usize, limit: usize, hits: &mut Hits) {
        if !self.dfa.is_match(sid) {
            return;
        }
        for i in 0..self.dfa.match_len(sid) {
            let pattern = self.dfa.match_pattern(sid, i);
            let start = end - self.dfa.pattern_len(pattern);
            if start >= limit {
                continue;
            }
            let owner = &self.owners[pattern.as_usize()];
            for &r in &owner.rules {
                let stamp = &mut hits.stamp[r as usize];
                if *stamp != hits.generation {
                    *stamp = hits.generation;
                    hits.candidates.push(r);
                }
            }
            if owner.key {
                hits.key_hits.push(start);
            }
            if owner.url {
                hits.url_hits.push(start);
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

    type Seen = (Vec<u32>, Vec<usize>, Vec<usize>);

    /// What aho-corasick's own overlapping search reports: the behaviour the walks must keep.
    fn reference(p: &Prefilter, data: &[u8]) -> Seen {
        let mut hits = Hits::default();
        hits.reset(p.rule_count);
        for m in p.dfa.try_find_overlapping_iter(aho_corasick::Input::new(data)).unwrap() {
            let owner = &p.owners[m.pattern().as_usize()];
            hits.candidates.extend(&owner.rules);
            if owner.key {
                hits.key_hits.push(m.start());
            }
            if owner.url {
                hits.url_hits.push(m.start());
            }
        }
        sorted(&mut hits, true)
    }

    fn sorted(hits: &mut Hits, dedup: bool) -> Seen {
        hits.candidates.sort_unstable();
        if dedup {
            hits.candidates.dedup();
        }
        hits.key_hits.sort_unstable();
        hits.url_hits.sort_unstable();
        (hits.candidates.clone(), hits.key_hits.clone(), hits.url_hits.clone())
    }

    fn scanned(p: &Prefilter, data: &[u8], hits: &mut Hits) -> Seen {
        p.scan(data, hits);
        sorted(hits, false)
    }

    fn keywords(rules: &Rules) -> Vec<Vec<u8>> {
        let mut words: Vec<Vec<u8>> =
            rules.rules().iter().flat_map(|r| r.keywords.iter()).map(|k| k.clone().into_bytes()).collect();
        words.extend(super::super::entropy::KEY_WORDS.iter().map(|k| k.as_bytes().to_vec()));
        words.push(b"://".to_vec());
        words
    }

    /// Every keyword, in its own case or upper case, at each position that matters to the
    /// walks: the start, both sides of and straddling each boundary between parts, and the end.
    #[test]
    fn interleaved_walks_report_every_keyword_once_wherever_it_is() {
        let rules = Rules::builtin();
        let p = rules.prefilter();
        let mut rng = Rng(0x5eed);
        let mut hits = Hits::default();
        for len in [4096, 4099, 10_007] {
            let mut quiet = vec![b'7'; len];
            assert_eq!(scanned(p, &quiet, &mut hits), (vec![], vec![], vec![]));
            let part = len / LANES;
            for word in keywords(&rules) {
                let word = if rng.below(2) == 0 { word.to_ascii_uppercase() } else { word };
                let mut places = vec![0, len - word.len()];
                for q in 1..LANES {
                    let boundary = q * part;
                    places.extend([boundary - word.len(), boundary - 1, boundary, boundary + 1]);
                }
                places.push(rng.below(len - word.len()));
                for at in places {
                    quiet[at..at + word.len()].copy_from_slice(&word);
                    let got = scanned(p, &quiet, &mut hits);
                    assert_eq!(got, reference(p, &quiet), "{:?} at {at} of {len}", String::from_utf8_lossy(&word));
                    assert!(!got.0.is_empty() || !got.1.is_empty() || !got.2.is_empty());
                    quiet[at..at + word.len()].fill(b'7');
                }
            }
        }
    }

    /// On mixed content, keywords dense and sparse, short and long buffers, the walks report
    /// exactly what the overlapping search does.
    #[test]
    fn walks_agree_with_the_overlapping_search() {
        let rules = Rules::builtin();
        let p = rules.prefilter();
        let words = keywords(&rules);
        let filler: &[u8] = b"ab9_-.:/ =\n\0\xff@`PASaKtoe";
        let mut rng = Rng(0xfeed);
        let mut hits = Hits::default();
        let (mut seen, mut unseen) = (0, 0);
        for round in 0..300 {
            let len: usize = [10, 3000, 4096, 5000, 20_000][rng.below(5)];
            let mut data: Vec<u8> = (0..len).map(|_| filler[rng.below(filler.len())]).collect();
            for _ in 0..rng.below(4) * rng.below(20) {
                let w = &words[rng.below(words.len())];
                let at = rng.below(len.saturating_sub(w.len()).max(1));
                let end = (at + w.len()).min(len);
                data[at..end].copy_from_slice(&w[..end - at]);
            }
            let want = reference(p, &data);
            assert_eq!(scanned(p, &data, &mut hits), want, "round {round}");
            if want.0.is_empty() && want.1.is_empty() && want.2.is_empty() { unseen += 1 } else { seen += 1 }
        }
        assert!(seen > 50 && unseen > 20, "both kinds of content should occur ({seen} / {unseen})");
    }
}
