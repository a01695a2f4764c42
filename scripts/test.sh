#!/usr/bin/env bash
# The project's test command (README, `just test`, and CI all run this):
# formatting, clippy with warnings as errors, then every test.
#
# It needs only the Rust toolchain: SQLite is compiled in, and the embedded
# default needs no server. The cargo target directory lives outside the
# clone (override with CARGO_TARGET_DIR) so repeated runs build incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing rustup component $component"
    rustup component add "$component"
  fi
done

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test (embedded backend: SQLite database and queue)"
cargo test --workspace --locked
