//! Listing every file of an image with its fate in the final image (`layerdig ls`).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::detect::{Detector, Rules};
use crate::error::Error;
use crate::image::{Image, ImageSource};
use crate::layer::{self, Content, Entry, EntryKind, Flow, LayerIndex, LayerVisitor, LayerWalk, WalkOptions};
use crate::redact::Redactor;
use crate::report::ImageReport;
use crate::resolve::{self, Status};

/// A file listed with its fate in the final image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path inside the layer, no leading slash.
    pub path: String,
    /// The layer that holds it.
    pub layer_index: usize,
    /// `file`, `hardlink`, `symlink`.
    pub kind: String,
    /// Content size in bytes.
    pub size: u64,
    /// Present, deleted or overwritten.
    pub status: Status,
    /// The layer that removed or replaced it.
    pub removed_in_layer: Option<usize>,
    /// How it was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<resolve::RemovedBy>,
}

/// One image read for listing: its report (layers with sizes, digests and instructions, secrets
/// in them redacted unless asked for), every file with its fate, how many files each layer
/// deleted and overwrote in the layers below, and the problems met on the way.
#[derive(Debug)]
pub struct Listing {
    /// The image and its layers.
    pub image: ImageReport,
    /// Every file (regular files, hard and symbolic links) of every layer, base layer first.
    pub files: Vec<FileRecord>,
    /// Per layer: files of lower layers it deleted.
    pub files_deleted: Vec<u64>,
    /// Per layer: files of lower layers it overwrote.
    pub overwritten: Vec<u64>,
    /// Problems that did not stop the listing.
    pub problems: Vec<Error>,
}

/// Read every layer of `image` (in parallel, on `threads` workers or the global pool) and list
/// it: the one builder of layer reports outside a scan. Build instructions are redacted with
/// the secrets the detectors find in the image's configuration and history, as a scan would.
pub fn list(source: &ImageSource, image: &Image, rules: &Rules, show_secrets: bool, threads: Option<usize>) -> Listing {
    struct Lister {
        files: Vec<(Vec<u8>, u32, &'static str, u64)>,
    }
    impl LayerVisitor for Lister {
        fn visit(&mut self, entry: &Entry<'_>, _content: Content<'_>) -> Result<Flow, Error> {
            let kind = match entry.kind {
                EntryKind::File => "file",
                EntryKind::Hardlink { .. } => "hardlink",
                EntryKind::Symlink { .. } => "symlink",
                _ => return Ok(Flow::Continue),
            };
            self.files.push((entry.path.to_vec(), entry.ordinal, kind, entry.size));
            Ok(Flow::Continue)
        }
    }
    let options = WalkOptions::default();
    let run = || {
        image
            .layers
            .par_iter()
            .map(|layer| {
                let mut lister = Lister { files: Vec::new() };
                let walk = layer::walk(source.path(), layer, &options, &mut lister);
                (walk, lister.files)
            })
            .collect::<Vec<_>>()
    };
    let walked = match threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build() {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        },
        None => run(),
    };
    let indexes: Vec<Option<&LayerIndex>> = walked.iter().map(|(w, _)| Some(&w.index)).collect();
    let mut files = Vec::new();
    let mut files_deleted = vec![0u64; image.layers.len()];
    let mut overwritten = vec![0u64; image.layers.len()];
    for (layer_index, (_, entries)) in walked.iter().enumerate() {
        for (path, ordinal, kind, size) in entries {
            let r = resolve::resolve(&indexes, layer_index, path, *ordinal);
            if let Some(m) = r.removed_in_layer.filter(|&m| m < image.layers.len() && m != layer_index) {
                match r.status {
                    Status::Overwritten => overwritten[m] += 1,
                    Status::Deleted => files_deleted[m] += 1,
                    Status::Present => {}
                }
            }
            files.push(FileRecord {
                path: String::from_utf8_lossy(path).into_owned(),
                layer_index,
                kind: (*kind).to_string(),
                size: *size,
                status: r.status,
                removed_in_layer: r.removed_in_layer,
                removed_by: r.removed_by,
            });
        }
    }
    let redactor = (!show_secrets).then(|| {
        let mut det = Detector::new(rules);
        let mut secrets = Vec::new();
        for item in image.config.as_deref().map(|c| c.secret_candidates()).unwrap_or_default() {
            let mut matches = Vec::new();
            det.scan_config(&item.field, item.value, &mut matches);
            secrets.extend(matches.into_iter().map(|m| m.secret));
        }
        Redactor::new(secrets)
    });
    let walks: Vec<&LayerWalk> = walked.iter().map(|(w, _)| w).collect();
    let report = ImageReport::new(source, image, &walks, redactor.as_ref());
    let problems = walked.into_iter().flat_map(|(w, _)| w.problems).collect();
    Listing { image: report, files, files_deleted, overwritten, problems }
}
