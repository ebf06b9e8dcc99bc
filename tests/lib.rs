//! Helpers for layerdig's integration tests: build real layer tarballs and images (OCI layout,
//! Docker ≥ 25 archive, classic docker-archive) in code, and find the committed fixtures.

pub mod registry;

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub mod podman;

/// The repository's `fixtures/images` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/images")
}

/// Copy a file or a directory tree (an image layout) to `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Standard base64 (with padding) of `bytes`, for planting encoded secrets.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let c = if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' };
            out.push(char::from(c));
        }
    }
    out
}

/// A GitHub personal access token with a valid checksum (made for these tests, never issued),
/// assembled at run time so the source holds no token-shaped literal.
pub fn github_token() -> String {
    format!("{}_{}", "ghp", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8024xXH")
}

/// Builds one layer's tar in memory.
pub struct LayerBuilder {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        LayerBuilder { builder }
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h
    }

    /// A regular file.
    pub fn file(mut self, path: &str, content: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, content.len() as u64, 0o644);
        self.builder.append_data(&mut h, path, content).expect("append file");
        self
    }

    /// A regular file whose name is raw bytes (may not be UTF-8), via a PAX header if long.
    pub fn file_bytes(mut self, path: &[u8], content: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, content.len() as u64, 0o644);
        h.set_path(std::str::from_utf8(path).unwrap_or("x")).ok();
        if std::str::from_utf8(path).is_err() {
            h.as_old_mut().name[..path.len()].copy_from_slice(path);
            h.set_cksum();
        }
        self.builder.append(&h, content).expect("append");
        self
    }

    /// A regular file whose header name field holds `name` as is (at most 100 bytes): `..`
    /// components and absolute paths that [`LayerBuilder::file`] would refuse.
    pub fn file_raw_name(mut self, name: &[u8], content: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, content.len() as u64, 0o644);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        self.builder.append(&h, content).expect("append");
        self
    }

    /// A directory.
    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0, 0o755);
        self.builder.append_data(&mut h, path, &[][..]).expect("append dir");
        self
    }

    /// A `.wh.` whiteout deleting `path`.
    pub fn whiteout(self, path: &str) -> Self {
        let (parent, name) = path.rsplit_once('/').map(|(p, n)| (format!("{p}/"), n)).unwrap_or((String::new(), path));
        self.file(&format!("{parent}.wh.{name}"), b"")
    }

    /// An opaque marker for directory `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    /// A hard link at `path` to `target`.
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0, 0o644);
        self.builder.append_link(&mut h, path, target).expect("append link");
        self
    }

    /// A symbolic link at `path` to `target`.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0, 0o777);
        self.builder.append_link(&mut h, path, target).expect("append symlink");
        self
    }

    /// A regular file named by a PAX `path` record (any length, any bytes).
    pub fn pax_file(mut self, path: &[u8], content: &[u8]) -> Self {
        let mut record = Vec::new();
        let body_len = b" path=".len() + path.len() + 1;
        let mut len = body_len + 1;
        while len != body_len + len.to_string().len() {
            len = body_len + len.to_string().len();
        }
        record.extend_from_slice(len.to_string().as_bytes());
        record.extend_from_slice(b" path=");
        record.extend_from_slice(path);
        record.push(b'\n');
        let mut x = Self::header(tar::EntryType::XHeader, record.len() as u64, 0o644);
        x.set_path("PaxHeaders/x").expect("pax header name");
        x.set_cksum();
        self.builder.append(&x, &record[..]).expect("append pax");
        let mut h = Self::header(tar::EntryType::Regular, content.len() as u64, 0o644);
        h.set_path("pax-placeholder").expect("placeholder name");
        h.set_cksum();
        self.builder.append(&h, content).expect("append");
        self
    }

    /// A GNU sparse file of `real_size` bytes that are all hole: no data is stored.
    pub fn sparse_hole(mut self, path: &str, real_size: u64) -> Self {
        let mut h = Self::header(tar::EntryType::GNUSparse, 0, 0o644);
        h.set_path(path).expect("sparse name");
        let octal = |v: u64| {
            let text = format!("{v:011o}\0");
            let mut field = [0u8; 12];
            field.copy_from_slice(text.as_bytes());
            field
        };
        let gnu = h.as_gnu_mut().expect("gnu header");
        gnu.realsize = octal(real_size);
        gnu.sparse[0].offset = octal(real_size);
        gnu.sparse[0].numbytes = octal(0);
        h.set_cksum();
        self.builder.append(&h, &[][..]).expect("append sparse");
        self
    }

    /// The tar bytes.
    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().expect("finish tar")
    }
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// Compress a tar.
pub fn compress(tar: &[u8], comp: Comp) -> Vec<u8> {
    match comp {
        Comp::None => tar.to_vec(),
        Comp::Gzip => {
            let mut e = GzEncoder::new(Vec::new(), GzLevel::fast());
            e.write_all(tar).expect("gzip");
            e.finish().expect("gzip")
        }
        Comp::Zstd => zstd::encode_all(tar, 1).expect("zstd"),
    }
}

/// One layer of a synthetic image.
#[derive(Clone)]
pub struct SynthLayer {
    /// The uncompressed tar.
    pub tar: Vec<u8>,
    /// How the blob is compressed.
    pub comp: Comp,
    /// The media type the manifest declares (may lie).
    pub media_type: String,
    /// The build instruction.
    pub created_by: String,
    /// The blob's bytes, when they are not `tar` compressed with `comp` (crafted framing).
    pub blob: Option<Vec<u8>>,
}

impl SynthLayer {
    /// A layer with the media type that matches its compression.
    pub fn new(tar: Vec<u8>, comp: Comp, created_by: &str) -> Self {
        let media_type = match comp {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
        .to_string();
        SynthLayer { tar, comp, media_type, created_by: created_by.to_string(), blob: None }
    }

    /// A layer whose blob is `blob` (framing crafted by the test), which decompresses to `tar`.
    pub fn with_blob(tar: Vec<u8>, comp: Comp, blob: Vec<u8>, created_by: &str) -> Self {
        SynthLayer { blob: Some(blob), ..SynthLayer::new(tar, comp, created_by) }
    }

    /// The blob's bytes.
    pub fn blob(&self) -> Vec<u8> {
        self.blob.clone().unwrap_or_else(|| compress(&self.tar, self.comp))
    }
}

/// A synthetic image: layers plus config extras.
#[derive(Clone, Default)]
pub struct SynthImage {
    /// The layers, base first.
    pub layers: Vec<SynthLayer>,
    /// `Env` entries.
    pub env: Vec<String>,
    /// Platform `os/arch`.
    pub platform: (String, String),
    /// Replace the diff_id of this layer with a wrong one.
    pub corrupt_diff_id: Option<usize>,
    /// More config: its `config` object's keys go into the runtime config, the others into the
    /// config itself.
    pub config_extra: Value,
    /// The manifest's annotations (an object), if any.
    pub manifest_annotations: Value,
}

impl SynthImage {
    /// An amd64 image of these layers.
    pub fn new(layers: Vec<SynthLayer>) -> Self {
        SynthImage {
            layers,
            env: Vec::new(),
            platform: ("linux".into(), "amd64".into()),
            corrupt_diff_id: None,
            config_extra: Value::Null,
            manifest_annotations: Value::Null,
        }
    }

    fn config(&self) -> Value {
        let mut history = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            history.push(json!({"created_by": l.created_by}));
            let mut d = sha256(&l.tar);
            if self.corrupt_diff_id == Some(i) {
                d = sha256(b"not this layer");
            }
            diff_ids.push(d);
        }
        for e in &self.env {
            history.push(json!({"created_by": format!("/bin/sh -c #(nop) ENV {e}"), "empty_layer": true}));
        }
        let mut config = json!({
            "architecture": self.platform.1, "os": self.platform.0,
            "config": {"Env": self.env, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Value::Object(extra) = &self.config_extra {
            for (key, value) in extra {
                match (key.as_str(), value) {
                    ("config", Value::Object(runtime)) => {
                        for (k, v) in runtime {
                            config["config"][k] = v.clone();
                        }
                    }
                    _ => config[key] = value.clone(),
                }
            }
        }
        config
    }
}

/// Blobs by digest plus the top-level files of an image layout, ready to write out.
pub struct Layout {
    /// `(path inside the layout, bytes)`.
    pub files: Vec<(String, Vec<u8>)>,
}

fn add_blob(files: &mut Vec<(String, Vec<u8>)>, bytes: Vec<u8>) -> (String, u64) {
    let digest = sha256(&bytes);
    let size = bytes.len() as u64;
    let name = format!("blobs/sha256/{}", &digest[7..]);
    if !files.iter().any(|(n, _)| *n == name) {
        files.push((name, bytes));
    }
    (digest, size)
}

fn manifest_for(files: &mut Vec<(String, Vec<u8>)>, image: &SynthImage) -> (String, u64) {
    let config = serde_json::to_vec(&image.config()).expect("config json");
    let (config_digest, config_size) = add_blob(files, config);
    let layers: Vec<Value> = image
        .layers
        .iter()
        .map(|l| {
            let (d, s) = add_blob(files, l.blob());
            json!({"mediaType": l.media_type, "digest": d, "size": s})
        })
        .collect();
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    if image.manifest_annotations.is_object() {
        manifest["annotations"] = image.manifest_annotations.clone();
    }
    add_blob(files, serde_json::to_vec(&manifest).expect("manifest json"))
}

impl SynthImage {
    /// The digest its manifest has in an OCI layout.
    pub fn manifest_digest(&self) -> String {
        manifest_for(&mut Vec::new(), self).0
    }
}

impl Layout {
    /// An OCI layout of one or more images. With several, index.json lists one per platform.
    /// `nested` puts them behind a nested index; `attestation` adds a Docker attestation manifest.
    pub fn oci(images: &[SynthImage], nested: bool, attestation: bool) -> Layout {
        let mut files = Vec::new();
        let mut descs = Vec::new();
        for image in images {
            let (d, s) = manifest_for(&mut files, image);
            descs.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": s,
                "platform": {"os": image.platform.0, "architecture": image.platform.1},
            }));
        }
        if attestation {
            let att_layer = add_blob(&mut files, br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#.to_vec());
            let att_config = add_blob(&mut files, b"{}".to_vec());
            let manifest = json!({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": att_config.0, "size": att_config.1},
                "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": att_layer.0, "size": att_layer.1}],
            });
            let (d, s) = add_blob(&mut files, serde_json::to_vec(&manifest).expect("json"));
            descs.push(json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": s,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            }));
        }
        let mut top =
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs});
        if nested {
            let (d, s) = add_blob(&mut files, serde_json::to_vec(&top).expect("json"));
            top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s}]});
        }
        files.push(("index.json".into(), serde_json::to_vec(&top).expect("json")));
        files.push(("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
        Layout { files }
    }

    /// A Docker ≥ 25 `docker save` layout: OCI layout plus a `manifest.json`.
    pub fn docker25(image: &SynthImage) -> Layout {
        let mut layout = Layout::oci(std::slice::from_ref(image), false, false);
        let config = serde_json::to_vec(&image.config()).expect("json");
        let layers: Vec<String> =
            image.layers.iter().map(|l| format!("blobs/sha256/{}", &sha256(&l.blob())[7..])).collect();
        let manifest = json!([{"Config": format!("blobs/sha256/{}", &sha256(&config)[7..]), "RepoTags": ["synth:latest"], "Layers": layers}]);
        layout.files.push(("manifest.json".into(), serde_json::to_vec(&manifest).expect("json")));
        layout
    }

    /// A classic docker-archive: `<n>/layer.tar` files, config JSON, manifest.json.
    pub fn docker_classic(image: &SynthImage) -> Layout {
        let mut files = Vec::new();
        let config = serde_json::to_vec(&image.config()).expect("json");
        let config_name = format!("{}.json", &sha256(&config)[7..]);
        files.push((config_name.clone(), config));
        let mut layers = Vec::new();
        for (i, l) in image.layers.iter().enumerate() {
            let name = format!("{i:02}/layer.tar");
            files.push((name.clone(), l.blob()));
            layers.push(name);
        }
        let manifest = json!([{"Config": config_name, "RepoTags": ["synth:latest"], "Layers": layers}]);
        files.push(("manifest.json".into(), serde_json::to_vec(&manifest).expect("json")));
        Layout { files }
    }

    /// Write as a directory.
    pub fn write_dir(&self, dir: &Path) {
        for (name, bytes) in &self.files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("write");
        }
    }

    /// Write as a tar archive.
    pub fn write_tar(&self, path: &Path) {
        self.write_tar_with_links(path, &[]);
    }

    /// Write as a tar archive in which each `(name, target)` of `links` is a symbolic link.
    pub fn write_tar_with_links(&self, path: &Path, links: &[(&str, &str)]) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in &self.files {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, &bytes[..]).expect("append");
        }
        for (name, target) in links {
            let mut h = tar::Header::new_ustar();
            h.set_size(0);
            h.set_mode(0o777);
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, name, target).expect("append link");
        }
        std::fs::write(path, b.into_inner().expect("tar")).expect("write tar");
    }

    /// Edit the JSON file at `name` (`index.json`, `manifest.json`) in place.
    pub fn edit_json(&mut self, name: &str, edit: impl FnOnce(&mut Value)) {
        let (_, bytes) = self.files.iter_mut().find(|(n, _)| n == name).expect("a file of the layout");
        let mut value: Value = serde_json::from_slice(bytes).expect("JSON");
        edit(&mut value);
        *bytes = serde_json::to_vec(&value).expect("JSON");
    }

    /// Replace the bytes of the blob with this digest (for tampering tests).
    pub fn replace_blob(&mut self, digest: &str, bytes: Vec<u8>) {
        let name = format!("blobs/sha256/{}", &digest[7..]);
        for (n, b) in &mut self.files {
            if *n == name {
                *b = bytes.clone();
            }
        }
    }
}

/// Assert the names of the JSON contract other tools rely on (README, `layerdig schema`): an
/// image object, its first layer, and a finding with its first location, without its secret.
pub fn assert_json_contract(image: &Value, finding: &Value) {
    for key in ["path", "format", "digest", "platform", "layers"] {
        assert!(image.get(key).is_some(), "image.{key}");
    }
    for key in ["index", "digest", "diff_id", "media_type", "size", "created_by"] {
        assert!(image["layers"][0].get(key).is_some(), "layer.{key}");
    }
    for key in ["rule_id", "rule_name", "severity", "confidence", "fingerprint", "redacted", "locations"] {
        assert!(finding.get(key).is_some(), "finding.{key}");
    }
    assert!(finding.get("secret").is_none(), "no secret unless asked for");
    let location = &finding["locations"][0];
    for key in [
        "image",
        "source",
        "config_key",
        "layer_index",
        "layer_digest",
        "created_by",
        "path",
        "line",
        "column",
        "status",
        "removed_in_layer",
        "disposition",
    ] {
        assert!(location.get(key).is_some(), "location.{key}");
    }
}

/// What two scans of one image are compared by: each location's rule, fingerprint, path,
/// status, layer and removing layer, sorted.
pub type Seen = Vec<(String, String, Option<String>, Option<String>, Option<usize>, Option<usize>)>;

/// The [`Seen`] of a report.
pub fn seen(report: &layerdig::Report) -> Seen {
    let mut out: Seen = report
        .findings
        .iter()
        .flat_map(|f| {
            f.locations.iter().map(move |l| {
                (
                    f.rule_id.clone(),
                    f.fingerprint.clone(),
                    l.path.clone(),
                    l.status.map(|s| format!("{s:?}")),
                    l.layer_index,
                    l.removed_in_layer,
                )
            })
        })
        .collect();
    out.sort();
    out
}
