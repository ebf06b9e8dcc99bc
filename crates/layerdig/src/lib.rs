//! layerdig digs through every layer of a container image and finds leaked secrets, including
//! the ones a later layer "deleted": a `RUN rm /app/.env` does not remove the file from the
//! image, it stays in the lower layer's tarball for anyone who pulls the image.
//!
//! For every secret it says what it is, where it is (image, layer digest, the instruction that
//! made the layer, path, line) and whether it is still visible in the final image or only
//! recoverable from history.
//!
//! ```no_run
//! use layerdig::{Rules, Scanner, Collect};
//!
//! let rules = Rules::builtin();
//! let scanner = Scanner::new(&rules);
//! let mut sink = Collect::new();
//! let stats = scanner.scan_path("image.tar", &mut sink)?;
//! let report = sink.into_report(stats);
//! for finding in &report.findings {
//!     for loc in &finding.locations {
//!         println!("{} {} layer {:?} /{} {:?}", finding.rule_id, finding.redacted,
//!                  loc.layer_index, loc.path.as_deref().unwrap_or(""), loc.status);
//!     }
//! }
//! # Ok::<(), layerdig::Error>(())
//! ```
//!
//! The pieces, in the order data flows through them:
//! - [`image`]: recognise and open the input (docker save archives, OCI layouts and archives,
//!   layer tarballs, directories); manifests, configs, platforms.
//! - [`layer`]: stream one layer's tar entries through decompression and digest checks, with
//!   whiteouts recorded; [`layer::LayerVisitor`] sees every entry and its bytes.
//! - [`detect`]: rules (data, one YAML file per provider), keyword prefilter, regex
//!   confirmation, offline validation, entropy on assignments, credential files by path.
//! - [`resolve`]: what became of each file in the final image.
//! - [`ownership`]: which package installed a file (dpkg, apk, Python, npm, gems, Composer, Go,
//!   Maven, Cargo), and whether its bytes still match the digest the package database recorded.
//! - [`scan`]: layers in parallel through the detectors into a [`Sink`].
//! - [`finding`] and [`report`]: the one `Finding` type and the JSON, JSONL and SARIF printers.
//! - [`engine`]: images where they live: a client of the Docker Engine API (Docker's daemon,
//!   podman's service) whose image export is scanned as it streams in.
//! - [`policy`]: the `layerdig.toml` policy file (failure threshold, severity overrides, allow
//!   entries), shared by the command line and the Python bindings.
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]
// `Error` carries the image, layer, digest and path it is about; it is made once per problem,
// never per entry, so its size does not matter on any hot path.
#![allow(clippy::result_large_err)]

pub mod detect;
pub mod engine;
mod error;
pub mod finding;
pub mod gate;
pub mod image;
pub mod input;
pub mod layer;
pub mod ownership;
pub mod policy;
mod redact;
pub mod registry;
pub mod report;
pub mod resolve;
pub mod scan;
mod time;
pub mod vocab;

pub use detect::{Detector, Rules};
pub use error::{ArchiveProblem, DaemonErrorKind, Error, ErrorKind, LayerErrorKind, SinkError};
pub use finding::{Confidence, Disposition, Finding, FindingSet, Location, Severity, Source};
pub use gate::{Clock, FailOn, Gate, Timestamp};
pub use image::{
    BlobFetch, BlobStore, Image, ImageFormat, ImageSource, InputAccount, Layer, OpenOptions, OtherBlob, Platform,
};
pub use input::{Input, RegistryRef};
pub use report::{Collect, End, ErrorReport, GateReport, ImageReport, LayerReport, Printer, Report, Sink, Stats};
pub use resolve::{RemovedBy, Status};
pub use scan::{ArchiveLimits, FileRecord, Listing, Progress, Scanner, ScannerBuilder, list, scan_path};
pub use vocab::{ConfigField, Document, DocumentKind, Encoding, GzipField, HistoryField, Sla, SlaState, Suppression};
