#!/usr/bin/env bash
# The performance guard .ci/run runs: builds the release binary and counts instructions
# per request under valgrind's callgrind (a figure the machine's load does not move),
# failing when a bench scenario costs more than 5% over the committed baseline
# (scripts/bench/instructions-baseline.json).
#
#   scripts/perf-guard.sh                     check against the baseline
#   scripts/perf-guard.sh --write-baseline    measure and commit a new baseline on purpose
set -euo pipefail
cd "$(dirname "$0")/.."
BASELINE=scripts/bench/instructions-baseline.json
if ! command -v valgrind >/dev/null 2>&1; then
  echo "==> installing valgrind (Debian package)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq valgrind >/dev/null
fi
echo "==> cargo build --release (for the instruction counts)"
cargo build --release --locked --bin aimock
if [ "${1:-}" = "--write-baseline" ]; then
  exec python3 scripts/bench/instructions.py --no-ceiling --write-baseline "$BASELINE"
fi
exec python3 scripts/bench/instructions.py --no-ceiling --check "$BASELINE"
