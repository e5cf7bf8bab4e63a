#!/usr/bin/env bash
# The single test command: build, run every Rust test, then the end-to-end suite that
# drives the real binary with the official Python SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cargo build"
cargo build --locked
echo "==> cargo test"
cargo test --locked
echo "==> end-to-end (official SDKs)"
scripts/e2e.sh "$@"
