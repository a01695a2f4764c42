#!/usr/bin/env bash
# Runs the client examples against a real server (scripts/examples_check.py),
# installing what they need: Python's requests and standardwebhooks, Node,
# and examples/js's packages (npm ci, from its lock file).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"

if ! python3 -c "import requests, standardwebhooks" 2>/dev/null; then
  python3 -m pip install --quiet -r examples/python/requirements.txt
fi
if ! command -v node >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
fi
(cd examples/js && npm ci --no-audit --no-fund --silent)

cargo build --locked -p thumbforge-cli --bin thumbforge
# A timeout so a hung receiver cannot hold CI.
timeout 600 python3 scripts/examples_check.py "$CARGO_TARGET_DIR/debug/thumbforge"
