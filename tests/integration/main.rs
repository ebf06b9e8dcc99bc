//! layerdig's integration tests: one binary, a module per area, helpers in `layerdig_tests`.

mod archives;
mod base;
mod cache;
mod cli;
mod core;
mod daemon;
mod decode;
mod fixtures;
mod forensics;
mod hostile;
mod local_forms;
mod metadata;
mod ownership;
mod pipeline;
mod props;
mod provided;
mod registry;
mod scan;
mod sources;
mod stream;
