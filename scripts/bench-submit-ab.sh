#!/usr/bin/env bash
# Submit A/B of several builds on one machine: interleaved rounds of
# pgbench's single-row INSERT, then each build's `POST /api/v1/generate`
# (wrk, count 1, the test model), as bench-production.sh's submit phase
# measures it. Each build runs its own thumbforge-api on a database its own
# `thumbforge migrate` made, so builds with different schemas compare.
#
#   bash scripts/bench-submit-ab.sh NAME:DIR [NAME:DIR ...]
#
# DIR holds that build's release `thumbforge` and `thumbforge-api` (build
# an old commit from `git archive` in a target directory of its own, or
# touch its sources first: cargo does not rebuild a workspace crate whose
# files are older than its artifacts). Each round prints every build's
# req/s, its ratio to the round's pgbench INSERT, and the CPU per request
# of PostgreSQL, the API and Redis, and the machine's idle time.
# Settings: ROUNDS (4), ROUND_SECS (5), CONNECTIONS (32), POOL (12: the
# APIs' pools and pgbench share PostgreSQL's 100 connections).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { sed -n 2,16p "$0"; exit 2; }
ROUNDS="${ROUNDS:-4}" ROUND_SECS="${ROUND_SECS:-5}" CONNECTIONS="${CONNECTIONS:-32}"
PG=postgres://postgres@127.0.0.1:5432
bash scripts/services.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null

DATA="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT
export THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__FREE__MAX_QUEUED=0 THUMBFORGE_LIMITS__PRO__MAX_QUEUED=0
export RUST_LOG=warn REDIS_URL=redis://127.0.0.1:6379 THUMBFORGE_DATA_DIR="$DATA" \
  THUMBFORGE_SECRET=bench-secret-0123456789abcdef0123 THUMBFORGE_MODELS__ENABLE_TEST_MODEL=true \
  THUMBFORGE_DATABASE__MAX_CONNECTIONS="${POOL:-12}"
admin() { PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -U postgres -d postgres -qAt -c "$1" >/dev/null; }
fresh_db() { admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)" && admin "CREATE DATABASE $1"; }

fresh_db tf_ab_pgbench
psql -h 127.0.0.1 -U postgres -d tf_ab_pgbench -qAt \
  -c "CREATE TABLE pgb_insert (id bigserial PRIMARY KEY, payload text, created_at bigint)"
echo "INSERT INTO pgb_insert (payload, created_at) VALUES ('bench', 0);" >"$DATA/insert.sql"

NAMES=() PORTS=()
for spec in "$@"; do
  name="${spec%%:*}" dir="${spec#*:}" port=$((18500 + ${#NAMES[@]}))
  fresh_db "tf_ab_$name"
  export DATABASE_URL="$PG/tf_ab_$name"
  "$dir/thumbforge" migrate >/dev/null 2>&1
  key="$("$dir/thumbforge" keys create --org bench --plan pro 2>/dev/null | tail -n1)"
  cat >"$DATA/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"prompt":"bench [flat]","model":"test","count":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
  THUMBFORGE_QUEUE__PREFIX="ab-$name-$$" THUMBFORGE_BIND="127.0.0.1:$port" \
    "$dir/thumbforge-api" >"$DATA/$name.log" 2>&1 &
  PIDS+=($!) NAMES+=("$name") PORTS+=("$port")
done
for p in "${PORTS[@]}"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done

ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(ticks "$p"))); done; echo "$t"; }
idle_ticks() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
REDIS_PID="$(pgrep -x redis-server | head -n1)"
insert() {
  pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$CONNECTIONS" -j 2 -T "$ROUND_SECS" \
    -f "$DATA/insert.sql" tf_ab_pgbench 2>/dev/null | awk '/^tps/ {print int($3)}'
}
submit() { # name, port
  wrk -t2 -c"$CONNECTIONS" -d"${ROUND_SECS}s" -s "$DATA/$1.lua" "http://127.0.0.1:$2/api/v1/generate" \
    | awk '/Requests\/sec/ {rps = int($2)} /Non-2xx/ {bad = $NF} END {print rps + 0, bad + 0}'
}
# us of CPU per request: ticks, requests.
per_req() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "n/a"}'; }

for i in "${!NAMES[@]}"; do submit "${NAMES[$i]}" "${PORTS[$i]}" >/dev/null; done # warm up
echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, Linux $(uname -r); PostgreSQL $(psql -h 127.0.0.1 -U postgres -qAt -c 'SHOW server_version' | cut -d' ' -f1), Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')."
echo "wrk -t2 -c$CONNECTIONS and pgbench -M prepared -c$CONNECTIONS -j2, ${ROUND_SECS} s each, interleaved."
for r in $(seq "$ROUNDS"); do
  peer="$(insert)"; sleep 1
  line="round $r: pgbench INSERT $peer tps"
  for i in "${!NAMES[@]}"; do
    p0="$(pg_ticks)" a0="$(ticks "${PIDS[$i]}")" r0="$(ticks "$REDIS_PID")" i0="$(idle_ticks)"
    read -r rps bad <<<"$(submit "${NAMES[$i]}" "${PORTS[$i]}")"
    n=$((rps * ROUND_SECS))
    line="$line | ${NAMES[$i]} $rps req/s ($(awk -v a="$rps" -v b="$peer" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "n/a"}')"
    line="$line; µs/req PostgreSQL $(per_req $(($(pg_ticks) - p0)) "$n"), API $(per_req $(($(ticks "${PIDS[$i]}") - a0)) "$n")"
    line="$line, Redis $(per_req $(($(ticks "$REDIS_PID") - r0)) "$n"), idle $(per_req $(($(idle_ticks) - i0)) "$n")"
    line="$line$([ "$bad" = 0 ] || echo "; $bad non-2xx"))"
    sleep 1
  done
  echo "$line"
done
for name in "${NAMES[@]}"; do admin "DROP DATABASE IF EXISTS tf_ab_$name WITH (FORCE)"; done
admin "DROP DATABASE IF EXISTS tf_ab_pgbench WITH (FORCE)"
