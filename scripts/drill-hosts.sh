#!/usr/bin/env bash
# `just drill-hosts`: the multi-host drill (docs/queue.md, "Multi-host drill").
# One machine, one network namespace per host on a private bridge
# (10.77.0.0/24, in a namespace of its own; nothing touches the root
# namespace's network):
#
#   data      10.77.0.2    PostgreSQL, Redis, moto's S3 (the images)
#   provider  10.77.0.3    thumbforge-mock-provider (2.5 s a call) behind
#                          scripts/drill-hosts/forward.py, which counts calls
#                          by source address
#   api1/2    10.77.0.11-12  thumbforge-api
#   w1/2/3    10.77.0.21-23  thumbforge-worker (health port 9090)
#   load      10.77.0.100  scripts/drill-hosts/drill.py: submits and polls
#                          through both APIs, starts and stops the hosts
#
# It measures (a) throughput with 1, 2 and 3 worker hosts, (b) a rolling
# restart of every host under load (0 lost, stuck, failed), (c) a worker
# host's link cut while it holds jobs, twice: its own eth0 set down, and its
# bridge port removed so packets vanish. Its jobs must be taken over within
# the claim window, and after link-up it must take new work. Figures are
# printed and appended to artifacts/drill-hosts.txt (RESULTS=… to change);
# the last run's logs are kept in artifacts/drill-hosts-logs/. Exits
# non-zero when a check fails.
#
#   bash scripts/drill-hosts.sh            # full: about 5 minutes on 2 cores
#   bash scripts/drill-hosts.sh --reduced  # CI size: 1 vs 2 workers, one API
#                                          # and one worker restart, the bridge
#                                          # cut; about 2.5 minutes
#   BIN_DIR=dir bash scripts/drill-hosts.sh  # those binaries, no build
#   DRILL_PHASES=c DRILL_CUTS=host,switch …  # some phases, chosen cuts
#
# Needs root (namespaces), iproute2, PostgreSQL, redis-server, moto_server
# and python3. Everything it made is removed on exit, failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thumbforge/target}"

MODE=full
for arg in "$@"; do
  case "$arg" in
    --reduced) MODE=reduced ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (only --reduced)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "drill-hosts needs root (network namespaces)" >&2; exit 1; }
if ! command -v ip >/dev/null || ! command -v curl >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 curl) >/dev/null
fi
for tool in ip redis-server psql python3 curl; do
  command -v "$tool" >/dev/null || { echo "drill-hosts needs $tool" >&2; exit 1; }
done
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[ -x "$PGBIN/pg_ctl" ] || { echo "drill-hosts needs PostgreSQL's server (apt-get install postgresql)" >&2; exit 1; }
command -v moto_server >/dev/null || python3 -m pip install --quiet 'moto[server]'

started="$(date +%s)"
if [ -n "${BIN_DIR:-}" ]; then
  BIN="$(cd "$BIN_DIR" && pwd)" # prebuilt binaries (another commit, a release)
else
  cargo build --release -q --locked -p thumbforge-cli -p thumbforge-api -p thumbforge-worker -p thumbforge-drill
  BIN="$CARGO_TARGET_DIR/release"
fi

RESULTS="${RESULTS:-$PWD/artifacts/drill-hosts.txt}"
KEEP_LOGS="$PWD/artifacts/drill-hosts-logs"
mkdir -p "$(dirname "$RESULTS")"

# Settings every thumbforge process shares; nothing from the caller's
# environment leaks in.
for var in $(env | sed -n 's/^\(THUMBFORGE_[A-Z0-9_]*\)=.*/\1/p'); do unset "$var"; done
unset DATABASE_URL REDIS_URL OPENAI_API_KEY GEMINI_API_KEY FAL_KEY KIE_API_KEY RUST_LOG \
  http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

P="tfd$$" # namespace names: tfd<pid>-<host>
NET=10.77.0
DATA_IP=$NET.2
PROVIDER_IP=$NET.3
LATENCY_MS=2500
declare -A ADDR=([data]=$DATA_IP [provider]=$PROVIDER_IP [api1]=$NET.11 [api2]=$NET.12
  [w1]=$NET.21 [w2]=$NET.22 [w3]=$NET.23 [load]=$NET.100)
NAMESPACES=()
WORK=""

cleanup() {
  local code=$? ns pids pass
  trap - EXIT INT TERM
  set +e
  if [ -n "$WORK" ] && [ -f "$WORK/pg/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1
  fi
  # Every process in the drill's namespaces was started by the drill.
  for pass in TERM KILL; do
    for ns in "${NAMESPACES[@]}"; do
      pids="$(ip netns pids "$ns" 2>/dev/null)"
      [ -n "$pids" ] && kill -s "$pass" $pids 2>/dev/null
    done
    [ "$pass" = TERM ] && sleep 2
  done
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ -n "$WORK" ]; then
    rm -rf "$KEEP_LOGS"
    cp -r "$WORK/logs" "$KEEP_LOGS" 2>/dev/null
    cp "$WORK/pg/pg.log" "$KEEP_LOGS/postgres.log" 2>/dev/null
    rm -rf "$WORK"
  fi
  echo "drill-hosts: torn down (${#NAMESPACES[@]} namespaces); logs in $KEEP_LOGS"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK="$(mktemp -d /tmp/drill-hosts.XXXXXX)"
chmod 711 "$WORK" # PostgreSQL runs as postgres under it
mkdir -p "$WORK/logs" "$WORK/redis"

# The switch: a bridge in a namespace of its own; each host a namespace
# with eth0, whose peer is a port of the bridge.
ip netns add "$P-sw"
NAMESPACES+=("$P-sw")
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set dev br0 up
for host in data provider api1 api2 w1 w2 w3 load; do
  ns="$P-$host"
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set dev lo up
  ip -n "$ns" link add eth0 type veth peer name "$host" netns "$P-sw"
  ip -n "$P-sw" link set dev "$host" master br0
  ip -n "$P-sw" link set dev "$host" up
  ip -n "$ns" addr add "${ADDR[$host]}/24" dev eth0
  ip -n "$ns" link set dev eth0 up
done
in_ns() { local host=$1; shift; ip netns exec "$P-$host" "$@"; }
wait_port() { # host ip port
  for _ in $(seq 300); do in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listened on $2:$3 in $1" >&2; return 1
}

# The data host.
mkdir -p "$WORK/pg"
chown postgres:postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
echo "host all all $NET.0/24 trust" >>"$WORK/pg/data/pg_hba.conf"
in_ns data runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/pg.log" -w \
  -o "-p 5432 -c listen_addresses=$DATA_IP -k $WORK/pg -c fsync=off -c max_connections=300" start >/dev/null
in_ns data redis-server --bind "$DATA_IP" --port 6379 --protected-mode no --save '' --appendonly yes \
  --appendfsync everysec --maxmemory-policy noeviction --dir "$WORK/redis" >"$WORK/logs/redis.log" 2>&1 &
in_ns data moto_server -H "$DATA_IP" -p 5000 >"$WORK/logs/moto.log" 2>&1 &
# The provider host: the mock on its loopback, the forwarder on its address.
in_ns provider "$BIN/thumbforge-mock-provider" --port 8001 --latency-ms "$LATENCY_MS" \
  --rpm 100000 --max-concurrent 1000 >"$WORK/logs/mock-provider.log" 2>&1 &
in_ns provider python3 scripts/drill-hosts/forward.py --listen "$PROVIDER_IP:8000" \
  --to 127.0.0.1:8001 --stats "$PROVIDER_IP:8002" >"$WORK/logs/forward.log" 2>&1 &
wait_port data "$DATA_IP" 6379
wait_port data "$DATA_IP" 5000
wait_port provider 127.0.0.1 8001
wait_port provider "$PROVIDER_IP" 8000
in_ns data psql -h "$DATA_IP" -U postgres -qc "CREATE DATABASE thumbforge"
[ "$(in_ns data curl -s -o /dev/null -w '%{http_code}' -X PUT "http://$DATA_IP:5000/thumbs")" = 200 ]

export DATABASE_URL="postgres://postgres@$DATA_IP:5432/thumbforge"
export REDIS_URL="redis://$DATA_IP:6379"
export THUMBFORGE_SECRET="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export THUMBFORGE_STORAGE__URL=s3://thumbs/drill THUMBFORGE_STORAGE__ENDPOINT="http://$DATA_IP:5000" \
  THUMBFORGE_STORAGE__ALLOW_HTTP=true THUMBFORGE_STORAGE__REGION=us-east-1 \
  THUMBFORGE_STORAGE__ACCESS_KEY_ID=drill THUMBFORGE_STORAGE__SECRET_ACCESS_KEY=drill-secret
export OPENAI_API_KEY=sk-drill THUMBFORGE_PROVIDERS__OPENAI_BASE_URL="http://$PROVIDER_IP:8000" \
  THUMBFORGE_PROVIDERS__LIMITS__OPENAI__RPM=60000 THUMBFORGE_PROVIDERS__LIMITS__OPENAI__MAX_CONCURRENT=1000
export THUMBFORGE_LIMITS__PRO__REQUESTS_PER_HOUR=0 THUMBFORGE_LIMITS__PRO__GENERATES_PER_MINUTE=0
export THUMBFORGE_QUEUE__CLAIM_IDLE_SECS=10 THUMBFORGE_WORKER__JOB_TIMEOUT_SECS=8 \
  THUMBFORGE_WORKER__MAX_IN_FLIGHT=4 THUMBFORGE_WORKER__HEALTH_PORT=9090 \
  THUMBFORGE_WORKER__SHUTDOWN_GRACE_SECS=20
export RUST_LOG="info,thumbforge::http=off"
in_ns load "$BIN/thumbforge" migrate >"$WORK/logs/migrate.log" 2>&1

{
  echo
  if [ -n "${BIN_DIR:-}" ]; then built="binaries from $BIN"
  else built="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo ' + uncommitted crates/ changes')"; fi
  echo "## drill-hosts ($MODE) $(date -u '+%Y-%m-%d %H:%M UTC'), $built, $(nproc) cores, $(uname -r)"
} | tee -a "$RESULTS"

export DRILL_PREFIX="$P" DRILL_BIN="$BIN" DRILL_WORK="$WORK" DRILL_LOGS="$WORK/logs" \
  DRILL_RESULTS="$RESULTS" DRILL_MODE="$MODE" DRILL_DATA_IP="$DATA_IP" \
  DRILL_PROVIDER_IP="$PROVIDER_IP" DRILL_LATENCY_MS="$LATENCY_MS" \
  DRILL_HOSTS="api1=${ADDR[api1]},api2=${ADDR[api2]},w1=${ADDR[w1]},w2=${ADDR[w2]},w3=${ADDR[w3]}"
status=0
in_ns load python3 scripts/drill-hosts/drill.py || status=$?
echo "drill-hosts ($MODE): wall time $(($(date +%s) - started)) s, exit $status" | tee -a "$RESULTS"
exit "$status"
