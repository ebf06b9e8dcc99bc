//! What became of each file in the final image: still present, deleted by a whiteout or an
//! opaque directory in a later layer, or overwritten by a later layer (or a later entry of its
//! own layer).

use crate::layer::{Effect, LayerIndex};
pub use crate::vocab::{RemovedBy, Status};

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
