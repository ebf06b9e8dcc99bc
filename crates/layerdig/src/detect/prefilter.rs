//! The keyword prefilter: one Aho-Corasick automaton over every keyword decides which rules'
//! regexes run, and where the entropy detector should look.
//!
//! aho-corasick builds the automaton (a DFA, ASCII case-insensitive); this module copies it into
//! two tables of its own, indexed by state and byte class:
//!
//! - the exact table, which is the DFA itself: states that end a keyword are numbered last, so
//!   "did a keyword end here?" is one comparison;
//! - the quick table, the same except that every transition into such a state goes to a sink
//!   that never leaves. Walking it is one class lookup and one transition lookup a byte, with no
//!   test at all; whether a keyword ended anywhere in a block of bytes is read off the state at
//!   the block's end. A block that reached the sink is walked again with the exact table, from
//!   the state it started in, to report what ended where.
//!
//! A walk is a chain of lookups, each waiting for the one before it, so a single walk runs at
//! the latency of the cache, not at the speed of the core. A buffer is therefore read by eight
//! walks at once, one over each eighth of it; their lookups are independent and overlap in the
//! pipeline. Each walk runs on past its part by the longest keyword, so no occurrence across a
//! boundary is lost, and reports only the keywords that start in its part, so none is reported
//! twice. The eight walks take their bytes from one small copy of the eight current blocks,
//! side by side: read in place, the eight pointers and eight states need more registers than
//! the core has, and the states spill to memory inside the chain of lookups (measured: 0.9 vs
//! 1.3 GiB/s on keyword-free text).

use std::collections::HashMap;
use std::fmt;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

use super::decode::DECODE_WORDS;
use super::entropy::{KEY_WORDS, URL_MARKER};

/// What one automaton pattern stands for.
#[derive(Debug, Default)]
struct Owner {
    /// The rules that have this keyword.
    rules: Vec<u32>,
    /// A key word of the entropy detector (`password`, `token`, …).
    key: bool,
    /// The URL marker `://` of the userinfo detector.
    url: bool,
    /// A marker of encoded text the decoders look at (`data:`, `basic `, `\\u`).
    decode: bool,
    /// The keyword's length in bytes.
    len: usize,
}

/// Walks at once over a buffer (eight: measured faster than four and than twelve or sixteen,
/// which run out of registers).
const LANES: usize = 8;

/// Bytes a quick walk takes between looks at whether it reached the sink.
const BLOCK: usize = 64;

/// The keyword automaton could not be built (too many or too long keywords): what aho-corasick,
/// or the copy into [`Prefilter`]'s own tables, said.
#[derive(Debug)]
pub(crate) struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// Every rule's keywords plus the entropy detector's key words, in one automaton.
pub(crate) struct Prefilter {
    tables: Tables,
    longest: usize,
    owners: Vec<Owner>,
    rule_count: usize,
    #[cfg(test)]
    patterns: Vec<String>,
}

impl Prefilter {
    /// The automaton over each rule's `keywords` (one slice per rule, in rule order: a rule is
    /// reported by its index here) and the entropy detector's key words.
    pub(crate) fn build<'a>(rules: impl IntoIterator<Item = &'a [String]>) -> Result<Prefilter, BuildError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Owner> = Vec::new();
        let mut slot = |word: &str| -> usize {
            let lower = word.to_ascii_lowercase();
            *index.entry(lower.clone()).or_insert_with(|| {
                owners.push(Owner { len: lower.len(), ..Owner::default() });
                patterns.push(lower);
                owners.len() - 1
            })
        };
        let mut assignments: Vec<(usize, Option<u32>, bool, bool, bool)> = Vec::new();
        let mut rule_count = 0;
        for (i, keywords) in rules.into_iter().enumerate() {
            rule_count += 1;
            let Ok(i) = u32::try_from(i) else { continue };
            for keyword in keywords.iter().filter(|k| !k.is_empty()) {
                assignments.push((slot(keyword), Some(i), false, false, false));
            }
        }
        for word in KEY_WORDS {
            assignments.push((slot(word), None, true, false, false));
        }
        assignments.push((slot(URL_MARKER), None, false, true, false));
        for word in DECODE_WORDS {
            assignments.push((slot(word), None, false, false, true));
        }
        for (at, rule, key, url, decode) in assignments {
            let owner = &mut owners[at];
            if let Some(r) = rule
                && owner.rules.last() != Some(&r)
            {
                owner.rules.push(r);
            }
            owner.key |= key;
            owner.url |= url;
            owner.decode |= decode;
        }
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| BuildError(e.to_string()))?;
        let longest = dfa.max_pattern_len();
        let tables = Tables::copy(&dfa, &patterns).map_err(BuildError)?;
        Ok(Prefilter {
            tables,
            longest,
            owners,
            rule_count,
            #[cfg(test)]
            patterns,
        })
    }

    /// One pass over `data`: fills `hits` with the candidate rules (sorted, each once) and the
    /// positions of entropy key words and URL markers.
    pub(crate) fn scan(&self, data: &[u8], hits: &mut Hits) {
        /// Below this, one walk: several would not pay for their set-up and for running past
        /// the ends of their parts (from 1 KiB on, eight walks measured faster).
        const INTERLEAVE_FROM: usize = 1024;
        hits.reset(self.rule_count);
        if data.len() < INTERLEAVE_FROM {
            let state = self.blocks(self.tables.start, data, 0, usize::MAX, hits);
            let done = data.len() - data.len() % BLOCK;
            self.walk(state, data, done, usize::MAX, hits);
        } else {
            let part = data.len() / LANES;
            let whole = part - part % BLOCK;
            let at: [usize; LANES] = std::array::from_fn(|k| k * part);
            // A walk reports only keywords that start in its own part; those that start later
            // are the next walk's.
            let limit: [usize; LANES] =
                std::array::from_fn(|k| if k + 1 == LANES { usize::MAX } else { (k + 1) * part });
            let mut state = [self.tables.start; LANES];
            // After a block in which a keyword ended, the next one is walked exactly straight
            // away: keywords come in clusters (source text), and there a quick walk would
            // mostly be walked again.
            let mut exact = false;
            for b in (0..whole).step_by(BLOCK) {
                // The eight blocks side by side, so the walks read them at fixed distances
                // from one register instead of holding eight pointers (with eight states, more
                // than the registers there are).
                let mut blocks = [[0u8; BLOCK]; LANES];
                for (k, block) in blocks.iter_mut().enumerate() {
                    block.copy_from_slice(&data[at[k] + b..at[k] + b + BLOCK]);
                }
                if !exact {
                    let began = state;
                    // One offset into every block a step: indexing is the point here.
                    #[allow(clippy::needless_range_loop)]
                    for i in 0..BLOCK {
                        for k in 0..LANES {
                            state[k] = self.next(&self.tables.quick, state[k], blocks[k][i]);
                        }
                    }
                    if state.contains(&self.tables.sink) {
                        state = began;
                        exact = true;
                    }
                }
                if exact {
                    exact = false;
                    #[allow(clippy::needless_range_loop)]
                    for i in 0..BLOCK {
                        let mut ended = false;
                        for k in 0..LANES {
                            state[k] = self.next(&self.tables.exact, state[k], blocks[k][i]);
                            ended |= state[k] >= self.tables.first_match;
                        }
                        if ended {
                            exact = true;
                            for k in 0..LANES {
                                if state[k] >= self.tables.first_match {
                                    self.matched(state[k], at[k] + b + i + 1, limit[k], hits);
                                }
                            }
                        }
                    }
                }
            }
            // Each walk finishes its part, then goes on past it far enough to finish a keyword
            // that began inside it; the last one goes to the end.
            let reach = self.longest.saturating_sub(1);
            for k in 0..LANES {
                let from = at[k] + whole;
                let to = if k + 1 == LANES { data.len() } else { (at[k] + part + reach).min(data.len()) };
                self.walk(state[k], &data[..to], from, limit[k], hits);
            }
        }
        hits.candidates.sort_unstable();
    }

    /// One quick walk over the whole blocks of `data[from..]`, rewalking blocks that reached
    /// the sink; returns the state after the last whole block.
    fn blocks(&self, mut state: u32, data: &[u8], from: usize, limit: usize, hits: &mut Hits) -> u32 {
        let mut at = from;
        for block in data[from..].chunks_exact(BLOCK) {
            let began = state;
            for &byte in block {
                state = self.next(&self.tables.quick, state, byte);
            }
            if state == self.tables.sink {
                state = self.walk(began, &data[..at + BLOCK], at, limit, hits);
            }
            at += BLOCK;
        }
        state
    }

    /// Walk `data[from..]` from `state` with the exact table, recording keywords that start
    /// before `limit`; returns the state at the end.
    fn walk(&self, mut state: u32, data: &[u8], from: usize, limit: usize, hits: &mut Hits) -> u32 {
        for (i, &byte) in data.iter().enumerate().skip(from) {
            state = self.next(&self.tables.exact, state, byte);
            if state >= self.tables.first_match {
                self.matched(state, i + 1, limit, hits);
            }
        }
        state
    }

    /// The state after `state` reads `byte`, in `table` (the exact or the quick one).
    #[inline(always)]
    fn next(&self, table: &[u32], state: u32, byte: u8) -> u32 {
        let at = state as usize + usize::from(self.tables.class[usize::from(byte)]);
        debug_assert!(at < table.len());
        // SAFETY: `state` is a row offset taken from the start state or from `table` itself,
        // every one of which [`Tables::copy`] made the offset of a whole row of `stride`
        // entries inside the table, and a class is below `stride`; both tables have the same
        // rows. This lookup is the inner loop of every scan; with its bounds check the
        // automaton measured 1.01 instead of 1.29 GiB/s on keyword-free code text.
        unsafe { *table.get_unchecked(at) }
    }

    /// Record the keywords that end at `end` (matching state `state`) and start before `limit`.
    fn matched(&self, state: u32, end: usize, limit: usize, hits: &mut Hits) {
        let m = ((state - self.tables.first_match) / self.tables.stride) as usize;
        for &pattern in &self.tables.ends[self.tables.spans[m] as usize..self.tables.spans[m + 1] as usize] {
            let owner = &self.owners[pattern as usize];
            let start = end - owner.len;
            if start >= limit {
                continue;
            }
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
            if owner.decode {
                hits.decode_hits.push(start);
            }
        }
    }
}

/// The automaton's tables as [`Prefilter`] walks them (see the module's documentation).
struct Tables {
    /// Byte to class: bytes that no keyword tells apart share a class.
    class: [u8; 256],
    /// The exact automaton; a state is its row's offset (state number × class count).
    exact: Vec<u32>,
    /// The same, with every transition into a matching state sent to `sink`.
    quick: Vec<u32>,
    start: u32,
    /// States from here on (up to the sink) end at least one keyword.
    first_match: u32,
    /// A state whose every transition leads back to it.
    sink: u32,
    /// Class count: the length of a row.
    stride: u32,
    /// For each matching state in order, the keywords it ends: `ends[spans[m]..spans[m + 1]]`.
    spans: Vec<u32>,
    ends: Vec<u32>,
}

impl Tables {
    /// Copy `dfa` (built over `patterns`, lower case, ASCII case-insensitive) into tables.
    fn copy(dfa: &DFA, patterns: &[String]) -> Result<Tables, String> {
        // Bytes that occur in no keyword, in either case, all lead where any other such byte
        // leads; each byte that occurs is a class of its own with its other case.
        let mut class = [0u8; 256];
        let mut representative = vec![0u8];
        for pattern in patterns {
            for byte in pattern.bytes() {
                let byte = byte.to_ascii_lowercase();
                if class[usize::from(byte)] == 0 {
                    let next = u8::try_from(representative.len()).map_err(|_| "too many byte classes".to_string())?;
                    class[usize::from(byte)] = next;
                    class[usize::from(byte.to_ascii_uppercase())] = next;
                    representative.push(byte);
                }
            }
        }
        if let Some(unused) = (0..=255u8).find(|&b| class[usize::from(b)] == 0) {
            representative[0] = unused;
        }
        let classes = representative.len();

        // Every state the DFA can reach, breadth first, numbered in the order found. A state's
        // id is an offset into aho-corasick's own table, so a vector indexed by it numbers them
        // (a hash map here cost milliseconds of every start-up).
        const UNSEEN: u32 = u32::MAX;
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        let mut number: Vec<u32> = Vec::new();
        let mut states: Vec<StateID> = Vec::new();
        let mut rows: Vec<u32> = Vec::new();
        let mut number_of = |sid: StateID, states: &mut Vec<StateID>| -> u32 {
            if sid.as_usize() >= number.len() {
                number.resize(sid.as_usize() + 1, UNSEEN);
            }
            if number[sid.as_usize()] == UNSEEN {
                number[sid.as_usize()] = u32::try_from(states.len()).unwrap_or(UNSEEN);
                states.push(sid);
            }
            number[sid.as_usize()]
        };
        number_of(start, &mut states);
        let mut i = 0;
        while i < states.len() {
            let sid = states[i];
            for &b in &representative {
                let next = dfa.next_state(Anchored::No, sid, b);
                if dfa.is_dead(next) {
                    return Err("the keyword automaton has a dead state".to_string());
                }
                rows.push(number_of(next, &mut states));
            }
            i += 1;
        }

        // Renumber: states that end no keyword first, then those that do, then the sink.
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by_key(|&s| dfa.is_match(states[s]));
        let mut place = vec![0usize; states.len()];
        for (new, &old) in order.iter().enumerate() {
            place[old] = new;
        }
        let non_matching = order.iter().filter(|&&s| !dfa.is_match(states[s])).count();
        let row_of = |new: usize| -> Result<u32, String> {
            u32::try_from(new * classes).map_err(|_| "the keyword automaton is too large".to_string())
        };
        let sink = row_of(states.len())?;
        let first_match = row_of(non_matching)?;
        let mut exact = Vec::with_capacity((states.len() + 1) * classes);
        let mut quick = Vec::with_capacity((states.len() + 1) * classes);
        let mut spans = vec![0u32];
        let mut ends = Vec::new();
        for &old in &order {
            for &next in &rows[old * classes..(old + 1) * classes] {
                let new = place[next as usize];
                exact.push(row_of(new)?);
                quick.push(if new >= non_matching { sink } else { row_of(new)? });
            }
            let sid = states[old];
            if dfa.is_match(sid) {
                ends.extend((0..dfa.match_len(sid)).map(|m| dfa.match_pattern(sid, m).as_u32()));
                spans.push(u32::try_from(ends.len()).map_err(|_| "too many keywords".to_string())?);
            }
        }
        exact.extend(std::iter::repeat_n(sink, classes));
        quick.extend(std::iter::repeat_n(sink, classes));
        Ok(Tables {
            class,
            exact,
            quick,
            start: row_of(place[0])?,
            first_match,
            sink,
            stride: u32::try_from(classes).map_err(|_| "too many byte classes".to_string())?,
            spans,
            ends,
        })
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
    /// Start offsets of the decoders' markers ([`DECODE_WORDS`]).
    pub(crate) decode_hits: Vec<usize>,
    stamp: Vec<u32>,
    generation: u32,
}

impl Hits {
    fn reset(&mut self, rule_count: usize) {
        self.candidates.clear();
        self.key_hits.clear();
        self.url_hits.clear();
        self.decode_hits.clear();
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

    type Seen = (Vec<u32>, Vec<usize>, Vec<usize>, Vec<usize>);

    /// What aho-corasick's own overlapping search reports: the behaviour the walks must keep.
    fn reference(p: &Prefilter, data: &[u8]) -> Seen {
        static AC: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
        let ac = AC.get_or_init(|| {
            aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).build(&p.patterns).unwrap()
        });
        let mut hits = Hits::default();
        hits.reset(p.rule_count);
        for m in ac.find_overlapping_iter(data) {
            let owner = &p.owners[m.pattern().as_usize()];
            hits.candidates.extend(&owner.rules);
            if owner.key {
                hits.key_hits.push(m.start());
            }
            if owner.url {
                hits.url_hits.push(m.start());
            }
            if owner.decode {
                hits.decode_hits.push(m.start());
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
        hits.decode_hits.sort_unstable();
        (hits.candidates.clone(), hits.key_hits.clone(), hits.url_hits.clone(), hits.decode_hits.clone())
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
    /// walks: the start, both sides of and straddling each boundary between parts and between
    /// blocks, and the end; in one walk and in eight.
    #[test]
    fn interleaved_walks_report_every_keyword_once_wherever_it_is() {
        let rules = Rules::builtin();
        let p = rules.prefilter();
        let mut rng = Rng(0x5eed);
        let mut hits = Hits::default();
        for len in [1000, 4096, 4099, 10_007] {
            let mut quiet = vec![b'7'; len];
            assert_eq!(scanned(p, &quiet, &mut hits), (vec![], vec![], vec![], vec![]));
            let part = len / LANES;
            for word in keywords(&rules) {
                let word = if rng.below(2) == 0 { word.to_ascii_uppercase() } else { word };
                let mut places = vec![0, len - word.len()];
                for q in 1..LANES {
                    let boundary = q * part;
                    places.extend([boundary - word.len(), boundary - 1, boundary, boundary + 1]);
                }
                // Where a quick walk looks at its state: the first block boundary of each
                // part, and where the whole blocks of a part end and the exact walk takes over.
                let whole = part - part % BLOCK;
                for q in 0..LANES {
                    for edge in [q * part + BLOCK, q * part + whole] {
                        places.extend([edge.saturating_sub(word.len()), edge.saturating_sub(1), edge]);
                    }
                }
                places.push(rng.below(len - word.len()));
                places.retain(|&at| at + word.len() <= len);
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
