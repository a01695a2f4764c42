#!/usr/bin/env bash
# `just chaos`: the failure drill (crates/thumbforge-drill, docs/queue.md).
# Full by default: 1,000 generations x 2 thumbnails, 4 workers, 8 SIGKILLs,
# one Redis crash, one PostgreSQL restart. `--reduced` is the CI size.
# Extra flags go to thumbforge-chaos (--generations, --workers, --kills, ...).
# Needs PostgreSQL and Redis binaries (installed when missing); it runs its
# own private servers, so the machine's shared ones are untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
bash scripts/services.sh >/dev/null
cargo build -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
exec "$CARGO_TARGET_DIR/debug/thumbforge-chaos" "$@"
