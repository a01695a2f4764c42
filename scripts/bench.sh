#!/usr/bin/env bash
# `just bench`: measures the embedded default on this machine, then the
# production topology (scripts/bench-production.sh), and prints a
# Markdown section for docs/benchmarks.md.
#
# - submit: POST /api/v1/generate against `thumbforge-api` alone (no workers
#   in the process, so jobs queue up and the figure is the API's own);
# - poll: GET /api/v1/generations/{id} of a finished generation;
# - baseline: GET /healthz on the same server in the same run (no database),
#   so the figures can be read as ratios on a noisy machine;
# - render: median time per 1280x720 thumbnail in the offline renderer.
#
# Load comes from wrk (Debian's package, installed when missing) on loopback
# only, bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-18181}"

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
cargo build --release -q -p thumbforge-cli -p thumbforge-api
cargo build --release -q -p thumbforge-render --example render_bench
cargo build --release -q -p thumbforge-providers --example cpu_path
BIN="$CARGO_TARGET_DIR/release"

DATA="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT
export RUST_LOG=warn THUMBFORGE_DATA_DIR="$DATA"
# The load generators go far past a client's rate limit: limits off.
export THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__FREE__MAX_QUEUED=0 THUMBFORGE_LIMITS__PRO__MAX_QUEUED=0

# Waits (at most 30 s) for a URL to answer 2xx.
wait_for() {
  for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}

KEY="$("$BIN/thumbforge" keys create --org bench --plan pro 2>/dev/null | tail -n1)"

# A finished generation to poll: serve renders it, then stops.
"$BIN/thumbforge" serve --bind "127.0.0.1:$PORT" >"$DATA/serve.log" 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz"
GEN="$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/generate" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d '{"prompt":"bench poll target"}' | sed -E 's/.*"generationId":"([^"]+)".*/\1/')"
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/api/v1/generations/$GEN" -H "Authorization: Bearer $KEY" | grep -q '"status":"succeeded"' && break
  sleep 0.1
done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# The API alone for the HTTP figures.
THUMBFORGE_BIND="127.0.0.1:$PORT" "$BIN/thumbforge-api" >"$DATA/api.log" 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz"

LUA="$DATA/post.lua"
cat >"$LUA" <<LUA
wrk.method = "POST"
wrk.body = '{"prompt":"bench submit","count":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA

run_wrk() { # label, extra args...
  local label=$1; shift
  local out rps p99
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@")"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  local non2xx
  non2xx="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  printf '| %s | %s | %s | %s |\n' "$label" "$rps" "$p99" "${non2xx:-0}"
  echo "$rps" >"$DATA/$label.rps"
}

echo "### Embedded default (SQLite), $(date -u +%Y-%m-%d)"
echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); wrk -t$THREADS -c$CONNECTIONS -d$DURATION on loopback."
echo
echo "| request | req/s | p99 | non-2xx |"
echo "|---|---|---|---|"
run_wrk healthz "http://127.0.0.1:$PORT/healthz"
run_wrk poll -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/generations/$GEN"
run_wrk submit -s "$LUA" "http://127.0.0.1:$PORT/api/v1/generate"
echo
awk -v h="$(cat "$DATA/healthz.rps")" -v p="$(cat "$DATA/poll.rps")" -v s="$(cat "$DATA/submit.rps")" \
  'BEGIN { printf "Ratios to the same-run /healthz baseline: poll %.2fx, submit %.3fx.\n", p/h, s/h }'
echo
echo "Render (release build, \`cargo run --release -p thumbforge-render --example render_bench\`):"
echo
echo '```'
"$BIN/examples/render_bench" 30
echo '```'
echo
echo "A remote model's thumbnail on the CPU (\`--example cpu_path\`: decode, fit, encode by source; ratio to a bare encode of the result):"
echo
echo '```'
"$BIN/examples/cpu_path" 20
echo '```'
echo
# Stop the embedded servers first: the production half wants the CPU.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
bash scripts/bench-production.sh
echo
echo "### The real workload: model latency, provider caps, memory (\`scripts/bench-workload.sh\`)"
echo
bash scripts/bench-workload.sh
