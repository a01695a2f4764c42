#!/usr/bin/env bash
# The project's test command (README, `just test`, and CI all run this):
# formatting, clippy with warnings as errors, no import circles between
# a crate's modules, then the whole suite twice:
#
#   1. embedded backend: SQLite database, SQLite queue (no server at all);
#   2. production backend: PostgreSQL + Redis (THUMBFORGE_TEST_BACKEND=
#      postgres-redis). Each test gets its own database and Redis key prefix.
#
# The outage tests start private PostgreSQL and Redis servers of their own
# (thumbforge-testkit) and do not depend on the backend, so they run once,
# in pass 2; pass 1 says so when it skips them.
#
# PostgreSQL and Redis are installed and started when missing
# (scripts/services.sh). Then the reduced chaos drill runs (`just chaos`
# runs the full one). The cargo target directory lives outside the clone
# (override with CARGO_TARGET_DIR) so repeated runs build incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A CI run builds each commit once: incremental state would only fill the
# disk (tens of GB across the suite's test binaries).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi

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

echo "== deploy/: manifests, Dockerfile, alert rules and dashboard (scripts/lint-deploy.sh)"
bash scripts/lint-deploy.sh

echo "== PostgreSQL and Redis"
bash scripts/services.sh
# Databases and keys left by earlier runs.
psql -h 127.0.0.1 -U postgres -d postgres -Atc \
  "SELECT 'DROP DATABASE IF EXISTS \"' || datname || '\" WITH (FORCE);' FROM pg_database WHERE datname LIKE 'tf_test_%'" \
  | psql -h 127.0.0.1 -U postgres -d postgres -q >/dev/null
redis-cli --scan --pattern '{tftest-*' | xargs -r -n 500 redis-cli del >/dev/null

echo "== Python, standardwebhooks, the MCP SDK and moto's S3 server (independent peers the suite drives)"
if ! command -v python3 >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq python3 python3-pip) >/dev/null
fi
if ! python3 -c "import standardwebhooks, mcp" 2>/dev/null; then
  python3 -m pip install --quiet standardwebhooks mcp
fi
if ! command -v moto_server >/dev/null; then
  python3 -m pip install --quiet 'moto[server]'
fi

echo "== no import circles between a crate's modules (scripts/module-cycles.py)"
python3 scripts/module-cycles.py

echo "== Noto fonts: the offline model draws headlines in other scripts with them, as in the container image"
if [ ! -e /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc ] || [ ! -e /usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-core fonts-noto-cjk) >/dev/null
fi

echo "== cargo test, pass 1: embedded backend (SQLite + SQLite queue); outage tests run in pass 2"
cargo test --workspace --locked -- --skip outage::

echo "== cargo test, pass 2: PostgreSQL + Redis"
THUMBFORGE_TEST_BACKEND=postgres-redis cargo test -p thumbforge-cli --locked --test it

echo "== client examples (Python, JavaScript, webhook receivers) against a real server"
bash scripts/examples.sh

echo "== client packages (Python, TypeScript) against a real server"
bash scripts/clients.sh

echo "== the playground and the queue dashboard in headless Chromium"
bash scripts/browser.sh

echo "== Schemathesis against the served OpenAPI spec"
bash scripts/schemathesis.sh

echo "== chaos drill (reduced)"
bash scripts/chaos.sh --reduced

echo "== multi-host drill (reduced): hosts in network namespaces, a rolling restart, a cut link"
bash scripts/drill-hosts.sh --reduced
