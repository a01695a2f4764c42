#!/usr/bin/env bash
# The playground and the queue dashboard in headless Chromium
# (scripts/browser/ui.test.mjs, Playwright's playwright-core driving
# Debian's chromium; Playwright's own browser download cannot work here).
# Installs chromium and the npm packages when missing. Screenshots land in
# artifacts/ (ARTIFACTS_DIR), which CI keeps.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core) >/dev/null
fi
if ! command -v node >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
fi
(cd scripts/browser && npm ci --no-audit --no-fund --silent)

cargo build --locked -p thumbforge-cli --bin thumbforge
export THUMBFORGE_BIN="$CARGO_TARGET_DIR/debug/thumbforge"
export ARTIFACTS_DIR="${ARTIFACTS_DIR:-$PWD/artifacts}"
timeout 600 node --test --test-reporter=spec scripts/browser/ui.test.mjs
echo "screenshots: $ARTIFACTS_DIR"
