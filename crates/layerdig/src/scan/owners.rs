//! Who owns the files with findings. A layer's visitor keeps the package databases it passes
//! (dpkg's status and lists, apk's installed, Python's RECORD, npm's package.json, …) and notes
//! a merged `/usr`; an image's owners are read from those databases as they are in the final
//! image — or, for a file a later layer deleted or overwrote, as they were in the layer that
//! wrote it. The tables are built only when an image has a finding in a file, and only once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::layer::LayerIndex;
use crate::ownership::{DatabaseKind, FileOwner, Ownership};
use crate::resolve::{self, Status};

use super::Hit;

/// The most bytes of one package database kept (a Debian status file is a few MiB).
pub(super) const MAX_DATABASE: u64 = 64 << 20;

/// A package database file a layer holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct DatabaseFile {
    pub(super) kind: DatabaseKind,
    pub(super) path: Vec<u8>,
    pub(super) ordinal: u32,
    pub(super) bytes: Arc<[u8]>,
}

/// What a layer tells about packages: its database files, and whether it makes `/usr` merged
/// (`lib` a symbolic link to `usr/lib`, and so on).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct LayerPackages {
    pub(super) databases: Vec<DatabaseFile>,
    pub(super) merged_usr: bool,
}

/// The directories a merged `/usr` links to their `usr/` namesakes.
const MERGED: [&[u8]; 6] = [b"bin", b"sbin", b"lib", b"lib32", b"lib64", b"libx32"];

/// Whether a symbolic link at `path` to `target` is one of a merged `/usr`.
pub(super) fn is_merged_usr_link(path: &[u8], target: &[u8]) -> bool {
    let target = target.strip_prefix(b"/").unwrap_or(target);
    MERGED.contains(&path) && target.strip_prefix(b"usr/") == Some(path)
}

/// The owners of one image's files, tables built on first use.
pub(super) struct Owners<'a> {
    layers: Vec<&'a LayerPackages>,
    indexes: &'a [Option<&'a LayerIndex>],
    merged_usr: bool,
    /// The databases as the final image has them.
    last: Option<Ownership>,
    /// The databases as the image up to a layer had them.
    upto: HashMap<usize, Ownership>,
}

impl<'a> Owners<'a> {
    pub(super) fn new(layers: Vec<&'a LayerPackages>, indexes: &'a [Option<&'a LayerIndex>]) -> Owners<'a> {
        let merged_usr = layers.iter().any(|l| l.merged_usr);
        Owners { layers, indexes, merged_usr, last: None, upto: HashMap::new() }
    }

    /// The owner of the file of `hit`, in layer `layer`, whose fate in the final image is
    /// `status`; `None` when no package owns it. Hidden data and metadata have none.
    pub(super) fn of(&mut self, hit: &Hit, layer: usize, status: Status) -> Option<FileOwner> {
        if self.layers.iter().all(|l| l.databases.is_empty()) {
            return None;
        }
        let table = if status == Status::Present {
            self.last.get_or_insert_with(|| table(&self.layers, self.indexes, self.layers.len(), self.merged_usr))
        } else {
            let (layers, indexes, merged) = (&self.layers, self.indexes, self.merged_usr);
            self.upto.entry(layer).or_insert_with(|| table(layers, indexes, layer + 1, merged))
        };
        let owner = table.owner(&hit.path)?;
        // The file's bytes were hashed when it had its finding (an archive as the whole file,
        // when it was all in memory).
        let verdict = match (&hit.digests, &owner.file.digest) {
            (_, None) => Some(crate::ownership::Verdict::Unverified),
            (Some(digests), Some(_)) => digests.judge(owner.file),
            (None, Some(_)) => None,
        };
        Some(FileOwner::new(&owner, verdict))
    }
}

/// The ownership table of the image made of the first `upto` layers: each database file that
/// is present in that image, in layer order.
fn table(layers: &[&LayerPackages], indexes: &[Option<&LayerIndex>], upto: usize, merged_usr: bool) -> Ownership {
    let mut table = Ownership::new();
    table.set_merged_usr(merged_usr);
    let indexes = &indexes[..upto.min(indexes.len())];
    for (i, layer) in layers.iter().enumerate().take(upto) {
        for db in &layer.databases {
            if resolve::resolve(indexes, i, &db.path, db.ordinal).status == Status::Present {
                // A malformed record is skipped by the reader; a database that is not one at
                // all owns nothing. Neither is the scan's problem.
                let _ = table.add(db.kind, &db.path, &db.bytes);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_links() {
        assert!(is_merged_usr_link(b"lib", b"usr/lib"));
        assert!(is_merged_usr_link(b"bin", b"/usr/bin"));
        assert!(!is_merged_usr_link(b"lib", b"usr/lib64"));
        assert!(!is_merged_usr_link(b"usr/lib", b"lib"));
        assert!(!is_merged_usr_link(b"etc", b"usr/etc"));
    }
}
