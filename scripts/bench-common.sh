# Helpers the submit benches share (sourced by bench-production.sh and
# bench-submit-ab.sh): the load generators' settings, fresh databases, the
# submit request, and CPU time read from /proc.

# The load generators go far past a client's rate limit: limits off.
export THUMBFORGE_LIMITS__FREE__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__FREE__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0 \
  THUMBFORGE_LIMITS__FREE__MAX_QUEUED=0 THUMBFORGE_LIMITS__PRO__MAX_QUEUED=0

# Waits (at most 30 s) for a URL to answer 2xx.
wait_for() {
  for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -U postgres -d postgres -qAt "$@"; }
drop_db() { psql_admin -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; }
fresh_db() { drop_db "$1" && psql_admin -c "CREATE DATABASE $1"; }

# The machine and servers a figure was measured on, as one sentence.
machine() {
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); PostgreSQL $(psql_admin -c 'SHOW server_version' | cut -d' ' -f1), Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2)."
}

# The wrk script of a submit: file, API key. Count 1 on the `test` model
# (`[flat]` answers at once), as every submit figure is measured.
submit_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '{"prompt":"bench [flat]","model":"test","count":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
LUA
}

# CPU time (clock ticks) used so far by every PostgreSQL process (the
# postmaster and each backend are all named `postgres`), including backends
# that already exited (reaped into the postmaster's child time).
pg_ticks() {
  local t=0 p
  for p in $(pgrep -x postgres); do
    t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
pid_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Idle ticks of the whole machine (idle + iowait, all CPUs).
idle_ticks() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
redis_ticks() { pid_ticks "$(pgrep -x redis-server | head -n1)"; }
# Microseconds of CPU per operation: ticks, operations.
per_op_us() { echo "$1 $2" | awk -v hz="$(getconf CLK_TCK)" '{ if ($2 > 0) printf "%.0f", $1 * 1e6 / hz / $2; else print "n/a" }'; }
