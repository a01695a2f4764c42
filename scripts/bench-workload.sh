#!/usr/bin/env bash
# The real workload (part of `just bench`): one thumbforge-worker on
# PostgreSQL + Redis, at default settings, against a loopback stand-in for
# OpenAI's Images API (thumbforge-mock-provider) that answers after a set
# latency with a 1280x720 PNG, the size the adapter asks for.
#
# Each phase queues a backlog with no worker running, then starts one
# worker and times the drain:
# - instant provider: the CPU-bound ceiling (decode, fit, encode, store,
#   status writes) on this machine;
# - a 3 s provider, the same backlog: thumbnails/s as a ratio to the
#   instant figure (target ≥ 0.8x);
# - a 20 s provider with worker.max_in_flight = 2000 and a backlog of 2000:
#   the calls in flight at once (the provider's count), the worker's RSS
#   with them all waiting, per call over an idle worker's, and its peak as
#   the answers come in together;
# - shared caps: a 1 s provider capped at 120 requests a minute for the key,
#   two worker processes, the key's limit set to the provider's 120/min:
#   thumbnails failed (target 0), throughput as a ratio of the cap (target
#   ≥ 0.9x) and the share of calls answered 429 (target < 5%);
# - fairness: a 3 s provider, organisation A's $FLOOD thumbnails queued and
#   one worker busy with them (its 1000 calls in flight); then organisation
#   B queues one thumbnail, timed from its submit to terminal, as a ratio
#   of the provider's latency (target ≤ 2.5x). First come, first served
#   would put it behind all of A's.
#
# The first three phases' provider has no cap, so the key has none either
# (providers.limits.openai.rpm = 0); every other setting is the default.
#
# Prints Markdown for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
BACKLOG="${BACKLOG:-1200}"
WIDE="${WIDE:-2000}"
CAPPED="${CAPPED:-240}"
FLOOD="${FLOOD:-10000}"
PORT="${PORT:-18383}"
MOCK_PORT="${MOCK_PORT:-18384}"
PG="postgres://postgres@127.0.0.1:5432"

bash scripts/services.sh >/dev/null
cargo build --release -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
BIN="$CARGO_TARGET_DIR/release"

DATA="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$DATA"
  redis-cli -u redis://127.0.0.1:6379 --scan --pattern "{workload-$$}:*" | xargs -r redis-cli -u redis://127.0.0.1:6379 del >/dev/null
}
trap cleanup EXIT
wait_for() {
  for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}
psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -qAt "$@"; }
psql_db() { psql -h 127.0.0.1 -U postgres -d tf_workload -qAt "$@"; }
psql_admin -c "DROP DATABASE IF EXISTS tf_workload WITH (FORCE)" -c "CREATE DATABASE tf_workload"

export THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0
export RUST_LOG=warn DATABASE_URL="$PG/tf_workload" REDIS_URL="redis://127.0.0.1:6379" \
  THUMBFORGE_QUEUE__PREFIX="workload-$$" THUMBFORGE_DATA_DIR="$DATA" \
  THUMBFORGE_SECRET=bench-secret-0123456789abcdef0123 \
  OPENAI_API_KEY=sk-bench THUMBFORGE_PROVIDERS__OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
  THUMBFORGE_PROVIDERS__LIMITS__OPENAI__RPM=0
"$BIN/thumbforge" migrate 2>/dev/null
KEY="$("$BIN/thumbforge" keys create --org bench --plan pro 2>/dev/null | tail -n1)"
THUMBFORGE_BIND="127.0.0.1:$PORT" "$BIN/thumbforge-api" >"$DATA/api.log" 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz"

MOCK_PID=""
mock() { # latency_ms [more mock arguments]
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null || true
  "$BIN/thumbforge-mock-provider" --port "$MOCK_PORT" --latency-ms "$@" >"$DATA/mock.log" 2>&1 & MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for "http://127.0.0.1:$MOCK_PORT/stats"
}
# Queues $1 thumbnails of gpt-image-2 (four to a generation) through the API.
queue() {
  seq $(($1 / 4)) | xargs -P 8 -I{} curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/generate" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"prompt":"workload {}","model":"gpt-image-2","count":4}'
}
now() { date +%s.%N; }
open_count() { psql_db -c "SELECT COUNT(*) FROM thumbnails WHERE status = 'processing'"; }
# Starts $WORKERS workers (1 unless set; extra env as arguments), waits for
# the backlog to drain, prints "seconds peak_rss_kib failed waiting_rss_kib"
# (the first worker's RSS: its peak, and when the provider first held
# $WAITING calls at once, if set).
drain() {
  local start end pids=() failed0 failed1 hwm=0 i waiting_rss=0
  failed0="$(psql_db -c "SELECT COUNT(*) FROM thumbnails WHERE status = 'failed'")"
  start="$(date +%s.%N)"
  for i in $(seq "${WORKERS:-1}"); do
    env "$@" THUMBFORGE_WORKER__HEALTH_PORT=$((PORT + 10 + i)) "$BIN/thumbforge-worker" >>"$DATA/worker.log" 2>&1 &
    pids+=($!)
  done
  while [ "$(open_count)" -gt 0 ]; do
    hwm="$(awk '/VmHWM/ {print $2}' "/proc/${pids[0]}/status" 2>/dev/null || echo "$hwm")"
    if [ -n "${WAITING:-}" ] && [ "$waiting_rss" = 0 ] \
      && [ "$(field "$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")" in_flight)" -ge "$WAITING" ]; then
      waiting_rss="$(awk '/VmRSS/ {print $2}' "/proc/${pids[0]}/status")"
    fi
    sleep 0.2
  done
  end="$(date +%s.%N)"
  hwm="$(awk '/VmHWM/ {print $2}' "/proc/${pids[0]}/status" 2>/dev/null || echo "$hwm")"
  for i in "${pids[@]}"; do kill "$i"; wait "$i" 2>/dev/null || true; done
  failed1="$(psql_db -c "SELECT COUNT(*) FROM thumbnails WHERE status = 'failed'")"
  echo "$(echo "$start $end" | awk '{printf "%.2f", $2 - $1}') $hwm $((failed1 - failed0)) $waiting_rss"
}
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9]+).*/\1/"; }
# The RSS of a worker with nothing to do, after it has connected.
idle_rss() {
  local pid rss
  THUMBFORGE_WORKER__HEALTH_PORT=$((PORT + 10)) "$BIN/thumbforge-worker" >>"$DATA/worker.log" 2>&1 &
  pid=$!
  sleep 3
  rss="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rss"
}
rate() { echo "$1 $2" | awk '{printf "%.1f", $1 / $2}'; }

mock 0
queue "$BACKLOG"
read -r fast_s fast_rss fast_failed _ <<<"$(drain)"
mock 3000
queue "$BACKLOG"
read -r slow_s slow_rss slow_failed _ <<<"$(drain)"
slow_calls="$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")"
idle="$(idle_rss)"
mock 20000
queue "$WIDE"
read -r wide_s wide_rss wide_failed waiting_rss <<<"$(WAITING="$WIDE" drain THUMBFORGE_WORKER__MAX_IN_FLIGHT="$WIDE")"
wide_calls="$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")"
wide_most="$(echo "$wide_calls" | sed -E 's/.*"max_in_flight":([0-9]+).*/\1/')"
mock 1000 --rpm 120
queue "$CAPPED"
read -r capped_s _ capped_failed _ <<<"$(WORKERS=2 drain THUMBFORGE_PROVIDERS__LIMITS__OPENAI__RPM=120)"
capped_calls="$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")"
capped_requests="$(field "$capped_calls" requests)"
capped_429="$(( $(field "$capped_calls" limited_rpm) + $(field "$capped_calls" limited_concurrency) ))"

# Fairness: A's flood keeps one worker's calls in flight; B's one thumbnail
# is timed from its submit to terminal.
mock 3000
KEY_B="$("$BIN/thumbforge" keys create --org quiet --plan pro 2>/dev/null | tail -n1)"
queue "$FLOOD"
THUMBFORGE_WORKER__HEALTH_PORT=$((PORT + 10)) "$BIN/thumbforge-worker" >>"$DATA/worker.log" 2>&1 &
flood_worker=$!
PIDS+=("$flood_worker")
until [ "$(field "$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")" in_flight)" -ge 900 ]; do sleep 0.2; done
sleep 6 # past the first answers: the worker's CPU is behind them, as it stays
b_start="$(now)"
b_id="$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/generate" -H "Authorization: Bearer $KEY_B" \
  -H 'Content-Type: application/json' -d '{"prompt":"quiet one","model":"gpt-image-2"}' \
  | sed -E 's/.*"generationId":"([^"]+)".*/\1/')"
until curl -sf "http://127.0.0.1:$PORT/api/v1/generations/$b_id" -H "Authorization: Bearer $KEY_B" \
  | grep -qv '"status":"processing"'; do sleep 0.05; done
b_s="$(echo "$b_start $(now)" | awk '{printf "%.2f", $2 - $1}')"
b_status="$(curl -sf "http://127.0.0.1:$PORT/api/v1/generations/$b_id" -H "Authorization: Bearer $KEY_B" \
  | sed -E 's/^\{"id":"[^"]+","status":"([a-z]+)".*/\1/')"
a_left="$(open_count)"
kill "$flood_worker"; wait "$flood_worker" 2>/dev/null || true

fast_rate="$(rate "$BACKLOG" "$fast_s")"
slow_rate="$(rate "$BACKLOG" "$slow_s")"
echo "| measure | figure | target |"
echo "|---|---|---|"
echo "| instant provider, $BACKLOG thumbnails, 1 worker | $fast_rate thumbnails/s ($fast_s s, $fast_failed failed), peak RSS $((fast_rss / 1024)) MiB | the CPU-bound ceiling |"
echo "| 3 s provider, the same | $slow_rate thumbnails/s ($slow_s s, $slow_failed failed): $(echo "$slow_rate $fast_rate" | awk '{printf "%.2f", $1 / $2}')x of instant | ≥ 0.8x |"
echo "| 20 s provider, max_in_flight $WIDE, $WIDE thumbnails | $wide_most calls in flight at once, $(rate "$WIDE" "$wide_s") thumbnails/s ($wide_s s, $wide_failed failed); RSS with all $WIDE waiting $((waiting_rss / 1024)) MiB, $(echo "$waiting_rss $idle $WIDE" | awk '{printf "%.1f", ($1 - $2) / $3}') KiB per call over an idle worker's $((idle / 1024)) MiB; peak RSS $((wide_rss / 1024)) MiB as the answers come in together | ≥ 2,000 in flight on 2 cores |"
echo "| shared cap: 1 s provider at 120 requests/min, 2 workers, $CAPPED thumbnails | $(echo "$CAPPED $capped_s" | awk '{printf "%.1f", $1 * 60 / $2}') thumbnails/min: $(echo "$CAPPED $capped_s" | awk '{printf "%.2f", $1 * 60 / $2 / 120}')x of the cap; $capped_failed failed; $capped_429 of $capped_requests calls answered 429 ($(echo "$capped_429 $capped_requests" | awk '{printf "%.1f", 100 * $1 / $2}')%) | 0 failed, ≥ 0.9x, < 5% |"
echo "| fairness: 3 s provider, org A's $FLOOD thumbnails queued, 1 worker busy with them | org B's one thumbnail $b_status in $b_s s: $(echo "$b_s" | awk '{printf "%.2f", $1 / 3}')x the provider latency, with $a_left of A's still open | ≤ 2.5x |"
echo
echo "Provider counts: 3 s phase $slow_calls; 20 s phase $wide_calls; capped phase $capped_calls."
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r)."
