#!/usr/bin/env bash
# The production-topology half of `just bench`: PostgreSQL + Redis, the
# separate thumbforge-api and thumbforge-worker binaries (release builds),
# and the same-run peers every figure is read against:
#
# - pgbench on the same PostgreSQL: one single-row INSERT transaction, and a
#   primary-key SELECT (-M prepared, same client count as wrk). Each ratio
#   is the median of ROUNDS interleaved rounds (peer, then thumbforge, each
#   ROUND_DURATION long): a neighbour's burst on a shared machine then spoils
#   one round, not the whole figure;
# - PostgreSQL alone writing what submits write (a generation, its thumbnail
#   and its open-set row, on the migrated schema), 16 submits per
#   statement from 1 client like the API's one submit runner: how far the
#   rows themselves are from the pgbench INSERT figure;
# - BullMQ on the same Redis (scripts/bullmq) against the queue core alone
#   (thumbforge-queue-bench: no-op throughput, idle pickup, 100k backlog);
# - submit and poll with wrk; API RSS sampled under 64 connections;
# - end to end: the submitted backlog of `[flat]` generations (a test model
#   that answers at once) drained by one worker process, with every status
#   write, PNG encode and file write, in thumbnails/s.
#
# Uses the local servers (scripts/services.sh), a fresh database `tf_bench`
# and a Redis key prefix of its own. Prints Markdown for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
ROUND_DURATION="${ROUND_DURATION:-5s}"
ROWS_BATCH="${ROWS_BATCH:-16}"
ROWS_CLIENTS="${ROWS_CLIENTS:-1}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-18282}"
WORKER_CONCURRENCY="${WORKER_CONCURRENCY:-16}" # the [flat] calls in flight (its CPU slots: one per core)
PG="postgres://postgres@127.0.0.1:5432"
REDIS="redis://127.0.0.1:6379"

bash scripts/services.sh >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; } >/dev/null
cargo build --release -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
BIN="$CARGO_TARGET_DIR/release"
(cd scripts/bullmq && npm install --no-audit --no-fund --silent >/dev/null 2>&1)

DATA="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT
source scripts/bench-common.sh
psql_bench() { psql -h 127.0.0.1 -U postgres -d tf_bench -qAt "$@"; }

fresh_db tf_bench
PREFIX="bench-$$"
export RUST_LOG=warn DATABASE_URL="$PG/tf_bench" REDIS_URL="$REDIS" \
  THUMBFORGE_QUEUE__PREFIX="$PREFIX" THUMBFORGE_DATA_DIR="$DATA" \
  THUMBFORGE_SECRET=bench-secret-0123456789abcdef0123 THUMBFORGE_MODELS__ENABLE_TEST_MODEL=true \
  THUMBFORGE_DATABASE__MAX_CONNECTIONS=32
"$BIN/thumbforge" migrate 2>/dev/null
KEY="$("$BIN/thumbforge" keys create --org bench --plan pro 2>/dev/null | tail -n1)"

# --- pgbench peers ------------------------------------------------------
cat >"$DATA/insert.sql" <<'SQL'
INSERT INTO pgb_insert (payload, created_at) VALUES ('bench', 0);
SQL
cat >"$DATA/select.sql" <<'SQL'
\set id random(1, 100000)
SELECT id, payload, created_at FROM pgb_select WHERE id = :id;
SQL
psql_bench -c "CREATE TABLE pgb_insert (id bigserial PRIMARY KEY, payload text, created_at bigint)" \
  -c "CREATE TABLE pgb_select (id bigint PRIMARY KEY, payload text, created_at bigint)" \
  -c "INSERT INTO pgb_select SELECT g, 'bench', 0 FROM generate_series(1, 100000) g" -c "VACUUM ANALYZE pgb_select"
pgb() { # script, [clients], [database] → tps, over one round
  pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "${2:-$CONNECTIONS}" -j "$THREADS" -T "${ROUND_DURATION%s}" -f "$1" "${3:-tf_bench}" 2>/dev/null \
    | awk '/^tps/ {print int($3)}'
}
rsecs="${ROUND_DURATION%s}"
# CPU ticks of PostgreSQL, the API and Redis, summed over the phases of one
# kind (so the pgbench rounds between the wrk rounds are left out).
declare -A TICKS=()
phase() { # kind, command... : runs the command, adds its ticks to kind.pg / .api / .redis / .idle
  local kind=$1; shift
  local p0 a0 r0 i0
  p0="$(pg_ticks)"; a0="$(pid_ticks "${API_PID:-0}")"; r0="$(redis_ticks)"; i0="$(idle_ticks)"
  "$@"
  TICKS[$kind.idle]=$(( ${TICKS[$kind.idle]:-0} + $(idle_ticks) - i0 ))
  TICKS[$kind.pg]=$(( ${TICKS[$kind.pg]:-0} + $(pg_ticks) - p0 ))
  TICKS[$kind.api]=$(( ${TICKS[$kind.api]:-0} + $(pid_ticks "${API_PID:-0}") - a0 ))
  TICKS[$kind.redis]=$(( ${TICKS[$kind.redis]:-0} + $(redis_ticks) - r0 ))
}
# Median of numbers, one per line.
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# Operations in all rounds: file of per-round rates (first column).
ops_in() { awk -v s="$rsecs" '{n += $1 * s} END {printf "%.0f", n}' "$1"; }
# The median round of one measure: label, file of rounds, column. Writes
# label.rps (the median) and label.p99 (that round's p99).
median_round() {
  local label=$1 file=$2 col=$3 mid
  awk -v c="$col" '{print $c}' "$file" | median >"$DATA/$label.rps"
  mid="$(awk -v c="$col" '{print NR, $c}' "$file" | sort -g -k2 | awk -v m="$(( (ROUNDS + 1) / 2 ))" 'NR == m {print $1}')"
  cp "$DATA/$label$mid.p99" "$DATA/$label.p99"
}

# --- the rows of submits, PostgreSQL alone ----------------------------------
fresh_db tf_bench_rows
DATABASE_URL="$PG/tf_bench_rows" "$BIN/thumbforge" migrate 2>/dev/null
DATABASE_URL="$PG/tf_bench_rows" "$BIN/thumbforge" keys create --org bench --plan pro >/dev/null 2>&1
ROWS_ORG="$(psql -h 127.0.0.1 -U postgres -d tf_bench_rows -qAt -c 'SELECT id FROM organizations LIMIT 1')"
# The ids sort by time like the API's (a millisecond clock, then random);
# making them costs PostgreSQL a little that a real submit does not, so the
# figure errs low.
ROWS_ID="lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 14)"
cat >"$DATA/rows.sql" <<SQL
WITH u AS (SELECT 'gen_' || $ROWS_ID AS gid, 'thm_' || $ROWS_ID AS tid
  FROM generate_series(1, $ROWS_BATCH)),
g AS (INSERT INTO generations (id, org_id, prompt, model, count, aspect_ratio, person_ids,
  inspiration_ids, status, created_at, updated_at, reference_urls, provider_used, credits_consumed)
  SELECT gid, '$ROWS_ORG', 'bench [flat]', 'test', 1, '16:9', '[]', '[]', 'processing', 0, 0, '[]',
  'local', 0 FROM u),
o AS (INSERT INTO open_thumbnails (id) SELECT tid FROM u)
INSERT INTO thumbnails (id, generation_id, org_id, idx, status, is_watermarked, is_hidden,
  attempts, created_at, enqueued_at)
SELECT tid, gid, '$ROWS_ORG', 0, 'processing', false, false, 0, 0, 0 FROM u;
SQL
rows_round() { pgb "$DATA/rows.sql" "$ROWS_CLIENTS" tf_bench_rows >"$DATA/rows.tps"; sleep 1; }
phase rows rows_round
ROWS_RATE=$(( $(cat "$DATA/rows.tps") * ROWS_BATCH ))
ROWS_CPU="$(per_op_us "${TICKS[rows.pg]}" "$((ROWS_RATE * rsecs))")"
drop_db tf_bench_rows

# --- API: submit, then poll ----------------------------------------------
THUMBFORGE_BIND="127.0.0.1:$PORT" "$BIN/thumbforge-api" >"$DATA/api.log" 2>&1 & PIDS+=($!)
API_PID=$!
wait_for "http://127.0.0.1:$PORT/healthz"
submit_lua "$DATA/post.lua" "$KEY"
run_wrk() { # label, connections, extra args...
  local label=$1 conns=$2; shift 2
  local out
  out="$(wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency "$@")" # a later -d in "$@" wins
  echo "$out" | awk '/Requests\/sec/ {print $2}' >"$DATA/$label.rps"
  echo "$out" | awk '$1=="99%" {print $2}' >"$DATA/$label.p99"
  echo "$out" | awk 'BEGIN {n = 0} /Non-2xx/ {n = $NF} END {print n}' >"$DATA/$label.non2xx"
}
# Interleaved rounds: pgbench INSERT, then submit.
insert_round() { pgb "$DATA/insert.sql" >>"$DATA/insert.all"; sleep 1; }
# Commits and generations during the submit rounds: submits per commit is
# the batch the API formed.
commits() { psql_bench -c "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'tf_bench') || ' ' || (SELECT COUNT(*) FROM generations)"; }
SUBMIT_COMMITS=0 SUBMIT_STORED=0
for i in $(seq "$ROUNDS"); do
  phase insert insert_round
  read -r c0 g0 <<<"$(commits)"
  phase submit run_wrk "submit$i" "$CONNECTIONS" -d"$ROUND_DURATION" -s "$DATA/post.lua" "http://127.0.0.1:$PORT/api/v1/generate"
  sleep 1.5 # PostgreSQL 15 flushes a backend's counters at most once a second
  read -r c1 g1 <<<"$(commits)"
  # Less the first read's own commit (the second read sees only the
  # commits before its own).
  SUBMIT_COMMITS=$((SUBMIT_COMMITS + c1 - c0 - 1)) SUBMIT_STORED=$((SUBMIT_STORED + g1 - g0))
  echo "$(cat "$DATA/submit$i.rps") $(sed -n "${i}p" "$DATA/insert.all")" >>"$DATA/submit.rounds"
done
SUBMIT_BATCH="$(awk -v g="$SUBMIT_STORED" -v c="$SUBMIT_COMMITS" 'BEGIN {if (c > 0) printf "%.1f", g / c; else print "n/a"}')"
SUBMIT_IDLE="$(awk -v i="${TICKS[submit.idle]}" -v c="$(nproc)" -v s="$(( ROUNDS * rsecs ))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", 100 * i / (c * s * hz)}')"
PG_INSERT="$(median <"$DATA/insert.all")"
PG_INSERT_CPU="$(per_op_us "${TICKS[insert.pg]}" "$(ops_in "$DATA/insert.all")")"
SUBMITS="$(ops_in "$DATA/submit.rounds")"
SUBMIT_PG_CPU="$(per_op_us "${TICKS[submit.pg]}" "$SUBMITS")"
SUBMIT_API_CPU="$(per_op_us "${TICKS[submit.api]}" "$SUBMITS")"
SUBMIT_REDIS_CPU="$(per_op_us "${TICKS[submit.redis]}" "$SUBMITS")"
median_round submit "$DATA/submit.rounds" 1
# Non-2xx answers in all rounds.
awk 'BEGIN {n = 0} {n += $1} END {print n}' "$DATA"/submit[0-9]*.non2xx >"$DATA/submit.non2xx"
BACKLOG="$(psql_bench -c "SELECT COUNT(*) FROM thumbnails")"

# --- end to end: one worker drains the submitted backlog -----------------
THUMBFORGE_WORKER__MAX_IN_FLIGHT="$WORKER_CONCURRENCY" THUMBFORGE_WORKER__HEALTH_PORT=$((PORT + 1)) \
  "$BIN/thumbforge-worker" >"$DATA/worker.log" 2>&1 & PIDS+=($!)
START="$(date +%s.%N)"
while :; do
  left="$(psql_bench -c "SELECT COUNT(*) FROM thumbnails WHERE status = 'processing'")"
  [ "$left" = 0 ] && break
  sleep 0.2
done
E2E_SECS="$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN {print e - s}')"
FAILED="$(psql_bench -c "SELECT COUNT(*) FROM thumbnails WHERE status <> 'succeeded'")"
PICKUP="$(curl -sf "http://127.0.0.1:$((PORT + 1))/metrics" | grep -E '^thumbforge_job_enqueue_to_start_seconds_(sum|count)' | awk '{print $2}' | paste -sd' ')"

# A finished generation to poll.
GEN="$(psql_bench -c "SELECT id FROM generations WHERE status = 'succeeded' LIMIT 1")"
# Interleaved rounds: /healthz (the ceiling), pgbench SELECT, then poll.
select_round() { pgb "$DATA/select.sql" >>"$DATA/select.all"; }
for i in $(seq "$ROUNDS"); do
  run_wrk "healthz$i" "$CONNECTIONS" -d"$ROUND_DURATION" "http://127.0.0.1:$PORT/healthz"
  select_round
  run_wrk "poll$i" "$CONNECTIONS" -d"$ROUND_DURATION" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/generations/$GEN"
  sel="$(sed -n "${i}p" "$DATA/select.all")"
  echo "$(cat "$DATA/poll$i.rps") $sel $(cat "$DATA/healthz$i.rps")" >>"$DATA/poll.rounds"
done
PG_SELECT="$(median <"$DATA/select.all")"
median_round poll "$DATA/poll.rounds" 1
median_round healthz "$DATA/poll.rounds" 3
# RSS of the API under 64 connections (polls), sampled every 100 ms.
( while kill -0 "$API_PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$API_PID/status"; sleep 0.1; done ) >"$DATA/rss" &
RSS_SAMPLER=$!
run_wrk poll64 64 -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/generations/$GEN"
kill "$RSS_SAMPLER" 2>/dev/null || true
RSS_MB="$(sort -n "$DATA/rss" | tail -n1 | awk '{printf "%.1f", $1/1024}')"

# --- queue core vs BullMQ --------------------------------------------------
# The API and worker are done: free their database connections.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
# The status writes get a fresh database of their own. On tf_bench they
# ran right after the end-to-end drain had updated every row there: one
# run read 11,701 jobs/s there, and 13,958-17,396 on a fresh database
# the same day.
fresh_db tf_bench_queue
QB="$("$BIN/thumbforge-queue-bench" --redis "$REDIS" --database "$PG/tf_bench_queue")"
drop_db tf_bench_queue
BQ="$(cd scripts/bullmq && node bench.mjs "$REDIS" 20000 50 1000)"

r() { cat "$DATA/$1.$2"; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2fx", $1/$2; else print "n/a" }'; }
# The median of per-round ratios: file of rounds, peer column, [numerator column].
round_ratio() { awk -v p="$2" -v n="${3:-1}" '$p > 0 {print $n / $p}' "$1" | median | awk '{printf "%.2fx", $1}'; }
# Each round as "a / b = r": file, numerator column, peer column.
round_list() { awk -v n="$2" -v p="$3" '{printf "%s%.0f / %.0f = %.2fx", (NR > 1 ? ", " : ""), $n, $p, ($p > 0 ? $n / $p : 0)}' "$1"; }
E2E_RATE="$(echo "$BACKLOG $E2E_SECS" | awk '{printf "%.0f", $1/$2}')"
QB_NOOP="$(echo "$QB" | awk '/^noop/ {print $(NF-4)}')"
QB_WRITES="$(echo "$QB" | sed -n 's/^writes:.* = \([0-9]*\) jobs\/s.*/\1/p')"
BQ_NOOP="$(echo "$BQ" | awk '/^noop/ {print $(NF-1)}')"

echo "### Production topology (PostgreSQL + Redis), $(date -u +%Y-%m-%d)"
echo
machine
echo "Command: \`just bench\` (scripts/bench-production.sh); wrk -t$THREADS -c$CONNECTIONS, pgbench -M prepared -c$CONNECTIONS -j$THREADS, all on loopback, release builds. Submit, poll and their peers: $ROUNDS interleaved rounds of $ROUND_DURATION each, the ratio the median of the rounds' ratios; the rest runs for $DURATION."
echo
echo "| measure | thumbforge | same-run peer | ratio | target |"
echo "|---|---|---|---|---|"
echo "| submit req/s, median round (p99 $(r submit p99), non-2xx $(r submit non2xx)) | $(r submit rps) | pgbench INSERT tps, median round $PG_INSERT | $(round_ratio "$DATA/submit.rounds" 2) | ≥ 1.0x |"
echo "| poll req/s, median round (p99 $(r poll p99)) | $(r poll rps) | pgbench SELECT tps, median round $PG_SELECT | $(round_ratio "$DATA/poll.rounds" 2) | ≥ 2.0x |"
echo "| /healthz req/s (p99 $(r healthz p99)) | $(r healthz rps) | | | |"
echo "| queue core no-op, concurrency 50 | $QB_NOOP jobs/s | BullMQ no-op $BQ_NOOP jobs/s | $(ratio "$QB_NOOP" "$BQ_NOOP") | ≥ 1.0x |"
echo "| queue + status writes (claim, succeed, refresh; no image), concurrency 50 | $QB_WRITES jobs/s | BullMQ no-op $BQ_NOOP jobs/s | $(ratio "$QB_WRITES" "$BQ_NOOP") | ≥ 0.5x |"
echo "| worker end to end, $BACKLOG \`[flat]\` thumbnails (PNG encode + file write + status writes), 1 worker x $WORKER_CONCURRENCY | $E2E_RATE thumbnails/s ($FAILED not succeeded) | BullMQ no-op $BQ_NOOP jobs/s | $(ratio "$E2E_RATE" "$BQ_NOOP") | (no target) |"
echo "| API peak RSS, 64 connections polling | $RSS_MB MB | | | ≤ 64 MB |"
echo
echo "Ceilings, same run. No poll answers faster than this server's \`/healthz\` (routing and middleware, no handler work):"
echo "/healthz ÷ pgbench SELECT = $(round_ratio "$DATA/poll.rounds" 2 3) (the most any poll could reach; target 2.0x)."
echo "Rounds (thumbforge / peer): submit $(round_list "$DATA/submit.rounds" 1 2); poll $(round_list "$DATA/poll.rounds" 1 2); /healthz $(round_list "$DATA/poll.rounds" 3 2)."
echo "PostgreSQL alone writing the rows of submits, $ROWS_BATCH per statement from $ROWS_CLIENTS client(s) (no HTTP, no API, no Redis): $ROWS_RATE submits/s, $(ratio "$ROWS_RATE" "$PG_INSERT") of pgbench INSERT, ${ROWS_CPU} µs of PostgreSQL per submit."
echo "CPU per operation (machine: $(nproc) cores, shared by the load generator and every server):"
echo "pgbench INSERT: PostgreSQL ${PG_INSERT_CPU} µs per transaction;"
echo "submit: PostgreSQL ${SUBMIT_PG_CPU} µs, thumbforge-api ${SUBMIT_API_CPU} µs, Redis ${SUBMIT_REDIS_CPU} µs per request, $SUBMIT_BATCH submits per commit, the machine ${SUBMIT_IDLE}% idle;"
echo "at 1.0x the whole machine has $(awk -v c="$(nproc)" -v t="$PG_INSERT" 'BEGIN {if (t > 0) printf "%.0f", c * 1e6 / t; else print "n/a"}') µs per submit for wrk, the API, PostgreSQL and Redis together."
echo
echo "Queue core (\`thumbforge-queue-bench\`) and BullMQ (\`scripts/bullmq/bench.mjs\`), same Redis, same run:"
echo
echo '```'
echo "$QB" | sed 's/^/thumbforge: /'
echo "$BQ" | sed 's/^/bullmq:     /'
echo '```'
echo
echo "Worker enqueue-to-start during the drain (sum seconds, count): $PICKUP — dominated by the time each job waited behind the backlog."
