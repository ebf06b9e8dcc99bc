//! Images whose blobs come from a caller's [`BlobStore`] (as a registry's do): layers big enough
//! to be decompressed on a read-ahead thread give the findings, byte counts and digests the same
//! image gives as a file, for gzip and zstd; a stream that breaks off part-way is that layer's
//! error, the other layers kept; a layer whose bytes are not its digest is a mismatch.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

use layerdig::{BlobFetch, BlobStore, Collect, Error, ImageFormat, ImageSource, OpenOptions, Report, Rules, Scanner};
use layerdig_tests::{Comp, LayerBuilder, Layout, SynthImage, SynthLayer, github_token, seen};

/// An image layout held in memory, served by path; a layer's stream can be made to fail after
/// some bytes.
#[derive(Debug)]
struct MemoryStore {
    files: HashMap<String, Arc<Vec<u8>>>,
    /// Blob name → bytes after which its stream fails.
    break_after: HashMap<String, usize>,
}

impl MemoryStore {
    fn new(layout: &Layout) -> MemoryStore {
        let files = layout.files.iter().map(|(name, bytes)| (name.clone(), Arc::new(bytes.clone()))).collect();
        MemoryStore { files, break_after: HashMap::new() }
    }
}

fn unknown(name: &str) -> Error {
    Error::ImageFormat { image: "memory".into(), message: format!("{name}: unknown") }
}

impl BlobStore for MemoryStore {
    fn document(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.files.get(name).map(|b| b.to_vec()).ok_or_else(|| unknown(name))
    }

    fn layer(&self, name: &str, _size: u64) -> Result<Arc<dyn BlobFetch>, Error> {
        let bytes = self.files.get(name).ok_or_else(|| unknown(name))?.clone();
        Ok(Arc::new(MemoryBlob { bytes, break_after: self.break_after.get(name).copied() }))
    }
}

#[derive(Debug)]
struct MemoryBlob {
    bytes: Arc<Vec<u8>>,
    break_after: Option<usize>,
}

impl BlobFetch for MemoryBlob {
    fn open(&self) -> Result<Box<dyn Read + Send>, Error> {
        Ok(Box::new(Dribble { bytes: self.bytes.clone(), pos: 0, break_after: self.break_after }))
    }
}

/// A blob's bytes in reads of at most 7 KiB (as a socket gives them), failing at `break_after`.
struct Dribble {
    bytes: Arc<Vec<u8>>,
    pos: usize,
    break_after: Option<usize>,
}

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.break_after.unwrap_or(self.bytes.len()).min(self.bytes.len());
        if self.pos == end && end < self.bytes.len() {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"));
        }
        let n = buf.len().min(end - self.pos).min(7 << 10);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Text that compresses about 3:1, distinct in every file: a gzip or zstd layer of a few MiB is
/// well over the read-ahead threshold.
fn filler(seed: u64, size: usize) -> Vec<u8> {
    let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(words[(state >> 60) as usize % words.len()].as_bytes());
        out.push(if (state >> 40).is_multiple_of(9) { b'\n' } else { b' ' });
    }
    out
}

/// Two big layers (gzip, zstd) each with a token among 3 MiB of text, the first's token removed
/// by a small plain layer.
fn big_image() -> SynthImage {
    let token = github_token();
    let mut base = LayerBuilder::new();
    let mut top = LayerBuilder::new();
    for i in 0..48 {
        base = base.file(&format!("usr/share/doc/file{i:02}.txt"), &filler(i, 64 << 10));
        top = top.file(&format!("srv/data/part{i:02}.txt"), &filler(100 + i, 64 << 10));
    }
    let base = base.file("app/.env", format!("GITHUB_TOKEN={token}\n").as_bytes()).finish();
    let top = top.file("srv/keep.conf", format!("token = {token}\n").as_bytes()).finish();
    let middle = LayerBuilder::new().whiteout("app/.env").finish();
    SynthImage::new(vec![
        SynthLayer::new(base, Comp::Gzip, "COPY app /app"),
        SynthLayer::new(middle, Comp::None, "RUN rm /app/.env"),
        SynthLayer::new(top, Comp::Zstd, "COPY srv /srv"),
    ])
}

fn scan_store(store: MemoryStore) -> Report {
    let source = ImageSource::open_store("memory", ImageFormat::Registry, Arc::new(store), &OpenOptions::default())
        .expect("the store's image opens");
    let scanner = Scanner::new(&Rules::builtin());
    let mut sink = Collect::new();
    let stats = scanner.scan_source(&source, &mut sink).expect("scan");
    sink.into_report(stats)
}

fn scan_file(layout: &Layout) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.oci.tar");
    layout.write_tar(&path);
    let mut sink = Collect::new();
    let stats = Scanner::new(&Rules::builtin()).scan_path(&path, &mut sink).unwrap();
    sink.into_report(stats)
}

/// The blob names of the image's layers, base first.
fn layer_blobs(image: &SynthImage) -> Vec<String> {
    image.layers.iter().map(|l| format!("blobs/sha256/{}", &layerdig_tests::sha256(&l.blob())[7..])).collect()
}

#[test]
fn big_streamed_layers_give_the_findings_and_counts_of_the_file() {
    let image = big_image();
    let blobs = layer_blobs(&image);
    let layout = Layout::oci(std::slice::from_ref(&image), false, false);
    let sizes: Vec<usize> = blobs.iter().map(|b| layout.files.iter().find(|(n, _)| n == b).unwrap().1.len()).collect();
    assert!(sizes[0] > 512 << 10 && sizes[2] > 512 << 10, "the gzip and zstd layers are read ahead: {sizes:?}");

    let file = scan_file(&layout);
    let streamed = scan_store(MemoryStore::new(&layout));
    assert!(streamed.errors.is_empty(), "{:?}", streamed.errors);
    assert!(!streamed.stats.incomplete);
    assert_eq!(seen(&streamed), seen(&file));
    let statuses: Vec<_> = seen(&streamed).into_iter().map(|s| (s.2, s.3)).collect();
    assert!(statuses.contains(&(Some("app/.env".into()), Some("Deleted".into()))), "{statuses:?}");
    assert!(statuses.contains(&(Some("srv/keep.conf".into()), Some("Present".into()))), "{statuses:?}");
    assert_eq!(streamed.stats.bytes, file.stats.bytes);
    assert_eq!(streamed.stats.layers, 3);
    assert_eq!(streamed.stats.files, file.stats.files);
    assert_eq!(streamed.stats.uncompressed_bytes, file.stats.uncompressed_bytes);
}

#[test]
fn a_stream_that_breaks_off_is_that_layers_error_and_the_rest_is_kept() {
    let image = big_image();
    let blobs = layer_blobs(&image);
    let layout = Layout::oci(std::slice::from_ref(&image), false, false);
    let mut store = MemoryStore::new(&layout);
    // The base layer breaks off a third of the way in: its token (the last entry) is never read.
    let base_size = layout.files.iter().find(|(n, _)| *n == blobs[0]).unwrap().1.len();
    store.break_after.insert(blobs[0].clone(), base_size / 3);
    let report = scan_store(store);
    assert!(report.stats.incomplete);
    let messages: Vec<String> = report.errors.iter().map(|e| e.message.clone()).collect();
    assert!(messages.iter().any(|m| m.contains("layer 0") && m.contains("connection reset by peer")), "{messages:?}");
    let paths: Vec<_> = seen(&report).into_iter().filter_map(|s| s.2).collect();
    assert_eq!(paths, ["srv/keep.conf"], "the top layer is still scanned");
}

#[test]
fn a_streamed_layer_that_is_not_its_digest_is_a_mismatch() {
    let image = big_image();
    let blobs = layer_blobs(&image);
    let mut layout = Layout::oci(std::slice::from_ref(&image), false, false);
    // The zstd layer's bytes swapped for others of the same size under the same name.
    let (_, bytes) = layout.files.iter_mut().find(|(n, _)| *n == blobs[2]).unwrap();
    let mut other = zstd::encode_all(&filler(7, bytes.len() * 3)[..], 19).unwrap();
    other.resize(bytes.len(), 0);
    *bytes = other;
    let report = scan_store(MemoryStore::new(&layout));
    assert!(report.stats.incomplete);
    let messages: Vec<String> = report.errors.iter().map(|e| e.message.clone()).collect();
    assert!(messages.iter().any(|m| m.contains("layer 2") && m.contains("digest")), "{messages:?}");
}
