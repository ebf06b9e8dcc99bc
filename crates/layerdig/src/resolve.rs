//! What became of each file in the final image: still present, deleted by a whiteout or an
//! opaque directory in a later layer, or overwritten by a later layer (or a later entry of its
//! own layer).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::layer::{Effect, LayerIndex};

/// A file's fate in the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Visible in the final image.
    Present,
    /// Removed by a later layer, but still recoverable from this layer's blob.
    Deleted,
    /// Replaced by a later write of the same path, but still recoverable from this layer's blob.
    Overwritten,
}

impl Status {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Present => "present",
            Status::Deleted => "deleted",
            Status::Overwritten => "overwritten",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a file left the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedBy {
    /// A `.wh.NAME` whiteout of the file or of a directory above it.
    Whiteout,
    /// An opaque directory marker (`.wh..wh..opq`) above it.
    OpaqueDir,
    /// A later layer put a file or link where one of its parent directories was.
    ParentReplaced,
    /// The same path written again.
    Rewritten,
}

/// The resolved fate of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resolution {
    /// Present, deleted or overwritten.
    pub status: Status,
    /// The layer that removed or replaced it.
    pub removed_in_layer: Option<usize>,
    /// How it was removed.
    pub removed_by: Option<RemovedBy>,
}

impl Resolution {
    /// A file still present.
    pub const PRESENT: Resolution = Resolution { status: Status::Present, removed_in_layer: None, removed_by: None };
}

/// Resolve the fate of the entry `ordinal` at `path` in layer `layer`, given every layer's index
/// (`indexes[i]` is layer i's; `None` for a layer that could not be read, which then counts as
/// changing nothing).
pub fn resolve(indexes: &[Option<&LayerIndex>], layer: usize, path: &[u8], ordinal: u32) -> Resolution {
    if let Some(Some(own)) = indexes.get(layer)
        && own.last_ordinal(path).is_some_and(|last| last > ordinal)
    {
        return Resolution {
            status: Status::Overwritten,
            removed_in_layer: Some(layer),
            removed_by: Some(RemovedBy::Rewritten),
        };
    }
    for (upper, index) in indexes.iter().enumerate().skip(layer + 1) {
        let Some(index) = index else { continue };
        let (status, by) = match index.effect_on(path) {
            Effect::None => continue,
            Effect::Overwritten => (Status::Overwritten, RemovedBy::Rewritten),
            Effect::Whiteout => (Status::Deleted, RemovedBy::Whiteout),
            Effect::Opaque => (Status::Deleted, RemovedBy::OpaqueDir),
            Effect::ParentReplaced => (Status::Deleted, RemovedBy::ParentReplaced),
        };
        return Resolution { status, removed_in_layer: Some(upper), removed_by: Some(by) };
    }
    Resolution::PRESENT
}
