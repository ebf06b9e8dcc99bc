//! The CLI is tested beside its binary, in `crates/layerdig-cli/tests/cli.rs`: only tests of the
//! package that builds `layerdig` can find it through `CARGO_BIN_EXE_layerdig`.
