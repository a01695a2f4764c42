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
source scripts/bench-common.sh
bash scripts/services.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null

DATA="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT
export RUST_LOG=warn REDIS_URL=redis://127.0.0.1:6379 THUMBFORGE_DATA_DIR="$DATA" \
  THUMBFORGE_SECRET=bench-secret-0123456789abcdef0123 THUMBFORGE_MODELS__ENABLE_TEST_MODEL=true \
  THUMBFORGE_DATABASE__MAX_CONNECTIONS="${POOL:-12}"

fresh_db tf_ab_pgbench >/dev/null
psql -h 127.0.0.1 -U postgres -d tf_ab_pgbench -qAt \
  -c "CREATE TABLE pgb_insert (id bigserial PRIMARY KEY, payload text, created_at bigint)"
echo "INSERT INTO pgb_insert (payload, created_at) VALUES ('bench', 0);" >"$DATA/insert.sql"

NAMES=() PORTS=()
for spec in "$@"; do
  name="${spec%%:*}" dir="${spec#*:}" port=$((18500 + ${#NAMES[@]}))
  fresh_db "tf_ab_$name" >/dev/null
  export DATABASE_URL="$PG/tf_ab_$name"
  "$dir/thumbforge" migrate >/dev/null 2>&1
  key="$("$dir/thumbforge" keys create --org bench --plan pro 2>/dev/null | tail -n1)"
  submit_lua "$DATA/$name.lua" "$key"
  THUMBFORGE_QUEUE__PREFIX="ab-$name-$$" THUMBFORGE_BIND="127.0.0.1:$port" \
    "$dir/thumbforge-api" >"$DATA/$name.log" 2>&1 &
  PIDS+=($!) NAMES+=("$name") PORTS+=("$port")
done
for p in "${PORTS[@]}"; do wait_for "http://127.0.0.1:$p/healthz"; done

insert() {
  pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$CONNECTIONS" -j 2 -T "$ROUND_SECS" \
    -f "$DATA/insert.sql" tf_ab_pgbench 2>/dev/null | awk '/^tps/ {print int($3)}'
}
submit() { # name, port
  wrk -t2 -c"$CONNECTIONS" -d"${ROUND_SECS}s" -s "$DATA/$1.lua" "http://127.0.0.1:$2/api/v1/generate" \
    | awk '/Requests\/sec/ {rps = int($2)} /Non-2xx/ {bad = $NF} END {print rps + 0, bad + 0}'
}

for i in "${!NAMES[@]}"; do submit "${NAMES[$i]}" "${PORTS[$i]}" >/dev/null; done # warm up
machine
echo "wrk -t2 -c$CONNECTIONS and pgbench -M prepared -c$CONNECTIONS -j2, ${ROUND_SECS} s each, interleaved."
for r in $(seq "$ROUNDS"); do
  peer="$(insert)"; sleep 1
  line="round $r: pgbench INSERT $peer tps"
  for i in "${!NAMES[@]}"; do
    p0="$(pg_ticks)" a0="$(pid_ticks "${PIDS[$i]}")" r0="$(redis_ticks)" i0="$(idle_ticks)"
    read -r rps bad <<<"$(submit "${NAMES[$i]}" "${PORTS[$i]}")"
    n=$((rps * ROUND_SECS))
    line="$line | ${NAMES[$i]} $rps req/s ($(awk -v a="$rps" -v b="$peer" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "n/a"}')"
    line="$line; µs/req PostgreSQL $(per_op_us $(($(pg_ticks) - p0)) "$n"), API $(per_op_us $(($(pid_ticks "${PIDS[$i]}") - a0)) "$n")"
    line="$line, Redis $(per_op_us $(($(redis_ticks) - r0)) "$n"), idle $(per_op_us $(($(idle_ticks) - i0)) "$n")"
    line="$line$([ "$bad" = 0 ] || echo "; $bad non-2xx"))"
    sleep 1
  done
  echo "$line"
done
for name in "${NAMES[@]}"; do drop_db "tf_ab_$name" >/dev/null; done
drop_db tf_ab_pgbench >/dev/null
