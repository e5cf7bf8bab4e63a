#!/usr/bin/env bash
# One command for the performance figures in the README: installs what it needs (wrk,
# the reference from npm into a temporary directory), builds the release binary and the
# two benchmark servers, then runs scripts/bench/run.py. Extra arguments go to run.py
# (`scripts/bench.sh --help`). Needs Linux with at least two cores, node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# Help needs nothing installed or built.
for arg in "$@"; do
    case "$arg" in
        -h|--help) exec python3 scripts/bench/run.py --help ;;
    esac
done

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
    $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi
command -v npm >/dev/null || { echo "bench: npm is needed to install the reference" >&2; exit 2; }

ref_dir=$(mktemp -d -t aimock-bench-ref-XXXXXX)
trap 'rm -rf "$ref_dir"' EXIT
echo "installing the reference into $ref_dir" >&2
npm install --prefix "$ref_dir" --no-audit --no-fund --loglevel=error \
    "@copilotkit/aimock@${AIMOCK_REFERENCE_VERSION:-latest}" >&2
ref_version=$(node -p "require('$ref_dir/node_modules/@copilotkit/aimock/package.json').version")
echo "reference @copilotkit/aimock $ref_version" >&2

cargo build --release --bin aimock --example ceiling --example fake_upstream --example ws_load >&2

python3 scripts/bench/run.py \
    --aimock target/release/aimock \
    --ceiling target/release/examples/ceiling \
    --upstream target/release/examples/fake_upstream \
    --ws-load target/release/examples/ws_load \
    --reference "$ref_dir/node_modules/.bin/llmock" \
    --reference-version "$ref_version" --command "scripts/bench.sh" "$@"
