//! Archives read as a stream (`docker save app:1 | layerdig scan -`, an engine's export): the
//! outer tar is read once, front to back. Small JSON documents (manifests, configs, indexes) are
//! kept; every blob that is a layer is scanned as it passes, whatever order the archive has them
//! in; once the stream ends, the images are opened from the documents and resolved from the
//! layer results. Memory holds the documents and the layers' results, never a layer's bytes.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use super::visitor::ScanVisitor;
use super::{LayerScan, Scanner, owners};
use crate::detect::Detector;
use crate::error::{Error, LayerErrorKind};
use crate::image::{ImageFormat, ImageSource, Layer, LayerSource, Streamed, looks_like_tar, normalize_name};
use crate::layer::{self, Compression, LayerIndex, LayerStats, LayerWalk};
use crate::report::{ErrorReport, Sink, Stats};

/// The largest document (manifest, config, index) kept from a stream.
const MAX_DOCUMENT: u64 = 16 << 20;

impl Scanner {
    /// Scan a `docker save` (classic or Docker ≥ 25), `podman save` or oci-archive tar read from
    /// `reader` as it arrives, named `name` in reports. Each layer is scanned as it passes;
    /// the images are resolved when the stream ends. Memory stays flat in the archive's size:
    /// only the documents and the layers' results are held.
    ///
    /// A stream that breaks off or is not an archive is reported to the sink as an error (and
    /// counted as incomplete); what was read before is kept.
    ///
    /// # Errors
    /// Only a sink's error.
    pub fn scan_reader(&self, name: &str, reader: &mut dyn Read, sink: &mut dyn Sink) -> Result<Stats, Error> {
        let started = Instant::now();
        let image_path = Path::new(name);
        let (streamed, mut scanned, problems) = self.read_stream(image_path, reader);
        let mut stats = Stats::default();
        for problem in &problems {
            stats.errors += 1;
            stats.incomplete = true;
            if !sink.error(&ErrorReport::from_error(image_path, problem))? {
                return Ok(stats);
            }
        }
        let opened = ImageSource::open_streamed(name, ImageFormat::ArchiveStream, streamed, &self.open_options(None));
        let more = match opened {
            Ok(source) => self.scan_source_with(&source, &mut scanned, &HashMap::new(), started, sink)?,
            Err(e) => self.scan_opened(image_path, Err(e), started, sink)?,
        };
        stats.merge(&more);
        // Layer-like blobs no manifest names (a layer tarball smuggled beside the image): their
        // findings are the input's, at `blobs/sha256/<hex>!path`, as a file's unreferenced blobs are.
        let mut leftover: Vec<(String, LayerScan)> = scanned.into_iter().collect();
        leftover.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, scan) in leftover {
            for f in self.unreferenced_findings(image_path, name_of(name.as_str()), &name, &scan) {
                stats.count(&f);
                if !sink.finding(&f)? {
                    return Ok(stats);
                }
            }
        }
        stats.duration_ms = self.options.clock.elapsed_ms(started);
        Ok(stats)
    }

    /// Read the archive: its documents and links kept, its layers scanned.
    fn read_stream(
        &self,
        image_path: &Path,
        reader: &mut dyn Read,
    ) -> (Streamed, HashMap<String, LayerScan>, Vec<Error>) {
        let mut streamed = Streamed::default();
        let mut scanned = HashMap::new();
        let mut problems = Vec::new();
        let mut det = Detector::new(&self.rules);
        let format_err = |message: String| Error::ImageFormat { image: image_path.to_path_buf(), message };
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format_err(format!("not a tar archive: {e}")));
                return (streamed, scanned, problems);
            }
        };
        for entry in entries {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(format_err(format!(
                        "the archive is corrupt or broke off ({e}); what comes after that point is missing"
                    )));
                    break;
                }
            };
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(name) = normalize_name(&raw) else { continue };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                        let target = if target.starts_with('/') { target } else { format!("{parent}/{target}") };
                        streamed.links.insert(name, target);
                    }
                    continue;
                }
                tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        streamed.links.insert(name, String::from_utf8_lossy(&target).into_owned());
                    }
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            // The first bytes say what the blob is: a document, a layer, or neither.
            let mut head = Vec::with_capacity(512);
            if let Err(e) = (&mut entry).take(512).read_to_end(&mut head) {
                problems.push(format_err(format!("{name}: the archive broke off: {e}")));
                break;
            }
            let first = head.iter().find(|b| !b.is_ascii_whitespace());
            let is_document = matches!(first, Some(b'{' | b'[')) || head.is_empty();
            let is_layer = Compression::detect(&head) != Compression::None || looks_like_tar(&head);
            if (is_document || !is_layer) && size <= MAX_DOCUMENT {
                // A document, or a small blob that is neither (searched as bytes, as a file's).
                let mut bytes = head;
                if let Err(e) = entry.read_to_end(&mut bytes) {
                    problems.push(format_err(format!("{name}: the archive broke off: {e}")));
                    break;
                }
                streamed.docs.insert(name, bytes.into());
                continue;
            }
            if !is_layer {
                problems.push(format_err(format!(
                    "{name}: a blob of {size} bytes that is neither a document nor a layer was not read"
                )));
                if io::copy(&mut entry, &mut io::sink()).is_err() {
                    break;
                }
                continue;
            }
            let layer = Layer {
                index: 0,
                digest: None,
                diff_id: None,
                media_type: None,
                size,
                created_by: None,
                source: LayerSource::Scanned(name.clone()),
            };
            let mut visitor = ScanVisitor::new(&mut det, self.options.window, self.options.archives);
            let mut rest = io::Cursor::new(head).chain(&mut entry);
            let mut walk = layer::walk_reader(image_path, &layer, &mut rest, &self.options.walk, &mut visitor);
            walk.problems.extend(visitor.nested.problems.drain(..).map(|p| p.into_error(image_path, &layer)));
            let broke_off = walk.stats.compressed_bytes < size;
            streamed.layers.insert(name.clone());
            scanned.insert(name, LayerScan { walk, hits: visitor.hits, packages: visitor.packages });
            if broke_off {
                break;
            }
        }
        (streamed, scanned, problems)
    }
}

/// The digest a blob's name in an OCI layout gives (`blobs/sha256/<hex>`).
fn name_of(name: &str) -> Option<crate::image::Digest> {
    name.strip_prefix("blobs/").and_then(|rest| rest.replacen('/', ":", 1).parse().ok())
}

impl Scanner {
    /// The findings of a blob scanned as a layer that no manifest names.
    fn unreferenced_findings(
        &self,
        image_path: &Path,
        digest: Option<crate::image::Digest>,
        name: &str,
        scan: &LayerScan,
    ) -> Vec<crate::finding::Finding> {
        let mut out = crate::finding::FindingSet::new();
        for hit in &scan.hits {
            let inner = String::from_utf8_lossy(&hit.path).into_owned();
            let field = hit.joined_path();
            let location = crate::finding::Location {
                path: Some(super::join_path(name, std::iter::once(field.as_str()))),
                path_segments: Some(
                    std::iter::once(name.to_string())
                        .chain(std::iter::once(inner))
                        .chain(hit.inner.iter().flat_map(|i| i.iter().cloned()))
                        .collect(),
                ),
                line: Some(hit.m.line),
                column: Some(hit.m.column),
                document: Some(crate::vocab::Document {
                    kind: crate::vocab::DocumentKind::Unreferenced,
                    digest: digest.as_ref().map(ToString::to_string),
                    name: None,
                    field,
                }),
                ..super::location_of(&image_path.display().to_string(), crate::finding::Source::Metadata, &hit.m)
            };
            out.add(self.finding(&hit.m, location));
        }
        out.into_sorted()
    }
}

/// A layer scanned as the stream passed, checked now that the manifest and config say what it
/// should be (its digest, diff_id and size), and its problems placed at its index in the image.
pub(super) fn checked(mut scan: LayerScan, image_path: &Path, layer: &Layer) -> LayerScan {
    for problem in &mut scan.walk.problems {
        if let Error::Layer { layer: index, digest, .. } = problem {
            *index = layer.index;
            *digest = layer.id().cloned();
        }
    }
    let walk = &scan.walk;
    let mut found = Vec::new();
    if layer.size > 0 && walk.complete && layer.size != walk.stats.compressed_bytes {
        found.push(LayerErrorKind::SizeMismatch { expected: layer.size, actual: walk.stats.compressed_bytes });
    }
    for (what, expected, actual) in [("blob", &layer.digest, &walk.digest), ("diff_id", &layer.diff_id, &walk.diff_id)]
    {
        if let (Some(expected), Some(actual)) = (expected.as_ref().filter(|d| d.is_verifiable()), actual)
            && expected != actual
        {
            found.push(LayerErrorKind::DigestMismatch {
                what,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    for kind in found {
        scan.walk.problems.push(Error::Layer {
            image: image_path.to_path_buf(),
            layer: layer.index,
            digest: layer.id().cloned(),
            path: None,
            kind,
        });
    }
    scan
}

/// The result for a layer the stream named but whose bytes were not read (listed twice under
/// different digests, or the stream broke off before it).
pub(super) fn not_read(image_path: &Path, layer: &Layer, name: &str) -> LayerScan {
    LayerScan {
        walk: LayerWalk {
            index: LayerIndex::default(),
            stats: LayerStats::default(),
            compression: None,
            digest: None,
            diff_id: None,
            problems: vec![Error::Layer {
                image: image_path.to_path_buf(),
                layer: layer.index,
                digest: layer.id().cloned(),
                path: None,
                kind: LayerErrorKind::MissingBlob(format!("{name} was not in the stream when it was read")),
            }],
            complete: false,
        },
        hits: Vec::new(),
        packages: owners::LayerPackages::default(),
    }
}
