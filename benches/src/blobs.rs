//! The layer blobs of an image on disk, as byte slices of memory maps: what the inflate floor,
//! `pigz`/`gzip` and the extraction for peers read. Manifests are parsed with layerdig's own
//! types; the bytes are found by path (OCI `blobs/<alg>/<hex>`, or the `Layers` entries of a
//! `docker save` `manifest.json`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use layerdig::image::{DockerArchiveEntry, ImageIndex, ImageManifest};
use layerdig::layer::Compression;
use memmap2::Mmap;

/// One layer blob: where its bytes are and how they are compressed.
pub struct LayerBlob {
    /// The blob's name inside the image (`blobs/sha256/...` or a `docker save` layer path).
    pub name: String,
    map: usize,
    range: Range<usize>,
    /// Compression, detected from the bytes as the library does.
    pub compression: Compression,
}

/// An image's distinct layer blobs, base first (layers shared by several manifests once).
pub struct ImageBlobs {
    maps: Vec<Mmap>,
    /// The layers.
    pub layers: Vec<LayerBlob>,
}

impl ImageBlobs {
    /// The stored bytes of `layer`.
    pub fn bytes(&self, layer: &LayerBlob) -> &[u8] {
        &self.maps[layer.map][layer.range.clone()]
    }

    /// Stored (compressed) bytes of all layers.
    pub fn stored_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.range.len() as u64).sum()
    }

    /// Open an image: a `docker save` or `oci-archive` tar, or an OCI layout / unpacked
    /// `docker save` directory.
    pub fn open(path: &Path) -> Result<ImageBlobs> {
        let mut store = if path.is_dir() { Store::dir(path) } else { Store::tar(path)? };
        let names = if store.exists("index.json") {
            oci_layers(&mut store)?
        } else if store.exists("manifest.json") {
            docker_layers(&mut store)?
        } else {
            bail!("{}: neither index.json nor manifest.json found: not an image this command reads", path.display());
        };
        let mut layers = Vec::new();
        for name in names {
            let (map, range) = store.locate(&name)?;
            let compression = Compression::detect(&store.maps[map][range.clone()]);
            layers.push(LayerBlob { name, map, range, compression });
        }
        Ok(ImageBlobs { maps: store.maps, layers })
    }
}

fn oci_layers(store: &mut Store) -> Result<Vec<String>> {
    let index: ImageIndex = serde_json::from_slice(store.read("index.json")?).context("index.json")?;
    let mut manifests = index.manifests;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < manifests.len() {
        let d = manifests[i].clone();
        i += 1;
        let name = blob_path(&d.digest.to_string());
        let bytes = match store.read(&name) {
            Ok(b) => b,
            Err(_) => continue, // a manifest for a platform the archive does not carry
        };
        if d.media_type.is_index() {
            let nested: ImageIndex = serde_json::from_slice(bytes).with_context(|| name.clone())?;
            manifests.extend(nested.manifests);
            continue;
        }
        let Ok(manifest) = serde_json::from_slice::<ImageManifest>(bytes) else { continue };
        if manifest.artifact_type.is_some() {
            continue; // attestations and other artifacts carry no file system
        }
        for layer in manifest.layers {
            let media = layer.media_type.as_str();
            if !media.contains("tar") {
                continue; // in-toto statements and the like
            }
            let name = blob_path(&layer.digest.to_string());
            if seen.insert(name.clone()) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

fn docker_layers(store: &mut Store) -> Result<Vec<String>> {
    let entries: Vec<DockerArchiveEntry> =
        serde_json::from_slice(store.read("manifest.json")?).context("manifest.json")?;
    let mut seen = HashSet::new();
    Ok(entries.into_iter().flat_map(|e| e.layers).filter(|l| seen.insert(l.clone())).collect())
}

fn blob_path(digest: &str) -> String {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("blobs/{alg}/{hex}")
}

/// Where the files of an image are: entries of one mapped tar, or files of a directory (mapped
/// when asked for).
struct Store {
    maps: Vec<Mmap>,
    kind: StoreKind,
}

enum StoreKind {
    Tar { entries: HashMap<String, Range<usize>>, links: HashMap<String, String> },
    Dir { root: PathBuf, mapped: HashMap<String, usize> },
}

fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    // SAFETY: read-only map of an image at rest; nothing in this process writes it.
    let map = unsafe { Mmap::map(&file) }.with_context(|| format!("map {}", path.display()))?;
    Ok(map)
}

fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

impl Store {
    fn dir(root: &Path) -> Store {
        Store { maps: Vec::new(), kind: StoreKind::Dir { root: root.to_path_buf(), mapped: HashMap::new() } }
    }

    fn tar(path: &Path) -> Result<Store> {
        let map = map_file(path)?;
        let mut entries = HashMap::new();
        let mut links = HashMap::new();
        let mut archive = tar::Archive::new(&map[..]);
        for entry in archive.entries().with_context(|| format!("read {} as a tar", path.display()))? {
            let entry = entry.with_context(|| format!("read {} as a tar", path.display()))?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                            let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                            clean(&format!("{dir}/{target}"))
                        } else {
                            clean(&target)
                        };
                        links.insert(name, target);
                    }
                }
                _ => {
                    let start = entry.raw_file_position() as usize;
                    entries.insert(name, start..start + entry.size() as usize);
                }
            }
        }
        Ok(Store { maps: vec![map], kind: StoreKind::Tar { entries, links } })
    }

    fn exists(&self, name: &str) -> bool {
        match &self.kind {
            StoreKind::Tar { entries, links } => entries.contains_key(name) || links.contains_key(name),
            StoreKind::Dir { root, .. } => root.join(name).is_file(),
        }
    }

    fn locate(&mut self, name: &str) -> Result<(usize, Range<usize>)> {
        match &mut self.kind {
            StoreKind::Tar { entries, links } => {
                let mut name = clean(name);
                for _ in 0..8 {
                    if let Some(r) = entries.get(&name) {
                        return Ok((0, r.clone()));
                    }
                    match links.get(&name) {
                        Some(target) => name = target.clone(),
                        None => break,
                    }
                }
                bail!("{name}: not in the archive")
            }
            StoreKind::Dir { root, mapped } => {
                if let Some(&i) = mapped.get(name) {
                    return Ok((i, 0..self.maps[i].len()));
                }
                let map = map_file(&root.join(name))?;
                let len = map.len();
                self.maps.push(map);
                mapped.insert(name.to_string(), self.maps.len() - 1);
                Ok((self.maps.len() - 1, 0..len))
            }
        }
    }

    fn read(&mut self, name: &str) -> Result<&[u8]> {
        let (map, range) = self.locate(name)?;
        Ok(&self.maps[map][range])
    }
}
