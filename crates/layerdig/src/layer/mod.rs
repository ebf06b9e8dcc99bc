//! Reading one layer: decompression detected from magic bytes, digests verified while
//! streaming, tar entries (PAX and GNU long names, hard and symbolic links, whiteouts) handed to
//! a [`LayerVisitor`], and a compact [`LayerIndex`] of what the layer wrote and deleted.
//!
//! This file holds the public types and [`walk`], which hands a layer to one of:
//!
//! - `blob_walk.rs`: a layer blob: compression detected, decompressed with the per-layer output
//!   cap, blob and diff_id digests taken on the way, then the tar walk;
//! - `framing.rs`: the compressed blob's framing: every gzip member's header, zstd frames, and
//!   the hidden data in them;
//! - `stream_walk.rs`: a layer blob read once from a stream (a registry, an archive arriving on
//!   standard input): the same, with the framing's hidden data kept as it passes;
//! - `read_ahead.rs`: the thread that decompresses a big blob a few buffers ahead of the walk,
//!   and the `ChannelReader` that reads its buffers;
//! - `stream.rs`: the decompressed stream's reader (output cap, diff_id hash) and the errors
//!   that tell the cap and the decompressor's failures from the tar's;
//! - `header_guard.rs`: the guard that follows tar headers and refuses oversized PAX and GNU
//!   long-name records before the tar reader holds them in memory;
//! - `tar_walk.rs`: the tar entries: kinds, whiteouts, hard links, sparse files, content in
//!   place or streamed, and the tar's errors;
//! - `tar_meta.rs`: what a tar header and its PAX records hold besides structure (hidden data);
//! - `account.rs`: the [`ByteAccount`], where every byte of the layer went;
//! - `dir_walk.rs`: a layer that is a directory on disk.
//!
//! `index.rs` holds [`LayerIndex`] and the [`Effect`] a layer has on a lower layer's path;
//! `path.rs` holds the entry name normalisation.

mod account;
mod blob_walk;
mod dir_walk;
mod framing;
mod header_guard;
mod index;
mod path;
mod read_ahead;
mod stream;
mod stream_walk;
mod tar_meta;
mod tar_walk;

pub use account::ByteAccount;

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) use header_guard::HeaderGuard;
pub use index::{Effect, LayerIndex};
pub use path::normalize;

use crate::error::{Error, LayerErrorKind};
use crate::image::{Blob, Digest, Layer, LayerSource};
use stream_walk::StreamInput;

/// How a layer's bytes are compressed, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

impl Compression {
    /// Detect from the magic bytes.
    pub fn detect(bytes: &[u8]) -> Compression {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A regular file.
    File,
    /// A hard link: the same content as `target`, a path in this layer.
    Hardlink {
        /// The normalised path it links to.
        target: &'a [u8],
    },
    /// A symbolic link (recorded, never followed).
    Symlink {
        /// The link text, as stored.
        target: &'a [u8],
    },
    /// A directory.
    Directory,
    /// A `.wh.NAME` whiteout: deletes `target` from lower layers.
    Whiteout {
        /// The normalised path it deletes.
        target: &'a [u8],
    },
    /// A `.wh..wh..opq` marker: the directory hides everything lower layers put in it.
    OpaqueWhiteout {
        /// The normalised directory.
        dir: &'a [u8],
    },
    /// A device, fifo or other special file (skipped).
    Other,
}

/// One entry of a layer.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The layer's index.
    pub layer: usize,
    /// The entry's position in the layer's tar stream (0 first).
    pub ordinal: u32,
    /// The normalised path: relative, `/`-separated, no `.` or `..` components. Non-UTF-8 bytes
    /// are kept as they are.
    pub path: &'a [u8],
    /// What the entry is.
    pub kind: EntryKind<'a>,
    /// Content size in bytes (files only).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
}

impl Entry<'_> {
    /// The path as text, with invalid UTF-8 replaced.
    pub fn path_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.path)
    }
}

/// A file's bytes, as the layer gives them.
pub enum Content<'a> {
    /// Not a regular file.
    None,
    /// The bytes in place, from a memory-mapped uncompressed layer.
    Slice(&'a [u8]),
    /// A stream of the bytes (compressed layers, directories). What the visitor leaves unread is
    /// skipped.
    Reader(&'a mut dyn Read),
}

/// Whether to go on after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next entry.
    Continue,
    /// Stop reading this layer.
    Stop,
}

/// Receives a layer's entries in order.
pub trait LayerVisitor {
    /// Called for every entry. Returning [`Flow::Stop`] ends the walk early.
    ///
    /// # Errors
    /// An error ends the walk of this layer and is reported as the layer's error.
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error>;

    /// Called for hidden data: bytes of the layer that are no file's content (the data of a
    /// whiteout, marker, directory or link entry, which `visit` got as [`Content::None`]; bytes
    /// after the tar's end). `entry` is the entry that carries it, if one does; `structure` says
    /// where it is (its `bytes` are exact, except for trailing data in a compressed or streamed
    /// layer, whose length is not known until it is read: 0 there, and the visitor counts). The
    /// default ignores it.
    ///
    /// # Errors
    /// An error ends the walk of this layer and is reported as the layer's error.
    fn hidden(&mut self, entry: Option<&Entry<'_>>, structure: Structure, content: Content<'_>) -> Result<Flow, Error> {
        let _ = (entry, structure, content);
        Ok(Flow::Continue)
    }
}

pub use crate::vocab::{EntryRole, Structure};

impl<F> LayerVisitor for F
where
    F: FnMut(&Entry<'_>, Content<'_>) -> Result<Flow, Error>,
{
    fn visit(&mut self, entry: &Entry<'_>, content: Content<'_>) -> Result<Flow, Error> {
        self(entry, content)
    }
}

/// Limits for reading a layer.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// The most uncompressed bytes read from one layer; past it the layer is cut short and an
    /// [`LayerErrorKind::OutputCap`] error says so.
    pub max_layer_bytes: u64,
    /// Verify blob and diff_id digests.
    pub verify_digests: bool,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions { max_layer_bytes: 64 << 30, verify_digests: true }
    }
}

/// Counts for one layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Compressed (stored) bytes.
    pub compressed_bytes: u64,
    /// Uncompressed tar bytes read.
    pub uncompressed_bytes: u64,
    /// Tar entries.
    pub entries: u64,
    /// Regular files (hard links included).
    pub files: u64,
    /// Bytes of file content.
    pub file_bytes: u64,
    /// Paths this layer adds or writes.
    pub added: u64,
    /// Whiteouts and opaque directories.
    pub deleted: u64,
    /// Where every byte went.
    pub account: ByteAccount,
}

/// The outcome of reading one layer.
#[derive(Debug)]
pub struct LayerWalk {
    /// What the layer wrote and deleted, for resolving statuses across layers.
    pub index: LayerIndex,
    /// Counts.
    pub stats: LayerStats,
    /// How the layer was compressed.
    pub compression: Option<Compression>,
    /// The blob digest computed from the bytes.
    pub digest: Option<Digest>,
    /// The uncompressed digest computed from the bytes.
    pub diff_id: Option<Digest>,
    /// Problems; a layer read in part still has its index and its visitor's results.
    pub problems: Vec<Error>,
    /// Whether every entry was read (false after an error or an early stop).
    pub complete: bool,
}

/// Read one layer of the image at `image_path`, handing every entry to `visitor`.
///
/// Never fails as a whole: problems (a missing blob, corrupt compression, a digest mismatch, a
/// visitor error) are in [`LayerWalk::problems`], with whatever was read before them kept.
pub fn walk(image_path: &Path, layer: &Layer, options: &WalkOptions, visitor: &mut dyn LayerVisitor) -> LayerWalk {
    let mut w = Walker::new(image_path, layer);
    match &layer.source {
        LayerSource::Missing(_) => {} // reported when the image was opened
        LayerSource::Scanned(_) => {} // the scanner has its result
        LayerSource::Dir(root) => w.walk_dir(root, visitor),
        LayerSource::Blob(blob) => w.walk_blob(blob, options, visitor),
        LayerSource::Stream(fetch) => match fetch.open() {
            Ok(mut reader) => w.walk_stream(StreamInput::Sendable(&mut *reader), options, visitor),
            Err(e) => w.walk.problems.push(e),
        },
    }
    w.finish()
}

/// Read layer `layer` of the image at `image_path` from `reader`, front to back, once (an
/// archive arriving on a stream), as [`walk`] reads a blob.
pub(crate) fn walk_reader(
    image_path: &Path,
    layer: &Layer,
    reader: &mut dyn Read,
    options: &WalkOptions,
    visitor: &mut dyn LayerVisitor,
) -> LayerWalk {
    let mut w = Walker::new(image_path, layer);
    w.walk_stream(StreamInput::Local(reader), options, visitor);
    w.finish()
}

struct Walker<'a> {
    image: &'a Path,
    layer: &'a Layer,
    walk: LayerWalk,
    current_path: Option<String>,
    /// The blob being read, whose pages are released behind the reader.
    blob: Option<&'a Blob>,
    accountant: account::Accountant,
}

impl<'a> Walker<'a> {
    fn new(image: &'a Path, layer: &'a Layer) -> Walker<'a> {
        Walker {
            image,
            layer,
            walk: LayerWalk {
                index: LayerIndex::default(),
                stats: LayerStats::default(),
                compression: None,
                digest: None,
                diff_id: None,
                problems: Vec::new(),
                complete: false,
            },
            current_path: None,
            blob: None,
            accountant: account::Accountant::default(),
        }
    }

    fn finish(mut self) -> LayerWalk {
        self.walk.stats.account = self.accountant.account;
        self.walk
    }

    /// Whether the walk goes on after the visitor said `flow`: it stops when the visitor asks
    /// to, and on the visitor's error, which becomes the layer's problem.
    fn goes_on(&mut self, flow: Result<Flow, Error>) -> bool {
        match flow {
            Ok(Flow::Continue) => true,
            Ok(Flow::Stop) => false,
            Err(e) => {
                self.walk.problems.push(e);
                false
            }
        }
    }

    fn problem(&mut self, kind: LayerErrorKind) {
        self.walk.problems.push(Error::Layer {
            image: self.image.to_path_buf(),
            layer: self.layer.index,
            digest: self.layer.id().cloned(),
            path: self.current_path.clone(),
            kind,
        });
    }
}
