#!/usr/bin/env bash
# Every test layerdig has: formatting, lints, the Rust tests (unit, integration, CLI, rule
# checks) and the Python package's tests and stub check. Run from anywhere in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests start real components: Debian's docker-registry (the CNCF distribution registry)
# filled by skopeo, and podman's API service. Install them when they are missing.
packages=(docker-registry skopeo podman apache2-utils openssl)
commands=(docker-registry skopeo podman htpasswd openssl)
missing=0
for c in "${commands[@]}"; do command -v "$c" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
    echo "== apt-get install ${packages[*]}"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_ apt-get install -y -qq "${packages[@]}" >/dev/null \
        || { $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq "${packages[@]}" >/dev/null; }
fi

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

echo "== python"
bash python/run-tests.sh
