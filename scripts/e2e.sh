#!/usr/bin/env bash
# Run the end-to-end suite (official Python SDKs, and the JavaScript clients in
# tests/e2e/js, against the real binary) and the pytest plugin's tests. Creates or reuses .venv with the pinned SDK
# versions and tests/e2e/js/node_modules with the pinned npm packages. Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=tests/e2e/requirements.txt
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the pins changed since the last install.
STAMP=.venv/.requirements.sha256
WANT=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ"
  echo "$WANT" > "$STAMP"
fi
# The JavaScript clients, from the lock file, when it changed since the last install.
JS=tests/e2e/js
JS_STAMP=$JS/node_modules/.lock.sha256
JS_WANT=$(sha256sum "$JS/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$JS_STAMP" ] || [ "$(cat "$JS_STAMP")" != "$JS_WANT" ]; then
  npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error
  echo "$JS_WANT" > "$JS_STAMP"
fi
# The pytest plugin (python/pytest-aimock), reinstalled when its sources changed; its
# own tests (pytester sessions, hence -p pytester) run with the suite.
PLUGIN=python/pytest-aimock
PLUGIN_STAMP=.venv/.pytest-aimock.sha256
PLUGIN_WANT=$(find "$PLUGIN" -path "$PLUGIN/build" -prune -o -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' \) -print \
  | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f "$PLUGIN_STAMP" ] || [ "$(cat "$PLUGIN_STAMP")" != "$PLUGIN_WANT" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "./$PLUGIN"
  rm -rf "$PLUGIN/build" "$PLUGIN"/src/*.egg-info
  echo "$PLUGIN_WANT" > "$PLUGIN_STAMP"
fi
export AIMOCK_BIN=${AIMOCK_BIN:-$PWD/target/debug/aimock}
exec .venv/bin/python -m pytest -p pytester tests/e2e "$PLUGIN/tests" -q "$@"
