//! Inputs for layerdig's benchmarks: realistic text, binary data and layer tarballs made in code
//! (deterministic, so runs compare).

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "import", "from", "return", "self", "def", "class", "function", "const", "let", "value", "config", "server",
    "request", "response", "handler", "error", "result", "string", "number", "public", "private", "static", "module",
    "export", "default", "timeout", "retries", "logger", "debug", "info", "path", "name", "version", "the", "of",
    "and", "to", "in", "is", "for", "with", "on", "data", "list", "map", "index", "buffer",
];

/// Source-code-like and config-like text: identifiers, punctuation, assignments without
/// secrets, about `len` bytes. No rule keyword is planted on purpose, but common words such as
/// `key` and `token` occur as they do in real code.
pub fn source_text(len: usize, seed: u64) -> Vec<u8> {
    const AFTER: &[&[u8]] = &[b"(", b") ", b" = ", b".", b" ", b" "];
    code_like(len, seed, WORDS, AFTER, Some(b"timeout_ms: 3000 # token bucket key size"))
}

/// Lines of 3 to 10 `words` (indented by 0 to 12 spaces), each word but the first followed by
/// one of `after`, and one line in 20 followed by `extra`; `len` bytes.
fn code_like(len: usize, seed: u64, words: &[&str], after: &[&[u8]], extra: Option<&[u8]>) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 128);
    while out.len() < len {
        out.extend(std::iter::repeat_n(b' ', rng.below(4) * 4));
        for w in 0..3 + rng.below(8) {
            out.extend_from_slice(words[rng.below(words.len())].as_bytes());
            let separator = after[rng.below(after.len())];
            out.extend_from_slice(if w == 0 { b" " } else { separator });
        }
        if let Some(extra) = extra
            && rng.below(20) == 0
        {
            out.extend_from_slice(extra);
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// Words of code and prose that hold no rule keyword and no key word of the entropy detector.
const PLAIN_WORDS: &[&str] = &[
    "import",
    "from",
    "return",
    "self",
    "def",
    "class",
    "function",
    "const",
    "let",
    "value",
    "config",
    "server",
    "request",
    "response",
    "handler",
    "error",
    "result",
    "string",
    "number",
    "public",
    "static",
    "module",
    "export",
    "default",
    "timeout",
    "retries",
    "logger",
    "debug",
    "info",
    "name",
    "version",
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "data",
    "list",
    "map",
    "index",
    "buffer",
    "while",
    "if",
    "else",
    "match",
    "loop",
    "break",
    "continue",
    "struct",
    "enum",
    "impl",
    "trait",
    "where",
    "type",
    "use",
    "crate",
    "super",
    "true",
    "false",
    "count",
    "length",
    "offset",
    "window",
    "reader",
    "writer",
    "stream",
    "parse",
    "format",
    "print",
    "check",
    "layer",
    "image",
    "digest",
    "manifest",
    "archive",
    "compress",
    "header",
    "entry",
    "file",
    "directory",
    "link",
    "mode",
];

/// Code-like text made only of [`PLAIN_WORDS`]: ordinary text in which no keyword occurs, the
/// common case for the files of an image.
pub fn plain_code_text(len: usize, seed: u64) -> Vec<u8> {
    const AFTER: &[&[u8]] = &[b"(", b") ", b" = ", b".", b", ", b" ", b" "];
    code_like(len, seed, PLAIN_WORDS, AFTER, None)
}

/// Text with no letters that any rule keyword could start: digits, spaces and punctuation
/// (the prefilter's best case).
pub fn no_keyword_text(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|i| if i % 64 == 63 { b'\n' } else { b"0123456789 ,.;:-+=()[]{}"[rng.below(24)] }).collect()
}

/// Random bytes (compiled code and compressed assets look like this to a scanner).
pub fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A layer tar of `files` text files of `file_size` bytes each.
pub fn layer_tar(files: usize, file_size: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..files {
        let content = source_text(file_size, i as u64 + 1);
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("usr/lib/app/module_{i:05}.py"), &content[..]).expect("tar");
    }
    b.into_inner().expect("tar")
}
