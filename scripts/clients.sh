#!/usr/bin/env bash
# Tests the client packages (clients/python, clients/typescript) against a
# real `thumbforge serve`: pytest for Python, `node --test` for TypeScript
# (against its built dist/). Each suite also starts small HTTP stubs of its
# own on 127.0.0.1 for 429/503, hangs and a broken event stream.
#
#   bash scripts/clients.sh             install what is missing, build, test
#   bash scripts/clients.sh --install   only install: the venv with the
#                                       Python package, the built TypeScript
#                                       package (scripts/examples.sh uses them)
#
# Python packages go into a venv, $HOME/.cache/thumbforge/clients-venv (the
# thumbforge package installed editable, so it is always this checkout's).
# The server is the debug binary in $CARGO_TARGET_DIR (built here, unless
# THUMBFORGE_BIN names one), on the embedded backend, a free loopback port,
# the scripted `test` model on, and webhooks allowed to loopback receivers.
# It also checks that the generated code is current (clients/generate.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
VENV="$HOME/.cache/thumbforge/clients-venv"
started=$SECONDS

# -- install ------------------------------------------------------------------
if ! command -v python3 >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv) >/dev/null
fi
if ! command -v node >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null
fi
# Reinstalled when pyproject.toml changes or the checkout moves.
stamp="$(sha256sum clients/python/pyproject.toml | cut -d' ' -f1) $PWD"
if [ "$(cat "$VENV/.thumbforge-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --editable "./clients/python[test]"
  echo "$stamp" >"$VENV/.thumbforge-stamp"
fi
(
  cd clients/typescript
  lock="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ "$(cat node_modules/.thumbforge-stamp 2>/dev/null)" != "$lock" ]; then
    npm ci --no-audit --no-fund --silent --ignore-scripts
    echo "$lock" >node_modules/.thumbforge-stamp
  fi
  npm run --silent build
)
if [ "${1:-}" = "--install" ]; then
  exit 0
fi

bash clients/generate.sh --check

# -- a server ------------------------------------------------------------------
if [ -z "${THUMBFORGE_BIN:-}" ]; then
  cargo build --locked -p thumbforge-cli --bin thumbforge
  THUMBFORGE_BIN="$CARGO_TARGET_DIR/debug/thumbforge"
fi
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    # serve finishes running thumbnails before it stops, and the canceled
    # `[sleep:30000]` ones sleep on: a few seconds, then it is killed.
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/thumbforge.toml" <<'EOF'
[models]
enable_test_model = true
[references]
allow_http = true
allow_cidrs = ["127.0.0.0/8"]
[webhooks]
interval_ms = 200
EOF
unset DATABASE_URL REDIS_URL
export THUMBFORGE_CONFIG="$WORK/thumbforge.toml" RUST_LOG=warn
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The unlimited plan: no rate limit or queue cap stands between the suites.
KEY="$("$THUMBFORGE_BIN" keys create --org clients --plan unlimited --data-dir "$WORK/data" 2>/dev/null | tail -n1)"
# Workers enough that the tests' sleeping `test` thumbnails hold none up.
"$THUMBFORGE_BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" --workers 8 >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT"
python3 - "$URL" <<'EOF'
import sys, time, urllib.request
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("thumbforge serve did not answer /healthz within 60 s")
        time.sleep(0.1)
EOF
echo "clients: server at $URL"
export THUMBFORGE_TEST_URL="$URL" THUMBFORGE_TEST_API_KEY="$KEY"

# -- the suites ----------------------------------------------------------------
failed=0
t=$SECONDS
echo "clients: Python (pytest)"
"$VENV/bin/python" -m pytest clients/python/tests -q -rs -p no:cacheprovider || failed=1
echo "clients: Python took $((SECONDS - t)) s"
t=$SECONDS
echo "clients: TypeScript (node --test, against dist/)"
(cd clients/typescript && node --test test/*.test.mjs) || failed=1
echo "clients: TypeScript took $((SECONDS - t)) s"

if grep -q "panicked" "$WORK/serve.log"; then
  echo "clients: the server panicked:"; grep -A5 panicked "$WORK/serve.log"; failed=1
fi
if [ "$failed" != 0 ]; then
  echo "clients: FAILED (server log: below)"; tail -50 "$WORK/serve.log"; exit 1
fi
echo "clients: all passed in $((SECONDS - started)) s"
