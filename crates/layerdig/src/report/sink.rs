//! Where a scan's results go: the [`Sink`] trait, which every printer implements.

use crate::error::SinkError;
use crate::finding::Finding;
use crate::report::{ErrorReport, ImageReport};

/// Receives a scan's results. Every printer is a sink; [`crate::Collect`] keeps them.
///
/// The order is fixed: problems met opening the input and reading its layers come first, as
/// they are met; then, per image, once all of its layers are read and resolved across each
/// other, its [`ImageReport`] and its findings (each with every place it was found in that
/// image, and its final status). A finding found in several images arrives once per image:
/// merging across images is [`crate::finding::FindingSet`]'s work, at the end.
pub trait Sink {
    /// An image was read and resolved (once per image, before its findings). Return `false` to
    /// stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn image(&mut self, image: &ImageReport) -> Result<bool, SinkError> {
        let _ = image;
        Ok(true)
    }

    /// A finding. Return `false` to stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn finding(&mut self, finding: &Finding) -> Result<bool, SinkError>;

    /// A problem that did not stop the scan (a bad layer, a digest mismatch, an unreadable
    /// image). Return `false` to stop.
    ///
    /// # Errors
    /// An error stops the scan and is returned from it.
    fn error(&mut self, error: &ErrorReport) -> Result<bool, SinkError> {
        let _ = error;
        Ok(true)
    }
}
