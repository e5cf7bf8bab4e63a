#!/usr/bin/env bash
# Run the JavaScript SDK suite: the official npm clients (openai, @anthropic-ai/sdk,
# @google/genai, @aws-sdk/client-bedrock-runtime, cohere-ai, ollama, the Vercel AI SDK,
# @langchain/openai) driven against the real binary with `node --test`, one aimock per
# test file through js/aimock-test. Installs tests/e2e/js from its lock file with
# `npm ci` (only when the lock changed since the last install), uses AIMOCK_BIN or
# builds the debug binary. Extra arguments go to `node --test` (e.g.
# `--test-name-pattern=stream`, or test files to run instead of all).
set -euo pipefail
cd "$(dirname "$0")/.."
JS=tests/e2e/js
JS_STAMP=$JS/node_modules/.lock.sha256
JS_WANT=$(sha256sum "$JS/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$JS_STAMP" ] || [ "$(cat "$JS_STAMP")" != "$JS_WANT" ]; then
  npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error
  echo "$JS_WANT" > "$JS_STAMP"
fi
if [ -z "${AIMOCK_BIN:-}" ]; then
  cargo build --locked --quiet --bin aimock
  AIMOCK_BIN=$PWD/target/debug/aimock
fi
export AIMOCK_BIN
files=()
opts=()
for a in "$@"; do
  case "$a" in
    *.mjs) files+=("$PWD/$a") ;;
    *) opts+=("$a") ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=("$PWD"/$JS/test/*.test.mjs)
cd "$JS"
exec node --test --test-concurrency=4 "${opts[@]}" "${files[@]}"
