#!/usr/bin/env bash
# Run the end-to-end suite (official Python SDKs against the real binary).
# Creates or reuses .venv with the pinned SDK versions. Extra arguments go to pytest.
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
export AIMOCK_BIN=${AIMOCK_BIN:-$PWD/target/debug/aimock}
exec .venv/bin/python -m pytest tests/e2e -q "$@"
