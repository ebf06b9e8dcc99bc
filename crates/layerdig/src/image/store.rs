//! Where blobs live: a memory-mapped outer tar (read in place) or a directory.

use std::collections::HashMap;
use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

/// A memory-mapped file, or nothing for an empty file (which cannot be mapped).
#[derive(Debug)]
pub(crate) enum Mapped {
    Map(Mmap),
    Empty,
    /// Bytes held in memory: a document fetched from a registry or read from a stream.
    Owned(Vec<u8>),
}

impl Mapped {
    pub(crate) fn open(path: &Path) -> std::io::Result<Mapped> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(Mapped::Empty);
        }
        // SAFETY: the map is read-only; like every reader of files, a scan of a file that is
        // truncated underneath it may fault. Images are inputs at rest, and the map lets an
        // uncompressed layer be scanned in place without a copy.
        let map = unsafe { Mmap::map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapped::Map(map))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Mapped::Map(m) => m,
            Mapped::Empty => &[],
            Mapped::Owned(bytes) => bytes,
        }
    }

    /// Let the kernel drop this process's pages of `start..start + len`: a scan reads each byte
    /// of a blob once, front to back, and without this every page read would stay counted in
    /// the process's memory until the image is closed.
    fn release(&self, start: usize, len: usize) {
        #[cfg(unix)]
        if let Mapped::Map(m) = self
            && len > 0
        {
            // SAFETY: the map is a read-only mapping of a file that is never written through
            // it, so dropping its pages changes no byte anyone can read: a later read faults the
            // same file content back in. The range is inside the map (callers pass sub-ranges
            // of a blob, which is inside the map).
            let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len) };
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }
}

/// A byte range of a mapped file: a blob, a layer tarball, a JSON document.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    map: Arc<Mapped>,
    start: usize,
    len: usize,
}

impl Blob {
    /// Bytes held in memory.
    pub(crate) fn owned(bytes: Vec<u8>) -> Blob {
        Blob::whole(Arc::new(Mapped::Owned(bytes)))
    }

    pub(crate) fn whole(map: Arc<Mapped>) -> Blob {
        let len = map.bytes().len();
        Blob { map, start: 0, len }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.bytes().get(self.start..self.start + self.len).unwrap_or(&[])
    }

    /// Drop the pages of `range` (offsets into the blob) from memory; see [`Mapped::release`].
    pub(crate) fn release(&self, range: std::ops::Range<usize>) {
        let end = range.end.min(self.len);
        if range.start < end && self.bytes().len() == self.len {
            self.map.release(self.start + range.start, end - range.start);
        }
    }
}

/// How many bytes of a blob are read before the pages behind them are released.
pub(crate) const RELEASE_EVERY: usize = 4 << 20;

/// The SHA-256 of a blob, its pages released as they are hashed.
pub(crate) fn sha256_releasing(blob: &Blob) -> super::Digest {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    let mut at = 0;
    for chunk in blob.bytes().chunks(RELEASE_EVERY) {
        hasher.update(chunk);
        blob.release(at..at + chunk.len());
        at += chunk.len();
    }
    super::Digest::from_sha256(hasher.finalize().into())
}

/// A blob read front to back that releases its pages behind the reader (see
/// [`Blob::release`]); what a decompressor reads from.
pub(crate) struct ReleasingReader<'a> {
    blob: &'a Blob,
    bytes: &'a [u8],
    pos: usize,
    released: usize,
    /// Where `bytes` starts in the blob.
    base: usize,
    /// Where reading stops (in `bytes`); the digest still covers everything.
    limit: usize,
    /// SHA-256 of the bytes consumed so far, when asked for (see [`ReleasingReader::hashing`]).
    hasher: Option<sha2::Sha256>,
}

impl<'a> ReleasingReader<'a> {
    pub(crate) fn new(blob: &'a Blob) -> ReleasingReader<'a> {
        ReleasingReader::range(blob, 0..blob.len)
    }

    /// Only `range` of the blob (offsets into it).
    pub(crate) fn range(blob: &'a Blob, range: std::ops::Range<usize>) -> ReleasingReader<'a> {
        let bytes = blob.bytes().get(range.clone()).unwrap_or(&[]);
        ReleasingReader { blob, bytes, pos: 0, released: 0, base: range.start, limit: bytes.len(), hasher: None }
    }

    /// Read only up to offset `end` of the blob (the digest still covers all of it).
    pub(crate) fn stop_at(mut self, end: usize) -> ReleasingReader<'a> {
        self.limit = end.saturating_sub(self.base).min(self.bytes.len());
        self
    }

    /// The offset in the blob of the next byte to be read.
    pub(crate) fn position(&self) -> usize {
        self.base + self.pos
    }

    /// Hash the bytes as they are consumed, so a blob's digest costs no second pass over it
    /// (see [`ReleasingReader::digest`]).
    pub(crate) fn hashing(mut self) -> ReleasingReader<'a> {
        self.hasher = Some(<sha2::Sha256 as sha2::Digest>::new());
        self
    }

    /// The SHA-256 of all the bytes, read or not: what the reader did not consume is hashed
    /// now (a decompressor may stop before the end). `None` unless [`ReleasingReader::hashing`].
    pub(crate) fn digest(mut self) -> Option<super::Digest> {
        use std::io::BufRead as _;
        self.hasher.as_ref()?;
        while self.pos < self.bytes.len() {
            let n = (self.bytes.len() - self.pos).min(RELEASE_EVERY);
            self.consume(n);
        }
        self.hasher.map(|h| super::Digest::from_sha256(sha2::Digest::finalize(h).into()))
    }
}

impl std::io::Read for ReleasingReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = std::io::BufRead::fill_buf(self)?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for ReleasingReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(self.bytes.get(self.pos..self.limit).unwrap_or(&[]))
    }

    fn consume(&mut self, amount: usize) {
        let end = (self.pos + amount).min(self.bytes.len());
        if let Some(h) = &mut self.hasher {
            sha2::Digest::update(h, &self.bytes[self.pos..end]);
        }
        self.pos = end;
        if self.pos - self.released >= RELEASE_EVERY {
            self.blob.release(self.base + self.released..self.base + self.pos);
            self.released = self.pos;
        }
    }
}

#[derive(Debug, Clone)]
enum Item {
    File { start: usize, len: usize },
    Link(String),
    Dir,
}

/// The entries of an outer tar archive, by normalised name, pointing into the mapped file.
#[derive(Debug)]
pub(crate) struct TarIndex {
    map: Arc<Mapped>,
    items: HashMap<String, Item>,
}

/// Normalise an archive-internal path: no leading `./` or `/`, no `.` components, `..`
/// resolved; `None` when it climbs out of the archive root.
pub(crate) fn normalize_name(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl TarIndex {
    /// Index an uncompressed tar held in `map`. On a malformed or truncated entry the index
    /// keeps the entries before it, and the error says what is wrong.
    pub(crate) fn build(map: Arc<Mapped>) -> (TarIndex, Option<String>) {
        let mut items = HashMap::new();
        let error = Self::read_items(&map, &mut items).err();
        (TarIndex { map, items }, error)
    }

    fn read_items(map: &Mapped, items: &mut HashMap<String, Item>) -> Result<(), String> {
        {
            let bytes = map.bytes();
            let mut archive = tar::Archive::new(Cursor::new(bytes));
            let entries = archive.entries_with_seek().map_err(|e| e.to_string())?;
            for entry in entries {
                let entry = entry.map_err(|e| e.to_string())?;
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let Some(name) = normalize_name(&name) else { continue };
                let header = entry.header();
                let item = match header.entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => {
                        let start = usize::try_from(entry.raw_file_position()).map_err(|e| e.to_string())?;
                        let len = usize::try_from(entry.size()).map_err(|e| e.to_string())?;
                        if start.checked_add(len).is_none_or(|end| end > bytes.len()) {
                            return Err(format!("entry {name:?} runs past the end of the archive"));
                        }
                        Item::File { start, len }
                    }
                    tar::EntryType::Symlink => {
                        let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned());
                        let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                        match target {
                            Some(t) if t.starts_with('/') => Item::Link(t),
                            Some(t) => Item::Link(format!("{parent}/{t}")),
                            None => continue,
                        }
                    }
                    tar::EntryType::Link => match entry.link_name_bytes() {
                        Some(t) => Item::Link(String::from_utf8_lossy(&t).into_owned()),
                        None => continue,
                    },
                    tar::EntryType::Directory => Item::Dir,
                    _ => continue,
                };
                items.insert(name, item);
            }
        }
        Ok(())
    }

    fn contains_image_files(&self) -> bool {
        self.items.contains_key("manifest.json") || self.items.contains_key("index.json")
    }
}

/// A place blobs are read from.
#[derive(Debug)]
pub(crate) enum Store {
    Archive(TarIndex),
    Dir(PathBuf),
    /// Documents and layers from elsewhere (a registry), read as an OCI layout is.
    Provided(Arc<dyn super::BlobStore>),
    /// An archive that arrived as a stream: its documents kept, its layers scanned as they passed.
    Streamed(Streamed),
}

/// What an archive read as a stream left: its small documents (manifests, configs, indexes),
/// its links, and the names of the blobs scanned as layers as they went by.
#[derive(Debug, Default)]
pub(crate) struct Streamed {
    pub(crate) docs: HashMap<String, Arc<[u8]>>,
    pub(crate) links: HashMap<String, String>,
    pub(crate) layers: std::collections::HashSet<String>,
}

impl Streamed {
    /// `name`, its links followed (never out of the archive).
    pub(crate) fn resolve(&self, name: &str) -> Result<String, String> {
        let mut current = normalize_name(name).ok_or_else(|| format!("{name:?} points outside the archive"))?;
        for _ in 0..32 {
            match self.links.get(&current) {
                Some(target) => {
                    current = normalize_name(target)
                        .ok_or_else(|| format!("{name:?} links outside the archive ({target:?})"))?;
                }
                None => return Ok(current),
            }
        }
        Err(format!("{name:?}: too many levels of links"))
    }
}

impl Store {
    /// Whether an outer tar looks like an image archive rather than a layer.
    pub(crate) fn archive_is_image(index: &TarIndex) -> bool {
        index.contains_image_files()
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.get(name).is_ok()
    }

    /// The blob at `name`, following symbolic and hard links inside the archive (never out of it).
    pub(crate) fn get(&self, name: &str) -> Result<Blob, String> {
        match self {
            Store::Archive(index) => {
                let mut current = normalize_name(name).ok_or_else(|| format!("{name:?} points outside the archive"))?;
                for _ in 0..32 {
                    match index.items.get(&current) {
                        Some(Item::File { start, len }) => {
                            return Ok(Blob { map: Arc::clone(&index.map), start: *start, len: *len });
                        }
                        Some(Item::Link(target)) => {
                            current = normalize_name(target)
                                .ok_or_else(|| format!("{name:?} links outside the archive ({target:?})"))?;
                        }
                        Some(Item::Dir) => return Err(format!("{name:?} is a directory")),
                        None => return Err(format!("{name:?} is not in the archive")),
                    }
                }
                Err(format!("{name:?}: too many levels of links"))
            }
            Store::Dir(root) => {
                let rel = normalize_name(name).ok_or_else(|| format!("{name:?} points outside the image directory"))?;
                let path = root.join(&rel);
                // Links may be used inside an image directory, never to leave it.
                let real = path.canonicalize().map_err(|e| format!("{rel:?}: {e}"))?;
                let real_root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
                if !real.starts_with(&real_root) {
                    return Err(format!("{rel:?} links outside the image directory"));
                }
                if !real.is_file() {
                    return Err(format!("{rel:?} is not a regular file"));
                }
                let map = Mapped::open(&real).map_err(|e| format!("{rel:?}: {e}"))?;
                Ok(Blob::whole(Arc::new(map)))
            }
            Store::Provided(store) => store.document(name).map(Blob::owned).map_err(|e| e.to_string()),
            Store::Streamed(streamed) => {
                let name = streamed.resolve(name)?;
                match streamed.docs.get(&name) {
                    Some(bytes) => Ok(Blob::owned(bytes.to_vec())),
                    None if streamed.layers.contains(&name) => Err(format!("{name:?} is a layer, not a document")),
                    None => Err(format!("{name:?} is not in the archive")),
                }
            }
        }
    }

    /// Where layer `name` (of `size` bytes, as its descriptor says) is read from.
    pub(crate) fn layer(&self, name: &str, size: u64) -> super::LayerSource {
        match self {
            Store::Provided(store) => match store.layer(name, size) {
                Ok(fetch) => super::LayerSource::Stream(fetch),
                Err(e) => super::LayerSource::Missing(e.to_string()),
            },
            Store::Streamed(streamed) => match streamed.resolve(name) {
                Ok(name) if streamed.layers.contains(&name) => super::LayerSource::Scanned(name),
                Ok(name) => match self.get(&name) {
                    Ok(blob) => super::LayerSource::Blob(blob),
                    Err(e) => super::LayerSource::Missing(e),
                },
                Err(e) => super::LayerSource::Missing(e),
            },
            _ => match self.get(name) {
                Ok(blob) => super::LayerSource::Blob(blob),
                Err(e) => super::LayerSource::Missing(e),
            },
        }
    }

    /// The names (`blobs/sha256/<hex>`) of every regular file under `blobs/` two levels down,
    /// sorted: what an OCI layout holds, referenced or not.
    pub(crate) fn blob_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Store::Archive(index) => index
                .items
                .iter()
                .filter(|(name, item)| {
                    matches!(item, Item::File { .. }) && name.starts_with("blobs/") && name.matches('/').count() == 2
                })
                .map(|(name, _)| name.clone())
                .collect(),
            Store::Dir(root) => {
                let mut out = Vec::new();
                for alg in std::fs::read_dir(root.join("blobs")).into_iter().flatten().flatten() {
                    let Some(alg_name) = alg.file_name().to_str().map(str::to_string) else { continue };
                    for blob in std::fs::read_dir(alg.path()).into_iter().flatten().flatten() {
                        if blob.file_type().is_ok_and(|t| t.is_file())
                            && let Some(name) = blob.file_name().to_str()
                        {
                            out.push(format!("blobs/{alg_name}/{name}"));
                        }
                    }
                }
                out
            }
            // A registry lists no blobs: only what the documents reference is read.
            Store::Provided(_) => Vec::new(),
            // The documents only: the blobs scanned as layers are accounted for by the scan.
            Store::Streamed(streamed) => streamed
                .docs
                .keys()
                .filter(|name| name.starts_with("blobs/") && name.matches('/').count() == 2)
                .cloned()
                .collect(),
        };
        names.sort();
        names
    }

    /// The names (`<id>/json`) of a classic `docker save` archive's legacy layer descriptions,
    /// sorted: one directory level down, a file named `json`.
    pub(crate) fn legacy_layer_json(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Store::Archive(index) => index
                .items
                .iter()
                .filter(|(name, item)| {
                    matches!(item, Item::File { .. }) && name.matches('/').count() == 1 && name.ends_with("/json")
                })
                .map(|(name, _)| name.clone())
                .collect(),
            Store::Dir(root) => std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|d| d.path().join("json").is_file())
                .filter_map(|d| d.file_name().to_str().map(|n| format!("{n}/json")))
                .collect(),
            Store::Provided(_) => Vec::new(),
            Store::Streamed(streamed) => streamed
                .docs
                .keys()
                .filter(|name| name.matches('/').count() == 1 && name.ends_with("/json"))
                .cloned()
                .collect(),
        };
        names.sort();
        names
    }

    /// Parse the JSON document at `name`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, String> {
        let blob = self.get(name)?;
        serde_json::from_slice(blob.bytes())
            .map_err(|e| format!("{name}: not valid JSON for this document: {}", super::json_error(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_name;

    #[test]
    fn normalizes_archive_names() {
        for (input, want) in [
            ("./manifest.json", Some("manifest.json")),
            ("/blobs/sha256/ab", Some("blobs/sha256/ab")),
            ("abc/../def.tar", Some("def.tar")),
            ("abc/./layer.tar", Some("abc/layer.tar")),
            ("../../etc/passwd", None),
            ("a/../../x", None),
        ] {
            assert_eq!(normalize_name(input).as_deref(), want, "{input}");
        }
    }
}
