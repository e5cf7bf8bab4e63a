#!/usr/bin/env bash
# Soak and load: scripts/soak.sh [MINUTES] [extra soak.py flags]
# Builds release aimock and the fake upstream, installs wrk if missing (Debian), and
# runs scripts/soak/soak.py (see there for the traffic and what fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq wrk
    else
        echo "soak.sh: wrk is needed (apt-get install wrk)" >&2
        exit 1
    fi
fi
cargo build --release --locked --bin aimock --example fake_upstream
exec python3 scripts/soak/soak.py --aimock target/release/aimock \
    --upstream target/release/examples/fake_upstream --minutes "$minutes" "$@"
