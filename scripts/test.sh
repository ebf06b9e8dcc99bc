#!/usr/bin/env bash
# Every test layerdig has: formatting, lints, the Rust tests (unit, integration, CLI, rule
# checks) and the Python package's tests and stub check. Run from anywhere in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== python"
bash python/run-tests.sh
