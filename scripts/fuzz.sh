#!/usr/bin/env bash
# Fuzz every target in fuzz/ for SECONDS_PER_TARGET (default 60), or only the targets
# named after it: scripts/fuzz.sh 300 sse cassette
#
# Installs what it needs: cargo-fuzz (cached in ~/.cargo/bin once installed) and a C++
# compiler for libFuzzer (Debian's g++, when missing and we are root). Builds with the
# stable toolchain: `--sanitizer none` is the one cargo-fuzz mode that needs no nightly
# flag (see fuzz/README.md). New inputs go to fuzz/corpus-work/<target> (not
# committed), the seeds are fuzz/corpus/<target>; a crash, a timeout (-timeout) or an
# out-of-memory (-rss_limit_mb) stops the target, leaves the input under
# fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
if ! command -v c++ >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing g++ (libFuzzer is C++)"
        apt-get update -qq && apt-get install -y -qq g++
    else
        echo "fuzz.sh: a C++ compiler (g++ or clang++) is needed to build libFuzzer" >&2
        exit 1
    fi
fi

cd fuzz
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
echo "==> cargo fuzz build (${#targets[@]} targets)"
start=$(date +%s)
cargo fuzz build --sanitizer none
echo "    built in $(( $(date +%s) - start )) s"

failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus-work/$t" "corpus/$t"
    log="target/fuzz-$t.log"
    echo "==> fuzzing $t for ${secs}s"
    # -max_len: the seeds are at most 16 KiB, the sizes that matter are the parsers'
    # own limits, tested directly; -timeout: one input taking 10 s is a hang.
    if cargo fuzz run --sanitizer none "$t" "corpus-work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
        tail -40 "$log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    summary+=("$(printf '%-18s %-7s %12s execs  cov %s' "$t" "$status" "${execs:-?}" "${cov:-?}")")
done
echo "==> fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: failed: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
