#!/usr/bin/env bash
# What one thumbnail costs the shared services, for docs/capacity.md:
# Redis commands and bytes, PostgreSQL transactions, row writes and bytes,
# and stored image bytes. One thumbforge-api and one thumbforge-worker on
# PostgreSQL (a database of its own on $PG, default 127.0.0.1:5432, dropped
# at the end)
# and a Redis of its own (its own port, so INFO commandstats counts only
# this run), against thumbforge-mock-provider (a 1280x720 PNG as OpenAI's
# Images API answers it).
#
# 1. submit: $N generations of one gpt-image-2 thumbnail, one request at a
#    time (no group commit: the unbatched cost), each with an
#    Idempotency-Key; no worker runs, so the jobs wait in Redis. Then
#    Redis's used_memory with the $N jobs waiting, over the empty queue's.
#    Then $POLLS polls of one of those waiting generations, and later of
#    a finished one: what a client's poll costs PostgreSQL and Redis.
# 2. drain: one worker with max_in_flight = 1 and an instant provider, so
#    nothing is batched; the provider key's caps are on (the capacity
#    scripts run) but never reached.
# 3. idle: $IDLE seconds with the API and worker running and nothing to
#    do: the background rate, taken off the drain's counts.
# 4. in flight: $N more submitted 8 at a time, a provider answering after
#    20 s, one worker with max_in_flight = $N: Redis's used_memory once
#    the provider holds all $N calls, and the commands per thumbnail with
#    submits and acknowledgements batched as they are under load.
# 5. sizes: each table's pg_total_relation_size over the 2 x $N
#    generations, as written and after VACUUM FULL; image bytes on disk.
#
# Statements are counted too when the server has pg_stat_statements in
# shared_preload_libraries (a stock server does not; point PG at one that
# does). PROFILE=debug uses debug builds (counts and sizes do not depend
# on it).
# Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
N="${N:-2000}"
POLLS="${POLLS:-500}"
IDLE="${IDLE:-30}"
PROFILE="${PROFILE:-release}"
PORT="${PORT:-18483}"
MOCK_PORT="${MOCK_PORT:-18484}"
REDIS_PORT="${REDIS_PORT:-18479}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
DB="tf_capacity_$$"

if [ "$PROFILE" = release ]; then
  cargo build --release -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
else
  cargo build -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
fi
BIN="$CARGO_TARGET_DIR/$PROFILE"

DATA="$(mktemp -d)"
PIDS=()
psql_admin() { psql "$PG/postgres" -qAt "$@"; }
psql_db() { psql "$PG/$DB" -qAt "$@"; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT
wait_for() {
  for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$DATA" >"$DATA/redis.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done
psql_admin -c "CREATE DATABASE $DB"

export THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0
export RUST_LOG=warn DATABASE_URL="$PG/$DB" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  THUMBFORGE_DATA_DIR="$DATA" THUMBFORGE_SECRET=capacity-secret-0123456789abcdef0123 \
  OPENAI_API_KEY=sk-capacity THUMBFORGE_PROVIDERS__OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
  THUMBFORGE_PROVIDERS__LIMITS__OPENAI__RPM=60000 \
  THUMBFORGE_PROVIDERS__LIMITS__OPENAI__MAX_CONCURRENT=100000
"$BIN/thumbforge" migrate 2>/dev/null
KEY="$("$BIN/thumbforge" keys create --org capacity --plan pro 2>/dev/null | tail -n1)"
THUMBFORGE_BIND="127.0.0.1:$PORT" "$BIN/thumbforge-api" >"$DATA/api.log" 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz"

MOCK_PID=""
mock() { # latency_ms
  if [ -n "$MOCK_PID" ]; then kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null || true; fi
  "$BIN/thumbforge-mock-provider" --port "$MOCK_PORT" --latency-ms "$1" >"$DATA/mock.log" 2>&1 & MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for "http://127.0.0.1:$MOCK_PORT/stats"
}
field() { echo "$1" | sed -E "s/.*\"$2\":([0-9]+).*/\1/"; }
submit() { # n
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/generate" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: capacity-$1" \
    -d "{\"prompt\":\"A developer at 3 a.m. in front of a wall of terminals, neon reflections, bold headline, high contrast $1\",\"model\":\"gpt-image-2\"}"
}
export -f submit
export PORT KEY
worker() { # extra env; prints the pid
  env "$@" THUMBFORGE_WORKER__HEALTH_PORT=$((PORT + 10)) "$BIN/thumbforge-worker" >>"$DATA/worker.log" 2>&1 &
  echo $!
}
# Waits until the running worker has finished $1 jobs (its metrics, so the
# wait adds nothing to the database's counts).
finished() {
  local done=0
  until [ "$done" -ge "$1" ]; do
    sleep 0.5
    done="$(curl -sf "http://127.0.0.1:$((PORT + 10))/metrics" | awk '/^thumbforge_jobs_succeeded_total/ {print $2}')"
    done="${done:-0}"
  done
}
stop() { kill "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.2; done; }
used_memory() { rcli info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }
# Redis's own CPU seconds (user + system) so far.
redis_cpu() { rcli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f", s}'; }
# The server's WAL position: whole-server, so meaningful on a server of
# this run's own.
wal() { psql_db -c "SELECT pg_current_wal_lsn()"; }
wal_bytes() { psql_db -c "SELECT pg_wal_lsn_diff('$2', '$1')"; }
# µs of Redis CPU per thumbnail between two redis_cpu readings.
cpu_us() { echo "$1 $2 $3" | awk '{printf "%.0f", ($2 - $1) * 1e6 / $3}'; }

# PostgreSQL counters of this database: transactions committed (reads
# included), rows inserted, updated (of them HOT) and deleted. An idle
# backend reports its counters within 10 s (PGSTAT_IDLE_INTERVAL).
pg_counts() {
  sleep 11
  psql_db -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()"
}
pg_tables() {
  psql_db -F' ' -c "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname"
}
STATEMENTS=0
if psql_db -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 \
  && psql_db -c "SELECT COUNT(*) FROM pg_stat_statements" >/dev/null 2>&1; then
  STATEMENTS=1
fi
statements_reset() {
  [ "$STATEMENTS" = 1 ] || return 0
  psql_db -c "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)" >/dev/null
}
# Each statement's calls per $2 ($1 of them) since the reset, but this
# script's own.
statements() {
  [ "$STATEMENTS" = 1 ] || return 0
  echo
  echo "| calls / $2 | rows / call | statement |"
  echo "|---|---|---|"
  psql_db -F$'\t' -c "SELECT calls, rows, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query !~ 'pg_stat|pg_class|pg_database|pg_column_size|VACUUM'
    ORDER BY calls DESC" \
    | awk -F'\t' -v n="$1" '$1 / n >= 0.005 {q = substr($3, 1, 110); gsub(/\|/, "\\|", q); printf "| %.2f | %.2f | `%s` |\n", $1 / n, $2 / ($1 > 0 ? $1 : 1), q}'
}
# Differences of two pg_counts lines, per thumbnail ($3).
pg_diff() {
  echo "$1 $2 $3" | awk -F'[| ]' '{printf "commits %.2f, inserted %.2f, updated %.2f, deleted %.2f", ($5-$1)/$9, ($6-$2)/$9, ($7-$3)/$9, ($8-$4)/$9}'
}
# Per-table row writes between two pg_tables snapshots, per thumbnail.
tables_diff() {
  join <(echo "$1" | sort) <(echo "$2" | sort) | awk -v n="$3" \
    '{ins=($6-$2)/n; upd=($7-$3)/n; hot=($8-$4)/n; del=($9-$5)/n;
      if (ins+upd+del > 0) printf "| %s | %.2f | %.2f (%.2f HOT) | %.2f |\n", $1, ins, upd, hot, del}'
}
# $POLLS polls of generation $1: statements and Redis commands per poll.
polls() {
  rcli config resetstat >/dev/null
  statements_reset
  for _ in $(seq "$POLLS"); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/v1/generations/$1" -H "Authorization: Bearer $KEY"
  done
  echo "Redis commands per poll: $(commandstats | grep -v 'config|resetstat' | awk -v n="$POLLS" '{printf "%s %.2f; ", $1, $2 / n}')"
  statements "$POLLS" poll
}
commandstats() { rcli info commandstats | tr -d '\r' | sed -nE 's/^cmdstat_([^:]+):calls=([0-9]+),.*/\1 \2/p' | sort; }

echo "## Capacity measurements ($(date -u +%F), $(git rev-parse --short HEAD), $PROFILE build, N = $N)"
echo
mock 0
base_mem="$(used_memory)"
rcli config resetstat >/dev/null
pg0="$(pg_counts)"; t0="$(pg_tables)"
statements_reset
cpu0="$(redis_cpu)"; wal0="$(wal)"
start="$(date +%s.%N)"
for i in $(seq "$N"); do submit "$i"; done
submit_s="$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')"
sleep 2 # the push stage
pg1="$(pg_counts)"; t1="$(pg_tables)"
wait_mem="$(used_memory)"
submit_cmds="$(commandstats)"
cpu1="$(redis_cpu)"; wal1="$(wal)"
submit_statements="$(statements "$N" submit)"
keys="$(rcli --scan | while read -r k; do echo "$k $(rcli memory usage "$k" samples 0) $(rcli type "$k")"; done | sort)"
waiting_id="$(psql_db -c "SELECT id FROM generations ORDER BY id LIMIT 1")"
waiting_polls="$(polls "$waiting_id")"

echo "### 1. Submit, one at a time ($N in ${submit_s} s)"
echo
echo "PostgreSQL per submit: $(pg_diff "$pg0" "$pg1" "$N"); WAL $(( $(wal_bytes "$wal0" "$wal1") / N )) bytes (server-wide)."
echo
echo "| table | inserted | updated | deleted |"
echo "|---|---|---|---|"
tables_diff "$t0" "$t1" "$N"
echo "$submit_statements"
echo
echo "Redis CPU per submit: $(cpu_us "$cpu0" "$cpu1" "$N") µs. Redis commands per submit (calls / $N; those inside scripts included):"
echo
echo "$submit_cmds" | awk -v n="$N" '{printf "%s %.2f; ", $1, $2 / n}'; echo
echo
echo "Redis used_memory with $N jobs waiting: $(( (wait_mem - base_mem) / N )) bytes per job (empty $base_mem, waiting $wait_mem). Keys (MEMORY USAGE, bytes):"
echo
echo "$keys" | awk '{printf "- `%s` %s %s\n", $1, $3, $2}'
echo
echo "$POLLS polls of a waiting generation (the first submitted). $waiting_polls"
echo

rcli config resetstat >/dev/null
pg2="$(pg_counts)"; t2="$(pg_tables)"
statements_reset
cpu2="$(redis_cpu)"; wal2="$(wal)"
start="$(date +%s.%N)"
w="$(worker THUMBFORGE_WORKER__MAX_IN_FLIGHT=1)"; PIDS+=("$w")
finished "$N"
drain_s="$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')"
drain_cmds="$(commandstats)"
cpu3="$(redis_cpu)"; wal3="$(wal)"
drain_statements="$(statements "$N" thumbnail)"
pg3="$(pg_counts)"; t3="$(pg_tables)"
rcli config resetstat >/dev/null
statements_reset
sleep "$IDLE"
idle_cmds="$(commandstats)"
cpu4="$(redis_cpu)"; wal4="$(wal)"
idle_statements="$(statements "$IDLE" second)"
pg4="$(pg_counts)"
stop "$w"
finished_polls="$(polls "$waiting_id")"

echo "### 2. Drain, one thumbnail at a time ($N in ${drain_s} s), and 3. idle ($IDLE s)"
echo
# The PostgreSQL counters of the drain cover it and the 11 s before the
# read; the idle ones $IDLE s and the 11 s before theirs.
echo "PostgreSQL per thumbnail, as measured over the drain and 11 s: $(pg_diff "$pg2" "$pg3" "$N"); idle, per second: $(pg_diff "$pg3" "$pg4" "$((IDLE + 11))")."
echo
echo "WAL (server-wide): drain $(( $(wal_bytes "$wal2" "$wal3") / N )) bytes per thumbnail, idle $(( $(wal_bytes "$wal3" "$wal4") / (IDLE + 11) )) bytes per second. Redis CPU: drain $(cpu_us "$cpu2" "$cpu3" "$N") µs per thumbnail, idle $(cpu_us "$cpu3" "$cpu4" "$IDLE") µs per second."
echo
echo "| table | inserted | updated | deleted |"
echo "|---|---|---|---|"
tables_diff "$t2" "$t3" "$N"
echo "$drain_statements"
if [ "$STATEMENTS" = 1 ]; then
  echo
  echo "Idle, per second:"
  echo "$idle_statements"
fi
echo
echo "Redis commands per thumbnail (calls / $N), then the idle rate per second, then the drain less $drain_s s of the idle rate, per thumbnail:"
echo
echo "| command | drain / thumbnail | idle / s | drain less idle, / thumbnail |"
echo "|---|---|---|---|"
join -a1 -e0 -o 0,1.2,2.2 <(echo "$drain_cmds") <(echo "$idle_cmds") | awk -v n="$N" -v s="$drain_s" -v idle="$IDLE" \
  '{r=$3/idle; printf "| %s | %.2f | %.2f | %.2f |\n", $1, $2/n, r, ($2 - r*s)/n}'
echo

mock 20000
rcli config resetstat >/dev/null
cpu5="$(redis_cpu)"
seq $((N + 1)) $((2 * N)) | xargs -P 8 -I{} bash -c 'submit {}'
sleep 2
empty_mem="$(used_memory)"
w="$(worker THUMBFORGE_WORKER__MAX_IN_FLIGHT="$N")"; PIDS+=("$w")
until [ "$(field "$(curl -sf "http://127.0.0.1:$MOCK_PORT/stats")" in_flight)" -ge "$N" ]; do sleep 0.2; done
flight_mem="$(used_memory)"
flight_keys="$(rcli --scan | while read -r k; do echo "$k $(rcli memory usage "$k" samples 0) $(rcli type "$k")"; done | sort)"
finished "$N"
sleep 2
batched_cmds="$(commandstats)"
cpu6="$(redis_cpu)"
stop "$w"

echo "$POLLS polls of the same generation, now finished. $finished_polls"
echo

echo "### 4. $N in flight at once, submitted 8 at a time"
echo
echo "Redis used_memory with $N calls in flight: $flight_mem bytes (with the same $N waiting before the worker started: $empty_mem). Keys:"
echo
echo "$flight_keys" | awk '{printf "- `%s` %s %s\n", $1, $3, $2}'
echo
echo "Redis CPU over this phase: $(cpu_us "$cpu5" "$cpu6" "$N") µs per thumbnail. Commands per thumbnail (submits batched 8 at a time, acknowledgements as they come):"
echo
echo "$batched_cmds" | awk -v n="$N" '{printf "%s %.2f; ", $1, $2 / n}'; echo
echo

total=$((2 * N))
sizes() {
  psql_db -F' ' -c "SELECT c.relname, pg_relation_size(c.oid), pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
}
written="$(sizes)"
psql_db -c "VACUUM FULL" >/dev/null
compact="$(sizes)"
echo "### 5. Sizes over $total generations of one thumbnail"
echo
echo "| table | rows | total bytes as written | per generation | after VACUUM FULL | per generation |"
echo "|---|---|---|---|---|---|"
join <(echo "$written") <(echo "$compact") | while read -r t _ w _ c; do
  rows="$(psql_db -c "SELECT COUNT(*) FROM \"$t\"")"
  [ "$w" -gt 8192 ] || [ "$rows" -gt 0 ] || continue
  echo "| $t | $rows | $w | $((w / total)) | $c | $((c / total)) |"
done
echo
echo "Average row (pg_column_size): generations $(psql_db -c "SELECT ROUND(AVG(pg_column_size(g.*))) FROM generations g") bytes, thumbnails $(psql_db -c "SELECT ROUND(AVG(pg_column_size(t.*))) FROM thumbnails t") bytes."
echo
files="$(find "$DATA/images" -type f -name '*.png' | wc -l)"
bytes="$(find "$DATA/images" -type f -name '*.png' -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
echo "Images: $files PNGs, $bytes bytes, $((bytes / (files > 0 ? files : 1))) bytes each (the mock provider's 1280x720 answer, stored as it came)."
echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r); PostgreSQL $(psql_admin -c 'SHOW server_version'), Redis $(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/')."
