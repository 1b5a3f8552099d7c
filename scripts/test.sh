#!/usr/bin/env bash
# The one command that builds and tests everything (README; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
make -s -C fixtures
cargo build --workspace --release
cargo test --workspace --release --no-fail-fast
