//! The image's final file system, unpacked for the peer scanners that read a directory: each
//! layer, base first, extracted with `tar` over the ones below it, its whiteouts applied to what
//! those left.
//!
//! A whiteout deletes from the layers below only; the layer's own entries at the same path
//! stay. So each layer's whiteouts are read from its tar beforehand ([`plan`], once, untimed),
//! applied before `tar` writes the layer, and the marker files `tar` wrote are removed after.
//! Nothing is removed while a directory is being read, and a path a whiteout names but no lower
//! layer has is not an error.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use layerdig::layer::{Compression, normalize};

use crate::blobs::{ImageBlobs, LayerBlob};
use crate::measure::Usage;

/// What one layer deletes from the layers below it. Paths are relative to the root, normalised
/// as layerdig normalises tar entry names; the root itself is the empty path.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Whiteouts {
    /// Targets of `.wh.NAME` entries: a file, a link or a whole directory tree.
    pub removed: Vec<PathBuf>,
    /// Directories with a `.wh..wh..opq` marker: what the lower layers put in them is cleared.
    pub opaque: Vec<PathBuf>,
    /// Every `.wh.` entry of the layer, removed once `tar` has written it.
    pub markers: Vec<PathBuf>,
}

/// The whiteouts of every layer of the image, base first.
///
/// # Errors
/// When a layer cannot be decompressed or read as a tar; the error names the layer.
pub fn plan(blobs: &ImageBlobs) -> Result<Vec<Whiteouts>> {
    blobs.layers.iter().map(|layer| Whiteouts::read(blobs, layer)).collect()
}

impl Whiteouts {
    fn read(blobs: &ImageBlobs, layer: &LayerBlob) -> Result<Whiteouts> {
        let context = || format!("read the whiteouts of layer {}", layer.name);
        let bytes = blobs.bytes(layer);
        let reader: Box<dyn Read + '_> = match layer.compression {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(bytes).with_context(context)?),
            _ => Box::new(bytes),
        };
        let mut archive = tar::Archive::new(reader);
        let mut found = Whiteouts::default();
        let mut path = Vec::new();
        for entry in archive.entries().with_context(context)? {
            let entry = entry.with_context(context)?;
            normalize(&entry.path_bytes(), &mut path);
            let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
                Some(slash) => (&path[..slash], &path[slash + 1..]),
                None => (&path[..0], &path[..]),
            };
            let Some(target) = name.strip_prefix(b".wh.") else { continue };
            found.markers.push(to_path(&path));
            if target == b".wh..opq" {
                found.opaque.push(to_path(dir));
            } else if !(target.is_empty() || target == b"." || target == b".." || target.starts_with(b".wh.")) {
                // (`.wh..wh.*` other than the opaque marker is aufs metadata, not a whiteout.)
                found.removed.push(to_path(dir).join(OsStr::from_bytes(target)));
            }
        }
        Ok(found)
    }

    /// Apply to `root`, which holds the layers below: clear every opaque directory and remove
    /// every target.
    fn apply(&self, root: &Path) -> Result<()> {
        for dir in &self.opaque {
            let Some(dir) = within(root, dir)? else { continue };
            if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            // All the names first, then the removals: a directory is not changed while read.
            let children = std::fs::read_dir(&dir)
                .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect::<io::Result<Vec<_>>>())
                .with_context(|| format!("list {}", dir.display()))?;
            for child in children {
                remove_tree(&child)?;
            }
        }
        for target in &self.removed {
            if let Some(path) = within(root, target)? {
                remove_tree(&path)?;
            }
        }
        Ok(())
    }

    /// Remove the marker files `tar` wrote for this layer.
    fn remove_markers(&self, root: &Path) -> Result<()> {
        for marker in &self.markers {
            if let Some(path) = within(root, marker)? {
                remove_tree(&path)?;
            }
        }
        Ok(())
    }
}

/// What [`extract`] cost, and the first layer `tar` did not extract cleanly.
pub struct Extraction {
    /// The `tar` runs and the whiteouts, one after another.
    pub usage: Usage,
    /// Which layer `tar` failed on, and how: the file system is then incomplete.
    pub failed: Option<String>,
}

/// Extract the image's final file system into `root` (an empty directory): for each layer, its
/// whiteouts (from [`plan`]) applied, then the layer extracted by a `tar` that `run` runs with
/// the layer's bytes on its standard input, then the layer's marker files removed. The time the
/// whiteouts take is added to `tar`'s.
///
/// # Errors
/// When `tar` cannot be run, or a whiteout target cannot be removed; the error names the
/// command or the path.
pub fn extract(
    blobs: &ImageBlobs,
    plan: &[Whiteouts],
    root: &Path,
    run: &mut dyn FnMut(&mut Command, &[u8]) -> Result<Usage>,
) -> Result<Extraction> {
    let mut total = Usage { code: Some(0), ..Usage::default() };
    let mut failed = None;
    for (layer, whiteouts) in blobs.layers.iter().zip(plan) {
        let start = Instant::now();
        whiteouts.apply(root).with_context(|| format!("apply the whiteouts of layer {}", layer.name))?;
        let before = start.elapsed();
        let mut cmd = tar_command(root, layer.compression);
        let u = run(&mut cmd, blobs.bytes(layer)).with_context(|| format!("extract layer {}", layer.name))?;
        if u.code != Some(0) && failed.is_none() {
            failed = Some(format!("tar exit code {:?} on layer {}: extraction incomplete", u.code, layer.name));
        }
        let start = Instant::now();
        whiteouts.remove_markers(root).with_context(|| format!("remove the whiteouts of layer {}", layer.name))?;
        total = total.then(Usage { wall: u.wall + before + start.elapsed(), ..u });
    }
    Ok(Extraction { usage: total, failed })
}

/// `tar -x` of one layer from standard input into `root`.
fn tar_command(root: &Path, compression: Compression) -> Command {
    let mut cmd = Command::new("tar");
    cmd.arg("-x").arg("--no-same-owner").arg("-C").arg(root);
    match compression {
        Compression::Gzip => {
            cmd.arg("-z");
        }
        Compression::Zstd => {
            cmd.arg("--zstd");
        }
        _ => {}
    }
    cmd.args(["-f", "-"]);
    cmd
}

fn to_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// `root/rel` when every directory above it is a directory of the tree itself; `None` when one
/// is missing, a file, or a symbolic link (which could lead out of `root`: nothing is removed
/// through one).
fn within(root: &Path, rel: &Path) -> Result<Option<PathBuf>> {
    let mut at = root.to_path_buf();
    for part in rel.parent().into_iter().flat_map(Path::components) {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("stat {}", at.display())),
        }
    }
    Ok(Some(root.join(rel)))
}

/// Remove what is at `path`: a whole tree for a directory, the link itself for a symbolic link.
/// Nothing there is not an error.
///
/// # Errors
/// When it cannot be removed; the error names the path.
pub fn remove_tree(path: &Path) -> Result<()> {
    let removed = match remove(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            // Directories extracted read-only (mode 0555) keep their entries: let the owner
            // write to the one holding `path` and to every one inside it, then try again.
            if let Some(parent) = path.parent() {
                let _ = owner_rwx(parent);
            }
            let _ = owner_rwx_tree(path);
            remove(path)
        }
        other => other,
    };
    removed.with_context(|| format!("remove {}", path.display()))
}

fn remove(path: &Path) -> io::Result<()> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn owner_rwx(dir: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() && meta.permissions().mode() & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(meta.permissions().mode() | 0o700))?;
    }
    Ok(())
}

fn owner_rwx_tree(dir: &Path) -> io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if !std::fs::symlink_metadata(&dir)?.is_dir() {
            continue;
        }
        owner_rwx(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::Stdio;

    use super::*;
    use crate::measure;

    /// A tar of `entries`: `(path, Some(content))` for a file, `(path, None)` for a directory.
    fn layer_tar(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_path(path).unwrap();
            match content {
                Some(text) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(text.len() as u64);
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                }
            }
            header.set_cksum();
            builder.append(&header, content.unwrap_or("").as_bytes()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Every path under `root`, sorted, directories with a trailing `/`.
    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                if path.is_dir() {
                    out.push(format!("{rel}/"));
                    stack.push(path);
                } else {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }

    /// Regression: a layer whose whiteout deletes a directory stopped `compare` with "No such file
    /// or directory (os error 2)" (the target was removed while its directory was being read, and
    /// then visited), and opaque markers left the lower layers' files in place.
    #[test]
    fn whiteouts_remove_files_and_trees_and_opaque_markers_clear_lower_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let base = layer_tar(&[
            ("app/", None),
            ("app/conf/", None),
            ("app/conf/a.txt", Some("a")),
            ("app/b.txt", Some("b")),
            ("cache/", None),
            ("cache/old.txt", Some("old")),
            ("cache/sub/", None),
            ("cache/sub/deep.txt", Some("deep")),
            ("keep/", None),
            ("keep/x.txt", Some("x")),
            ("keep/y.txt", Some("y")),
            ("top.txt", Some("top")),
        ]);
        let upper = gzip(&layer_tar(&[
            // The whole tree goes; the layer's own `app/` is written again after it.
            (".wh.app", Some("")),
            ("app/", None),
            ("app/new.txt", Some("new")),
            ("cache/", None),
            ("cache/.wh..wh..opq", Some("")),
            ("cache/new.txt", Some("new")),
            ("keep/", None),
            ("keep/.wh.x.txt", Some("")),
            // A whiteout of a path no lower layer has.
            (".wh.never-there", Some("")),
        ]));
        for (dir, bytes) in [("1", &base), ("2", &upper)] {
            std::fs::create_dir(tmp.path().join(dir)).unwrap();
            std::fs::write(tmp.path().join(dir).join("layer.tar"), bytes).unwrap();
        }
        std::fs::write(
            tmp.path().join("manifest.json"),
            r#"[{"Config":"config.json","RepoTags":null,"Layers":["1/layer.tar","2/layer.tar"]}]"#,
        )
        .unwrap();

        let blobs = ImageBlobs::open(tmp.path()).unwrap();
        let plan = plan(&blobs).unwrap();
        assert_eq!(
            plan[1],
            Whiteouts {
                removed: vec!["app".into(), "keep/x.txt".into(), "never-there".into()],
                opaque: vec!["cache".into()],
                markers: vec![
                    ".wh.app".into(),
                    "cache/.wh..wh..opq".into(),
                    "keep/.wh.x.txt".into(),
                    ".wh.never-there".into()
                ],
            }
        );
        let root = tmp.path().join("rootfs");
        std::fs::create_dir(&root).unwrap();
        let mut run = |cmd: &mut Command, bytes: &[u8]| measure::direct(cmd.stderr(Stdio::null()), Some(bytes));
        let extraction = extract(&blobs, &plan, &root, &mut run).unwrap();
        assert_eq!(extraction.failed, None);
        assert_eq!(tree(&root), ["app/", "app/new.txt", "cache/", "cache/new.txt", "keep/", "keep/y.txt", "top.txt"]);
    }

    #[test]
    fn nothing_is_removed_through_a_symbolic_link() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("rootfs"), tmp.path().join("outside"));
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("victim"), "keep me").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let whiteouts = Whiteouts {
            removed: vec!["link/victim".into()],
            opaque: vec!["link".into()],
            markers: vec!["link/.wh.victim".into()],
        };
        whiteouts.apply(&root).unwrap();
        whiteouts.remove_markers(&root).unwrap();
        assert!(outside.join("victim").exists());
        // The link itself is what a whiteout of it removes.
        Whiteouts { removed: vec!["link".into()], ..Whiteouts::default() }.apply(&root).unwrap();
        assert!(!root.join("link").exists() && outside.join("victim").exists());
    }

    #[test]
    fn read_only_directories_are_removed_too() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("ro");
        std::fs::create_dir_all(tree.join("inner")).unwrap();
        std::fs::write(tree.join("inner/file"), "x").unwrap();
        for dir in [tree.join("inner"), tree.clone()] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        remove_tree(&tree).unwrap(); // nothing there: not an error
    }
}
