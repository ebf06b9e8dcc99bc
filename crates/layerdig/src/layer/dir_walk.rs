//! A layer that is a directory on disk: its tree walked in name order, files handed to the
//! visitor as streams.

use std::path::Path;

use super::{Content, Entry, EntryKind, Flow, LayerVisitor, Walker};
use crate::error::LayerErrorKind;

impl Walker<'_> {
    pub(super) fn walk_dir(&mut self, root: &Path, visitor: &mut dyn LayerVisitor) {
        let mut ordinal = 0u32;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let mut children = match std::fs::read_dir(&dir) {
                Ok(rd) => rd.filter_map(|e| e.ok()).collect::<Vec<_>>(),
                Err(e) => {
                    self.current_path = rel_path(root, &dir);
                    self.problem(LayerErrorKind::Read(e.to_string()));
                    continue;
                }
            };
            children.sort_by_key(|e| e.file_name());
            for child in children {
                let path = child.path();
                let rel = path_bytes(path.strip_prefix(root).unwrap_or(&path));
                self.current_path = Some(String::from_utf8_lossy(&rel).into_owned());
                let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
                let ft = meta.file_type();
                let link_target;
                let kind = if ft.is_symlink() {
                    link_target = std::fs::read_link(&path).map(|t| path_bytes(&t)).unwrap_or_default();
                    EntryKind::Symlink { target: &link_target }
                } else if ft.is_dir() {
                    stack.push(path.clone());
                    EntryKind::Directory
                } else if ft.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                };
                let size = if ft.is_file() { meta.len() } else { 0 };
                let view = Entry { layer: self.layer.index, ordinal, path: &rel, kind, size, mode: mode_of(&meta) };
                self.walk.index.record(&view);
                self.walk.stats.entries += 1;
                let flow = if ft.is_file() {
                    self.walk.stats.files += 1;
                    self.walk.stats.added += 1;
                    self.walk.stats.file_bytes += size;
                    self.walk.stats.uncompressed_bytes += size;
                    // A directory has no tar: every byte counted is a file's.
                    self.accountant.account.content += size;
                    match std::fs::File::open(&path) {
                        Ok(mut file) => visitor.visit(&view, Content::Reader(&mut file)),
                        Err(e) => {
                            self.problem(LayerErrorKind::Read(e.to_string()));
                            Ok(Flow::Continue)
                        }
                    }
                } else {
                    visitor.visit(&view, Content::None)
                };
                ordinal = ordinal.saturating_add(1);
                if !self.goes_on(flow) {
                    return;
                }
            }
        }
        self.current_path = None;
        self.walk.complete = true;
    }
}

fn rel_path(root: &Path, path: &Path) -> Option<String> {
    path.strip_prefix(root).ok().map(|p| String::from_utf8_lossy(&path_bytes(p)).into_owned())
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().replace('\\', "/").into_bytes()
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o644
}
