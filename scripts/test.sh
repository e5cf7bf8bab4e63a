#!/usr/bin/env bash
# The single test command: build, run every Rust test, then the end-to-end suites that
# drive the real binary with the official Python SDKs (and the pytest plugin) and the
# official JavaScript SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cargo build"
cargo build --locked
echo "==> cargo test"
cargo test --locked
echo "==> end-to-end (official SDKs)"
scripts/e2e.sh "$@"
echo "==> end-to-end (official JavaScript SDKs)"
scripts/e2e-js.sh
