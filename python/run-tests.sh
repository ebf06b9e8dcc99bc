#!/usr/bin/env bash
# Build the Python package the way users install it (`pip install ./python`) into a virtualenv
# at python/.venv, then run its tests: pytest, mypy.stubtest (the stubs against the built
# module) and mypy --strict (the package and the tests against the stubs).
#
# Works from a fresh clone; needs python3 (>= 3.9, with venv), cargo, and PyPI for the tools
# (maturin, pytest, mypy, and dask[distributed] for the tests of layerdig.distributed).
# Exits non-zero when anything fails. Environment:
#   PYTHON              interpreter to make the virtualenv with (default python3)
#   CARGO_TARGET_DIR    defaults to the repository's target/, so what `cargo test` compiled
#                       (the layerdig crate, the dependencies) is reused, not built again
#   LAYERDIG_PY_PROFILE cargo profile of the module (default dev: the workspace's dev profile
#                       optimises dependencies, so scans are fast enough for the suite; a
#                       release build from scratch takes some 5 minutes on 2 cores)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$here/.venv"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export MATURIN_PEP517_ARGS="--profile ${LAYERDIG_PY_PROFILE:-dev}"

step() { printf '\n== python: %s\n' "$*"; }
die() { printf 'python/run-tests.sh: %s\n' "$*" >&2; exit 1; }

step "virtualenv $venv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv" || die "could not create the virtualenv"
fi
py="$venv/bin/python"
export PATH="$venv/bin:$PATH"  # the build backend runs `maturin` from PATH
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9,<2" "pytest>=8" "mypy>=1.10" "dask[distributed]>=2023.1" \
    || die "could not install maturin, pytest, mypy and dask[distributed]"

step "build and install (pip install ./python, profile ${LAYERDIG_PY_PROFILE:-dev})"
start=$SECONDS
# No build isolation: use the maturin installed above instead of fetching another per build.
"$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$here" \
    || die "pip install ./python failed"
echo "built and installed in $((SECONDS - start))s"

status=0

step "pytest"
# Run from the package directory with the pytest script (not `python -m`), so the source tree's
# layerdig/ (which has no compiled module) never shadows the installed package.
(cd "$here" && "$venv/bin/pytest" -p no:cacheprovider) || status=1

step "mypy.stubtest layerdig._native"
# From a neutral directory, for the same reason.
(cd "$venv" && "$py" -m mypy.stubtest --mypy-config-file "$here/pyproject.toml" layerdig._native) || status=1

step "mypy --strict (package and tests)"
(cd "$here" && "$py" -m mypy --no-incremental --cache-dir=/dev/null --config-file pyproject.toml) || status=1

if [ "$status" -ne 0 ]; then
    echo "python: FAILED" >&2
fi
exit "$status"
