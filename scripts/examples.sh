#!/usr/bin/env bash
# Runs the client examples against a real server (scripts/examples_check.py).
# They use the client packages: `scripts/clients.sh --install` makes the
# venv with the Python package and builds the TypeScript one, and
# examples/js's lock file links that build (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"

bash scripts/clients.sh --install
(cd examples/js && npm ci --no-audit --no-fund --silent)

if [ -z "${THUMBFORGE_BIN:-}" ]; then
  cargo build --locked -p thumbforge-cli --bin thumbforge
  THUMBFORGE_BIN="$CARGO_TARGET_DIR/debug/thumbforge"
fi
# A timeout so a hung receiver cannot hold CI.
timeout 600 "$HOME/.cache/thumbforge/clients-venv/bin/python" scripts/examples_check.py "$THUMBFORGE_BIN"
