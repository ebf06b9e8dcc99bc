//! A compact record of what one layer wrote and deleted, kept as 64-bit path hashes so its size
//! does not grow with path lengths.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::{Entry, EntryKind};

/// What one layer wrote and deleted. Built while the layer is read; used by
/// [`crate::resolve`] to decide what became of every file of every lower layer.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct LayerIndex {
    /// Every path the layer writes, with the ordinal of its last entry.
    written: HashMap<u64, u32>,
    /// Paths written as something other than a directory: they replace a lower directory.
    non_dirs: HashSet<u64>,
    /// Targets of `.wh.NAME` whiteouts.
    whiteouts: HashSet<u64>,
    /// Directories marked opaque.
    opaque: HashSet<u64>,
}

pub(crate) fn path_hash(path: &[u8]) -> u64 {
    // `DefaultHasher::new()` has fixed keys: the same hash in every thread and run.
    let mut h = std::hash::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

/// The ancestors of a path, nearest last: `a/b/c` → `a`, `a/b`.
pub(crate) fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter().enumerate().filter(|&(_, &b)| b == b'/').map(move |(i, _)| &path[..i])
}

/// What one upper layer does to a path of a lower layer, as [`LayerIndex::effect_on`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The layer leaves the path alone.
    None,
    /// The layer writes the same path again.
    Overwritten,
    /// A `.wh.NAME` whiteout of the path, or of a directory above it.
    Whiteout,
    /// A directory above the path is marked opaque (`.wh..wh..opq`), or the layer's root is.
    Opaque,
    /// The layer writes a file or link where a directory above the path was.
    ParentReplaced,
}

impl LayerIndex {
    pub(crate) fn record(&mut self, entry: &Entry<'_>) {
        match entry.kind {
            EntryKind::Whiteout { target } => {
                self.whiteouts.insert(path_hash(target));
            }
            EntryKind::OpaqueWhiteout { dir } => {
                self.opaque.insert(path_hash(dir));
            }
            EntryKind::Directory => {
                self.written.insert(path_hash(entry.path), entry.ordinal);
            }
            _ => {
                let h = path_hash(entry.path);
                self.written.insert(h, entry.ordinal);
                self.non_dirs.insert(h);
            }
        }
    }

    /// The ordinal of the last entry this layer has at `path`, if any.
    pub fn last_ordinal(&self, path: &[u8]) -> Option<u32> {
        self.written.get(&path_hash(path)).copied()
    }

    /// Number of distinct paths written.
    pub fn paths_written(&self) -> usize {
        self.written.len()
    }

    /// What this layer, sitting above, does to `path` (normalised, as in [`Entry::path`]) from a
    /// lower layer. A write of the path itself is found first, then a whiteout of it, then the
    /// nearest ancestor that is whited out, opaque or replaced by a non-directory.
    pub fn effect_on(&self, path: &[u8]) -> Effect {
        let h = path_hash(path);
        if self.written.contains_key(&h) {
            return Effect::Overwritten;
        }
        if self.whiteouts.contains(&h) {
            return Effect::Whiteout;
        }
        for ancestor in ancestors(path) {
            let a = path_hash(ancestor);
            if self.whiteouts.contains(&a) {
                return Effect::Whiteout;
            }
            if self.opaque.contains(&a) {
                return Effect::Opaque;
            }
            if self.non_dirs.contains(&a) {
                return Effect::ParentReplaced;
            }
        }
        if path.is_empty() || !self.opaque.contains(&path_hash(b"")) {
            Effect::None
        } else {
            Effect::Opaque // an opaque root hides everything
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Effect, LayerIndex};
    use crate::layer::{Entry, EntryKind};

    fn entry<'a>(path: &'a [u8], kind: EntryKind<'a>) -> Entry<'a> {
        Entry { layer: 1, ordinal: 0, path, kind, size: 0, mode: 0o644 }
    }

    #[test]
    fn effect_on_table() {
        let mut index = LayerIndex::default();
        index.record(&entry(b"etc/passwd", EntryKind::File));
        index.record(&entry(b"app", EntryKind::Directory));
        index.record(&entry(b"app/.wh.secret", EntryKind::Whiteout { target: b"app/secret" }));
        index.record(&entry(b"cache/.wh..wh..opq", EntryKind::OpaqueWhiteout { dir: b"cache" }));
        index.record(&entry(b"lib", EntryKind::Symlink { target: b"usr/lib" }));
        let cases: &[(&[u8], Effect)] = &[
            (b"etc/passwd", Effect::Overwritten),
            (b"etc/shadow", Effect::None),
            (b"app", Effect::Overwritten),
            (b"app/config", Effect::None),
            (b"app/secret", Effect::Whiteout),
            (b"app/secret/key.pem", Effect::Whiteout),
            (b"cache/x", Effect::Opaque),
            (b"lib/libc.so", Effect::ParentReplaced),
        ];
        for &(path, want) in cases {
            assert_eq!(index.effect_on(path), want, "{}", String::from_utf8_lossy(path));
        }
    }

    #[test]
    fn an_opaque_root_hides_everything_but_itself() {
        let mut index = LayerIndex::default();
        index.record(&entry(b".wh..wh..opq", EntryKind::OpaqueWhiteout { dir: b"" }));
        assert_eq!(index.effect_on(b"etc/passwd"), Effect::Opaque);
        assert_eq!(index.effect_on(b""), Effect::None);
    }
}
